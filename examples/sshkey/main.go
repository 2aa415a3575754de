// Command sshkey is an AWS Secrets Manager rotation function (a Lambda on
// the provided.al2023 runtime) that rotates an ed25519 SSH key pair logging
// in to a set of hosts. The secret is a JSON object:
//
//	{
//	  "username": "deploy",
//	  "hosts": ["10.0.1.10:22", "build.internal:2222"],
//	  "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n...",
//	  "public_key": "ssh-ed25519 AAAA... rotation:<secret name>#<ARN tag>:<version id>",
//	  "known_hosts": "10.0.1.10 ssh-ed25519 AAAA...\n[build.internal]:2222 ssh-ed25519 AAAA...\n",
//	  "authorized_keys_path": ".ssh/authorized_keys",
//	  "authorized_keys_options": "from=\"10.0.0.0/8\",no-pty,no-port-forwarding"
//	}
//
// authorized_keys_path is optional; a relative path is relative to the
// login's home directory. authorized_keys_options is optional: when set,
// every line the function installs gets these options; when absent, each
// new line copies the options of the line holding the key that logs in
// (the current key's). Host keys are always verified against
// known_hosts. The previous key keeps working until the next rotation, so
// clients that cache the secret never lose access. See README.md for the
// deployment (IAM policy, VPC, SAM template).
//
// Environment:
//
//	SSH_DIAL_TIMEOUT     connect + handshake + authentication per host (default 10s)
//	SSH_COMMAND_TIMEOUT  each remote command (default 20s)
//	SSH_PARALLEL         hosts handled at once (default 8)
//
// plus Lambda's logging configuration (AWS_LAMBDA_LOG_LEVEL and
// AWS_LAMBDA_LOG_FORMAT, set from the function's LoggingConfig) and the
// AWS SDK's usual variables (AWS_REGION, and
// AWS_ENDPOINT_URL_SECRETS_MANAGER to use another endpoint).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
)

func main() {
	// Lambda's own logger: the request id on every record, the level and
	// format (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT) from the
	// function's logging configuration.
	logger := lambdacontext.NewLogger()
	rot, err := configure(os.Getenv)
	if err != nil {
		logger.Error("invalid configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("loading the AWS configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	h, err := rotation.New(secretsmanager.NewFromConfig(cfg), rot, func(o *rotation.Options) { o.Logger = logger })
	if err != nil {
		logger.Error("building the handler", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// configure reads the environment once, at cold start.
func configure(getenv func(string) string) (*Rotator, error) {
	rot := &Rotator{}
	var err error
	if rot.DialTimeout, err = duration(getenv, "SSH_DIAL_TIMEOUT", 10*time.Second); err != nil {
		return nil, err
	}
	if rot.CommandTimeout, err = duration(getenv, "SSH_COMMAND_TIMEOUT", 20*time.Second); err != nil {
		return nil, err
	}
	if v := getenv("SSH_PARALLEL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			return nil, fmt.Errorf("SSH_PARALLEL=%q: want a whole number from 1 to 256", v)
		}
		rot.Parallel = n
	} else {
		rot.Parallel = 8
	}
	return rot, nil
}

func duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > 15*time.Minute {
		return 0, fmt.Errorf("%s=%q: want a Go duration such as 10s, at most 15m", name, v)
	}
	return d, nil
}
