package strategy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rotationkit/rotation"
)

// ErrUserMismatch means the pending secret names a user that is not the
// current user's alternate, or a different host or resource.
var ErrUserMismatch = errors.New("pending user does not match the current user")

// ErrNameTooLong means the alternate user name exceeds the service's limit.
var ErrNameTooLong = errors.New("alternate user name too long")

// UserService is what AlternatingUsers needs from the target service.
// Implementations must be safe for concurrent use.
type UserService interface {
	// Test returns nil if secret authenticates. It must not change anything.
	Test(ctx context.Context, secret *rotation.Secret) error

	// SetPassword, logged in as req.Login, sets the password of req.User to
	// the one in req.Pending, creating req.User with the privileges of
	// req.Base first if it does not exist. It may be called again after a
	// failure and must then succeed without duplicating anything. It must
	// set the password last, after grants and any other change: once the
	// pending value authenticates, Set treats the user as done and will not
	// call SetPassword again, so a grant that failed before the password was
	// set would never be retried.
	//
	// One atomic statement, or one transaction the server really makes
	// atomic, that applies the grants and the password together satisfies
	// "last": the pending value cannot authenticate unless everything else
	// took effect. Separate statements that each commit on their own (MySQL's
	// GRANT and ALTER USER commit implicitly) do not: order them with the
	// password last.
	SetPassword(ctx context.Context, req *SetPasswordRequest) error
}

// SetPasswordRequest is the input to UserService.SetPassword.
type SetPasswordRequest struct {
	Login *rotation.Secret // the admin credential to log in with, checked for the same resource
	// Base is the base user, whose privileges the alternate has: the
	// secret's original user in the suffix mode, the first of
	// AlternatingUsers.Users in the pre-created mode. When User equals Base
	// (the alternate is current, so this rotation changes the base user
	// back), there is nothing to create or copy: the base user already
	// exists with its own privileges, and SetPassword only sets its
	// password (failing if the user is missing rather than creating it).
	Base    string
	User    string           // the user to change (the one not current)
	Pending *rotation.Secret // the value to install; its username is User
	Current *rotation.Secret // the current value; it authenticates
	// PreCreated is true in the two-pre-created-users mode
	// (AlternatingUsers.Users): User must already exist, and SetPassword
	// must fail rather than create it.
	PreCreated bool
}

// AlternatingUsers rotates between two users, so the credential clients
// hold stays valid while the other one changes: zero downtime. Each
// rotation changes the user that is not current, logged in with an admin
// credential kept in another secret.
//
// By default the second user is derived from the first by appending
// Suffix ("_clone"), as AWS's templates do, and created on first use. Set
// Users to alternate between two pre-created users instead.
type AlternatingUsers struct {
	Service UserService

	// AdminSecret locates the admin credential SetPassword logs in with.
	AdminSecret AdminSecret

	// Policy generates new passwords.
	Policy rotation.PasswordPolicy

	// UsernameField and PasswordField name the secret's fields; defaults
	// "username" and "password".
	UsernameField, PasswordField string

	// Suffix derives the alternate user name; default "_clone".
	Suffix string

	// MaxNameLength, if positive, is the service's user-name limit in
	// characters (MySQL 32, older MySQL 16). PostgreSQL's limit of 63 is in
	// bytes: check non-ASCII names in the UserService.
	MaxNameLength int

	// Users, if both are set, are two pre-created users to alternate
	// between; no user is created and Suffix is not used.
	Users [2]string

	// MatchFields must be equal in the current and pending values (the
	// same host and resource). Empty means DefaultMatchFields. A field
	// absent from both is ignored.
	MatchFields []string
	// SkipFieldMatch turns that comparison off. MatchFields must then be
	// empty.
	SkipFieldMatch bool
}

var _ rotation.Rotator = (*AlternatingUsers)(nil)

// errOneUser is the configuration error of a Users pair with one name.
var errOneUser = errors.New("strategy: AlternatingUsers.Users names only one user; set both, or neither to derive the alternate with Suffix")

// Validate reports a configuration that cannot work, naming the field.
// rotation.New calls it.
func (a *AlternatingUsers) Validate() error {
	switch {
	case a == nil:
		return errors.New("strategy: AlternatingUsers is nil")
	case a.Service == nil:
		return errors.New("strategy: AlternatingUsers.Service is nil")
	case a.SkipFieldMatch && len(a.MatchFields) > 0:
		return errors.New("strategy: AlternatingUsers has both SkipFieldMatch and MatchFields; set one")
	case (a.Users[0] == "") != (a.Users[1] == ""):
		return errOneUser
	case a.Users[0] != "" && a.Users[0] == a.Users[1]:
		return errors.New("strategy: AlternatingUsers.Users names the same user twice")
	}
	if err := a.AdminSecret.validate("AlternatingUsers.AdminSecret"); err != nil {
		return err
	}
	return a.Policy.Validate()
}

