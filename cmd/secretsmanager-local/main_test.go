package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rotationkit/rotation/internal/redact"
	"github.com/rotationkit/rotation/localsm"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags(no flags): %v", err)
	}
	want := config{
		addr: "127.0.0.1:4566", region: "us-east-1", account: "123456789012", rotationAttempts: 3,
		stepTimeout: 30 * time.Second, scheduleInterval: time.Minute, shutdownTimeout: 30 * time.Second,
	}
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(config{})); diff != "" {
		t.Errorf("defaults mismatch (-want +got):\n%s", diff)
	}
	for _, args := range [][]string{
		{"extra"},
		{"-rotation-attempts", "0"},
		{"-step-timeout", "0s"},
		{"-schedule-interval", "-1s"},
		{"-shutdown-timeout", "0s"},
		{"-region", ""},
		{"-lambda-endpoint", "127.0.0.1:9000"},
		{"-lambda-endpoint", "ftp://host"},
		{"-no-such-flag"},
	} {
		if _, err := parseFlags(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("parseFlags(%q) = %v, want a usage error", args, err)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseFlags(-h) = %v, want flag.ErrHelp", err)
	}
}

// TestRunInProcess runs the server in this process and stops it by
// cancelling its context.
func TestRunInProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-schedule-interval", "0"}, stdoutW, &stderr)
		stdoutW.Close()
	}()
	url := readAddress(t, stdoutR)
	go io.Copy(io.Discard, stdoutR)
	sm := newClient(url)
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("in-process"), SecretString: aws.String("v")}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	_, err := sm.RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{SecretId: aws.String("in-process"), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")})
	if code := apiCode(err); code != "AccessDeniedException" {
		t.Errorf("RotateSecret without -lambda-endpoint: %v, want AccessDeniedException", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
}

func apiCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// readAddress reads the "listening on" line and returns the URL.
func readAddress(t *testing.T, r io.Reader) string {
	t.Helper()
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		m := regexp.MustCompile(`listening on (http://127\.0\.0\.1:[0-9]+)$`).FindStringSubmatch(l)
		if !ok || m == nil {
			t.Fatalf("first line of output = %q, want the listening address", l)
		}
		return m[1]
	case <-time.After(30 * time.Second):
		t.Fatal("no listening address printed within 30s")
	}
	return ""
}

func newClient(url string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "dummy"}, nil
		}),
	})
}

// lockedBuffer collects a child's or server's output safely.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// lambdaStub serves the Lambda Invoke API and runs a minimal rotation
// function against the Secrets Manager at sm. It records the rotation
// tokens it receives, which must never appear in the server's log.
type lambdaStub struct {
	sm     atomic.Pointer[secretsmanager.Client]
	mu     sync.Mutex
	tokens []string
	steps  []string
}

func (l *lambdaStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !regexp.MustCompile(`^/2015-03-31/functions/[^/]+/invocations$`).MatchString(r.URL.Path) {
		http.Error(w, "not an Invoke call", http.StatusNotFound)
		return
	}
	var ev events.SecretsManagerSecretRotationEvent
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	l.tokens = append(l.tokens, ev.RotationToken)
	l.steps = append(l.steps, ev.Step)
	l.mu.Unlock()
	if err := step(r.Context(), l.sm.Load(), ev); err != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		json.NewEncoder(w).Encode(map[string]string{"errorMessage": err.Error(), "errorType": "error"})
		return
	}
	w.Write([]byte("null"))
}

func step(ctx context.Context, sm *secretsmanager.Client, ev events.SecretsManagerSecretRotationEvent) error {
	if sm == nil {
		return errors.New("no client yet")
	}
	switch ev.Step {
	case "createSecret":
		cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionStage: aws.String("AWSCURRENT")})
		if err != nil {
			return err
		}
		_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(ev.SecretID), ClientRequestToken: aws.String(ev.ClientRequestToken),
			SecretString: aws.String(aws.ToString(cur.SecretString) + "-rotated"), VersionStages: []string{"AWSPENDING"},
			RotationToken: aws.String(ev.RotationToken),
		})
		return err
	case "setSecret", "testSecret":
		return nil
	case "finishSecret":
		d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
		if err != nil {
			return err
		}
		var current string
		for id, stages := range d.VersionIdsToStages {
			if slices.Contains(stages, "AWSCURRENT") {
				current = id
			}
		}
		if current == ev.ClientRequestToken {
			return nil
		}
		_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(ev.SecretID), VersionStage: aws.String("AWSCURRENT"),
			MoveToVersionId: aws.String(ev.ClientRequestToken), RemoveFromVersionId: aws.String(current),
		})
		return err
	}
	return errors.New("unknown step " + ev.Step)
}

