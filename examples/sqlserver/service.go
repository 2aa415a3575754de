package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

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

// Change sets the pending password.
//
// Logged in as the user itself it runs ALTER LOGIN ... WITH PASSWORD ...
// OLD_PASSWORD (ALTER USER for a contained database user), where the old
// password is the one of req.Old: the value that actually logged in,
// AWSCURRENT or AWSPREVIOUS. (AWS's template always sends AWSCURRENT's,
// which fails when only AWSPREVIOUS works, as after an interrupted
// rotation.) Logged in as the admin it resets the password without the
// old one, after checking that the user cannot administer logins.
//
// If the change fails because an overlapping invocation already made it,
// the pending value authenticates and Change reports success.
func (p passwordService) Change(ctx context.Context, req *strategy.ChangeRequest) error {
	pending, err := parseSecret(req.New)
	if err != nil {
		return fmt.Errorf("pending value: %w", err)
	}
	if err := checkPassword(dbsecret.FieldPassword, pending.Password); err != nil {
		return err
	}
	err = p.change(ctx, req, pending)
	if err != nil && p.c.test(ctx, req.New) == nil {
		return nil
	}
	return err
}

func (p passwordService) change(ctx context.Context, req *strategy.ChangeRequest, pending *dbsecret.Secret) error {
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
	if !req.LoginIsAdmin && login.Username != pending.Username {
		return fmt.Errorf("%w: field %q differs between the old and the pending value", strategy.ErrUserMismatch, dbsecret.FieldUsername)
	}
	s, err := p.c.open(ctx, login)
	if err != nil {
		if req.LoginIsAdmin {
			return fmt.Errorf("admin: %w", err)
		}
		return err
	}
	defer s.close()
	if req.LoginIsAdmin {
		who, err := s.readPrincipal(ctx, pending.Username)
		if err != nil {
			return err
		}
		if !who.exists {
			return fmt.Errorf("the secret's user (field %q) has no login, and no contained user in database %q (field %q)", dbsecret.FieldUsername, pending.DBName, dbsecret.FieldDBName)
		}
		if err := who.checkUnprivileged("the secret's user (field \"username\")"); err != nil {
			return err
		}
		stmt := sqlSetLoginPassword
		if who.contained {
			stmt = sqlSetUserPassword
		}
		s.secrets = append(s.secrets, pending.Password)
		return s.exec(ctx, "setting the password as the admin", stmt, pending.Username, pending.Password)
	}
	// The old password is the one that logged in: req.Old is req.Login
	// here, AWSCURRENT or AWSPREVIOUS, whichever authenticated.
	old := login.Password
	if req.Old != nil {
		o, err := parseSecret(req.Old)
		if err != nil {
			return fmt.Errorf("old value: %w", err)
		}
		old = o.Password
	}
	if err := checkPassword(dbsecret.FieldPassword+" of the old value", old); err != nil {
		return err
	}
	t, err := s.authType(ctx, pending.Username)
	if err != nil {
		return err
	}
	stmt, what := sqlChangeOwnLogin, "ALTER LOGIN ... OLD_PASSWORD (own password)"
	if t == authDatabase {
		stmt, what = sqlChangeOwnUser, "ALTER USER ... OLD_PASSWORD (own password, contained user)"
	}
	s.secrets = append(s.secrets, pending.Password, old)
	return s.exec(ctx, what, stmt, pending.Username, pending.Password, old)
}

// userService is strategy.UserService for alternating-users rotation.
type userService struct {
	c *connector
	// precreated: both users exist and have their privileges; only
	// passwords change.
	precreated bool
}

var _ strategy.UserService = userService{}

// Test connects with secret and runs SELECT 1.
func (u userService) Test(ctx context.Context, secret *rotation.Secret) error {
	return u.c.test(ctx, secret)
}

