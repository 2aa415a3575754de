// Package dbrotator holds the glue the PostgreSQL, Redshift and
// DocumentDB example rotators share around the strategy package:
//
//   - SingleUser picks, per secret and per invocation, between a user
//     changing its own password and the admin (the secret's "masterarn")
//     changing it, and refuses the admin path unless the function's
//     configuration lists the users the admin may change (ALLOWED_USERS).
//   - Validating checks the AWSCURRENT value with dbsecret before anything
//     is created, so a malformed secret fails createSecret with a message
//     naming the field, and lets the engine refuse pending values its
//     server would refuse or store differently.
//
// The MySQL, SQL Server and Oracle examples keep their own single-user
// dispatch: they also refuse ALLOWED_USERS on a secret without
// "masterarn" and check the list before Create, which this package does
// not.
package dbrotator

import (
	"context"
	"fmt"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
)

// SingleUser is single-user rotation that uses the admin secret when the
// secret names one in "masterarn" and the user's own password otherwise.
//
// Admin is nil when ALLOWED_USERS is not set: a secret with "masterarn" is
// then refused, since its "username" alone would decide whose password
// the admin resets. Test always logs in as the pending user (Own).
type SingleUser struct {
	// Own changes the password logged in as the secret's user.
	Own *strategy.SingleUser
	// Admin changes it logged in as the admin; it carries the
	// AdminSecret and AllowedUsers. Nil without ALLOWED_USERS.
	Admin *strategy.SingleUser
}

var (
	_ rotation.Rotator   = (*SingleUser)(nil)
	_ rotation.Validator = (*SingleUser)(nil)
)

// Validate checks both strategies' configurations; rotation.New calls it
// (through Validating).
func (s *SingleUser) Validate() error {
	if err := s.Own.Validate(); err != nil {
		return err
	}
	if s.Admin != nil {
		return s.Admin.Validate()
	}
	return nil
}

// adminFor returns the strategy for a value with "masterarn" and true, or
// nil and false for a value without it, or an error naming ALLOWED_USERS
// when the value names an admin secret and Admin is nil.
func (s *SingleUser) adminFor(v *rotation.Secret) (*strategy.SingleUser, bool, error) {
	arn, ok, _ := v.Lookup(dbsecret.FieldMasterARN)
	if !ok || arn == "" {
		return nil, false, nil
	}
	if s.Admin == nil {
		return nil, true, fmt.Errorf("the secret names an admin secret in field %q, but %s is not set in the function's configuration: list (comma-separated) the users the admin credential may change; without it, anyone who can write this secret could have the admin reset the password of any role", dbsecret.FieldMasterARN, dbsecret.EnvAllowedUsers)
	}
	return s.Admin, true, nil
}

// Create refuses a current value the configuration cannot rotate (see
// adminFor) before a pending value exists, then creates it with Own: the
// pending value is the same for both paths.
func (s *SingleUser) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.adminFor(current); err != nil {
		return nil, err
	}
	return s.Own.Create(ctx, req)
}

// Set installs the pending password, as the admin when the pending value
// names one and as the user otherwise.
func (s *SingleUser) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	a, ok, err := s.adminFor(req.Pending)
	if err != nil {
		return nil, err
	}
	if ok {
		return a.Set(ctx, req)
	}
	return s.Own.Set(ctx, req)
}

// Test checks that the pending value authenticates, with Own.
func (s *SingleUser) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	return s.Own.Test(ctx, req)
}

// Validating wraps Next: Create parses the AWSCURRENT value as Family
// before delegating and checks the pending value Next returns with the
// hooks. Set and Test are Next's.
type Validating struct {
	Next   rotation.Rotator
	Family dbsecret.Family
	// CheckUser, if set, checks the pending value's "username".
	CheckUser func(user string) error
	// CheckPassword, if set, checks the pending value's "password",
	// after CheckUser.
	CheckPassword func(password string) error
}

var (
	_ rotation.Rotator   = (*Validating)(nil)
	_ rotation.Validator = (*Validating)(nil)
)

// Validate is Next's, so rotation.New checks the strategy's
// configuration.
func (v *Validating) Validate() error {
	if n, ok := v.Next.(rotation.Validator); ok {
		return n.Validate()
	}
	return nil
}

// Create checks the current value, delegates, then checks the pending
// value.
func (v *Validating) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := dbsecret.Parse(current, v.Family); err != nil {
		return nil, fmt.Errorf("the AWSCURRENT value: %w", err)
	}
	resp, err := v.Next.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Pending == nil {
		return resp, nil
	}
	if v.CheckUser != nil {
		user, err := resp.Pending.Get(dbsecret.FieldUsername)
		if err != nil {
			return nil, err
		}
		if err := v.CheckUser(user); err != nil {
			return nil, err
		}
	}
	if v.CheckPassword != nil {
		pw, err := resp.Pending.Get(dbsecret.FieldPassword)
		if err != nil {
			return nil, err
		}
		if err := v.CheckPassword(pw); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// Set is Next's.
func (v *Validating) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	return v.Next.Set(ctx, req)
}

// Test is Next's.
func (v *Validating) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	return v.Next.Test(ctx, req)
}
