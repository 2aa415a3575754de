package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/logging"
)

// errHelp: -h was given; the usage was printed (exit 0).
var errHelp = errors.New("help requested")

// common holds the options every subcommand takes.
type common struct {
	endpointURL       string
	lambdaEndpointURL string
	region            string
	profile           string
	output            string
	concurrency       int
	maxAttempts       int
	progress          string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.endpointURL, "endpoint-url", "", "Secrets Manager endpoint `URL` (default: the region's AWS endpoint)")
	fs.StringVar(&c.lambdaEndpointURL, "lambda-endpoint-url", "", "Lambda endpoint `URL`; when --endpoint-url is set and this is not, Lambda checks are skipped")
	fs.StringVar(&c.region, "region", "", "AWS `region` (default: from the environment or profile)")
	fs.StringVar(&c.profile, "profile", "", "shared config `profile`")
	fs.StringVar(&c.output, "output", "table", "output `format`: table or json")
	fs.IntVar(&c.concurrency, "concurrency", 16, "API calls in flight at most")
	fs.IntVar(&c.maxAttempts, "max-attempts", 10, "attempts per API call; throttling and server errors are retried with exponential backoff")
	fs.StringVar(&c.progress, "progress", "auto", "progress on standard error: auto (on a terminal only), always or never")
}

func (c *common) check() error {
	switch c.output {
	case "table", "json":
	default:
		return fmt.Errorf("%w: --output must be table or json, not %q", errUsage, c.output)
	}
	switch c.progress {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("%w: --progress must be auto, always or never, not %q", errUsage, c.progress)
	}
	if c.concurrency < 1 || c.concurrency > 256 {
		return fmt.Errorf("%w: --concurrency must be 1 to 256, not %d", errUsage, c.concurrency)
	}
	if c.maxAttempts < 1 {
		return fmt.Errorf("%w: --max-attempts must be at least 1, not %d", errUsage, c.maxAttempts)
	}
	return nil
}

// parse parses args with fs, allowing options after positional arguments
// as the AWS CLI does, and returns the positional arguments.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name, synopsis string, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rotationctl %s\n\nOptions:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// clients are the AWS clients a subcommand uses.
type clients struct {
	sm *secretsmanager.Client
	// lambda is nil when Lambda checks are skipped (see
	// --lambda-endpoint-url).
	lambda *lambda.Client
}

// clients loads the SDK's default configuration with the common options.
func (a *app) clients(ctx context.Context, c *common) (*clients, error) {
	var opts []func(*config.LoadOptions) error
	if c.region != "" {
		opts = append(opts, config.WithRegion(c.region))
	}
	if c.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.profile))
	}
	opts = append(opts, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = c.maxAttempts
			o.MaxBackoff = 20 * time.Second
			// Concurrency is bounded by --concurrency; the client-side
			// retry quota would turn a burst of throttling into hard
			// failures instead of waits.
			o.RateLimiter = ratelimit.None
			if a.retryBackoff != nil {
				o.Backoff = retry.BackoffDelayerFunc(a.retryBackoff)
			}
		})
	}))
	opts = append(opts, config.WithLogger(logging.LoggerFunc(func(c logging.Classification, format string, v ...interface{}) {
		msg := fmt.Sprintf(format, v...)
		// Logged when a keep-alive connection closes under a response
		// already read in full: noise on an operator's terminal.
		if strings.Contains(msg, "failed to discard remaining HTTP response body") {
			return
		}
		fmt.Fprintf(a.stderr, "aws-sdk %s: %s\n", c, msg)
	})))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: no region: pass --region or set AWS_REGION", errUsage)
	}
	cl := &clients{sm: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if c.endpointURL != "" {
			o.BaseEndpoint = aws.String(c.endpointURL)
		}
	})}
	if c.endpointURL == "" || c.lambdaEndpointURL != "" {
		cl.lambda = lambda.NewFromConfig(cfg, func(o *lambda.Options) {
			if c.lambdaEndpointURL != "" {
				o.BaseEndpoint = aws.String(c.lambdaEndpointURL)
			}
		})
	}
	return cl, nil
}

// secretArg returns the single SECRET argument.
func secretArg(pos []string) (string, error) {
	switch len(pos) {
	case 1:
		if strings.TrimSpace(pos[0]) == "" {
			return "", fmt.Errorf("%w: SECRET is empty", errUsage)
		}
		return pos[0], nil
	case 0:
		return "", fmt.Errorf("%w: missing SECRET (a name or ARN)", errUsage)
	default:
		return "", fmt.Errorf("%w: one SECRET expected, got %d arguments", errUsage, len(pos))
	}
}
