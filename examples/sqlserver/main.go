// Command sqlserver is an AWS Secrets Manager rotation function for RDS
// for SQL Server (every edition) and self-managed SQL Server, using the
// secret format of AWS's rotation templates, so existing secrets work
// unchanged:
//
//	{"engine": "sqlserver", "host": "db.example.com", "port": 1433,
//	 "username": "app", "password": "...", "dbname": "master",
//	 "masterarn": "arn:aws:secretsmanager:...:secret:admin-...", "ssl": true}
//
// ROTATION_MODE selects the strategy, read once at start:
//
//   - single: one login's password changes in place. Without "masterarn"
//     the login changes its own password with ALTER LOGIN ... OLD_PASSWORD,
//     giving the old password that actually logged in (AWSCURRENT, or
//     AWSPREVIOUS after an interrupted rotation); a contained database
//     user (CREATE USER ... WITH PASSWORD in a contained database) is
//     changed the same way with ALTER USER. With "masterarn" the admin
//     secret resets the password of the users ALLOWED_USERS lists.
//   - alternating: two logins, "app" and "app_clone"
//     (ROTATION_CLONE_SUFFIX); each rotation changes the one not current,
//     as the admin. The clone is created on first use with the base
//     login's server roles, server permissions, database roles and
//     database permissions in "dbname", re-synced on every rotation.
//   - alternating-precreated: two existing logins named by ROTATION_USERS;
//     only their passwords change.
//
// Passwords and user names reach the server only as bound parameters:
// the statements are constant text that the server completes with
// QUOTENAME, so no value is ever spliced into SQL by this function. Object
// names copied from the catalog are quoted with brackets. Connections use
// encrypt=true with the server certificate verified against the host name
// and the CA bundles (the RDS bundle packaged with the function), never
// TrustServerCertificate. See README.md for every variable, the IAM policy
// and template.yaml.
//
// Build for the provided.al2023 runtime from the examples module:
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o bootstrap ./sqlserver
package main

import (
	"context"
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
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
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
	logger.Info("sqlserver rotation function ready", slog.String("mode", string(s.mode)))
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

	// allowedUsers (ALLOWED_USERS) are the users whose password the
	// admin secret may change in single mode.
	allowedUsers []string
	// admin pins the admin connection's server and TLS.
	admin dbsecret.AdminPolicy

	// newConnector turns a driver configuration into a connector:
	// mssql.NewConnectorConfig, unless a test replaces it.
	newConnector func(msdsn.Config) driver.Connector
}

// loadSettings reads the configuration through lookup (os.LookupEnv).
// Errors name the variable, never a value.
func loadSettings(lookup func(string) (string, bool)) (settings, error) {
	c, err := dbsecret.SettingsFromEnv(lookup, dbsecret.SettingsOptions{SameUser: strings.EqualFold, SameUserHint: "(SQL Server compares names without case by default)", CheckUser: checkName})
	s := settings{mode: c.Mode, users: c.Users, suffix: c.Suffix, caFiles: c.CAFiles, timeout: c.ConnectTimeout, allowedUsers: c.AllowedUsers}
	if err != nil {
		return s, err
	}
	if s.admin, err = dbsecret.AdminPolicyFromEnv(dbsecret.SQLServer, lookup); err != nil {
		return s, err
	}
	if s.policy, err = dbsecret.PolicyFromEnv(dbsecret.SQLServer, lookup); err != nil {
		return s, err
	}
	if err := checkPolicy(s.policy); err != nil {
		return s, err
	}
	return s, nil
}

// checkPolicy refuses password policies SQL Server would reject: more
// than 128 characters, or fewer than the 8 its CHECK_POLICY demands.
func checkPolicy(p rotation.PasswordPolicy) error {
	n := p.Length
	if n == 0 {
		n = 32
	}
	if n < minPasswordLength || n > maxPasswordLength {
		return fmt.Errorf("%s must be from %d to %d for SQL Server (CHECK_POLICY asks for at least %d characters; passwords hold at most %d)", dbsecret.EnvPasswordLength, minPasswordLength, maxPasswordLength, minPasswordLength, maxPasswordLength)
	}
	return nil
}

// newRotator builds the rotator for s. client reads the admin secret.
func newRotator(client strategy.SecretReader, s settings) (rotation.Rotator, error) {
	nc := s.newConnector
	if nc == nil {
		nc = func(c msdsn.Config) driver.Connector { return mssql.NewConnectorConfig(c) }
	}
	c := &connector{caFiles: s.caFiles, timeout: s.timeout, admin: s.admin, newConnector: nc}
	// The admin secret's server is checked and pinned by
	// dbsecret.AdminPolicy (see connector.adminSecret), which also
	// accepts RDS-managed master secrets that hold no host; the
	// strategy's own match would not.
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
		a := &strategy.AlternatingUsers{
			Service:       userService{c: c, precreated: s.mode == modePrecreated},
			AdminSecret:   admin,
			Policy:        s.policy,
			Suffix:        s.suffix,
			MaxNameLength: maxNameLength, // UTF-16 units are checked in checkName
			MatchFields:   []string{dbsecret.FieldEngine, dbsecret.FieldHost, dbsecret.FieldPort, dbsecret.FieldDBName, dbsecret.FieldMasterARN},
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