func (a *AlternatingUsers) userField() string { return orDefault(a.UsernameField, "username") }

func (a *AlternatingUsers) passwordField() string { return orDefault(a.PasswordField, "password") }

func (a *AlternatingUsers) suffix() string { return orDefault(a.Suffix, "_clone") }

// pair returns the base user and the alternate of user.
func (a *AlternatingUsers) pair(user string) (base, other string, err error) {
	if (a.Users[0] == "") != (a.Users[1] == "") {
		return "", "", errOneUser
	}
	if a.Users[0] != "" && a.Users[1] != "" {
		switch user {
		case a.Users[0]:
			return a.Users[0], a.Users[1], nil
		case a.Users[1]:
			return a.Users[0], a.Users[0], nil
		}
		return "", "", fmt.Errorf("%w: the secret's user is neither of the two configured users", ErrUserMismatch)
	}
	sfx := a.suffix()
	if strings.HasSuffix(user, sfx) && len(user) > len(sfx) {
		base := strings.TrimSuffix(user, sfx)
		return base, base, nil
	}
	other = user + sfx
	if a.MaxNameLength > 0 && utf8.RuneCountInString(other) > a.MaxNameLength {
		return "", "", fmt.Errorf("%w: field %q plus suffix %q makes %d characters, over the limit of %d", ErrNameTooLong, a.userField(), sfx, utf8.RuneCountInString(other), a.MaxNameLength)
	}
	return user, other, nil
}

// Create returns the current value with the other user and a new password.
func (a *AlternatingUsers) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	user, err := cur.Get(a.userField())
	if err != nil {
		return nil, err
	}
	if _, err := cur.Get(a.AdminSecret.field()); err != nil {
		return nil, err
	}
	_, other, err := a.pair(user)
	if err != nil {
		return nil, err
	}
	pw, err := a.Policy.Generate()
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{a.userField(): other, a.passwordField(): pw})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

// Set checks the guards (the current credential works; the pending user is
// the current user's alternate, on the same resource; the admin secret is
// for that resource) and then sets the pending user's password.
func (a *AlternatingUsers) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	base, user, err := a.check(cur, req.Pending)
	if err != nil {
		return nil, err
	}
	if err := a.Service.Test(ctx, req.Pending); err == nil {
		return &rotation.SetResponse{}, nil
	}
	if err := a.Service.Test(ctx, cur); err != nil {
		return nil, fmt.Errorf("the current credential does not authenticate, refusing to change anything: %w", err)
	}
	admin, err := a.AdminSecret.Fetch(ctx, req.Pending)
	if err != nil {
		return nil, err
	}
	if err := a.Service.SetPassword(ctx, &SetPasswordRequest{Login: admin, Base: base, User: user, Pending: req.Pending, Current: cur, PreCreated: a.Users[0] != ""}); err != nil {
		return nil, fmt.Errorf("set password of the alternate user: %w", rotation.Scrub(err, admin))
	}
	return &rotation.SetResponse{}, nil
}

// check returns the base user and the pending user after checking that
// the pending user is the current user's alternate on the same resource.
func (a *AlternatingUsers) check(cur, pending *rotation.Secret) (base, user string, err error) {
	curUser, err := cur.Get(a.userField())
	if err != nil {
		return "", "", err
	}
	user, err = pending.Get(a.userField())
	if err != nil {
		return "", "", err
	}
	if _, err := pending.Get(a.passwordField()); err != nil {
		return "", "", err
	}
	base, other, err := a.pair(curUser)
	if err != nil {
		return "", "", err
	}
	// The pending user may equal the current one only when the pending
	// value is the current value (AWSCURRENT moved to this version while
	// the step ran); otherwise Set would change the live credential.
	if user != other && !(user == curUser && pending.Equal(cur)) {
		return "", "", fmt.Errorf("%w: field %q of the pending value is not the current user's alternate", ErrUserMismatch, a.userField())
	}
	if err := matchFields(cur, pending, a.MatchFields, a.SkipFieldMatch); err != nil {
		return "", "", err
	}
	return base, user, nil
}

// Test checks that the pending value authenticates.
func (a *AlternatingUsers) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	if err := a.Service.Test(ctx, req.Pending); err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, nil
}

// matchFields checks that the fields (default host, port, dbname) are equal
// in the current and pending values.
// DefaultMatchFields returns the fields SingleUser and AlternatingUsers
// compare between the current and pending values when MatchFields is
// empty: "host", "port" and "dbname".
func DefaultMatchFields() []string { return []string{"host", "port", "dbname"} }

func matchFields(cur, pending *rotation.Secret, fields []string, skip bool) error {
	switch {
	case skip:
		return nil
	case len(fields) == 0:
		fields = DefaultMatchFields()
	}
	f, err := differingField(cur, pending, fields)
	if err != nil {
		return err
	}
	if f != "" {
		return fmt.Errorf("%w: field %q differs between the current and pending values", ErrUserMismatch, f)
	}
	return nil
}
