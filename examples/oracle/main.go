// Command oracle is an AWS Secrets Manager rotation function for RDS for
// Oracle (every edition, CDB or not) and self-managed Oracle Database,
// using the secret format of AWS's rotation templates, so existing
// secrets work unchanged:
//
//	{"engine": "oracle", "host": "db.example.com", "port": 2484,
//	 "username": "app", "password": "...", "dbname": "ORCL",
//	 "masterarn": "arn:aws:secretsmanager:...:secret:admin-...", "ssl": true}
//
// "dbname" is the service name. ROTATION_MODE selects the strategy, read
// once at start:
//
//   - single: one user's password changes in place. Without "masterarn"
//     the user changes its own password with ALTER USER ... IDENTIFIED BY
//     ... REPLACE, giving the old password that actually logged in
//     (AWSCURRENT, or AWSPREVIOUS after an interrupted rotation), which
//     profiles with a password-verify function demand (ORA-28221). With
//     "masterarn" the admin secret resets the password of the users
//     ALLOWED_USERS lists.
//   - alternating: two users, "APP" and "APP_CLONE" (ROTATION_CLONE_SUFFIX,
//     default "_CLONE"); each rotation changes the one not current, as the
//     admin. The clone is created on first use with the base user's
//     profile and default tablespace, and gets its roles, system
//     privileges, object and column privileges, re-synced on every
//     rotation.
//   - alternating-precreated: two existing users named by ROTATION_USERS;
//     only their passwords change.
//
// ALTER USER and CREATE USER take no bind variables, so the password is
// sent quoted by Oracle's rule ("..."), which cannot hold '"': a password
// with '"' (or a NUL) is refused, never altered, and the default password
// policy leaves '"' out. Every name is quoted too. Connections use TCPS
// (TLS from the first byte) with the server certificate verified against
// the host name and the CA bundles (the RDS bundle packaged with the
// function). See README.md for every variable, the IAM policy and
// template.yaml.
//
// Build for the provided.al2023 runtime from the examples module:
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o bootstrap ./oracle
package main

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
	goora "github.com/sijms/go-ora/v2"
)

