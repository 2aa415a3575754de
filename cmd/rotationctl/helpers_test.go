package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
)

const (
	fnARN      = "arn:aws:lambda:us-east-1:123456789012:function:rotator"
	missingARN = "arn:aws:lambda:us-east-1:123456789012:function:gone"
	// marker is in every seeded secret value; it must never be printed.
	marker = "SeCrEt-VaLuE-7f3a"
)

// world is a local Secrets Manager over HTTP (the rotationtest fake behind
// its real wire handler), a Lambda endpoint answering the policy and
// function calls rotationctl makes, and a rotation function built with the
// library's Handler.
type world struct {
	t      testing.TB
	fake   *localsm.Fake
	sm     *httptest.Server
	lambda *httptest.Server
	now    time.Time

	// requests counts every HTTP request to Secrets Manager, by operation.
	mu       sync.Mutex
	requests map[string]int
	// authorization is the Authorization header of the last request.
	authorization atomic.Value
	// throttle, if set, decides per request whether to answer
	// ThrottlingException instead of serving it.
	throttle  func(op string, n int64) bool
	seen      atomic.Int64
	throttled atomic.Int64

	failTest atomic.Bool // the rotation function's testSecret fails
	password atomic.Value
	policies map[string]string // function name -> resource policy
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, requests: map[string]int{}, now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), policies: map[string]string{}}
	w.password.Store(marker + "-initial")
	var handler *rotation.Handler
	w.fake = localsm.New(localsm.Options{
		Invoker: localsm.Functions{fnARN: localsm.HandlerInvoker(func(ctx context.Context, ev eventT) error {
			return handler.Handle(ctx, ev)
		})},
		StepTimeout: 10 * time.Second,
	})
	inner := localsm.NewHandler(w.fake, localsm.HandlerOptions{})
	w.sm = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
		n := w.seen.Add(1)
		w.authorization.Store(r.Header.Get("Authorization"))
		w.mu.Lock()
		w.requests[op]++
		w.mu.Unlock()
		if w.throttle != nil && w.throttle(op, n) {
			w.throttled.Add(1)
			rw.Header().Set("Content-Type", "application/x-amz-json-1.1")
			rw.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(rw, `{"__type":"ThrottlingException","Message":"Rate exceeded"}`)
			return
		}
		inner.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.sm.Close)
	w.lambda = httptest.NewServer(http.HandlerFunc(w.serveLambda))
	t.Cleanup(w.lambda.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = w.fake.Wait(ctx)
	})

	// The rotation function talks to the same endpoint over HTTP.
	smc := secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(w.sm.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDFUNCTION", SecretAccessKey: "function-dummy"}, nil
		}),
	})
	var err error
	handler, err = rotation.New(smc, &pwRotator{w: w})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDROTATIONCTLTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "rotationctl-test-dummy")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "")
	t.Setenv("AWS_MAX_ATTEMPTS", "")
	t.Setenv("AWS_RETRY_MODE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return w
}

// pwRotator is a single-password rotator whose target is w.password.
type pwRotator struct{ w *world }

func (r *pwRotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	pw, err := rotation.PasswordPolicy{}.Generate()
	if err != nil {
		return nil, err
	}
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	p, err := current.With(map[string]any{"password": marker + pw})
	return &rotation.CreateResponse{Pending: p}, err
}

func (r *pwRotator) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	pw, err := req.Pending.Get("password")
	if err != nil {
		return nil, err
	}
	r.w.password.Store(pw)
	return &rotation.SetResponse{}, nil
}

func (r *pwRotator) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	if r.w.failTest.Load() {
		return nil, errors.New("login refused by the target")
	}
	pw, err := req.Pending.Get("password")
	if err != nil {
		return nil, err
	}
	if pw != r.w.password.Load().(string) {
		return nil, errors.New("authentication failed")
	}
	return &rotation.TestResponse{}, nil
}

// serveLambda answers GetPolicy and GetFunction over Lambda's REST-JSON
// protocol: functions are the keys of w.policies ("" policy: none).
func (w *world) serveLambda(rw http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions/")
	name, sub, _ := strings.Cut(path, "/")
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	notFound := func(msg string) {
		rw.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(rw, `{"Type":"User","Message":%q}`, msg)
	}
	policy, ok := w.policies[name]
	if !ok {
		notFound("Function not found: " + name)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	switch sub {
	case "policy":
		if policy == "" {
			notFound("The resource you requested does not exist.")
			return
		}
		b, _ := json.Marshal(map[string]string{"Policy": policy, "RevisionId": "r1"})
		rw.Write(b)
	case "":
		fmt.Fprintf(rw, `{"Configuration":{"FunctionName":%q}}`, name)
	default:
		notFound("unknown path")
	}
}

// run runs rotationctl against the world and returns its exit status and
// output, failing the test if a secret value appears in either stream.
func (w *world) run(stdin string, args ...string) (int, string, string) {
	w.t.Helper()
	var out, errb bytes.Buffer
	a := &app{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		now:          func() time.Time { return w.now },
		retryBackoff: func(int, error) (time.Duration, error) { return time.Millisecond, nil },
	}
	full := append([]string{args[0], "--endpoint-url", w.sm.URL, "--region", "us-east-1"}, args[1:]...)
	code := a.run(context.Background(), full)
	for _, s := range []string{out.String(), errb.String()} {
		if strings.Contains(s, marker) {
			w.t.Errorf("rotationctl %v printed a secret value:\n%s", args, s)
		}
	}
	return code, out.String(), errb.String()
}

func (w *world) calls() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := map[string]int{}
	for k, v := range w.requests {
		m[k] = v
	}
	return m
}

func (w *world) resetCalls() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests = map[string]int{}
}

func (w *world) seed(s localsm.Secret) {
	w.t.Helper()
	if err := w.fake.Seed(s); err != nil {
		w.t.Fatal(err)
	}
}

func value(s string) *string { return aws.String(`{"username":"app","password":"` + marker + s + `"}`) }

func ver(id, v string, stages ...string) localsm.Version {
	return localsm.Version{ID: id, SecretString: value(v), Stages: stages}
}

func placeholder(id string, created time.Time) localsm.Version {
	return localsm.Version{ID: id, Stages: []string{"AWSPENDING"}, CreatedDate: created}
}

// vid makes a version id of the length Secrets Manager requires.
func vid(s string) string { return fmt.Sprintf("%-32s", s+"-0000000000000000000000000000000")[:32] }
