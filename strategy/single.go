package strategy

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rotationkit/rotation"
)

// ErrNoWorkingCredential means that no value the strategy could log in
// with authenticates: not the pending one, the current one nor the
// previous one, and no admin credential is configured.
var ErrNoWorkingCredential = errors.New("no credential authenticates")

// PasswordService is what SingleUser needs from the target service.
// Implementations must be safe for concurrent use.
type PasswordService interface {
	// Test returns nil if secret authenticates against the service. It must
	// not change anything.
	Test(ctx context.Context, secret *rotation.Secret) error

	// Change sets the password of the user named in req.New to the one in
	// req.New, logged in with req.Login. It may be called again after a
	// failure, so it must succeed when the password is already req.New's.
	Change(ctx context.Context, req *ChangeRequest) error
}

// ChangeRequest is the input to PasswordService.Change.
type ChangeRequest struct {
	// Login authenticates: the old value that worked, or the admin
	// credential when the strategy uses one.
	Login *rotation.Secret
	// Old is the old value that authenticated (current or previous), for
	// services that need the old password to set a new one (Oracle's
	// REPLACE, SQL Server's OLD_PASSWORD). It is nil when only the admin
	// credential worked.
	Old *rotation.Secret
	// New is the pending value to install.
	New *rotation.Secret
	// LoginIsAdmin reports whether Login is the admin credential (from
	// SingleUser.AdminSecret) rather than the user's own old value.
	LoginIsAdmin bool
}

// SingleUser rotates one credential in place. Create generates a new
// password by Policy; Set logs in with the pending value first (nothing to
// do if it already works), then the current, then the previous one, and
// changes the password with the first that authenticates; Test checks the
// pending value.
type SingleUser struct {
	Service PasswordService

	// Policy generates new passwords. The zero value gives 32 characters
	// of letters, digits and punctuation.
	Policy rotation.PasswordPolicy

	// PasswordField names the secret's password field; default "password".
	PasswordField string

	// UsernameField names the secret's user field; default "username".
	// When the current value has it, the pending value must name the same
	// user, so a planted pending value cannot change another user's
	// password.
	UsernameField string

	// AdminSecret, if set, makes the change with an admin credential read
	// from another secret instead of the user's own old password.
	// It requires AllowedUsers.
	AdminSecret *AdminSecret

	// AllowedUsers lists the users whose password the admin credential may
	// change. It is required with AdminSecret: the user name comes from the
	// rotated secret, so without a list anyone who can write that secret
	// could have the admin reset any account's password (the admin's own
	// included) and read the result. The admin secret's own user is always
	// refused.
	AllowedUsers []string

	// MatchFields must be equal in the current and pending values (the
	// same host and resource). Empty means DefaultMatchFields. A field
	// absent from both is ignored.
	MatchFields []string
	// SkipFieldMatch turns that comparison off. MatchFields must then be
	// empty.
	SkipFieldMatch bool
}

// Validate reports a configuration that cannot work, naming the field.
// rotation.New calls it.
func (s *SingleUser) Validate() error {
	switch {
	case s == nil:
		return errors.New("strategy: SingleUser is nil")
	case s.Service == nil:
		return errors.New("strategy: SingleUser.Service is nil")
	case s.AdminSecret != nil && len(s.AllowedUsers) == 0:
		return errors.New("strategy: SingleUser.AdminSecret is set but AllowedUsers is empty; list the users the admin may change")
	case s.SkipFieldMatch && len(s.MatchFields) > 0:
		return errors.New("strategy: SingleUser has both SkipFieldMatch and MatchFields; set one")
	}
	if s.AdminSecret != nil {
		if err := s.AdminSecret.validate("SingleUser.AdminSecret"); err != nil {
			return err
		}
	}
	return s.Policy.Validate()
}

var _ rotation.Rotator = (*SingleUser)(nil)

func (s *SingleUser) passwordField() string { return orDefault(s.PasswordField, "password") }

func (s *SingleUser) usernameField() string { return orDefault(s.UsernameField, "username") }

// Create returns the current value with a new password.
func (s *SingleUser) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	if err := cur.Validate(); err != nil {
		return nil, err
	}
	pw, err := s.Policy.Generate()
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{s.passwordField(): pw})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

// Set installs the pending password, trying pending, current and previous
// in that order, and the admin credential if configured.
func (s *SingleUser) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	if _, err := req.Pending.Get(s.passwordField()); err != nil {
		return nil, err
	}
	if err := s.Service.Test(ctx, req.Pending); err == nil {
		return &rotation.SetResponse{}, nil
	}
	var old *rotation.Secret
	var tried []error
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	uf := s.usernameField()
	if cu, ok, err := cur.Lookup(uf); err != nil {
		return nil, err
	} else if ok {
		if pu, _, err := req.Pending.Lookup(uf); err != nil {
			return nil, err
		} else if pu != cu {
			return nil, fmt.Errorf("%w: field %q of the pending value names another user than the current value", ErrUserMismatch, uf)
		}
	}
	if err := matchFields(cur, req.Pending, s.MatchFields, s.SkipFieldMatch); err != nil {
		return nil, err
	}
	if err := s.Service.Test(ctx, cur); err == nil {
		old = cur
	} else {
		tried = append(tried, fmt.Errorf("AWSCURRENT: %w", err))
		prev, perr := req.Previous(ctx)
		if perr != nil {
			return nil, perr
		}
		if prev != nil {
			if err := s.Service.Test(ctx, prev); err == nil {
				old = prev
			} else {
				tried = append(tried, fmt.Errorf("AWSPREVIOUS: %w", err))
			}
		}
	}
	if s.AdminSecret != nil {
		user, err := req.Pending.Get(uf)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(s.AllowedUsers, user) {
			return nil, fmt.Errorf("%w: field %q names a user that is not in AllowedUsers; the admin credential changes only the users listed there", ErrUserMismatch, uf)
		}
		admin, err := s.AdminSecret.Fetch(ctx, req.Pending)
		if err != nil {
			return nil, err
		}
		if au, _, _ := admin.Lookup(s.AdminSecret.usernameField()); au == user {
			return nil, fmt.Errorf("%w: field %q names the admin secret's own user; the admin credential is never rotated through another secret", ErrUserMismatch, uf)
		}
		if err := s.Service.Change(ctx, &ChangeRequest{Login: admin, Old: old, New: req.Pending, LoginIsAdmin: true}); err != nil {
			return nil, fmt.Errorf("change password as admin: %w", rotation.Scrub(err, admin))
		}
		return &rotation.SetResponse{}, nil
	}
	if old == nil {
		return nil, fmt.Errorf("%w: tried AWSPENDING, then %w", ErrNoWorkingCredential, errors.Join(tried...))
	}
	if err := s.Service.Change(ctx, &ChangeRequest{Login: old, Old: old, New: req.Pending}); err != nil {
		return nil, fmt.Errorf("change password: %w", err)
	}
	return &rotation.SetResponse{}, nil
}

// Test checks that the pending value authenticates.
func (s *SingleUser) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	if err := s.Service.Test(ctx, req.Pending); err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, nil
}
