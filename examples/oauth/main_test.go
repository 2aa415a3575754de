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
	"github.com/rotationkit/rotation/examples/oauth/internal/authserver"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// functionARN is the rotation function's ARN in the fakes.
const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:oauth"

// authServer is a real authorization server on a loopback port with one
// registered client.
type authServer struct {
	srv                    *authserver.Server
	ts                     *httptest.Server
	clientID, secretID, cs string
}

func startAuthServer(t testing.TB) *authServer {
	t.Helper()
	srv := authserver.New(authserver.Options{MaxSecrets: 2})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	id, sid, cs := srv.RegisterClient()
	return &authServer{srv: srv, ts: ts, clientID: id, secretID: sid, cs: cs}
}

// secretJSON is the secret for the client at base (the server's URL or a
// hostile front for it).
func (a *authServer) secretJSON(base string) string {
	b, _ := json.Marshal(map[string]string{
		"token_url":      base + "/oauth2/token",
		"management_url": base + "/clients/" + a.clientID + "/secrets",
		"client_id":      a.clientID,
		"client_secret":  a.cs,
		"secret_id":      a.secretID,
	})
	return string(b)
}

// authenticate obtains an access token with the secret's client
// credentials and uses it at the server's protected resource,
// independently of the provider under test.
func authenticate(ctx context.Context, s *rotation.Secret) error {
	var f [3]string
	for i, name := range []string{"token_url", "client_id", "client_secret"} {
		v, err := s.Get(name)
		if err != nil {
			return err
		}
		f[i] = v
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg := clientcredentials.Config{TokenURL: f[0], ClientID: f[1], ClientSecret: f[2], AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cfg.Token(ctx)
	if err != nil {
		return fmt.Errorf("obtaining a token: %w", tokenError(err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(f[0], "/oauth2/token")+"/api/whoami", nil)
	if err != nil {
		return err
	}
	tok.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the access token was refused: status %d", resp.StatusCode)
	}
	return nil
}

func TestConformance(t *testing.T) {
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			s, err := loadSettings(func(k string) string {
				if k == envAuthMethod {
					return method
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var servers []*authServer
			rotationtest.Run(t, func(ctx context.Context) (*rotationtest.Fixture, error) {
				srv := authserver.New(authserver.Options{MaxSecrets: 2})
				ts := httptest.NewServer(srv)
				id, sid, cs := srv.RegisterClient()
				a := &authServer{srv: srv, ts: ts, clientID: id, secretID: sid, cs: cs}
				mu.Lock()
				servers = append(servers, a)
				mu.Unlock()
				// Another client of the same server, which no rotation
				// may touch.
				nid, nsid, ncs := srv.RegisterClient()
				neighbour := &authServer{srv: srv, ts: ts, clientID: nid, secretID: nsid, cs: ncs}
				return &rotationtest.Fixture{
					Secret:    a.secretJSON(ts.URL),
					Neighbour: neighbour.secretJSON(ts.URL),
					NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
						h, err := newHandler(c, s, ts.Client(), l)
						if err != nil {
							return nil, err
						}
						return h.Handle, nil
					},
					Probe:        authenticate,
					ZeroDowntime: true,
					// The Handler's own bookkeeping costs at most 9 calls;
					// TwoKeys reads AWSPREVIOUS in Create and AWSCURRENT,
					// AWSPREVIOUS and AWSPENDING in Finish: 12 in all.
					MaxCalls: 11,
					Close:    ts.Close,
				}, nil
			})
			mu.Lock()
			defer mu.Unlock()
			maxEver, refused, issued := 0, 0, 0
			for _, a := range servers {
				n := a.srv.MaxEverActive(a.clientID)
				maxEver = max(maxEver, n)
				refused += a.srv.Refused()
				issued += a.srv.Issued()
				if n > a.srv.MaxSecrets() {
					t.Errorf("a client had %d secrets active at once, over the limit of %d", n, a.srv.MaxSecrets())
				}
			}
			t.Logf("authorization servers: %d, most secrets ever active for a client: %d (limit 2), creations refused at the limit: %d, tokens issued: %d",
				len(servers), maxEver, refused, issued)
		})
	}
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

func TestHostileInput(t *testing.T) {
	hang := func(stop <-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}
	}
	garbage := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>Welcome to nginx!</body></html>")
	}
	unavailable := func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
	}
	echoSecret := func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		_, pw, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad secret %s%s"}`, pw, r.PostForm.Get("client_secret"))
	}
	type misbehave func(stop <-chan struct{}) http.HandlerFunc
	always := func(h http.HandlerFunc) misbehave { return func(<-chan struct{}) http.HandlerFunc { return h } }
	cases := []struct {
		name string
		// secret builds the secret; base is the hostile front's URL.
		secret func(a *authServer, base string) string
		// management and token, if set, replace those endpoints.
		management, token misbehave
		step              rotation.Step
		puts              int // PutSecretValue calls the protocol requires
		wantErr           []string
	}{
		{
			name:    "secret is not JSON",
			secret:  func(a *authServer, _ string) string { return "client_id=" + a.clientID + "&client_secret=" + a.cs },
			step:    rotation.StepCreate,
			wantErr: []string{"invalid secret value", "not a JSON object"},
		},
		{
			name: "secret lacks management_url",
			secret: func(a *authServer, base string) string {
				return fmt.Sprintf(`{"token_url":%q,"client_id":%q,"client_secret":%q,"secret_id":%q}`, base+"/oauth2/token", a.clientID, a.cs, a.secretID)
			},
			step:    rotation.StepCreate,
			wantErr: []string{`field "management_url" is missing`},
		},
		{
			name: "token_url is plain http to a remote host",
			secret: func(a *authServer, base string) string {
				return strings.Replace(a.secretJSON(base), base+"/oauth2/token", "http://auth.example.com/oauth2/token", 1)
			},
			step:    rotation.StepCreate,
			wantErr: []string{`field "token_url"`, "use https"},
		},
		{
			name:       "management API answers 200 with garbage",
			management: always(garbage),
			step:       rotation.StepCreate,
			wantErr:    []string{"list client secrets", "not the expected JSON"},
		},
		{
			name:       "management API hangs",
			management: hang,
			step:       rotation.StepCreate,
			wantErr:    []string{"list client secrets", "timed out"},
		},
		{
			name:       "management API answers 503",
			management: always(unavailable),
			step:       rotation.StepCreate,
			wantErr:    []string{"list client secrets", "status 503"},
		},
		{
			name:    "token endpoint answers 200 with garbage",
			token:   always(garbage),
			step:    rotation.StepTest,
			puts:    1,
			wantErr: []string{"pending secret failed its test", "token endpoint", "not a usable token response"},
		},
		{
			name:    "token endpoint hangs",
			token:   hang,
			step:    rotation.StepTest,
			puts:    1,
			wantErr: []string{"token endpoint", "timed out"},
		},
		{
			name:    "token endpoint answers 503",
			token:   always(unavailable),
			step:    rotation.StepTest,
			puts:    1,
			wantErr: []string{"token endpoint: status 503"},
		},
		{
			name:    "token endpoint echoes the secret in its error",
			token:   always(echoSecret),
			step:    rotation.StepTest,
			puts:    1,
			wantErr: []string{"token endpoint: status 401, error invalid_client"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := startAuthServer(t)
			stop := make(chan struct{})
			front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case tc.token != nil && r.URL.Path == "/oauth2/token":
					tc.token(stop)(w, r)
				case tc.management != nil && strings.HasPrefix(r.URL.Path, "/clients/"):
					tc.management(stop)(w, r)
				default:
					a.srv.ServeHTTP(w, r)
				}
			})
			hs := httptest.NewServer(front)
			t.Cleanup(hs.Close)
			t.Cleanup(func() { close(stop) })
			secret := a.secretJSON(hs.URL)
			if tc.secret != nil {
				secret = tc.secret(a, hs.URL)
			}

			var logMu sync.Mutex
			logs := &bytes.Buffer{}
			var tokens []string
			var handle func(context.Context, events.SecretsManagerSecretRotationEvent) error
			fake := localsm.New(localsm.Options{
				StrictRotationToken: true,
				RotationAttempts:    1,
				StepTimeout:         10 * time.Second,
				Invoker: localsm.InvokerFunc(func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
					logMu.Lock()
					tokens = append(tokens, ev.RotationToken)
					logMu.Unlock()
					return handle(ctx, ev)
				}),
			})
			counted := rotationtest.NewFaultClient(fake)
			const timeout = 300 * time.Millisecond
			h, err := newHandler(counted, settings{HTTPTimeout: timeout, AuthStyle: oauth2.AuthStyleInHeader, MaxSecrets: 2}, nil,
				slog.New(slog.NewJSONHandler(lockedBuffer{&logMu, logs}, nil)))
			if err != nil {
				t.Fatal(err)
			}
			handle = h.Handle
			created, err := fake.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("hostile/oauth"), SecretString: aws.String(secret)})
			if err != nil {
				t.Fatal(err)
			}
			arn := aws.ToString(created.ARN)

			start := time.Now()
			_, err = fake.Rotate(context.Background(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(functionARN)})
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("the rotation succeeded")
			}
			var sf *localsm.StepFailedError
			if !errors.As(err, &sf) || sf.Step != tc.step {
				t.Errorf("error = %v, want a failed %s step", err, tc.step)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if elapsed > 5*time.Second {
				t.Errorf("the rotation took %v to fail; the HTTP timeout is %v", elapsed, timeout)
			}
			// No write beyond what the protocol requires: the pending value
			// once a secret was minted, and never a label move.
			calls := counted.CallsByOp()
			if calls["PutSecretValue"] != tc.puts || calls["UpdateSecretVersionStage"] != 0 {
				t.Errorf("Secrets Manager writes %v, want %d PutSecretValue and no UpdateSecretVersionStage", calls, tc.puts)
			}
			after, _ := fake.Secret(arn)
			if c, ok := after.Staged("AWSCURRENT"); !ok || c.ID != aws.ToString(created.VersionId) {
				t.Errorf("AWSCURRENT moved: %v", after.Labels())
			}
			// AWSCURRENT's client secret keeps authenticating.
			if err := authenticate(context.Background(), rotation.NewString(a.secretJSON(a.ts.URL))); err != nil {
				t.Errorf("the AWSCURRENT client secret no longer authenticates: %v", err)
			}
			if n := a.srv.Active(a.clientID); n != 1+tc.puts {
				t.Errorf("%d secrets active, want %d", n, 1+tc.puts)
			}
			// Nothing secret in the error or the log.
			logMu.Lock()
			texts := []string{err.Error(), logs.String()}
			needles := append([]string{a.cs, secret}, tokens...)
			logMu.Unlock()
			for _, v := range after.Versions {
				if v.SecretString != nil {
					needles = append(needles, *v.SecretString)
					if cs, err := rotation.NewString(*v.SecretString).Get("client_secret"); err == nil {
						needles = append(needles, cs)
					}
				}
			}
			for _, text := range texts {
				for _, n := range needles {
					if n != "" && strings.Contains(text, n) {
						t.Errorf("a client secret, a secret value or a RotationToken (%d characters) leaked into %q", len(n), text)
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
	if err != nil || s.HTTPTimeout != 10*time.Second || s.AuthStyle != oauth2.AuthStyleInHeader || s.MaxSecrets != 2 {
		t.Errorf("defaults = %+v, %v", s, err)
	}
	s, err = loadSettings(env(map[string]string{envHTTPTimeout: "3s", envAuthMethod: "client_secret_post", envMaxSecrets: "3"}))
	if err != nil || s.HTTPTimeout != 3*time.Second || s.AuthStyle != oauth2.AuthStyleInParams || s.MaxSecrets != 3 {
		t.Errorf("settings = %+v, %v", s, err)
	}
	for k, v := range map[string]string{envHTTPTimeout: "soon", envAuthMethod: "private_key_jwt", envMaxSecrets: "1"} {
		if _, err := loadSettings(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v, want one naming the variable", k, v, err)
		}
	}
}

// TestProviderNeverFollowsRedirects checks that client credentials are
// never sent to the address a redirect names.
func TestProviderNeverFollowsRedirects(t *testing.T) {
	a := startAuthServer(t)
	var leaked sync.Map
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if _, _, ok := r.BasicAuth(); ok || r.PostForm.Has("client_secret") {
			leaked.Store(r.URL.Path, true)
		}
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	s := rotation.NewString(a.secretJSON(redirector.URL))
	ctx := context.Background()
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		p := clientSecrets{http: &http.Client{}, authStyle: style} // the caller's client would follow
		if _, err := p.List(ctx, s); err == nil || !strings.Contains(err.Error(), "status 307") {
			t.Errorf("List through a redirect = %v, want a status 307 error", err)
		}
		if err := p.Test(ctx, s); err == nil || !strings.Contains(err.Error(), "status 307") {
			t.Errorf("Test through a redirect = %v, want a status 307 error", err)
		}
	}
	leaked.Range(func(k, _ any) bool {
		t.Errorf("client credentials were sent to the redirect's target (%v)", k)
		return true
	})
}

func TestRevokeTreatsNotFoundAsRevoked(t *testing.T) {
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete {
			t.Errorf("unexpected %s", r.Method)
		}
		http.NotFound(w, r)
	}))
	defer gone.Close()
	a := &authServer{clientID: "c", secretID: "cs-1", cs: "s3cr3t-value"}
	p := clientSecrets{}
	if err := p.Revoke(context.Background(), rotation.NewString(a.secretJSON(gone.URL)), "cs-0"); err != nil {
		t.Errorf("Revoke of a secret the server no longer has = %v, want nil", err)
	}
}
