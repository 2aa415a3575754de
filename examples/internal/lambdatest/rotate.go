package lambdatest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
)

// Rotator rotates one secret through the AWS SDK, the way Secrets Manager
// starts a rotation, and checks what every successful rotation must leave
// behind. Its rotations are numbered from 1 in failure messages.
type Rotator struct {
	// Client is the SDK client of the fake's HTTP server.
	Client *secretsmanager.Client
	// Fake is the fake Secrets Manager behind Client.
	Fake *localsm.Fake
	// SecretARN names the secret to rotate.
	SecretARN string
	// FunctionARN is passed as RotationLambdaARN.
	FunctionARN string
	// CurrentVersion is the version ID AWSCURRENT is on (set it to the
	// created secret's VersionId); each Rotate moves it to the new
	// version.
	CurrentVersion string
	// Log is the function's log, printed when a rotation fails.
	Log fmt.Stringer

	n int // rotations so far
}

// Rotated is what one rotation left behind.
type Rotated struct {
	// VersionID is the new version, now AWSCURRENT.
	VersionID string
	// PreviousVersionID is the replaced version, now AWSPREVIOUS.
	PreviousVersionID string
	// Current is the SecretString of AWSCURRENT (the new version).
	Current string
	// Previous is the SecretString of AWSPREVIOUS (the replaced version).
	Previous string
	// Calls counts the Secrets Manager calls the function made, by
	// operation (RotateSecret, the caller's, left out).
	Calls map[string]int
	// Attempts is how many times the rotation was attempted.
	Attempts int
}

// Rotate resets the fake's call counters, calls RotateSecret, waits for the
// rotation and fails the test at once if it did not start or failed. It
// then checks, through DescribeSecret, that AWSCURRENT is on the new
// version, AWSPREVIOUS on the replaced one (CurrentVersion) and that no
// other version holds AWSPENDING, and that GetSecretValue returns the new
// version as AWSCURRENT and the replaced one as AWSPREVIOUS. It logs the
// attempts and the function's calls.
func (r *Rotator) Rotate(t testing.TB, ctx context.Context) Rotated {
	t.Helper()
	r.n++
	i := r.n
	r.Fake.ResetCalls()
	out, err := r.Client.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(r.SecretARN),
		RotationLambdaARN: aws.String(r.FunctionARN),
	})
	if err != nil {
		t.Fatalf("rotation %d: RotateSecret: %v", i, err)
	}
	res := Rotated{VersionID: aws.ToString(out.VersionId), PreviousVersionID: r.CurrentVersion}
	rot, ok := r.Fake.Rotation(res.VersionID)
	if !ok {
		t.Fatalf("rotation %d did not start", i)
	}
	if err := rot.Wait(ctx); err != nil {
		t.Fatalf("rotation %d failed: %v\nfunction log:\n%s", i, err, r.Log)
	}
	res.Attempts = rot.Attempts()
	res.Calls = r.Fake.Calls()
	delete(res.Calls, "RotateSecret")
	total := 0
	for _, n := range res.Calls {
		total += n
	}
	t.Logf("rotation %d: %d attempt(s), %d Secrets Manager calls by the function %v", i, res.Attempts, total, res.Calls)

	// Labels, as the SDK sees them.
	d, err := r.Client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(r.SecretARN)})
	if err != nil {
		t.Fatal(err)
	}
	stages := d.VersionIdsToStages
	if !slices.Contains(stages[res.VersionID], "AWSCURRENT") {
		t.Errorf("rotation %d: AWSCURRENT is not on the new version: %v", i, stages)
	}
	if !slices.Contains(stages[res.PreviousVersionID], "AWSPREVIOUS") {
		t.Errorf("rotation %d: AWSPREVIOUS is not on the replaced version: %v", i, stages)
	}
	for id, st := range stages {
		if slices.Contains(st, "AWSPENDING") && id != res.VersionID {
			t.Errorf("rotation %d: AWSPENDING left on %s: %v", i, id, stages)
		}
	}

	res.Current = r.value(t, ctx, i, "AWSCURRENT", res.VersionID)
	res.Previous = r.value(t, ctx, i, "AWSPREVIOUS", res.PreviousVersionID)
	r.CurrentVersion = res.VersionID
	return res
}

// value returns the SecretString of the version stage is on, and fails
// the test unless that is version wantID.
func (r *Rotator) value(t testing.TB, ctx context.Context, i int, stage, wantID string) string {
	t.Helper()
	out, err := r.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.SecretARN), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatalf("rotation %d: GetSecretValue(%s): %v", i, stage, err)
	}
	if got := aws.ToString(out.VersionId); got != wantID {
		t.Errorf("rotation %d: GetSecretValue(%s) returned version %s, want %s", i, stage, got, wantID)
	}
	return aws.ToString(out.SecretString)
}

// Harness is a fake Secrets Manager served over HTTP whose rotation
// function is an example's main package running under the emulator.
type Harness struct {
	// Fake is the fake Secrets Manager; it requires the RotationToken
	// (StrictRotationToken).
	Fake *localsm.Fake
	// Server serves Fake over HTTP.
	Server *localsm.Server
	// Client is the AWS SDK client of Server.
	Client *secretsmanager.Client
	// Function is the rotation function.
	Function *Function
	// FunctionARN is the only ARN the fake invokes the function for.
	FunctionARN string

	mu     sync.Mutex
	tokens []string
}

