package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
)

// Mode selects the rotation strategy.
type Mode string

const (
	// ModeSingle changes the secret's user's password in place, logged in
	// as that user, or as the admin when the secret has "masterarn".
	ModeSingle Mode = "single"
	// ModeAlternating alternates between the user and "<user>_clone",
	// which is created on first use and acts as the user.
	ModeAlternating Mode = "alternating"
	// ModeAlternatingPrecreated alternates between two existing users
	// named in ALTERNATE_USERS that share an owner role.
	ModeAlternatingPrecreated Mode = "alternating-precreated"
)

// Environment variables main reads (besides dbsecret's password policy
// variables and the AWS SDK's).
const (
	envMode           = "ROTATION_MODE"
	envAlternateUsers = "ALTERNATE_USERS"
	envCloneSuffix    = "CLONE_SUFFIX"
	envCABundle       = "CA_BUNDLE"
	envConnectTimeout = "CONNECT_TIMEOUT"
)

// config is the function's configuration, read once in main.
type config struct {
	mode           Mode
	policy         rotation.PasswordPolicy
	users          [2]string // ModeAlternatingPrecreated
	suffix         string    // ModeAlternating; "" means "_clone"
	caFiles        []string
	connectTimeout time.Duration
	// checkPassword is service.checkPassword: tests only.
	checkPassword func(ctx context.Context, s *dbsecret.Secret) error
}

// configFromEnv reads the configuration through lookup (os.LookupEnv).
// Errors name the variable.
func configFromEnv(lookup func(string) (string, bool)) (config, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	var c config
	switch m := Mode(strings.ToLower(get(envMode))); m {
	case ModeSingle, ModeAlternating, ModeAlternatingPrecreated:
		c.mode = m
	case "":
		return c, fmt.Errorf("%s is not set: set it to %s, %s or %s", envMode, ModeSingle, ModeAlternating, ModeAlternatingPrecreated)
	default:
		return c, fmt.Errorf("%s must be %s, %s or %s", envMode, ModeSingle, ModeAlternating, ModeAlternatingPrecreated)
	}
	users := get(envAlternateUsers)
	if c.mode == ModeAlternatingPrecreated {
		parts := strings.Split(users, ",")
		if len(parts) != 2 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" || strings.TrimSpace(parts[0]) == strings.TrimSpace(parts[1]) {
			return c, fmt.Errorf("%s must name two different users, as user_a,user_b, in mode %s", envAlternateUsers, c.mode)
		}
		c.users = [2]string{strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])}
		for _, u := range c.users {
			if len(u) > maxIdentifierBytes {
				return c, fmt.Errorf("%s: a user name is longer than %d bytes", envAlternateUsers, maxIdentifierBytes)
			}
		}
	} else if users != "" {
		return c, fmt.Errorf("%s is set but %s is %s; it is used only in mode %s", envAlternateUsers, envMode, c.mode, ModeAlternatingPrecreated)
	}
	if v, ok := lookup(envCloneSuffix); ok && v != "" {
		if c.mode != ModeAlternating {
			return c, fmt.Errorf("%s is set but %s is %s; it is used only in mode %s", envCloneSuffix, envMode, c.mode, ModeAlternating)
		}
		c.suffix = v
	}
	if v := get(envCABundle); v != "" {
		for _, f := range strings.Split(v, ":") {
			if f = strings.TrimSpace(f); f != "" {
				c.caFiles = append(c.caFiles, f)
			}
		}
		for _, f := range c.caFiles {
			if _, err := os.Stat(f); err != nil {
				return c, fmt.Errorf("%s: cannot use CA bundle %s: %w", envCABundle, f, errors.Unwrap(err))
			}
		}
	}
	if v := get(envConnectTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("%s must be a positive duration such as 5s", envConnectTimeout)
		}
		c.connectTimeout = d
	}
	p, err := dbsecret.PolicyFromEnv(dbsecret.PostgreSQL, lookup)
	if err != nil {
		return c, err
	}
	c.policy = p
	return c, nil
}

// newRotator builds the rotator for c. sm reads the admin secret; it is
// the same client the Handler uses.
func newRotator(c config, sm strategy.SecretReader) (rotation.Rotator, error) {
	svc := &service{caFiles: c.caFiles, connectTimeout: c.connectTimeout, checkPassword: c.checkPassword}
	// ParseAdmin checks that the admin secret is for the same server and
	// accepts admin secrets without a host (RDS-managed master secrets),
	// which the strategy's default match on "host" would refuse.
	admin := strategy.Admin{Client: sm, Field: dbsecret.FieldMasterARN, MatchFields: []string{}}
	var r rotation.Rotator
	switch c.mode {
	case ModeSingle:
		own := &strategy.SingleUser{Service: svc, Policy: c.policy}
		withAdmin := &strategy.SingleUser{Service: svc, Policy: c.policy, Admin: &admin}
		r = &singleUser{own: own, withAdmin: withAdmin}
	case ModeAlternating, ModeAlternatingPrecreated:
		a := &strategy.AlternatingUsers{
			Service:       svc,
			Admin:         admin,
			Policy:        c.policy,
			Suffix:        c.suffix,
			MaxNameLength: maxIdentifierBytes, // counted in characters there; bytes are checked below
		}
		if c.mode == ModeAlternatingPrecreated {
			a.Users = c.users
			svc.pair = c.users
		}
		r = a
	default:
		return nil, fmt.Errorf("unknown mode %q", c.mode)
	}
	return &validating{next: r}, nil
}

// singleUser is single-user rotation that uses the admin secret when the
// secret names one in "masterarn" and the user's own password otherwise,
// decided per secret and per invocation.
type singleUser struct {
	own, withAdmin *strategy.SingleUser
}

func (s *singleUser) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	return s.own.Create(ctx, req)
}

func (s *singleUser) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	if arn, ok, _ := req.Pending.Lookup(dbsecret.FieldMasterARN); ok && arn != "" {
		return s.withAdmin.Set(ctx, req)
	}
	return s.own.Set(ctx, req)
}

func (s *singleUser) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	return s.own.Test(ctx, req)
}

// validating checks the current value before anything is created, so a
// malformed secret fails createSecret with a message naming the field,
// and refuses pending user names PostgreSQL would truncate.
type validating struct {
	next rotation.Rotator
}

func (v *validating) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	if _, err := dbsecret.Parse(req.Current, dbsecret.PostgreSQL); err != nil {
		return nil, fmt.Errorf("the AWSCURRENT value: %w", err)
	}
	resp, err := v.next.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp != nil && resp.Pending != nil {
		user, err := resp.Pending.Get(dbsecret.FieldUsername)
		if err != nil {
			return nil, err
		}
		if err := checkRole(user); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func (v *validating) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	return v.next.Set(ctx, req)
}

func (v *validating) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	return v.next.Test(ctx, req)
}
