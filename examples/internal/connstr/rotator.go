package connstr

import (
	"context"
	"errors"
	"fmt"

	"github.com/rotationkit/rotation"
)

// Rotator wraps a database rotator so that the connection strings of
// every pending value follow its credential: Create rewrites them in the
// value Next created (refusing, before anything is stored, a field that
// cannot be parsed or points elsewhere), and Test refuses a pending value
// whose connection strings do not carry its credential before Next tests
// the login. Set is Next's. It keeps no state and is safe for concurrent
// use when Next is.
type Rotator struct {
	// Next is the rotator whose values are kept in sync.
	Next rotation.Rotator
	// Fields are the connection-string fields; nil means DefaultFields.
	Fields []Field
	// DefaultPort is the port when the secret has no "port" field (0: do
	// not check ports).
	DefaultPort int
	// UsernameField, PasswordField and HostField name the secret's
	// fields; defaults "username", "password" and "host". The port is
	// read from "port".
	UsernameField, PasswordField, HostField string
}

// Validate checks the configuration, and Next's when it has a Validate
// method (rotation.New calls it).
func (r *Rotator) Validate() error {
	if r == nil || r.Next == nil {
		return errors.New("connstr.Rotator: Next is nil")
	}
	for _, f := range r.fields() {
		if f.Name == "" {
			return errors.New("connstr.Rotator: a field has no name")
		}
		if f.Name == r.field(r.UsernameField, "username") || f.Name == r.field(r.PasswordField, "password") || f.Name == r.field(r.HostField, "host") {
			return fmt.Errorf("connstr.Rotator: field %q is a credential or host field, not a connection string", f.Name)
		}
	}
	if v, ok := r.Next.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

func (r *Rotator) fields() []Field {
	if r.Fields == nil {
		return DefaultFields()
	}
	return r.Fields
}

func (r *Rotator) field(set, def string) string {
	if set != "" {
		return set
	}
	return def
}

// credential reads what v's connection strings must carry; oldUser is the
// current value's user.
func (r *Rotator) credential(v *rotation.Secret, oldUser string) (Credential, error) {
	var c Credential
	var err error
	if c.Host, err = v.Get(r.field(r.HostField, "host")); err != nil {
		return c, err
	}
	if c.Username, err = v.Get(r.field(r.UsernameField, "username")); err != nil {
		return c, err
	}
	if c.Password, err = v.Get(r.field(r.PasswordField, "password")); err != nil {
		return c, err
	}
	c.Port = r.DefaultPort
	if _, ok, err := v.Lookup("port"); err != nil {
		return c, err
	} else if ok {
		if c.Port, err = v.Int("port"); err != nil {
			return c, err
		}
	}
	c.OldUsername = oldUser
	if c.OldUsername == "" {
		c.OldUsername = c.Username
	}
	return c, nil
}

// Create is Next's, with the pending value's connection strings
// rewritten for its credential.
func (r *Rotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	resp, err := r.Next.Create(ctx, req)
	if err != nil || resp == nil || resp.Pending == nil {
		return resp, err
	}
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	oldUser, _, err := current.Lookup(r.field(r.UsernameField, "username"))
	if err != nil {
		return nil, err
	}
	c, err := r.credential(resp.Pending, oldUser)
	if err != nil {
		return nil, err
	}
	pending, err := Rewrite(resp.Pending, r.fields(), c)
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: pending}, nil
}

// Set is Next's.
func (r *Rotator) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	return r.Next.Set(ctx, req)
}

// Test refuses a pending value whose connection strings do not carry its
// own credential and host, then runs Next's test.
func (r *Rotator) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	if req.Pending != nil && !req.Pending.IsBinary() {
		c, err := r.credential(req.Pending, "")
		if err == nil {
			if err := Check(req.Pending, r.fields(), c); err != nil {
				return nil, fmt.Errorf("the pending value's connection strings do not match its credential: %w", err)
			}
		}
		// A value without host or credential fields is Next's to refuse.
	}
	return r.Next.Test(ctx, req)
}