// TestStandalone builds the command, starts it on a free port with a
// Lambda Invoke API stub as its function endpoint, drives it with the SDK
// (including a rotation), stops it with SIGTERM and checks it exits 0.
func TestStandalone(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("needs the go command on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "secretsmanager-local")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	stub := &lambdaStub{}
	lambda := httptest.NewServer(stub)
	defer lambda.Close()

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-lambda-endpoint", lambda.URL,
		"-strict-rotation-token", "-rotation-attempts", "2", "-schedule-interval", "1s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	var once sync.Once
	wait := func() error {
		once.Do(func() { exited <- cmd.Wait() })
		return <-exited
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			wait()
		}
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	}()
	url := readAddress(t, stdout)
	go io.Copy(io.Discard, stdout)

	sm := newClient(url)
	stub.sm.Store(sm)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const value = "standalone-value-never-logged"
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("standalone"), SecretString: aws.String(value)})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if !regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:standalone-[A-Za-z0-9]{6}$`).MatchString(aws.ToString(created.ARN)) {
		t.Errorf("ARN = %s", aws.ToString(created.ARN))
	}
	v1 := aws.ToString(created.VersionId)
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: created.ARN})
	if err != nil || aws.ToString(got.SecretString) != value {
		t.Fatalf("GetSecretValue = %v, %v", got, err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetSecretValue(missing) = %v, want ResourceNotFoundException", err)
	}

	rot, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId: aws.String("standalone"), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:rotator"),
		RotationRules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	})
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	v2 := aws.ToString(rot.VersionId)
	want := map[string][]string{v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT"}}
	var stages map[string][]string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("standalone")})
		if err != nil {
			t.Fatalf("DescribeSecret: %v", err)
		}
		stages = d.VersionIdsToStages
		if cmp.Equal(want, stages) && d.LastRotatedDate != nil {
			break
		}
	}
	if diff := cmp.Diff(want, stages, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Fatalf("after rotation, VersionIdsToStages (-want +got):\n%s", diff)
	}
	got, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("standalone")})
	if err != nil || aws.ToString(got.SecretString) != value+"-rotated" {
		t.Errorf("GetSecretValue after rotation = %q, %v", aws.ToString(got.SecretString), err)
	}
	// Wait for the command to log the rotation's outcome.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(stderr.String(), "rotation succeeded"); {
		time.Sleep(20 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not exit within 30s of SIGTERM")
	case <-func() chan struct{} {
		c := make(chan struct{})
		go func() { wait(); close(c) }()
		return c
	}():
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}

	logs := stderr.String()
	for _, s := range []string{"op=CreateSecret", "op=RotateSecret", "op=PutSecretValue", "op=UpdateSecretVersionStage", "error_code=ResourceNotFoundException", "secret_id=standalone", "rotation succeeded", "stopped"} {
		if !strings.Contains(logs, s) {
			t.Errorf("the log lacks %q", s)
		}
	}
	stub.mu.Lock()
	secrets := append([]string{value, value + "-rotated"}, stub.tokens...)
	steps := slices.Clone(stub.steps)
	stub.mu.Unlock()
	if diff := cmp.Diff([]string{"createSecret", "setSecret", "testSecret", "finishSecret"}, steps); diff != "" {
		t.Errorf("steps invoked (-want +got):\n%s", diff)
	}
	// In any form the conformance suite's leak check knows (quoted,
	// escaped, encoded, or a long enough part of one).
	var needles []redact.Needle
	for _, s := range secrets {
		needles = append(needles, redact.Needle{Value: s, Partial: true})
	}
	for _, i := range redact.Compile(needles).Find(logs) {
		t.Errorf("the log contains a secret value or RotationToken %q", secrets[i])
	}
}

// TestStandaloneRotationFailure: a function error reported the way the
// Runtime Interface Emulator reports it (status 200, error body, no
// header) fails the rotation and leaves the placeholder.
func TestStandaloneRotationFailure(t *testing.T) {
	lambda := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"errorMessage":"boom","errorType":"errorString"}`))
	}))
	defer lambda.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-lambda-endpoint", lambda.URL, "-rotation-attempts", "1"}, stdoutW, &stderr)
		stdoutW.Close()
	}()
	url := readAddress(t, stdoutR)
	go io.Copy(io.Discard, stdoutR)
	sm := newClient(url)
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("f"), SecretString: aws.String("v")}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	rot, err := sm.RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{SecretId: aws.String("f"), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")})
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(stderr.String(), "rotation failed"); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "rotation failed") || !strings.Contains(stderr.String(), "boom") {
		t.Errorf("no failed rotation logged:\n%s", stderr.String())
	}
	d, err := sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("f")})
	if err != nil {
		t.Fatalf("DescribeSecret: %v", err)
	}
	if got := d.VersionIdsToStages[aws.ToString(rot.VersionId)]; !slices.Equal(got, []string{"AWSPENDING"}) {
		t.Errorf("placeholder %s labels = %v, want [AWSPENDING]", aws.ToString(rot.VersionId), got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestShutdownLetsRotationsFinish: on shutdown the server first refuses new
// rotations, then waits for the running one while still answering its
// function's calls (finishSecret calls back into the server), and only
// then stops serving.
func TestShutdownLetsRotationsFinish(t *testing.T) {
	inSet := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	stub := &lambdaStub{}
	var mu sync.Mutex
	var stepErrs []string
	lambda := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev events.SecretsManagerSecretRotationEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ev.Step == "setSecret" {
			once.Do(func() { close(inSet) })
			<-release
		}
		if err := step(context.Background(), stub.sm.Load(), ev); err != nil {
			mu.Lock()
			stepErrs = append(stepErrs, ev.Step+": "+err.Error())
			mu.Unlock()
			w.Write([]byte(`{"errorMessage":"step failed","errorType":"error"}`))
			return
		}
		mu.Lock()
		stub.steps = append(stub.steps, ev.Step)
		mu.Unlock()
		w.Write([]byte("null"))
	}))
	defer lambda.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-lambda-endpoint", lambda.URL, "-rotation-attempts", "1",
			"-schedule-interval", "0", "-shutdown-timeout", "20s"}, stdoutW, &stderr)
		stdoutW.Close()
	}()
	url := readAddress(t, stdoutR)
	go io.Copy(io.Discard, stdoutR)
	sm := newClient(url)
	stub.sm.Store(sm)
	// No retries: a 503 must be seen as such.
	once1 := secretsmanager.New(sm.Options(), func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	bg := context.Background()
	for _, name := range []string{"slow", "late"} {
		if _, err := sm.CreateSecret(bg, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("v")}); err != nil {
			t.Fatalf("CreateSecret(%s): %v", name, err)
		}
	}
	fn := aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")
	if _, err := sm.RotateSecret(bg, &secretsmanager.RotateSecretInput{SecretId: aws.String("slow"), RotationLambdaARN: fn}); err != nil {
		t.Fatalf("RotateSecret(slow): %v", err)
	}
	select {
	case <-inSet:
	case <-time.After(10 * time.Second):
		t.Fatal("setSecret never invoked")
	}

	cancel() // SIGTERM
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "no new rotations"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown log line:\n%s", stderr.String())
		}
	}
	_, err := once1.RotateSecret(bg, &secretsmanager.RotateSecretInput{SecretId: aws.String("late"), RotationLambdaARN: fn})
	if code := apiCode(err); code != "ServiceUnavailable" {
		t.Errorf("RotateSecret during shutdown: %v, want ServiceUnavailable", err)
	}
	select {
	case err := <-done:
		t.Fatalf("run returned (%v) while a rotation was still running", err)
	case <-time.After(100 * time.Millisecond):
	}

	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after the rotation finished")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(stepErrs) > 0 {
		t.Errorf("steps failed during shutdown: %v", stepErrs)
	}
	if diff := cmp.Diff([]string{"createSecret", "setSecret", "testSecret", "finishSecret"}, stub.steps); diff != "" {
		t.Errorf("steps that succeeded (-want +got):\n%s", diff)
	}
	logs := stderr.String()
	if !strings.Contains(logs, "rotation succeeded") || !strings.Contains(logs, "stopped") {
		t.Errorf("the log lacks the rotation's success or the stop:\n%s", logs)
	}
}

