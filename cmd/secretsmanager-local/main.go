// Command secretsmanager-local serves an in-memory AWS Secrets Manager on a
// loopback port, for running rotation functions and their clients locally.
// It speaks the awsJson1_1 protocol of the AWS SDKs, boto3 and the AWS CLI,
// so point them at it with an endpoint URL and any dummy credentials:
//
//	go run ./cmd/secretsmanager-local -lambda-endpoint http://127.0.0.1:9000
//	aws --endpoint-url http://127.0.0.1:4566 secretsmanager create-secret --name db --secret-string s3cr3t
//
// Rotation functions are invoked over the Lambda Invoke API at
// -lambda-endpoint (for example the Lambda Runtime Interface Emulator);
// without it, RotateSecret fails with AccessDeniedException as it does for
// a function Secrets Manager cannot invoke. Scheduled rotations run every
// -schedule-interval on the real clock. State lives in memory and is lost
// on exit.
//
// Every call is logged as one line on standard error (operation, secret
// id, status, error code, duration; never a secret value). The listening
// address is printed on standard output. SIGINT or SIGTERM shuts the server
// down: no new rotation starts (RotateSecret answers 503
// ServiceUnavailable), running rotations are given -shutdown-timeout to
// finish while the server still answers their functions' calls, then the
// server stops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rotationkit/rotation/localsm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "secretsmanager-local:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage error")

type config struct {
	addr             string
	lambdaEndpoint   string
	region           string
	account          string
	strictToken      bool
	rotationAttempts int
	stepTimeout      time.Duration
	scheduleInterval time.Duration
	shutdownTimeout  time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("secretsmanager-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:4566", "`host:port` to listen on (port 0 picks a free port)")
	fs.StringVar(&c.lambdaEndpoint, "lambda-endpoint", "", "base `URL` of a Lambda Invoke API that runs rotation functions, e.g. http://127.0.0.1:9000 (the Runtime Interface Emulator); empty: RotateSecret fails with AccessDeniedException")
	fs.StringVar(&c.region, "region", "us-east-1", "`region` named in secret ARNs")
	fs.StringVar(&c.account, "account", "123456789012", "`account` id named in secret ARNs")
	fs.BoolVar(&c.strictToken, "strict-rotation-token", false, "fail a rotation whose pending version was not written with the RotationToken the service sent, as AWS does for cross-account and assumed-role rotation")
	fs.IntVar(&c.rotationAttempts, "rotation-attempts", 3, "how many times one rotation is attempted before it is given up")
	fs.DurationVar(&c.stepTimeout, "step-timeout", 30*time.Second, "time limit of one rotation step, like a Lambda timeout")
	fs.DurationVar(&c.scheduleInterval, "schedule-interval", time.Minute, "how often due scheduled rotations are started; 0 disables them")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long running rotations and requests may take to finish on shutdown")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	bad := func(format string, args ...any) (config, error) {
		err := fmt.Errorf(format, args...)
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected arguments: %q", fs.Args())
	case c.rotationAttempts < 1:
		return bad("-rotation-attempts must be at least 1")
	case c.stepTimeout <= 0:
		return bad("-step-timeout must be positive")
	case c.scheduleInterval < 0:
		return bad("-schedule-interval must not be negative")
	case c.shutdownTimeout <= 0:
		return bad("-shutdown-timeout must be positive")
	case c.region == "" || c.account == "":
		return bad("-region and -account must not be empty")
	}
	if c.lambdaEndpoint != "" {
		u, err := url.Parse(c.lambdaEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("-lambda-endpoint %q is not an http(s) URL", c.lambdaEndpoint)
		}
	}
	return c, nil
}

