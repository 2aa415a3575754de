package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/apikeyservice"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

// functionARN is the rotation function's ARN in the fakes.
const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:apikey"

// target is a real API-key service on a loopback port with one bootstrap
// key.
type target struct {
	svc     *apikeyservice.Service
	ts      *httptest.Server
	id, key string
}

func startTarget(t testing.TB) *target {
	t.Helper()
	svc := apikeyservice.New(2)
	ts := httptest.NewServer(svc)
	t.Cleanup(ts.Close)
	id, key, err := svc.Bootstrap()
	if err != nil {
		t.Fatal(err)
	}
	return &target{svc: svc, ts: ts, id: id, key: key}
}

func secretJSON(endpoint, id, key string) string {
	b, _ := json.Marshal(map[string]string{"endpoint": endpoint, "key_id": id, "api_key": key})
	return string(b)
}

// ping authenticates at the service with the secret's key, independently of
// the provider under test: a plain GET /v1/ping with the key's headers.
func ping(ctx context.Context, s *rotation.Secret) error {
	endpoint, err := s.Get("endpoint")
	if err != nil {
		return err
	}
	id, err := s.Get("key_id")
	if err != nil {
		return err
	}
	key, err := s.Get("api_key")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/v1/ping", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Api-Key-Id", id)
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping with key %s: status %d", id, resp.StatusCode)
	}
	return nil
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	var targets []*target
	rotationtest.Run(t, func(ctx context.Context) (*rotationtest.Fixture, error) {
		svc := apikeyservice.New(2)
		ts := httptest.NewServer(svc)
		id, key, err := svc.Bootstrap()
		if err != nil {
			ts.Close()
			return nil, err
		}
		mu.Lock()
		targets = append(targets, &target{svc: svc, ts: ts, id: id, key: key})
		mu.Unlock()
		return &rotationtest.Fixture{
			Secret: secretJSON(ts.URL, id, key),
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				h, err := newHandler(c, settings{HTTPTimeout: 10 * time.Second, MaxActive: 2}, ts.Client(), l)
				if err != nil {
					return nil, err
				}
				return h.Handle, nil
			},
			Probe:        ping,
			ZeroDowntime: true,
			// The Handler's own bookkeeping costs at most 9 calls; TwoKeys
			// reads AWSPREVIOUS in Create and AWSCURRENT, AWSPREVIOUS and
			// AWSPENDING in Finish: 12 in all.
			MaxCalls: 11,
			Close:    ts.Close,
		}, nil
	})
	mu.Lock()
	defer mu.Unlock()
	maxEver, refused := 0, 0
	for _, tg := range targets {
		maxEver = max(maxEver, tg.svc.MaxEverActive())
		refused += tg.svc.Refused()
		if n := tg.svc.MaxEverActive(); n > tg.svc.MaxActive() {
			t.Errorf("a service had %d keys active at once, over its limit of %d", n, tg.svc.MaxActive())
		}
	}
	t.Logf("API-key services: %d, most keys ever active at one: %d (limit 2), mints refused at the limit: %d", len(targets), maxEver, refused)
}

// hostile is a rotation against a misbehaving target or a malformed
// secret, run in process with a one-attempt fake so every outcome is seen.
type hostile struct {
	fake    *localsm.Fake
	counted *rotationtest.FaultClient
	arn     string
	logs    *bytes.Buffer
	logMu   *sync.Mutex
	tokens  *[]string
}