func main() {
	// The Lambda context's logger: the request id on every record, level
	// and format (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT) from the
	// function's logging configuration.
	logger := lambdacontext.NewLogger()
	s, err := loadSettings(os.LookupEnv)
	if err != nil {
		logger.Error("invalid configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("loading the AWS configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	retry, err := dbsecret.TestRetryFromEnv(os.LookupEnv)
	if err != nil {
		logger.Error("invalid configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	h, err := newHandler(secretsmanager.NewFromConfig(cfg), s, logger, retry)
	if err != nil {
		logger.Error("building the rotation handler", slog.String("error", err.Error()))
		os.Exit(1)
	}
	logger.Info("oracle rotation function ready", slog.String("mode", string(s.mode)))
	lambda.Start(h.Handle)
}

// Environment variables, besides the AWS SDK's own and those dbsecret
// reads: the password policy (EXCLUDE_CHARACTERS, PASSWORD_LENGTH,
// EXCLUDE_NUMBERS, EXCLUDE_PUNCTUATION, EXCLUDE_UPPERCASE,
// EXCLUDE_LOWERCASE, REQUIRE_EACH_INCLUDED_TYPE), ALLOWED_USERS,
// DB_ADMIN_ENDPOINT, DB_ADMIN_ALLOW_PLAINTEXT, TEST_SECRET_ATTEMPTS and
// TEST_SECRET_BACKOFF.
// The variables the examples share, read by dbsecret.SettingsFromEnv.
const (
	envMode     = dbsecret.EnvMode
	envUsers    = dbsecret.EnvUsers
	envSuffix   = dbsecret.EnvSuffix
	envCABundle = dbsecret.EnvCABundle
)

// defaultSuffix is the AWS templates' clone suffix for Oracle.
const defaultSuffix = "_CLONE"

type mode = dbsecret.Mode

const (
	modeSingle      = dbsecret.ModeSingle
	modeAlternating = dbsecret.ModeAlternating
	modePrecreated  = dbsecret.ModePrecreated
)

// settings is the function's configuration, read once in main.
type settings struct {
	mode    mode
	users   [2]string
	suffix  string
	caFiles []string
	timeout time.Duration
	policy  rotation.PasswordPolicy

	allowedUsers []string
	admin        dbsecret.AdminPolicy

	// newConnector turns a go-ora URL and a TLS configuration into a
	// connector: goora.NewConnector with WithTLSConfig, unless a test
	// replaces it.
	newConnector func(dsn string, tlsCfg *tls.Config) driver.Connector
}

// loadSettings reads the configuration through lookup (os.LookupEnv).
// Errors name the variable, never a value.
func loadSettings(lookup func(string) (string, bool)) (settings, error) {
	c, err := dbsecret.SettingsFromEnv(lookup, dbsecret.SettingsOptions{
		SameUser:     func(a, b string) bool { return storedName(a) == storedName(b) },
		SameUserHint: "(unquoted names are upper-cased by Oracle)",
		CheckUser: func(what, name string) error {
			_, err := quoteIdent(what, storedName(name), maxNameBytes)
			return err
		},
	})
	s := settings{mode: c.Mode, users: c.Users, suffix: c.Suffix, caFiles: c.CAFiles, timeout: c.ConnectTimeout, allowedUsers: c.AllowedUsers}
	if err != nil {
		return s, err
	}
	if s.admin, err = dbsecret.AdminPolicyFromEnv(dbsecret.Oracle, lookup); err != nil {
		return s, err
	}
	if s.policy, err = dbsecret.PolicyFromEnv(dbsecret.Oracle, lookup); err != nil {
		return s, err
	}
	if err := checkPolicy(s.policy); err != nil {
		return s, err
	}
	return s, nil
}

// checkPolicy refuses password policies whose passwords Oracle would not
// take as generated: a policy that may put '"' into a password (it cannot
// be quoted in IDENTIFIED BY; it would have to be dropped, changing the
// password), or a length outside 8 (ORA12C_VERIFY_FUNCTION's minimum) to
// 30 bytes (the limit of IDENTIFIED BY before 23ai).
func checkPolicy(p rotation.PasswordPolicy) error {
	if !p.ExcludePunctuation && !strings.Contains(p.ExcludeCharacters, `"`) {
		return fmt.Errorf("%s must include '\"': Oracle cannot quote a password holding it in ALTER USER ... IDENTIFIED BY, and this function never alters a password to fit", dbsecret.EnvExcludeCharacters)
	}
	n := p.Length
	if n == 0 {
		n = 32
	}
	if n < minPasswordBytes || n > maxPasswordBytes {
		return fmt.Errorf("%s must be from %d to %d for Oracle (the default password-verify function asks for at least %d characters; IDENTIFIED BY takes at most %d bytes before 23ai)", dbsecret.EnvPasswordLength, minPasswordBytes, maxPasswordBytes, minPasswordBytes, maxPasswordBytes)
	}
	return nil
}

// newRotator builds the rotator for s. client reads the admin secret.
func newRotator(client strategy.SecretReader, s settings) (rotation.Rotator, error) {
	nc := s.newConnector
	if nc == nil {
		nc = func(dsn string, tlsCfg *tls.Config) driver.Connector {
			c := goora.NewConnector(dsn).(*goora.OracleConnector)
			if tlsCfg != nil {
				c.WithTLSConfig(tlsCfg)
			}
			return c
		}
	}
	c := &connector{caFiles: s.caFiles, timeout: s.timeout, admin: s.admin, newConnector: nc}
	admin := strategy.AdminSecret{Client: client, Field: dbsecret.FieldMasterARN, SkipFieldMatch: true}
	switch s.mode {
	case modeSingle:
		svc := passwordService{c: c}
		r := singleUser{self: &strategy.SingleUser{Service: svc, Policy: s.policy}, allowed: s.allowedUsers}
		if len(s.allowedUsers) > 0 {
			r.admin = &strategy.SingleUser{Service: svc, Policy: s.policy, AdminSecret: &admin, AllowedUsers: s.allowedUsers}
		}
		return r, nil
	case modeAlternating, modePrecreated:
		suffix := s.suffix
		if suffix == "" {
			suffix = defaultSuffix
		}
		a := &strategy.AlternatingUsers{
			Service:     userService{c: c, precreated: s.mode == modePrecreated},
			AdminSecret: admin,
			Policy:      s.policy,
			Suffix:      suffix,
			// No static MaxNameLength: the limit (30 or 128 bytes) depends
			// on the server, which setSecret asks.
			MatchFields: []string{dbsecret.FieldEngine, dbsecret.FieldHost, dbsecret.FieldPort, dbsecret.FieldDBName, dbsecret.FieldMasterARN},
		}
		if s.mode == modePrecreated {
			if s.users[0] == "" || s.users[1] == "" || s.users[0] == s.users[1] {
				return nil, fmt.Errorf("%s=%s needs %s to name two different users", envMode, modePrecreated, envUsers)
			}
			a.Users = s.users
		}
		return alternating{a}, nil
	}
	return nil, fmt.Errorf("unknown mode %q", s.mode)
}

// newHandler builds the rotation handler main gives lambda.Start.
func newHandler(client rotation.Client, s settings, logger *slog.Logger, opts ...func(*rotation.Options)) (*rotation.Handler, error) {
	r, err := newRotator(client, s)
	if err != nil {
		return nil, err
	}
	return rotation.New(client, r, append([]func(*rotation.Options){func(o *rotation.Options) { o.Logger = logger }}, opts...)...)
}