// run serves until ctx is done, then shuts down. It prints the listening
// address on stdout and logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	opts := localsm.Options{
		Region:              c.region,
		AccountID:           c.account,
		StrictRotationToken: c.strictToken,
		RotationAttempts:    c.rotationAttempts,
		StepTimeout:         c.stepTimeout,
		// The server may run for days: remember only recent events and
		// finished rotations.
		MaxHistory: maxHistory,
	}
	if c.lambdaEndpoint != "" {
		opts.Invoker = localsm.LambdaInvoker{Endpoint: c.lambdaEndpoint, Client: &http.Client{}}
	}
	fake := localsm.New(opts)

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := newHTTPServer(localsm.NewHandler(fake, localsm.HandlerOptions{Logger: logger}), logger)
	fmt.Fprintf(stdout, "secretsmanager-local listening on http://%s\n", ln.Addr())
	logger.Info("listening", "addr", ln.Addr().String(), "region", c.region, "account", c.account,
		"lambda_endpoint", c.lambdaEndpoint, "schedule_interval", c.scheduleInterval)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	rep := &reporter{fake: fake, logger: logger, logged: map[*localsm.Rotation]bool{}}
	schedCtx, stopSched := context.WithCancel(context.Background())
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		schedule(schedCtx, fake, c.scheduleInterval, rep)
	}()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stopSched()
		<-schedDone
		return fmt.Errorf("serving: %w", err)
	}

	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	stopSched()
	<-schedDone
	// No new rotation from here on, then wait for the running ones while
	// the server still serves: their functions call back into it. Only
	// then stop serving.
	fake.StopRotations()
	logger.Info("shutting down: no new rotations; waiting for running ones", "timeout", c.shutdownTimeout)
	var errs []error
	if err := fake.Wait(sctx); err != nil {
		errs = append(errs, fmt.Errorf("waiting for running rotations: %w", err))
	}
	rep.sweep()
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutting down the HTTP server: %w", err))
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("serving: %w", err))
	}
	if len(errs) == 0 {
		logger.Info("stopped")
	}
	return errors.Join(errs...)
}

// newHTTPServer returns the server for h, with timeouts that keep a slow
// or stuck client from holding a connection open for ever.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// A request body is at most localsm.MaxRequestBody (1 MiB):
		// a client that takes longer than this to send one is stuck.
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// reportEvery is how often finished rotations are looked for and logged.
const reportEvery = 200 * time.Millisecond

// maxHistory is how many events and finished rotations the fake keeps
// (localsm.Options.MaxHistory), so that memory stays bounded however
// long the server runs.
const maxHistory = 1000

// schedule logs finished rotations and, every interval (if positive),
// starts the scheduled rotations that are due, until ctx is done.
// Rotations still running when ctx ends are left to fake.Wait.
func schedule(ctx context.Context, fake *localsm.Fake, interval time.Duration, rep *reporter) {
	report := time.NewTicker(reportEvery)
	defer report.Stop()
	var due <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		due = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-report.C:
			rep.sweep()
		case <-due:
			// RunDue waits for the rotations it starts; meanwhile
			// requests are served by other goroutines.
			_, _ = fake.RunDue(ctx)
			rep.sweep()
		}
	}
}

// reporter logs each rotation once, when it has finished: whether started
// by RotateSecret or by the schedule. Only ids and the failure are logged.
type reporter struct {
	fake   *localsm.Fake
	logger *slog.Logger
	// logged holds the rotations already logged among those the fake
	// still remembers; the others are pruned, so it stays within
	// maxHistory plus the running ones. Used by one goroutine at a time.
	logged map[*localsm.Rotation]bool
}

func (rep *reporter) sweep() {
	rotations := rep.fake.Rotations()
	known := make(map[*localsm.Rotation]bool, len(rotations))
	for _, r := range rotations {
		known[r] = true
	}
	for r := range rep.logged {
		if !known[r] {
			delete(rep.logged, r)
		}
	}
	for _, r := range rotations {
		if rep.logged[r] {
			continue
		}
		select {
		case <-r.Done():
		default:
			continue
		}
		rep.logged[r] = true
		attrs := []any{"secret_arn", r.SecretARN, "version_id", r.VersionID, "function", r.FunctionARN, "attempts", r.Attempts(), "test_only", r.TestOnly}
		if err := r.Err(); err != nil {
			rep.logger.Warn("rotation failed", append(attrs, "error", err)...)
		} else {
			rep.logger.Info("rotation succeeded", attrs...)
		}
	}
}
