package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
)

// passwordService is strategy.PasswordService for single-user rotation.
type passwordService struct{ c *connector }

var _ strategy.PasswordService = passwordService{}

// Test connects with secret and runs SELECT 1 FROM DUAL.
func (p passwordService) Test(ctx context.Context, secret *rotation.Secret) error {
	return p.c.test(ctx, secret)
}

// Change sets the pending password.
//
// Logged in as the user itself it runs ALTER USER ... IDENTIFIED BY ...
// REPLACE <old>, where old is req.Old's password: the value that actually
// logged in, AWSCURRENT or AWSPREVIOUS. Profiles with a password-verify
// function refuse a change without REPLACE (ORA-28221), which AWS's
// template never sends. Logged in as the admin it resets the password
// without REPLACE, after checking that the user does not administer
// users.
//
// If the change fails because an overlapping invocation already made it,
// the pending value authenticates and Change reports success.
func (p passwordService) Change(ctx context.Context, req *strategy.ChangeRequest) error {
	pending, err := parseSecret(req.New)
	if err != nil {
		return fmt.Errorf("pending value: %w", err)
	}
	err = p.change(ctx, req, pending)
	if err != nil && p.c.test(ctx, req.New) == nil {
		return nil
	}
	return err
}

func (p passwordService) change(ctx context.Context, req *strategy.ChangeRequest, pending *dbsecret.Secret) error {
	user := storedName(pending.Username)
	var login *dbsecret.Secret
	var err error
	if req.LoginIsAdmin {
		login, err = p.c.adminSecret(req.Login, pending)
	} else {
		login, err = parseSecret(req.Login)
	}
	if err != nil {
		return err
	}
	if !req.LoginIsAdmin && storedName(login.Username) != user {
		return fmt.Errorf("%w: field %q differs between the old and the pending value", strategy.ErrUserMismatch, dbsecret.FieldUsername)
	}
	old := ""
	if !req.LoginIsAdmin {
		old = login.Password
		if req.Old != nil {
			o, err := parseSecret(req.Old)
			if err != nil {
				return fmt.Errorf("old value: %w", err)
			}
			old = o.Password
		}
	}
	// Built before connecting, so a password that cannot be quoted fails
	// without touching the server.
	stmt, err := alterPasswordStatement(user, pending.Password, old)
	if err != nil {
		return err
	}
	s, err := p.c.open(ctx, login)
	if err != nil {
		if req.LoginIsAdmin {
			return fmt.Errorf("admin: %w", err)
		}
		return err
	}
	defer s.close()
	s.secrets = append(s.secrets, pending.Password, old)
	if req.LoginIsAdmin {
		acct, err := s.readAccount(ctx, user)
		if err != nil {
			return err
		}
		if !acct.exists {
			return fmt.Errorf("the secret's user (field %q) does not exist in service %q", dbsecret.FieldUsername, pending.DBName)
		}
		if err := acct.checkUnprivileged("the secret's user (field \"username\")"); err != nil {
			return err
		}
		return s.exec(ctx, "ALTER USER ... IDENTIFIED BY (as the admin)", stmt)
	}
	return s.exec(ctx, "ALTER USER ... IDENTIFIED BY ... REPLACE (own password)", stmt)
}

// userService is strategy.UserService for alternating-users rotation.
type userService struct {
	c          *connector
	precreated bool
}

var _ strategy.UserService = userService{}

// Test connects with secret and runs SELECT 1 FROM DUAL.
func (u userService) Test(ctx context.Context, secret *rotation.Secret) error {
	return u.c.test(ctx, secret)
}

