package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
)

// passwordService is strategy.PasswordService for single-user rotation.
type passwordService struct{ c *connector }

var _ strategy.PasswordService = passwordService{}

// Test connects with secret and runs SELECT 1.
func (p passwordService) Test(ctx context.Context, secret *rotation.Secret) error {
	return p.c.test(ctx, secret)
}

// Change sets the pending password. Logged in as the admin, it changes
// every account of the user (every host it is defined for), in one ALTER
// USER. Logged in as the user itself, it can change only the account it
// logged in as (CURRENT_USER()): on MariaDB with SET PASSWORD, which needs
// no privilege (ALTER USER would need CREATE USER), on MySQL with ALTER
// USER CURRENT_USER(), adding REPLACE with the old password on 8.0.13 and
// later, where password_require_current may demand it.
func (p passwordService) Change(ctx context.Context, req *strategy.ChangeRequest) error {
	pending, err := parseSecret(req.New)
	if err != nil {
		return fmt.Errorf("pending value: %w", err)
	}
	var login *dbsecret.Secret
	if req.LoginIsAdmin {
		login, err = p.c.adminSecret(req.Login, pending)
	} else {
		login, err = parseSecret(req.Login)
	}
	if err != nil {
		return err
	}
	s, err := p.c.open(ctx, login, false)
	if err != nil {
		if req.LoginIsAdmin {
			return fmt.Errorf("admin: %w", err)
		}
		return err
	}
	defer s.close()
	if req.LoginIsAdmin {
		hosts, err := s.hosts(ctx, pending.Username)
		if err != nil {
			return err
		}
		if len(hosts) == 0 {
			return fmt.Errorf("the secret's user (field %q) has no account on the server", dbsecret.FieldUsername)
		}
		if err := s.checkUnprivileged(ctx, "the secret's user (field \"username\")", pending.Username, hosts); err != nil {
			return err
		}
		return s.setPassword(ctx, pending.Username, hosts, pending.Password)
	}
	if login.Username != pending.Username {
		return fmt.Errorf("%w: field %q differs between the old and the pending value", strategy.ErrUserMismatch, dbsecret.FieldUsername)
	}
	if s.server.mariaDB {
		// The hash, not PASSWORD('<password>'): MariaDB logs statements
		// as sent (see identifiedBy).
		hash, err := s.literal(nativePasswordHash(pending.Password))
		if err != nil {
			return err
		}
		return s.execSecret(ctx, "SET PASSWORD (own password)", "SET PASSWORD = "+hash, pending.Password, nativePasswordHash(pending.Password))
	}
	lit, err := s.literal(pending.Password)
	if err != nil {
		return fmt.Errorf("field %q: %w", dbsecret.FieldPassword, err)
	}
	stmt := "ALTER USER CURRENT_USER() IDENTIFIED BY " + lit
	if s.server.atLeast(8, 0, 13) {
		old, err := s.literal(login.Password)
		if err != nil {
			return fmt.Errorf("field %q of the old value: %w", dbsecret.FieldPassword, err)
		}
		stmt += " REPLACE " + old
	}
	return s.execSecret(ctx, "ALTER USER CURRENT_USER() (own password)", stmt, pending.Password, login.Password)
}

// userService is strategy.UserService for alternating-users rotation.
type userService struct {
	c *connector
	// precreated: both users exist and have their privileges; only
	// passwords change. Otherwise the alternate is created as a clone of
	// the base user and its grants are kept in step with the base user's.
	precreated bool
}

var _ strategy.UserService = userService{}

// Test connects with secret and runs SELECT 1.
func (u userService) Test(ctx context.Context, secret *rotation.Secret) error {
	return u.c.test(ctx, secret)
}

