// Command oauth is an AWS Secrets Manager rotation function for the client
// secret of an OAuth 2.0 confidential client. It uses the two-key
// strategy: each rotation creates a new client secret at the authorization
// server's client-management API (authenticating with the current one),
// stores it as AWSPENDING, proves it by obtaining an access token with the
// client-credentials grant, promotes it to AWSCURRENT, and keeps the
// replaced secret valid as AWSPREVIOUS until the next rotation, when it is
// deleted. At most two secrets are active at once.
//
// The secret is a JSON object:
//
//	{
//	  "token_url":      "https://auth.example.com/oauth2/token",
//	  "management_url": "https://auth.example.com/clients/my-client/secrets",
//	  "client_id":      "my-client",
//	  "client_secret":  "...",
//	  "secret_id":      "cs-..."
//	}
//
// Configuration (all optional) comes from the environment, read once here:
// OAUTH_HTTP_TIMEOUT (default 10s), OAUTH_TOKEN_AUTH_METHOD
// (client_secret_basic, the default, or client_secret_post) and
// OAUTH_MAX_SECRETS (default 2). The AWS SDK reads its usual variables
// (AWS_REGION, and AWS_ENDPOINT_URL_SECRETS_MANAGER to point it
// elsewhere). Logs go through Lambda's logger (lambdacontext.NewLogger:
// the request id on every record, level and format from the function's
// logging configuration): one record per step, never a secret, a token or
// the RotationToken.
//
// Build for the provided.al2023 runtime from the repository root:
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o bootstrap ./examples/oauth
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
