// Package lambdatest runs an example's rotation function end to end: it
// builds the main package as a Lambda bootstrap, starts it under the Lambda
// Runtime Interface Emulator on loopback ports of its own, and returns an
// invoker for the fake Secrets Manager that calls it over the Lambda Invoke
// API, the way AWS does.
package lambdatest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotationkit/rotation/examples/internal/testenv"
	"github.com/rotationkit/rotation/localsm"
)

// Function is a rotation function running under the emulator.
type Function struct {
	// Invoker invokes the function over the Lambda Invoke API.
	Invoker localsm.LambdaInvoker
	// Binary is the path of the built bootstrap.
	Binary string
	// Log holds what the function and the emulator printed (the function's
	// slog output among it), for leak checks and failure messages.
	Log fmt.Stringer
}

// Build compiles the main package pkg (an import path or ./relative path
// resolved from the test's directory) the way it is built for the
// provided.al2023 runtime: CGO_ENABLED=0, -tags lambda.norpc, stripped.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Start builds pkg and runs it under aws-lambda-rie with env added to the
// emulator's environment (which the function inherits). The Secrets Manager
// endpoint, region and dummy credentials must be in env. The function is
// stopped when the test ends.
func Start(t testing.TB, pkg string, env ...string) *Function {
	t.Helper()
	rie := testenv.Binary(t, testenv.RIE, "aws-lambda-rie",
		"install it with: go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@latest")
	bin := Build(t, pkg)
	apiAddr, rieAddr := freeAddr(t), freeAddr(t)
	logBuf := &syncBuffer{}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, bin)
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdout, cmd.Stderr = logBuf, logBuf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", rie, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	waitListening(t, rieAddr, logBuf)
	return &Function{
		// The emulator serves its one function under the name "function"
		// only, whatever ARN the fake was given.
		Invoker: localsm.LambdaInvoker{Endpoint: "http://" + rieAddr, Client: &http.Client{Timeout: 60 * time.Second}, FunctionName: "function"},
		Binary:  bin,
		Log:     logBuf,
	}
}

// AWSEnv returns the environment that points an SDK-based function at a
// Secrets Manager endpoint, with a region and dummy credentials.
func AWSEnv(endpoint, region string) []string {
	return []string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + endpoint,
		"AWS_REGION=" + region,
		"AWS_ACCESS_KEY_ID=AKIDLAMBDATEST",
		"AWS_SECRET_ACCESS_KEY=lambdatest-dummy",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// baseEnv is a minimal environment: no AWS settings leak in from the host.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	// What Lambda sets for a function whose LoggingConfig asks for JSON
	// application logs at INFO; an env given to Start may override them.
	return append(env, "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=INFO")
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(t testing.TB, addr string, log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the emulator did not listen on %s:\n%s", addr, log.String())
}

// syncBuffer collects the emulator's output; it is written by the
// process-copying goroutines and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
