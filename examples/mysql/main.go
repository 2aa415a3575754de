// Command mysql is an AWS Secrets Manager rotation function for MySQL and
// MariaDB (RDS, Aurora MySQL, or self-managed), using the secret format of
// AWS's rotation templates, so existing secrets work unchanged:
//
//	{"engine": "mysql", "host": "db.example.com", "port": 3306,
//	 "username": "app", "password": "...", "dbname": "app",
//	 "masterarn": "arn:aws:secretsmanager:...:secret:admin-...", "ssl": true}
//
// ROTATION_MODE selects the strategy, read once at start:
//
//   - single: one user's password changes in place. When the secret has
//     "masterarn" the admin secret it names makes the change (for every
//     host the user is defined for), for the users ALLOWED_USERS lists
//     only; otherwise the user changes its own password. Clients holding
//     the old value fail between setSecret and finishSecret.
//   - alternating: two users, "app" and "app_clone" (ROTATION_CLONE_SUFFIX);
//     each rotation changes the one not current, logged in with the admin
//     secret. The clone is created for exactly the hosts the base user has,
//     with the base user's grants, re-synced on every rotation. Zero
//     downtime.
//   - alternating-precreated: two existing users named by ROTATION_USERS
//     ("app_a,app_b"); only their passwords change.
//
// TLS is on by default with certificate and host-name verification;
// plaintext only when the secret says "ssl": false. The admin credential
// is used only on the server the admin secret (or DB_ADMIN_ENDPOINT)
// names, always over verified TLS, and never on an account that can
// manage accounts or grant privileges. On MariaDB passwords are sent as
// hashes, so its logs never hold them. See README.md for every variable,
// the IAM policy and a SAM template.
//
// Build for the provided.al2023 runtime from the repository root:
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o bootstrap ./examples/mysql
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/connstr"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
)

func main() {
	// Lambda's own logger: the request id on every record, the level and
	// format (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT) from the
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
	logger.Info("mysql rotation function ready", slog.String("mode", string(s.mode)))
	lambda.Start(h.Handle)
}

// Environment variables, besides the AWS SDK's own and those dbsecret
// reads: the password policy (EXCLUDE_CHARACTERS, PASSWORD_LENGTH,
// EXCLUDE_NUMBERS, EXCLUDE_PUNCTUATION, EXCLUDE_UPPERCASE,
// EXCLUDE_LOWERCASE, REQUIRE_EACH_INCLUDED_TYPE), ALLOWED_USERS (single
// mode with masterarn: the users the admin may change), DB_ADMIN_ENDPOINT
// and DB_ADMIN_ALLOW_PLAINTEXT (see connector.adminSecret), and
// TEST_SECRET_ATTEMPTS and TEST_SECRET_BACKOFF.
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
	// admin pins the admin connection's server and TLS (DB_ADMIN_ENDPOINT,
	// DB_ADMIN_ALLOW_PLAINTEXT).
	admin dbsecret.AdminPolicy

	// connFields are the secret's connection-string fields
	// (connstr.FieldsFromEnv); nil means the defaults.
	connFields []connstr.Field

	// sessionParams are session variables for every connection; only
	// tests set them.
	sessionParams map[string]string
}

// loadSettings reads the configuration through lookup (os.LookupEnv).
// Errors name the variable.
func loadSettings(lookup func(string) (string, bool)) (settings, error) {
	c, err := dbsecret.SettingsFromEnv(lookup, dbsecret.SettingsOptions{CheckUser: checkAccountPart})
	s := settings{mode: c.Mode, users: c.Users, suffix: c.Suffix, caFiles: c.CAFiles, timeout: c.ConnectTimeout, allowedUsers: c.AllowedUsers}
	if err != nil {
		return s, err
	}
	if s.admin, err = dbsecret.AdminPolicyFromEnv(dbsecret.MySQL, lookup); err != nil {
		return s, err
	}
	p, err := dbsecret.PolicyFromEnv(dbsecret.MySQL, lookup)
	if err != nil {
		return s, err
	}
	s.policy = p
	if s.connFields, err = connstr.FieldsFromEnv(lookup); err != nil {
		return s, err
	}
	return s, nil
}

// newRotator builds the rotator for s. client reads the admin secret.
func newRotator(client strategy.SecretReader, s settings) (rotation.Rotator, error) {
	c := &connector{caFiles: s.caFiles, timeout: s.timeout, params: s.sessionParams, admin: s.admin}
	// The admin secret's server is checked and pinned by
	// adminConfig.adminSecret, which also accepts RDS-managed master
	// secrets that hold no host (with DB_ADMIN_ENDPOINT); the strategy's
	// own match would not.
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
			Service:     userService{c: c, precreated: s.mode == modePrecreated},
			AdminSecret: admin,
			Policy:      s.policy,
			Suffix:      s.suffix,
			// No static MaxNameLength: the limit depends on the server
			// (MySQL 32, MariaDB 80 or 128), which setSecret asks.
			MatchFields: []string{dbsecret.FieldEngine, dbsecret.FieldHost, dbsecret.FieldPort, dbsecret.FieldDBName, dbsecret.FieldMasterARN},
		}
		if s.mode == modePrecreated {
			// Both users, different: an empty pair would silently mean
			// clone mode.
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
	// Connection strings in the secret (connectionString, jdbcUrl, dsn,
	// ...) follow the pending credential; see package connstr.
	r = &connstr.Rotator{Next: r, Fields: s.connFields, DefaultPort: dbsecret.MySQL.DefaultPort()}
	return rotation.New(client, r, append([]func(*rotation.Options){func(o *rotation.Options) { o.Logger = logger }}, opts...)...)
}
