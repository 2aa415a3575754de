// Command redshift is a Secrets Manager rotation function for Amazon
// Redshift (provisioned clusters and Serverless workgroups) that reads the
// secrets AWS's rotation templates use. ROTATION_MODE selects single-user
// or alternating-users rotation; see README.md for the secret format, the
// configuration, the IAM policy and template.yaml.
//
// Passwords never reach the server in plaintext: the function sends
// ALTER USER ... PASSWORD 'md5<hex md5 of password+user>', the hashed form
// Redshift accepts, and logs in with md5 challenge-response, never with a
// cleartext password. Connections use TLS with certificate verification
// unless the secret says "ssl": false; there is no silent fallback. The
// admin credential goes only to the endpoint the admin secret or
// DB_ADMIN_ENDPOINT names, over verified TLS.
//
// Everything is read and built once, at cold start.
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
	// The Lambda context's logger: the request id on every record, level
	// and format (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT) from the
	// function's logging configuration.
	logger := lambdacontext.NewLogger()
	fail := func(what string, err error) {
		logger.Error(what, "error", err.Error())
		os.Exit(1)
	}
	cfg, err := configFromEnv(os.LookupEnv)
	if err != nil {
		fail("configuration", err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fail("loading AWS configuration", err)
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	r, err := newRotator(cfg, sm)
	if err != nil {
		fail("configuration", err)
	}
	retry, err := dbsecret.TestRetryFromEnv(os.LookupEnv)
	if err != nil {
		fail("configuration", err)
	}
	h, err := rotation.New(sm, r, func(o *rotation.Options) { o.Logger = logger }, retry)
	if err != nil {
		fail("configuration", err)
	}
	logger.Info("redshift rotation function ready", "mode", string(cfg.mode), "password_hash", cfg.hash)
	lambda.Start(h.Handle)
}