type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (b lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func newHostile(t *testing.T, secret string, timeout time.Duration) *hostile {
	t.Helper()
	hs := &hostile{logs: &bytes.Buffer{}, logMu: &sync.Mutex{}, tokens: new([]string)}
	var handle func(context.Context, events.SecretsManagerSecretRotationEvent) error
	hs.fake = localsm.New(localsm.Options{
		StrictRotationToken: true,
		RotationAttempts:    1,
		StepTimeout:         10 * time.Second,
		Invoker: localsm.InvokerFunc(func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
			hs.logMu.Lock()
			*hs.tokens = append(*hs.tokens, ev.RotationToken)
			hs.logMu.Unlock()
			return handle(ctx, ev)
		}),
	})
	hs.counted = rotationtest.NewFaultClient(hs.fake)
	logger := slog.New(slog.NewJSONHandler(lockedBuffer{hs.logMu, hs.logs}, nil))
	h, err := newHandler(hs.counted, settings{HTTPTimeout: timeout, MaxActive: 2}, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	handle = h.Handle
	out, err := hs.fake.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("hostile/api-key"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	hs.arn = aws.ToString(out.ARN)
	return hs
}

func TestHostileInput(t *testing.T) {
	hang := func(stop <-chan struct{}) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		})
	}
	cases := []struct {
		name string
		// secret builds the secret from the real service's and the
		// hostile target's URLs and the bootstrap key.
		secret  func(real, hostile, id, key string) string
		target  func(stop <-chan struct{}, real http.Handler) http.Handler
		wantErr []string
	}{
		{
			name:    "secret is not JSON",
			secret:  func(real, _, id, key string) string { return "endpoint=" + real + " key=" + key },
			wantErr: []string{"createSecret", "invalid secret value", "not a JSON object"},
		},
		{
			name: "secret lacks api_key",
			secret: func(real, _, id, _ string) string {
				return fmt.Sprintf(`{"endpoint":%q,"key_id":%q}`, real, id)
			},
			wantErr: []string{"createSecret", `field "api_key" is missing`},
		},
		{
			name:    "endpoint is plain http to a remote host",
			secret:  func(_, _, id, key string) string { return secretJSON("http://keys.example.com", id, key) },
			wantErr: []string{"createSecret", `field "endpoint"`, "use https"},
		},
		{
			name:   "target answers 200 with garbage",
			secret: func(_, hostile, id, key string) string { return secretJSON(hostile, id, key) },
			target: func(<-chan struct{}, http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					fmt.Fprint(w, "<html><body>Welcome to nginx!</body></html>")
				})
			},
			wantErr: []string{"createSecret", "GET /v1/keys", "not the expected JSON"},
		},
		{
			name:   "target hangs",
			secret: func(_, hostile, id, key string) string { return secretJSON(hostile, id, key) },
			target: func(stop <-chan struct{}, _ http.Handler) http.Handler {
				return hang(stop)
			},
			wantErr: []string{"createSecret", "GET /v1/keys", "timed out"},
		},
		{
			name:   "minting hangs",
			secret: func(_, hostile, id, key string) string { return secretJSON(hostile, id, key) },
			target: func(stop <-chan struct{}, real http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost {
						hang(stop).ServeHTTP(w, r)
						return
					}
					real.ServeHTTP(w, r)
				})
			},
			wantErr: []string{"createSecret", "POST /v1/keys", "timed out"},
		},
		{
			name:   "target answers 503",
			secret: func(_, hostile, id, key string) string { return secretJSON(hostile, id, key) },
			target: func(<-chan struct{}, http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
				})
			},
			wantErr: []string{"createSecret", "status 503"},
		},
		{
			name:   "target redirects elsewhere",
			secret: func(real, hostile, id, key string) string { return secretJSON(hostile, id, key) },
			target: func(<-chan struct{}, http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "http://127.0.0.1:1/steal", http.StatusTemporaryRedirect)
				})
			},
			wantErr: []string{"createSecret", "status 307"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := startTarget(t)
			hostileURL := "http://127.0.0.1:1" // nothing listens there
			stop := make(chan struct{})
			if tc.target != nil {
				hs := httptest.NewServer(tc.target(stop, tg.svc))
				t.Cleanup(hs.Close)
				hostileURL = hs.URL
			}
			t.Cleanup(func() { close(stop) })
			secret := tc.secret(tg.ts.URL, hostileURL, tg.id, tg.key)
			const timeout = 300 * time.Millisecond
			h := newHostile(t, secret, timeout)
			before, _ := h.fake.Secret(h.arn)
			cur, _ := before.Staged("AWSCURRENT")

			start := time.Now()
			_, err := h.fake.Rotate(context.Background(), &secretsmanager.RotateSecretInput{SecretId: aws.String(h.arn), RotationLambdaARN: aws.String(functionARN)})
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("the rotation succeeded")
			}
			var sf *localsm.StepFailedError
			if !errors.As(err, &sf) || sf.Step != rotation.StepCreate {
				t.Errorf("error = %v, want a failed createSecret step", err)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if elapsed > 5*time.Second {
				t.Errorf("the rotation took %v to fail; the HTTP timeout is %v", elapsed, timeout)
			}

			// No write beyond what the protocol requires: none at all.
			calls := h.counted.CallsByOp()
			if calls["PutSecretValue"] != 0 || calls["UpdateSecretVersionStage"] != 0 {
				t.Errorf("the failed rotation wrote to Secrets Manager: %v", calls)
			}
			after, _ := h.fake.Secret(h.arn)
			if c, ok := after.Staged("AWSCURRENT"); !ok || c.ID != cur.ID {
				t.Errorf("AWSCURRENT moved: %v", after.Labels())
			}
			if p, ok := after.Staged("AWSPENDING"); ok && !p.Placeholder() {
				t.Errorf("a pending value was stored: %v", after.Labels())
			}
			// AWSCURRENT's key keeps authenticating; nothing was minted.
			if !tg.svc.Authenticate(tg.id, tg.key) {
				t.Error("the AWSCURRENT key no longer authenticates")
			}
			if n := tg.svc.Active(); n != 1 {
				t.Errorf("%d keys are active at the service, want 1 (nothing minted)", n)
			}
			// Nothing secret in the error or the log.
			h.logMu.Lock()
			texts := []string{err.Error(), h.logs.String()}
			needles := append([]string{tg.key, secret}, *h.tokens...)
			h.logMu.Unlock()
			for _, text := range texts {
				for _, n := range needles {
					if n != "" && strings.Contains(text, n) {
						t.Errorf("a key, the secret or a RotationToken (%d characters) leaked into %q", len(n), text)
					}
				}
			}
			t.Logf("%s", err)
		})
	}
}

func TestLoadSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	s, err := loadSettings(env(nil))
	if err != nil || s.HTTPTimeout != apikeyservice.DefaultTimeout || s.MaxActive != 2 {
		t.Errorf("defaults = %+v, %v", s, err)
	}
	s, err = loadSettings(env(map[string]string{envHTTPTimeout: "1500ms", envMaxActive: "3"}))
	if err != nil || s.HTTPTimeout != 1500*time.Millisecond || s.MaxActive != 3 {
		t.Errorf("settings = %+v, %v", s, err)
	}
	for k, v := range map[string]string{envHTTPTimeout: "-1s", envMaxActive: "two"} {
		if _, err := loadSettings(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v, want one naming the variable", k, v, err)
		}
	}
}
