package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

func conformance(t *testing.T, mode Mode, withAdmin bool) {
	f := testServer(t)
	rotationtest.Run(t, func(ctx context.Context) (*rotationtest.Fixture, error) {
		st := makeSetup(t, f, mode, withAdmin)
		return &rotationtest.Fixture{
			Secret: st.secret,
			Others: st.others,
			NewHandler: func(client rotation.Client, logger *slog.Logger) (rotationtest.HandleFunc, error) {
				r, err := newRotator(st.cfg, client)
				if err != nil {
					return nil, err
				}
				h, err := rotation.New(client, r, func(o *rotation.Options) { o.Logger = logger })
				if err != nil {
					return nil, err
				}
				return h.Handle, nil
			},
			Probe:        f.probe,
			ZeroDowntime: mode != ModeSingle,
			MaxCalls:     10,
		}, nil
	})
}

func TestConformanceSingle(t *testing.T)      { conformance(t, ModeSingle, false) }
func TestConformanceSingleAdmin(t *testing.T) { conformance(t, ModeSingle, true) }
func TestConformanceAlternating(t *testing.T) { conformance(t, ModeAlternating, true) }
func TestConformanceAlternatingPrecreated(t *testing.T) {
	conformance(t, ModeAlternatingPrecreated, true)
}

// TestClientsDuringRotations: clients log in with AWSCURRENT while the
// secret rotates five times; none may fail with alternating users.
func TestClientsDuringRotations(t *testing.T) {
	f := testServer(t)
	for _, mode := range []Mode{ModeAlternating, ModeAlternatingPrecreated, ModeSingle} {
		t.Run(string(mode), func(t *testing.T) {
			st := makeSetup(t, f, mode, mode != ModeSingle)
			w := newWorld(t, st.cfg, st.secret, st.others)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			const clients, rotations = 4, 5
			var mu sync.Mutex
			var attempts, failures int
			var firstErr error
			var failingSince time.Time
			var longest time.Duration
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						login := func() error {
							out, err := w.fake.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(w.arn)})
							if err != nil {
								return err
							}
							return f.probe(ctx, rotation.NewString(aws.ToString(out.SecretString)))
						}
						// A client that fails to log in reads AWSCURRENT again
						// once (its value may have been read two rotations
						// ago); only a failure after that counts.
						err := login()
						if err != nil {
							err = login()
						}
						now := time.Now()
						mu.Lock()
						attempts++
						if err != nil {
							failures++
							if firstErr == nil {
								firstErr = err
							}
							if failingSince.IsZero() {
								failingSince = now
							}
						} else if !failingSince.IsZero() {
							longest = max(longest, now.Sub(failingSince))
							failingSince = time.Time{}
						}
						mu.Unlock()
					}
				})
			}
			var calls []int
			for i := range rotations {
				time.Sleep(50 * time.Millisecond)
				w.client.Arm()
				if err := w.rotate(ctx); err != nil {
					t.Errorf("rotation %d: %v", i+1, err)
					break
				}
				calls = append(calls, w.client.Calls())
			}
			time.Sleep(50 * time.Millisecond)
			close(stop)
			wg.Wait()
			t.Logf("%s: %d rotations; %d client attempts with AWSCURRENT, %d failed; longest failure window %d ms; Secrets Manager calls per rotation %v",
				mode, rotations, attempts, failures, longest.Milliseconds(), calls)
			if attempts < rotations*clients {
				t.Errorf("only %d client attempts", attempts)
			}
			if mode != ModeSingle && failures > 0 {
				t.Errorf("%d of %d client attempts failed with alternating users; first: %v", failures, attempts, firstErr)
			}
		})
	}
}