// SetPassword, logged in as the admin, makes req.User work with the
// pending password. In clone mode it first creates the alternate if it is
// missing (with a throwaway password, the base user's default tablespace
// and profile) and grants it every role, system privilege, object
// privilege and column privilege the base user has (copyStatements); the
// pending password is set last, so the pending value authenticates only
// once everything before it succeeded.
func (u userService) SetPassword(ctx context.Context, req *strategy.SetPasswordRequest) error {
	pending, err := parseSecret(req.Pending)
	if err != nil {
		return fmt.Errorf("pending value: %w", err)
	}
	if pending.Username != req.User {
		return fmt.Errorf("%w: field %q of the pending value is not the user to change", strategy.ErrUserMismatch, dbsecret.FieldUsername)
	}
	user, base := storedName(req.User), storedName(req.Base)
	setStmt, err := alterPasswordStatement(user, pending.Password, "")
	if err != nil {
		return err
	}
	admin, err := u.c.adminSecret(req.Login, pending)
	if err != nil {
		return err
	}
	s, err := u.c.open(ctx, admin)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	defer s.close()
	s.secrets = append(s.secrets, pending.Password)
	if limit := s.nameLimit(ctx); len(user) > limit {
		return fmt.Errorf("%w: the user to change (field %q) is %d bytes long; this server allows %d (COMPATIBLE below 12.2 limits names to 30 bytes)", strategy.ErrNameTooLong, dbsecret.FieldUsername, len(user), limit)
	}
	acct, err := s.readAccount(ctx, user)
	if err != nil {
		return err
	}
	if u.precreated || user == base {
		if !acct.exists {
			what := "the base user"
			if u.precreated {
				what = "the pre-created user"
			}
			return fmt.Errorf("%s to change (field %q of the pending value) does not exist", what, dbsecret.FieldUsername)
		}
		if err := acct.checkUnprivileged(fmt.Sprintf("the user to change (field %q)", dbsecret.FieldUsername)); err != nil {
			return err
		}
		return s.exec(ctx, "setting the password of the user to change", setStmt)
	}
	b, err := s.readAccount(ctx, base)
	if err != nil {
		return err
	}
	if !b.exists {
		return errors.New("the base user (the current user without the clone suffix) does not exist")
	}
	if err := b.checkUnprivileged("the base user (field \"username\" without the suffix)"); err != nil {
		return err
	}
	if acct.exists {
		if err := acct.checkUnprivileged("the alternate user (field \"username\")"); err != nil {
			return err
		}
	}
	stmts, err := copyStatements(b, user)
	if err != nil {
		return err
	}
	if !acct.exists {
		throwaway, err := rotation.PasswordPolicy{Length: maxPasswordBytes, ExcludePunctuation: true}.Generate()
		if err != nil {
			return err
		}
		s.secrets = append(s.secrets, throwaway)
		create, err := createUserStatement(user, throwaway, b.tablespace, b.profile, maxNameBytes)
		if err != nil {
			return err
		}
		// ORA-01920: an overlapping invocation created it first.
		if err := s.exec(ctx, "creating the alternate user", create); err != nil && !strings.Contains(err.Error(), "ORA-01920") {
			return err
		}
	}
	for _, st := range stmts {
		if err := s.exec(ctx, "granting a privilege of the base user to the alternate", st); err != nil {
			return err
		}
	}
	return s.exec(ctx, "setting the password of the user to change", setStmt)
}

// singleUser is the single-user rotator: strategy.SingleUser, with the
// admin secret used when the secret names one (field "masterarn") and
// the user changing its own password otherwise. The admin path needs
// ALLOWED_USERS, so the rotated secret alone cannot choose whose password
// the admin resets.
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

// pick returns the strategy for the secret s.
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

// Create returns the current value with a new password, after checking
// the secret (and ALLOWED_USERS with an admin), so a bad secret fails
// before anything is written.
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
	if s == r.admin && !slices.ContainsFunc(r.allowed, func(a string) bool { return storedName(a) == storedName(cur.Username) }) {
		return nil, fmt.Errorf("%w: field %q of the current value names a user that is not in %s; the admin changes only the users listed there",
			strategy.ErrUserMismatch, dbsecret.FieldUsername, dbsecret.EnvAllowedUsers)
	}
	return createAcceptable(ctx, req, s.Create)
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
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := parseSecret(current); err != nil {
		return nil, fmt.Errorf("current value: %w", err)
	}
	resp, err := createAcceptable(ctx, req, a.AlternatingUsers.Create)
	if err != nil {
		return nil, err
	}
	if _, err := parseSecret(resp.Pending); err != nil {
		return nil, fmt.Errorf("pending value: %w", err)
	}
	return resp, nil
}

// parseSecret is dbsecret.Parse for Oracle, which also refuses a user
// name Oracle could not quote (see quoteIdent).
func parseSecret(s *rotation.Secret) (*dbsecret.Secret, error) {
	sec, err := dbsecret.Parse(s, dbsecret.Oracle)
	if err != nil {
		return nil, err
	}
	if _, err := quoteIdent(fmt.Sprintf("field %q", dbsecret.FieldUsername), storedName(sec.Username), maxNameBytes); err != nil {
		return nil, fmt.Errorf("%w: %w", rotation.ErrInvalidSecret, err)
	}
	return sec, nil
}
