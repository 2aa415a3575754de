// Command apikey is an AWS Secrets Manager rotation function for an API
// key minted by an HTTP API-key service (the one in
// examples/internal/apikeyservice: create, list and revoke keys, at most
// two active). It uses the two-key strategy: each rotation mints a new key
// into AWSPENDING, tests it, promotes it to AWSCURRENT, and keeps the
// replaced key valid as AWSPREVIOUS until the next rotation, so clients
// that cached the old key keep working.
//
// The secret is a JSON object:
//
//	{"endpoint": "https://keys.example.com", "key_id": "key-...", "api_key": "sk_..."}
//
// Configuration (all optional) comes from the environment, read once here:
// APIKEY_HTTP_TIMEOUT (default 10s) and APIKEY_MAX_ACTIVE (default 2). The
// AWS SDK reads its usual variables (AWS_REGION, and
// AWS_ENDPOINT_URL_SECRETS_MANAGER to point it elsewhere). Logs go through
// Lambda's logger (lambdacontext.NewLogger: the request id on every
// record, level and format from the function's logging configuration): one
// record per step, never a key or the RotationToken.
//
// Build for the provided.al2023 runtime from the repository root:
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o bootstrap ./examples/apikey
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func main() {
	// Lambda's own logger: the request id on every record, the level and
	// format (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT) from the
	// function's logging configuration.
	logger := lambdacontext.NewLogger()
	s, err := loadSettings(os.Getenv)
	if err != nil {
		logger.Error("invalid configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("loading the AWS configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	h, err := newHandler(secretsmanager.NewFromConfig(cfg), s, &http.Client{}, logger)
	if err != nil {
		logger.Error("building the rotation handler", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
