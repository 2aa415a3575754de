package rotationtest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
)

// newPasswordRotator sets a fresh password and checks nothing: enough to
// fill the fake with versions and the log with lines.
type newPasswordRotator struct{}

func (newPasswordRotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	pw, err := rotation.PasswordPolicy{}.Generate()
	if err != nil {
		return nil, err
	}
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{"password": pw})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

func (newPasswordRotator) Set(context.Context, *rotation.SetRequest) (*rotation.SetResponse, error) {
	return &rotation.SetResponse{}, nil
}

func (newPasswordRotator) Test(context.Context, *rotation.TestRequest) (*rotation.TestResponse, error) {
	return &rotation.TestResponse{}, nil
}

// BenchmarkLeakCheck measures the check made after every rule, on the
// world one rule of the battery leaves: versions rotated, RotationTokens
// sent and log lines written.
func BenchmarkLeakCheck(b *testing.B) {
	ctx := context.Background()
	factory := func(context.Context) (*Fixture, error) {
		return &Fixture{
			Secret: `{"username":"app","password":"initial-password-1","host":"db.internal"}`,
			NewHandler: func(c rotation.Client, l *slog.Logger) (HandleFunc, error) {
				h, err := rotation.New(c, newPasswordRotator{}, func(o *rotation.Options) { o.Logger = l })
				if err != nil {
					return nil, err
				}
				return h.Handle, nil
			},
			Probe: func(context.Context, *rotation.Secret) error { return nil },
		}, nil
	}
	e, err := newEnv(ctx, factory, suiteConfig{stepTimeout: 30 * time.Second, ruleTimeout: ruleTimeout}, false)
	if err != nil {
		b.Fatal(err)
	}
	defer e.close()
	const rotations = 40
	for range rotations {
		if _, err := e.rotate(ctx, true); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if err := e.leaks(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(rotations, "rotations")
	b.ReportMetric(float64(len(e.logs.String())), "log-bytes")
}
