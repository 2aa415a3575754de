// Command rotationctl operates AWS Secrets Manager rotation for a fleet of
// secrets: it turns rotation on with a schedule checked against business
// hours, reports which secrets are due, stuck or failing, starts and
// follows rotations, and runs the rollback and unstick procedures of the
// operations runbook (docs/operations.md).
//
// It uses the AWS SDK's default configuration (environment, shared config
// and credentials files, profiles, SSO) and takes the AWS CLI's options:
//
//	rotationctl status --all --region eu-central-1 --profile ops --output json
//	rotationctl status --prefix prod/ --endpoint-url http://127.0.0.1:4566
//
// Subcommands:
//
//	enable SECRET --function ARN (--every 30d | --schedule EXPR) [--window 4h]
//	       [--avoid 'Mon-Fri 08:00-18:00 Europe/Berlin'] [--force] [--no-rotate-now]
//	status [SECRET... | --prefix P | --all]
//	rotate SECRET [--wait]
//	test SECRET
//	rollback SECRET [--yes] [--strategy single|alternating|two-keys]
//	unstick SECRET [--yes] [--strategy single|alternating|two-keys]
//
// Exit status: 0 when everything is fine; 1 when a check failed (a secret
// is unhealthy, a schedule falls in business hours, a rotation failed, an
// operation was refused or not confirmed); 2 for a usage error or an API
// error. Errors name the secret and the cause; no secret value is ever
// read into the output (the only value read is whether a pending version
// holds one).
//
// Install it with
//
//	go install github.com/rotationkit/rotation/cmd/rotationctl@latest
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "time/tzdata" // --avoid time zones on machines without a zoneinfo database
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		tty:    isTerminal(os.Stderr),
		now:    time.Now,
	}
	code := a.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Exit statuses scripts rely on.
const (
	exitOK    = 0
	exitCheck = 1 // a check failed
	exitError = 2 // usage or API error
)

// errUsage marks a usage error (exit 2, usage printed).
var errUsage = errors.New("usage")

// checkFailed is returned by a subcommand whose check failed: exit 1.
type checkFailed struct{ msg string }

func (e *checkFailed) Error() string { return e.msg }

func failf(format string, args ...any) error {
	return &checkFailed{msg: fmt.Sprintf(format, args...)}
}

// app is one run of the command. Tests build one with buffers for the
// streams and a fake clock.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	tty            bool // stderr is a terminal: show progress
	now            func() time.Time

	// retryBackoff, if set, replaces the SDK's exponential backoff (tests).
	retryBackoff func(attempt int, err error) (time.Duration, error)
}

const usage = `usage: rotationctl COMMAND [options]

Commands:
  enable SECRET --function ARN (--every 30d | --schedule EXPR) [--window 4h]
         [--avoid 'Mon-Fri 08:00-18:00 Europe/Berlin'] [--force] [--no-rotate-now]
  status [SECRET... | --prefix P | --all]
  rotate SECRET [--wait]
  test SECRET
  rollback SECRET [--yes] [--strategy single|alternating|two-keys]
  unstick SECRET [--yes] [--strategy single|alternating|two-keys]

Options every command takes (as the AWS CLI has them):
  --endpoint-url URL   Secrets Manager endpoint (e.g. http://127.0.0.1:4566)
  --region REGION      AWS region
  --profile NAME       shared config profile
  --output table|json  output format (default table)

Run 'rotationctl COMMAND -h' for a command's options.
Exit status: 0 ok, 1 a check failed, 2 usage or API error.
`

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitError
	}
	cmd, rest := args[0], args[1:]
	var fn func(context.Context, []string) error
	switch cmd {
	case "enable":
		fn = a.enable
	case "status":
		fn = a.status
	case "rotate":
		fn = a.rotate
	case "test":
		fn = a.test
	case "rollback":
		fn = a.rollback
	case "unstick":
		fn = a.unstick
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(a.stderr, "rotationctl: unknown command %q\n\n%s", cmd, usage)
		return exitError
	}
	err := fn(ctx, rest)
	var cf *checkFailed
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(a.stderr, "rotationctl %s: %v\n", cmd, err)
		return exitError
	case errors.As(err, &cf):
		fmt.Fprintf(a.stderr, "rotationctl %s: %v\n", cmd, err)
		return exitCheck
	default:
		fmt.Fprintf(a.stderr, "rotationctl %s: %v\n", cmd, err)
		return exitError
	}
}

// isTerminal reports whether f is a character device (a terminal), the
// test the progress indicator uses; a pipe or file gets no progress.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