// SetPassword, logged in as the admin, makes req.User work with the
// pending password. In clone mode it first creates the alternate if it is
// missing (a login with a throwaway password and its user in "dbname", or
// a contained user when the base user is one) and copies the base user's
// server roles, server permissions, database roles and database
// permissions to it (copyStatements); the pending password is set last,
// so the pending value authenticates only once everything before it
// succeeded.
func (u userService) SetPassword(ctx context.Context, req *strategy.SetPasswordRequest) error {
	pending, err := parseSecret(req.Pending)
	if err != nil {
		return fmt.Errorf("pending value: %w", err)
	}
	if pending.Username != req.User {
		return fmt.Errorf("%w: field %q of the pending value is not the user to change", strategy.ErrUserMismatch, dbsecret.FieldUsername)
	}
	if err := checkName("the base user (field \"username\" without the suffix)", req.Base); err != nil {
		return fmt.Errorf("%w: %w", rotation.ErrInvalidSecret, err)
	}
	if err := checkName("the user to change (field \"username\")", req.User); err != nil {
		return fmt.Errorf("%w: %w", strategy.ErrNameTooLong, err)
	}
	if err := checkPassword(dbsecret.FieldPassword, pending.Password); err != nil {
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
	user, err := s.readPrincipal(ctx, req.User)
	if err != nil {
		return err
	}
	if u.precreated || req.User == req.Base {
		if !user.exists {
			what := "the base user"
			if u.precreated {
				what = "the pre-created user"
			}
			return fmt.Errorf("%s to change (field %q of the pending value) has no login and no contained user in database %q", what, dbsecret.FieldUsername, pending.DBName)
		}
		if err := user.checkUnprivileged(fmt.Sprintf("the user to change (field %q)", dbsecret.FieldUsername)); err != nil {
			return err
		}
		return u.setPassword(ctx, s, user.contained, req.User, pending.Password)
	}
	base, err := s.readPrincipal(ctx, req.Base)
	if err != nil {
		return err
	}
	if !base.exists {
		return errors.New("the base user (the current user without the clone suffix) has no login and no contained user in the secret's database")
	}
	if err := base.checkUnprivileged("the base user (field \"username\" without the suffix)"); err != nil {
		return err
	}
	if user.exists {
		if user.contained != base.contained {
			return errors.New("the alternate user exists but is not of the base user's kind (a login's user versus a contained user); drop it or rename it")
		}
		if err := user.checkUnprivileged("the alternate user (field \"username\")"); err != nil {
			return err
		}
	}
	stmts, err := copyStatements(base, req.User)
	if err != nil {
		return err
	}
	throwaway, err := rotation.PasswordPolicy{Length: 64}.Generate()
	if err != nil {
		return err
	}
	s.secrets = append(s.secrets, throwaway)
	if base.contained {
		if err := s.exec(ctx, "creating the alternate contained user", sqlCreateContainedUser, req.User, throwaway); err != nil {
			return err
		}
	} else {
		if err := s.exec(ctx, "creating the alternate login", sqlCreateLogin, req.User, throwaway, pending.DBName); err != nil {
			return err
		}
		if err := s.exec(ctx, "creating the alternate login's database user", sqlCreateUserForLogin, req.User); err != nil {
			return err
		}
	}
	for _, st := range stmts {
		var err error
		if st.master {
			err = s.exec(ctx, "copying a server permission of the base login to the alternate (in master)", sqlInMaster, st.sql)
		} else {
			err = s.exec(ctx, "copying a role membership or permission of the base user to the alternate", st.sql)
		}
		if err != nil {
			return err
		}
	}
	return u.setPassword(ctx, s, base.contained, req.User, pending.Password)
}

func (u userService) setPassword(ctx context.Context, s *session, contained bool, user, password string) error {
	stmt := sqlSetLoginPassword
	if contained {
		stmt = sqlSetUserPassword
	}
	return s.exec(ctx, "setting the password of the user to change", stmt, user, password)
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
	if s == r.admin && !slices.Contains(r.allowed, cur.Username) {
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

// parseSecret is dbsecret.Parse for SQL Server, which also refuses a user
// name SQL Server could not store (see checkName).
func parseSecret(s *rotation.Secret) (*dbsecret.Secret, error) {
	sec, err := dbsecret.Parse(s, dbsecret.SQLServer)
	if err != nil {
		return nil, err
	}
	if err := checkName(fmt.Sprintf("field %q", dbsecret.FieldUsername), sec.Username); err != nil {
		return nil, fmt.Errorf("%w: %w", rotation.ErrInvalidSecret, err)
	}
	if err := checkName(fmt.Sprintf("field %q", dbsecret.FieldDBName), sec.DBName); err != nil {
		return nil, fmt.Errorf("%w: %w", rotation.ErrInvalidSecret, err)
	}
	return sec, nil
}
