package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
)

// TestClientsDuringRotations runs clients that read AWSCURRENT and connect
// with it (a real connection, and the password checked against the stored
// verifier) continuously while the secret is rotated repeatedly. With
// alternating users no attempt may fail; with a single user the failure
// window is measured and reported. It also reports the Secrets Manager
// calls of each rotation.
func TestClientsDuringRotations(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	for _, mode := range []Mode{ModeAlternating, ModeAlternatingPrecreated, ModeSingle} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			st, err := makeSetup(d, mode, mode != ModeSingle)
			if err != nil {
				t.Fatal(err)
			}
			w := newWorld(t, st.cfg, st.secret, st.others)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			probe := probeWith(srv)

			const clients, rotations = 4, 5
			var mu sync.Mutex
			var attempts, failures int
			var firstErr error
			var failingSince time.Time
			var longest time.Duration
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						var err error
						out, gerr := w.fake.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(w.arn)})
						if gerr != nil {
							err = gerr
						} else {
							err = probe(ctx, rotation.NewString(aws.ToString(out.SecretString)))
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
				}()
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