// SetPassword, logged in as the admin, makes req.User work with the
// pending password. In clone mode it first creates the alternate's
// missing accounts, for exactly the hosts the base user has accounts for
// (read from mysql.user: never an assumed '%'), with a throwaway
// password, then copies the base user's grants to each (see copyGrants),
// and sets the pending password last, on every account of the alternate:
// the pending value authenticates only once everything before it
// succeeded, so the strategy's "pending already works" shortcut on a
// retry never skips a failed grant. The admin does all of it; the
// alternate needs no GRANT OPTION.
func (u userService) SetPassword(ctx context.Context, req *strategy.SetPasswordRequest) error {
	pending, err := parseSecret(req.Pending)
	if err != nil {
		return fmt.Errorf("pending value: %w", err)
	}
	if pending.Username != req.User {
		return fmt.Errorf("%w: field %q of the pending value is not the user to change", strategy.ErrUserMismatch, dbsecret.FieldUsername)
	}
	admin, err := u.c.adminSecret(req.Login, pending)
	if err != nil {
		return err
	}
	if err := checkAccountPart("the base user (field \"username\" without the suffix)", req.Base); err != nil {
		return err
	}
	s, err := u.c.open(ctx, admin, false)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	defer s.close()
	if limit := s.userNameLimit(ctx); utf8.RuneCountInString(req.User) > limit {
		return fmt.Errorf("%w: the user to change (field %q) has %d characters; %s allows %d",
			strategy.ErrNameTooLong, dbsecret.FieldUsername, utf8.RuneCountInString(req.User), s.server, limit)
	}
	userHosts, err := s.hosts(ctx, req.User)
	if err != nil {
		return err
	}
	if u.precreated || req.User == req.Base {
		if len(userHosts) == 0 {
			what := "the base user"
			if u.precreated {
				what = "the pre-created user"
			}
			return fmt.Errorf("%s to change (field %q of the pending value) has no account on the server", what, dbsecret.FieldUsername)
		}
		if err := s.checkUnprivileged(ctx, fmt.Sprintf("the user to change (field %q)", dbsecret.FieldUsername), req.User, userHosts); err != nil {
			return err
		}
		return s.setPassword(ctx, req.User, userHosts, pending.Password)
	}
	baseHosts, err := s.hosts(ctx, req.Base)
	if err != nil {
		return err
	}
	if len(baseHosts) == 0 {
		return errors.New("the base user (the current user without the clone suffix) has no account on the server")
	}
	if err := s.checkUnprivileged(ctx, "the base user (field \"username\" without the suffix)", req.Base, baseHosts); err != nil {
		return err
	}
	if err := s.checkUnprivileged(ctx, "the alternate user (field \"username\")", req.User, userHosts); err != nil {
		return err
	}
	throwaway, err := rotation.PasswordPolicy{Length: 32, ExcludePunctuation: true}.Generate()
	if err != nil {
		return err
	}
	tmp, err := s.identifiedBy(throwaway)
	if err != nil {
		return err
	}
	for _, h := range baseHosts {
		if slices.Contains(userHosts, h) {
			continue
		}
		acct, err := account(req.User, h)
		if err != nil {
			return err
		}
		// IF NOT EXISTS: an overlapping invocation may have created it.
		if err := s.execSecret(ctx, "CREATE USER for the alternate user", "CREATE USER IF NOT EXISTS "+acct+" "+tmp, throwaway, nativePasswordHash(throwaway)); err != nil {
			return err
		}
	}
	for _, h := range baseHosts {
		if err := s.copyGrants(ctx, req.Base, req.User, h); err != nil {
			return err
		}
	}
	// Accounts of the alternate for hosts the base user no longer has
	// keep their privileges, but their password rotates too: no account
	// keeps a credential that stopped rotating.
	all := slices.Clone(baseHosts)
	for _, h := range userHosts {
		if !slices.Contains(all, h) {
			all = append(all, h)
		}
	}
	return s.setPassword(ctx, req.User, all, pending.Password)
}

