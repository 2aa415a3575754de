package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/connstr"
	"github.com/rotationkit/rotation/examples/internal/dbrotator"
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
	// envAllowedUsers lists the users the admin may change in single-user
	// mode; required when a secret names an admin secret (masterarn).
	envAllowedUsers = dbsecret.EnvAllowedUsers
	// envAllowMD5 accepts md5 password authentication besides
	// SCRAM-SHA-256 (and then does not require channel binding).
	envAllowMD5 = "DB_ALLOW_MD5"
)

// config is the function's configuration, read once in main.
type config struct {
	mode           Mode
	policy         rotation.PasswordPolicy
	users          [2]string // ModeAlternatingPrecreated
	suffix         string    // ModeAlternating; "" means "_clone"
	caFiles        []string
	connectTimeout time.Duration
	// allowedUsers (ModeSingle) are the users the admin may change.
	allowedUsers []string
	// admin pins where and how the admin credential is used.
	admin dbsecret.AdminPolicy
	// allowMD5 accepts md5 password authentication.
	allowMD5 bool
	// connFields are the secret's connection-string fields
	// (connstr.FieldsFromEnv: the defaults plus CONNECTION_STRING_FIELDS);
	// nil means the defaults.
	connFields []connstr.Field

	// Tests only:
	// checkPassword is service.checkPassword.
	checkPassword func(ctx context.Context, s *dbsecret.Secret) error
	// requireAuth, if set, replaces the pgconn RequireAuth value derived
	// from allowMD5 (tests against a "trust" server add "none").
	requireAuth string
}

// configFromEnv reads the configuration through lookup (os.LookupEnv).
// Errors name the variable.
func configFromEnv(lookup func(string) (string, bool)) (config, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	var c config
	var err error
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
	if c.caFiles, err = dbsecret.CAFilesFromEnv(lookup, envCABundle, ":"); err != nil {
		return c, err
	}
	if c.allowedUsers, err = dbsecret.AllowedUsersFromEnv(lookup); err != nil {
		return c, err
	}
	if len(c.allowedUsers) > 0 && c.mode != ModeSingle {
		return c, fmt.Errorf("%s is set but %s is %s; it is used only in mode %s (the alternating modes change only the secret's user and its alternate, after the current credential has authenticated)", envAllowedUsers, envMode, c.mode, ModeSingle)
	}
	for _, u := range c.allowedUsers {
		if len(u) > maxIdentifierBytes {
			return c, fmt.Errorf("%s: a user name is longer than %d bytes", envAllowedUsers, maxIdentifierBytes)
		}
	}
	if c.admin, err = dbsecret.AdminPolicyFromEnv(dbsecret.PostgreSQL, lookup); err != nil {
		return c, err
	}
	if v := get(envAllowMD5); v != "" {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return c, fmt.Errorf("%s must be true or false", envAllowMD5)
		}
		c.allowMD5 = b
	}
	if v := get(envConnectTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("%s must be a positive duration such as 5s", envConnectTimeout)
		}
		c.connectTimeout = d
	}
	if c.policy, err = dbsecret.PolicyFromEnv(dbsecret.PostgreSQL, lookup); err != nil {
		return c, err
	}
	if c.connFields, err = connstr.FieldsFromEnv(lookup); err != nil {
		return c, err
	}
	return c, nil
}

// newRotator builds the rotator for c, at cold start: the service's
// base connection configuration is built here, once. sm reads the admin
// secret; it is the same client the Handler uses.
func newRotator(c config, sm strategy.SecretReader) (rotation.Rotator, error) {
	svc, err := newService(c)
	if err != nil {
		return nil, err
	}
	// The service checks the admin secret with c.admin
	// (AdminPolicy.ParseAdmin): it must be for the same server, and the
	// server comes from the admin secret or the function's configuration,
	// never from the rotated secret alone. Admin secrets without a host
	// (RDS-managed master secrets), which the strategy's default match on
	// "host" would refuse, are accepted when DB_ADMIN_ENDPOINT pins it.
	admin := strategy.AdminSecret{Client: sm, Field: dbsecret.FieldMasterARN, SkipFieldMatch: true}
	var r rotation.Rotator
	switch c.mode {
	case ModeSingle:
		s := &dbrotator.SingleUser{Own: &strategy.SingleUser{Service: svc, Policy: c.policy}}
		if len(c.allowedUsers) > 0 {
			s.Admin = &strategy.SingleUser{Service: svc, Policy: c.policy, AdminSecret: &admin, AllowedUsers: c.allowedUsers}
		}
		r = s
	case ModeAlternating, ModeAlternatingPrecreated:
		a := &strategy.AlternatingUsers{
			Service:       svc,
			AdminSecret:   admin,
			Policy:        c.policy,
			Suffix:        c.suffix,
			MaxNameLength: maxIdentifierBytes, // counted in characters there; bytes are checked by Validating
		}
		if c.mode == ModeAlternatingPrecreated {
			a.Users = c.users
			svc.pair = c.users
		}
		r = a
	default:
		return nil, fmt.Errorf("unknown mode %q", c.mode)
	}
	// The current value is checked before anything is created, so a
	// malformed secret fails createSecret naming the field, and the hooks
	// refuse pending user names PostgreSQL would truncate.
	v := &dbrotator.Validating{Next: r, Family: dbsecret.PostgreSQL, CheckUser: checkRole}
	// Connection strings in the secret (connectionString, jdbcUrl, ...)
	// follow the pending credential; see package connstr.
	return &connstr.Rotator{Next: v, Fields: c.connFields, DefaultPort: dbsecret.PostgreSQL.DefaultPort()}, nil
}