// StartHarness starts the fake and its HTTP server, then builds pkg and
// starts it under the emulator (see Start) with the AWSEnv of the server
// and env added. The fake invokes the function over the Lambda Invoke API
// for functionARN, and fails the invocation for any other ARN; as the
// emulator serves its one function only under the name "function" (any
// other name is a 404), the ARN's name is not passed on. The function is
// stopped, the fake's rotations waited for and the server closed when the
// test ends.
func StartHarness(t testing.TB, pkg, functionARN string, env ...string) *Harness {
	t.Helper()
	h := &Harness{FunctionARN: functionARN}
	// The function needs the server's URL before it starts, so the
	// invoker finds it in h once it has.
	h.Fake = localsm.New(localsm.Options{
		StrictRotationToken: true,
		Invoker: localsm.InvokerFunc(func(ctx context.Context, arn string, ev events.SecretsManagerSecretRotationEvent) error {
			h.mu.Lock()
			h.tokens = append(h.tokens, ev.RotationToken)
			fn := h.Function
			h.mu.Unlock()
			if arn != functionARN {
				return fmt.Errorf("no function %s", arn)
			}
			if fn == nil {
				return fmt.Errorf("the function %s has not started", arn)
			}
			return fn.Invoker.Invoke(ctx, "function", ev)
		}),
	})
	h.Server = localsm.NewServer(h.Fake)
	t.Cleanup(h.Server.Close)
	t.Cleanup(func() { _ = h.Fake.Wait(context.Background()) })
	h.Client = h.Server.Client()
	fn := Start(t, pkg, append(AWSEnv(h.Server.URL, h.Fake.Region()), env...)...)
	h.mu.Lock()
	h.Function = fn
	h.mu.Unlock()
	return h
}

// Tokens returns the RotationToken of every invocation so far.
func (h *Harness) Tokens() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.tokens)
}

// Rotator returns a Rotator of the secret CreateSecret returned created
// for, which rotates it with the harness's function.
func (h *Harness) Rotator(created *secretsmanager.CreateSecretOutput) *Rotator {
	return &Rotator{Client: h.Client, Fake: h.Fake, SecretARN: aws.ToString(created.ARN), FunctionARN: h.FunctionARN,
		CurrentVersion: aws.ToString(created.VersionId), Log: h.Function.Log}
}

// HangingURL starts an HTTP server that never answers (until the test
// ends) and returns its URL.
func HangingURL(t testing.TB) string {
	t.Helper()
	stop := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(stop) })
	return hs.URL
}

// RotateTimesOut creates a secret named name holding value, whose
// rotation must time out (its service hangs, and the function's own HTTP
// timeout, well inside the step timeout, ends every attempt). It rotates
// the secret and checks that the rotation failed with an error saying
// "timed out", that no attempt took 10s or more on average, that the
// function wrote nothing to Secrets Manager and that AWSCURRENT did not
// move.
func (h *Harness) RotateTimesOut(t testing.TB, ctx context.Context, name, value string) {
	t.Helper()
	c, err := h.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	h.Fake.ResetCalls()
	start := time.Now()
	out, err := h.Client.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: c.ARN, RotationLambdaARN: aws.String(h.FunctionARN)})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := h.Fake.Rotation(aws.ToString(out.VersionId))
	if !ok {
		t.Fatal("the rotation did not start")
	}
	rerr := r.Wait(ctx)
	if rerr == nil || !strings.Contains(rerr.Error(), "timed out") {
		t.Errorf("rotation error = %v, want a timeout at the service", rerr)
	}
	if d := time.Since(start); d > time.Duration(r.Attempts())*10*time.Second {
		t.Errorf("%d attempts took %v; each should end after about 2s", r.Attempts(), d)
	}
	if calls := h.Fake.Calls(); calls["PutSecretValue"] != 0 || calls["UpdateSecretVersionStage"] != 0 {
		t.Errorf("the failed rotation wrote to Secrets Manager: %v", calls)
	}
	cur, err := h.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: c.ARN})
	if err != nil || aws.ToString(cur.VersionId) != aws.ToString(c.VersionId) {
		t.Errorf("AWSCURRENT moved or is unreadable: %v", err)
	}
	t.Logf("%d attempts failed in %v: %v", r.Attempts(), time.Since(start).Round(time.Millisecond), rerr)
}

// CheckLog waits for the fake's rotations to end, then checks that the
// function's log has its JSON step records (a finishSecret step, a "done"
// outcome), each with the invocation's requestId, and that it holds none of values (secret values), the field
// of each that is a JSON object (the credential), and no RotationToken.
func (h *Harness) CheckLog(t testing.TB, ctx context.Context, values []string, field string) {
	t.Helper()
	if err := h.Fake.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	log := h.Function.Log.String()
	if !strings.Contains(log, `"step":"finishSecret"`) || !strings.Contains(log, `"outcome":"done"`) {
		t.Errorf("the function's log lacks its JSON step records:\n%s", log)
	}
	// Lambda's logger puts the invocation's request id on every record
	// the Handler writes with the invocation's context.
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"step":`) && !strings.Contains(line, `"requestId":"`) {
			t.Errorf("a step record has no requestId: %s", line)
		}
	}
	needles := slices.Clone(values)
	for _, v := range values {
		if s, err := rotation.NewString(v).Get(field); err == nil {
			needles = append(needles, s)
		}
	}
	needles = append(needles, h.Tokens()...)
	for _, n := range needles {
		if n != "" && strings.Contains(log, n) {
			t.Errorf("the function's log contains a %s, a secret value or a RotationToken (%d characters)", field, len(n))
		}
	}
}