// singleUser is the single-user rotator: strategy.SingleUser, with the
// admin secret used when the secret names one (field "masterarn") and
// the user changing its own password otherwise.
//
// The admin path needs ALLOWED_USERS: the user whose password is reset
// comes from the rotated secret, so without a list whoever can write that
// secret could have the admin reset any account (root's included) and
// read the new password back. The strategy enforces the list and refuses
// the admin's own user; passwordService.Change also refuses privileged
// accounts (see checkUnprivileged). A secret without "masterarn" while
// ALLOWED_USERS is set is refused too: the configuration says the admin
// makes the changes, and a secret that silently stopped naming it is a
// mistake or tampering.
type singleUser struct {
	self, admin *strategy.SingleUser // admin is nil without ALLOWED_USERS
	allowed     []string
}

var _ rotation.Rotator = singleUser{}

// Validate checks both strategies' configuration; rotation.New calls it.
func (r singleUser) Validate() error {
	if err := r.self.Validate(); err != nil {
		return err
	}
	if r.admin != nil {
		return r.admin.Validate()
	}
	return nil
}

// pick returns the strategy for the secret s, or an error naming
// ALLOWED_USERS when the secret and the configuration disagree.
func (r singleUser) pick(s *rotation.Secret) (*strategy.SingleUser, error) {
	v, ok, err := s.Lookup(dbsecret.FieldMasterARN)
	if err != nil {
		return nil, err
	}
	switch {
	case ok && v != "" && r.admin == nil:
		return nil, fmt.Errorf("the secret names an admin secret (field %q) but %s is not set: "+
			"list the users the admin may change, so that the rotated secret alone cannot choose whose password is reset", dbsecret.FieldMasterARN, dbsecret.EnvAllowedUsers)
	case ok && v != "":
		return r.admin, nil
	case r.admin != nil:
		return nil, fmt.Errorf("%s is set but the secret names no admin secret (field %q): "+
			"%s applies only to secrets rotated by the admin; remove it or add the field", dbsecret.EnvAllowedUsers, dbsecret.FieldMasterARN, dbsecret.EnvAllowedUsers)
	}
	return r.self, nil
}

// Create returns the current value with a new password. With an admin it
// checks ALLOWED_USERS first, so a user not listed fails before anything
// is written.
func (r singleUser) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := parseSecret(current)
	if err != nil {
		return nil, fmt.Errorf("current value: %w", err)
	}
	s, err := r.pick(current)
	if err != nil {
		return nil, err
	}
	if s == r.admin && !slices.Contains(r.allowed, cur.Username) {
		return nil, fmt.Errorf("%w: field %q of the current value names a user that is not in %s; the admin changes only the users listed there",
			strategy.ErrUserMismatch, dbsecret.FieldUsername, dbsecret.EnvAllowedUsers)
	}
	return s.Create(ctx, req)
}

// Set installs the pending password.
func (r singleUser) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	s, err := r.pick(req.Pending)
	if err != nil {
		return nil, err
	}
	return s.Set(ctx, req)
}

// Test checks that the pending value authenticates.
func (r singleUser) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	s, err := r.pick(req.Pending)
	if err != nil {
		return nil, err
	}
	return s.Test(ctx, req)
}

// alternating wraps strategy.AlternatingUsers to validate the current
// value up front, so a bad secret fails in createSecret naming the field.
type alternating struct{ *strategy.AlternatingUsers }

// Create returns the current value with the other user and a new
// password.
func (a alternating) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := parseSecret(cur); err != nil {
		return nil, fmt.Errorf("current value: %w", err)
	}
	resp, err := a.AlternatingUsers.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	if _, err := parseSecret(resp.Pending); err != nil {
		return nil, fmt.Errorf("pending value: %w", err)
	}
	return resp, nil
}

// parseSecret is dbsecret.Parse for MySQL, which also refuses a user
// name MySQL would store differently (see checkAccountPart), so such a
// secret fails in createSecret, before anything is changed.
func parseSecret(s *rotation.Secret) (*dbsecret.Secret, error) {
	sec, err := dbsecret.Parse(s, dbsecret.MySQL)
	if err != nil {
		return nil, err
	}
	if err := checkAccountPart(fmt.Sprintf("field %q", dbsecret.FieldUsername), sec.Username); err != nil {
		return nil, fmt.Errorf("%w: %w", rotation.ErrInvalidSecret, err)
	}
	return sec, nil
}