// TestReporterForgetsOldRotations: the reporter's memory of logged
// rotations follows the fake's bounded history.
func TestReporterForgetsOldRotations(t *testing.T) {
	const history = 3
	fake := localsm.New(localsm.Options{
		MaxHistory: history, RotationAttempts: 1,
		Invoker: localsm.InvokerFunc(func(context.Context, string, events.SecretsManagerSecretRotationEvent) error {
			return errors.New("fails")
		}),
	})
	var logs lockedBuffer
	rep := &reporter{fake: fake, logger: slog.New(slog.NewTextHandler(&logs, nil)), logged: map[*localsm.Rotation]bool{}}
	ctx := context.Background()
	if _, err := fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		r, err := fake.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("s"), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")})
		if err == nil {
			t.Fatal("rotation succeeded, want failure")
		}
		// Clear the placeholder so the next rotation may start.
		if _, err := fake.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(r.VersionID)}); err != nil {
			t.Fatal(err)
		}
		rep.sweep()
		if n := len(rep.logged); n > history {
			t.Fatalf("after %d rotations the reporter remembers %d, want at most %d", i+1, n, history)
		}
	}
	if n := strings.Count(logs.String(), "rotation failed"); n != 10 {
		t.Errorf("%d rotations logged, want 10", n)
	}
}

// TestHTTPServerTimeouts: a client that never finishes its headers or its
// body cannot hold a connection open for ever.
func TestHTTPServerTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("timeouts: ReadHeaderTimeout %v, ReadTimeout %v, IdleTimeout %v; want all positive", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
}
