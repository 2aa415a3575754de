// Command documentdb is a Secrets Manager rotation function for Amazon
// DocumentDB and MongoDB that reads the secrets AWS's rotation templates
// use. ROTATION_MODE selects single-user or alternating-users rotation;
// see README.md for the secret format, the configuration, the IAM policy
// and template.yaml.
//
// It uses the MongoDB Go driver v2 (AWS's Python templates call
// Database.authenticate, removed in pymongo 4). Connections are direct to
// the secret's host (no replica-set discovery, so no credential goes to a
// host nobody named), with retryable writes off as DocumentDB requires,
// and TLS verified with the RDS CA bundle by default, never downgraded.
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
	logger.Info("documentdb rotation function ready", "mode", string(cfg.mode))
	lambda.Start(h.Handle)
}
