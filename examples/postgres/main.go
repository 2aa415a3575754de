// Command postgres is a Secrets Manager rotation function for PostgreSQL
// (RDS, Aurora or self-managed) that reads the secrets AWS's rotation
// templates use. ROTATION_MODE selects single-user or alternating-users
// rotation; see README.md for the secret format, the configuration, the
// IAM policy and a SAM template.
//
// Passwords never reach the server in plaintext: the function computes a
// SCRAM-SHA-256 verifier and sends ALTER ROLE ... PASSWORD '<verifier>',
// and it logs in only with SCRAM-SHA-256 (channel-bound over TLS), never
// with a cleartext password. Connections use TLS with certificate
// verification unless the secret says "ssl": false. The admin credential
// goes only to the server the admin secret or DB_ADMIN_ENDPOINT names, over
// verified TLS, and in single-user mode changes only the users listed in
// ALLOWED_USERS.
//
// Everything is read and built once, at cold start: the configuration
// (configFromEnv, which also loads the CA_BUNDLE files), the base
// connection configuration (newRotator) and, on first use, the default
// CA bundles.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

func main() {
	// Lambda's own logger: the request id on every record, the level and
	// format (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT) from the
	// function's logging configuration.
	logger := lambdacontext.NewLogger()
	cfg, err := configFromEnv(os.LookupEnv)
	if err != nil {
		logger.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("loading AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	r, err := newRotator(cfg, sm)
	if err != nil {
		logger.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	retry, err := dbsecret.TestRetryFromEnv(os.LookupEnv)
	if err != nil {
		logger.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	h, err := rotation.New(sm, r, func(o *rotation.Options) { o.Logger = logger }, retry)
	if err != nil {
		logger.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	logger.Info("postgres rotation function ready", "mode", string(cfg.mode))
	lambda.Start(h.Handle)
}
