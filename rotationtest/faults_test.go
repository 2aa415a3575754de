package rotationtest_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

// faultsFake returns a fake holding one secret, "faults/secret", and the
// secret's ARN.
func faultsFake(t *testing.T) (*localsm.Fake, string) {
	t.Helper()
	f := localsm.New(localsm.Options{})
	out, err := f.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name:         aws.String("faults/secret"),
		SecretString: aws.String("value-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, aws.ToString(out.ARN)
}

// faultsOp is one call to make through a FaultClient.
type faultsOp string

func (op faultsOp) call(ctx context.Context, c rotation.Client, arn string) error {
	var err error
	switch op {
	case "DescribeSecret":
		_, err = c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	case "GetSecretValue":
		_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	case "PutSecretValue":
		_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(arn), SecretString: aws.String("value-2"),
			ClientRequestToken: aws.String("00000000-0000-4000-8000-000000000002"),
		})
	case "UpdateSecretVersionStage":
		_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(arn), VersionStage: aws.String("CUSTOM"),
			MoveToVersionId: aws.String("00000000-0000-4000-8000-000000000002"),
		})
	default:
		panic("unknown op " + op)
	}
	return err
}

func TestFailNthCall(t *testing.T) {
	errX := errors.New("injected")
	tests := []struct {
		name  string
		fault rotationtest.Fault
		ops   []faultsOp
		want  []error // per call
	}{
		{
			name:  "second GetSecretValue",
			fault: rotationtest.Fail("GetSecretValue", 2, rotationtest.ErrThrottling),
			ops:   []faultsOp{"GetSecretValue", "DescribeSecret", "GetSecretValue", "GetSecretValue"},
			want:  []error{nil, nil, rotationtest.ErrThrottling, nil},
		},
		{
			name:  "third call of any operation",
			fault: rotationtest.Fail("", 3, rotationtest.ErrInternal),
			ops:   []faultsOp{"DescribeSecret", "GetSecretValue", "DescribeSecret", "GetSecretValue"},
			want:  []error{nil, nil, rotationtest.ErrInternal, nil},
		},
		{
			name:  "every GetSecretValue",
			fault: rotationtest.Fail("GetSecretValue", 0, errX),
			ops:   []faultsOp{"GetSecretValue", "DescribeSecret", "GetSecretValue"},
			want:  []error{errX, nil, errX},
		},
		{
			name:  "other operations untouched",
			fault: rotationtest.Fail("PutSecretValue", 1, errX),
			ops:   []faultsOp{"GetSecretValue", "DescribeSecret", "GetSecretValue"},
			want:  []error{nil, nil, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, arn := faultsFake(t)
			f.ResetCalls()
			c := rotationtest.NewFaultClient(f, tt.fault)
			reached := map[string]int{}
			fired := 0
			for i, op := range tt.ops {
				err := op.call(t.Context(), c, arn)
				if !errors.Is(err, tt.want[i]) || (err == nil) != (tt.want[i] == nil) {
					t.Errorf("call %d (%s) = %v, want %v", i+1, op, err, tt.want[i])
				}
				if tt.want[i] == nil {
					reached[string(op)]++
				} else {
					fired++
				}
			}
			// A failed call never reaches the service.
			if diff := cmp.Diff(reached, f.Calls()); diff != "" {
				t.Errorf("calls that reached the fake (-want +got):\n%s", diff)
			}
			if got := c.Fired(); got != fired {
				t.Errorf("Fired() = %d, want %d", got, fired)
			}
			if got := c.Calls(); got != len(tt.ops) {
				t.Errorf("Calls() = %d, want %d", got, len(tt.ops))
			}
		})
	}
}

func TestLoseTakesEffect(t *testing.T) {
	ctx := t.Context()
	f, arn := faultsFake(t)
	c := rotationtest.NewFaultClient(f, rotationtest.Lose("PutSecretValue", 1), rotationtest.Lose("UpdateSecretVersionStage", 1))
	const token = "00000000-0000-4000-8000-000000000002"

	if err := faultsOp("PutSecretValue").call(ctx, c, arn); !errors.Is(err, rotationtest.ErrLostResponse) {
		t.Fatalf("PutSecretValue = %v, want ErrLostResponse", err)
	}
	s, _ := f.Secret(arn)
	v, ok := s.Version(token)
	if !ok || aws.ToString(v.SecretString) != "value-2" || !v.HasStage("AWSCURRENT") {
		t.Fatalf("after a lost PutSecretValue the fake has version %+v (found %v); want it stored as AWSCURRENT", v, ok)
	}
	// The caller's retry with the same token and value is a no-op.
	if err := faultsOp("PutSecretValue").call(ctx, c, arn); err != nil {
		t.Fatalf("retried PutSecretValue = %v", err)
	}
	if s2, _ := f.Secret(arn); len(s2.Versions) != len(s.Versions) {
		t.Errorf("the retry made a new version: %d versions, want %d", len(s2.Versions), len(s.Versions))
	}

	if err := faultsOp("UpdateSecretVersionStage").call(ctx, c, arn); !errors.Is(err, rotationtest.ErrLostResponse) {
		t.Fatalf("UpdateSecretVersionStage = %v, want ErrLostResponse", err)
	}
	s, _ = f.Secret(arn)
	if v, _ := s.Version(token); !v.HasStage("CUSTOM") {
		t.Errorf("after a lost UpdateSecretVersionStage the label did not move: %v", s.Labels())
	}
	if got, want := f.Calls(), map[string]int{"CreateSecret": 1, "PutSecretValue": 2, "UpdateSecretVersionStage": 1}; !cmp.Equal(got, want) {
		t.Errorf("fake calls = %v, want %v", got, want)
	}
}

func TestDelay(t *testing.T) {
	t.Parallel()
	t.Run("deadline", func(t *testing.T) {
		f, arn := faultsFake(t)
		f.ResetCalls()
		c := rotationtest.NewFaultClient(f, rotationtest.Delay("GetSecretValue", 1, time.Hour))
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := faultsOp("GetSecretValue").call(ctx, c, arn)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("delayed call = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("delayed call returned after %v; the deadline was 20ms", d)
		}
		if n := f.Calls()["GetSecretValue"]; n != 0 {
			t.Errorf("the delayed call reached the fake %d times, want 0", n)
		}
		if c.Calls() != 1 || c.Fired() != 1 {
			t.Errorf("Calls() = %d, Fired() = %d; want 1, 1", c.Calls(), c.Fired())
		}
		// Only the first call is delayed.
		if err := faultsOp("GetSecretValue").call(t.Context(), c, arn); err != nil {
			t.Errorf("second call = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		f, arn := faultsFake(t)
		c := rotationtest.NewFaultClient(f, rotationtest.Delay("", 0, time.Hour))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := faultsOp("DescribeSecret").call(ctx, c, arn); !errors.Is(err, context.Canceled) {
			t.Errorf("delayed call with a cancelled context = %v, want context.Canceled", err)
		}
	})
	t.Run("elapses", func(t *testing.T) {
		f, arn := faultsFake(t)
		f.ResetCalls()
		c := rotationtest.NewFaultClient(f, rotationtest.Delay("GetSecretValue", 1, 5*time.Millisecond))
		start := time.Now()
		if err := faultsOp("GetSecretValue").call(t.Context(), c, arn); err != nil {
			t.Fatalf("delayed call = %v", err)
		}
		if d := time.Since(start); d < 5*time.Millisecond {
			t.Errorf("delayed call returned after %v, want at least 5ms", d)
		}
		if n := f.Calls()["GetSecretValue"]; n != 1 {
			t.Errorf("the delayed call reached the fake %d times, want 1", n)
		}
	})
}

func TestFaultClientCounts(t *testing.T) {
	f, arn := faultsFake(t)
	c := rotationtest.NewFaultClient(f, rotationtest.Fail("DescribeSecret", 0, rotationtest.ErrThrottling))
	ops := []faultsOp{"DescribeSecret", "GetSecretValue"}
	const goroutines = 20
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for _, op := range ops {
				_ = op.call(context.Background(), c, arn)
			}
		})
	}
	wg.Wait()
	if got, want := c.Calls(), goroutines*len(ops); got != want {
		t.Errorf("Calls() = %d, want %d", got, want)
	}
	if diff := cmp.Diff(map[string]int{"DescribeSecret": goroutines, "GetSecretValue": goroutines}, c.CallsByOp()); diff != "" {
		t.Errorf("CallsByOp() (-want +got):\n%s", diff)
	}
	if got := c.Fired(); got != goroutines {
		t.Errorf("Fired() = %d, want %d", got, goroutines)
	}
	// CallsByOp returns a copy.
	c.CallsByOp()["DescribeSecret"] = 1000
	if c.CallsByOp()["DescribeSecret"] != goroutines {
		t.Error("changing the map CallsByOp returned changed the client's counts")
	}

	// Arm replaces the faults and restarts the counts.
	c.Arm(rotationtest.Fail("GetSecretValue", 1, rotationtest.ErrInternal))
	if c.Calls() != 0 || c.Fired() != 0 || len(c.CallsByOp()) != 0 {
		t.Errorf("after Arm: Calls() = %d, Fired() = %d, CallsByOp() = %v; want zeros", c.Calls(), c.Fired(), c.CallsByOp())
	}
	if err := faultsOp("DescribeSecret").call(t.Context(), c, arn); err != nil {
		t.Errorf("DescribeSecret after Arm = %v; the old fault should be gone", err)
	}
	if err := faultsOp("GetSecretValue").call(t.Context(), c, arn); !errors.Is(err, rotationtest.ErrInternal) {
		t.Errorf("GetSecretValue after Arm = %v, want ErrInternal", err)
	}
	c.Arm()
	if err := faultsOp("GetSecretValue").call(t.Context(), c, arn); err != nil {
		t.Errorf("GetSecretValue after Arm() = %v; want no fault", err)
	}
}

func TestInjectedErrorsAreShapedAsTheSDKs(t *testing.T) {
	if code, ok := localsm.ErrorCode(rotationtest.ErrThrottling); !ok || code != "ThrottlingException" {
		t.Errorf("ErrorCode(ErrThrottling) = %q, %v", code, ok)
	}
	var ise *types.InternalServiceError
	if !errors.As(rotationtest.ErrInternal, &ise) {
		t.Errorf("ErrInternal is %T, want *types.InternalServiceError", rotationtest.ErrInternal)
	}
	if code, ok := localsm.ErrorCode(rotationtest.ErrInternal); !ok || code != "InternalServiceError" {
		t.Errorf("ErrorCode(ErrInternal) = %q, %v", code, ok)
	}
	if code, ok := localsm.ErrorCode(rotationtest.ErrLostResponse); ok {
		t.Errorf("ErrorCode(ErrLostResponse) = %q; a lost response is not an API error", code)
	}
}

// optsClient records how many functional options each call received.
type optsClient struct {
	rotation.Client
	got []int
}

func (c *optsClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.got = append(c.got, len(optFns))
	return c.Client.GetSecretValue(ctx, in, optFns...)
}

func TestFaultClientForwardsOptions(t *testing.T) {
	f, arn := faultsFake(t)
	next := &optsClient{Client: f}
	c := rotationtest.NewFaultClient(next, rotationtest.Delay("GetSecretValue", 1, time.Millisecond))
	opt := func(*secretsmanager.Options) {}
	for range 2 {
		if _, err := c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}, opt, opt); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(next.got, []int{2, 2}) {
		t.Errorf("options forwarded per call = %v, want [2 2]", next.got)
	}
}

// --- invoker wrappers ---

func stepEvent(step rotation.Step) events.SecretsManagerSecretRotationEvent {
	return events.SecretsManagerSecretRotationEvent{
		Step:               string(step),
		SecretID:           "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-abcdef",
		ClientRequestToken: "00000000-0000-4000-8000-000000000001",
	}
}

// stepRecorder is an Invoker that records the steps it ran and fails the
// ones in fail.
type stepRecorder struct {
	mu   sync.Mutex
	ran  []rotation.Step
	fail map[rotation.Step]error
}

func (r *stepRecorder) Invoke(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ran = append(r.ran, rotation.Step(ev.Step))
	return r.fail[rotation.Step(ev.Step)]
}

func (r *stepRecorder) steps() []rotation.Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ran)
}

// invokeSteps invokes each step through inv and returns the errors.
func invokeSteps(inv localsm.Invoker, steps ...rotation.Step) []error {
	errs := make([]error, len(steps))
	for i, s := range steps {
		errs[i] = inv.Invoke(context.Background(), "fn", stepEvent(s))
	}
	return errs
}

func wantErrors(t *testing.T, got, want []error) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i := range got {
		if !errors.Is(got[i], want[i]) || (got[i] == nil) != (want[i] == nil) {
			t.Errorf("invocation %d = %v, want %v", i+1, got[i], want[i])
		}
	}
}

func TestCrashAfter(t *testing.T) {
	errInner := errors.New("inner")
	t.Run("n-th invocation", func(t *testing.T) {
		rec := &stepRecorder{fail: map[rotation.Step]error{rotation.StepTest: errInner}}
		inv := rotationtest.CrashAfter(rec, rotation.StepSet, 2)
		errs := invokeSteps(inv, rotation.StepCreate, rotation.StepSet, rotation.StepSet, rotation.StepSet, rotation.StepTest)
		wantErrors(t, errs, []error{nil, nil, rotationtest.ErrCrashed, nil, errInner})
		// The crashed step ran: its work is done.
		if diff := cmp.Diff([]rotation.Step{rotation.StepCreate, rotation.StepSet, rotation.StepSet, rotation.StepSet, rotation.StepTest}, rec.steps()); diff != "" {
			t.Errorf("steps run (-want +got):\n%s", diff)
		}
	})
	t.Run("every invocation", func(t *testing.T) {
		rec := &stepRecorder{}
		errs := invokeSteps(rotationtest.CrashAfter(rec, rotation.StepFinish, 0), rotation.StepFinish, rotation.StepCreate, rotation.StepFinish)
		wantErrors(t, errs, []error{rotationtest.ErrCrashed, nil, rotationtest.ErrCrashed})
		if len(rec.steps()) != 3 {
			t.Errorf("steps run = %v, want all three", rec.steps())
		}
	})
	t.Run("the fake retries", func(t *testing.T) {
		// End to end: a crash after createSecret fails the first attempt
		// and the service's retry completes the rotation.
		ctx := t.Context()
		db := newConfDB(map[string]string{"app": "initial-password-1"})
		var inv localsm.Invoker
		f := localsm.New(localsm.Options{Invoker: localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			return inv.Invoke(ctx, fn, ev)
		})})
		h, err := rotation.New(f, singleUser{db})
		if err != nil {
			t.Fatal(err)
		}
		inv = rotationtest.CrashAfter(localsm.HandlerInvoker(h.Handle), rotation.StepCreate, 1)
		if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String(`{"username":"app","password":"initial-password-1"}`)}); err != nil {
			t.Fatal(err)
		}
		r, err := f.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("db"), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")})
		if err != nil {
			t.Fatalf("rotation failed: %v", err)
		}
		if r.Attempts() != 2 {
			t.Errorf("Attempts() = %d, want 2", r.Attempts())
		}
		var failed []localsm.Event
		for _, e := range f.Events() {
			if e.Name == localsm.EventRotationFailed {
				failed = append(failed, e)
			}
		}
		if len(failed) != 1 || failed[0].Step != rotation.StepCreate {
			t.Errorf("RotationFailed events = %+v, want one, for createSecret", failed)
		}
	})
}

func TestFailStep(t *testing.T) {
	errX := errors.New("injected")
	rec := &stepRecorder{}
	inv := rotationtest.FailStep(rec, rotation.StepTest, 2, errX)
	errs := invokeSteps(inv, rotation.StepCreate, rotation.StepTest, rotation.StepTest, rotation.StepTest, rotation.StepFinish)
	wantErrors(t, errs, []error{nil, nil, errX, nil, nil})
	// A failed step does not run; n counts like every other fault helper.
	if diff := cmp.Diff([]rotation.Step{rotation.StepCreate, rotation.StepTest, rotation.StepTest, rotation.StepFinish}, rec.steps()); diff != "" {
		t.Errorf("steps run (-want +got):\n%s", diff)
	}

	rec = &stepRecorder{}
	errs = invokeSteps(rotationtest.FailStep(rec, rotation.StepSet, 0, errX), rotation.StepSet, rotation.StepSet, rotation.StepSet, rotation.StepCreate)
	wantErrors(t, errs, []error{errX, errX, errX, nil})
	if diff := cmp.Diff([]rotation.Step{rotation.StepCreate}, rec.steps()); diff != "" {
		t.Errorf("with n = 0, steps run (-want +got):\n%s", diff)
	}
}

func TestSkipStep(t *testing.T) {
	errInner := errors.New("inner")
	rec := &stepRecorder{fail: map[rotation.Step]error{rotation.StepSet: errInner}}
	errs := invokeSteps(rotationtest.SkipStep(rec, rotation.StepSet, 2), rotation.StepSet, rotation.StepSet, rotation.StepTest)
	wantErrors(t, errs, []error{errInner, nil, nil})
	if diff := cmp.Diff([]rotation.Step{rotation.StepSet, rotation.StepTest}, rec.steps()); diff != "" {
		t.Errorf("steps run (-want +got):\n%s", diff)
	}

	rec = &stepRecorder{fail: map[rotation.Step]error{rotation.StepSet: errInner}}
	errs = invokeSteps(rotationtest.SkipStep(rec, rotation.StepSet, 0), rotation.StepSet, rotation.StepSet, rotation.StepSet)
	wantErrors(t, errs, []error{nil, nil, nil})
	if len(rec.steps()) != 0 {
		t.Errorf("with n = 0, steps run = %v, want none", rec.steps())
	}
}

// concurrency is an Invoker that reports how many invocations ran at once:
// each waits a while for a second one to join it (a run that is alone pays
// the whole wait, so tests use few of those).
type concurrency struct {
	mu       sync.Mutex
	inflight int
	peaks    []int // per invocation, the most that ran at once while it ran
	joined   chan struct{}
	fail     error
}

func (c *concurrency) Invoke(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
	c.mu.Lock()
	c.inflight++
	if c.inflight == 2 {
		close(c.joined)
	}
	joined := c.joined
	c.mu.Unlock()
	peak := 1
	select {
	case <-joined:
		peak = 2
	case <-time.After(250 * time.Millisecond):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	if c.inflight == 0 {
		c.joined = make(chan struct{})
	}
	c.peaks = append(c.peaks, peak)
	return c.fail
}

func TestOverlap(t *testing.T) {
	t.Parallel()
	t.Run("n-th invocation", func(t *testing.T) {
		rec := &stepRecorder{}
		errs := invokeSteps(rotationtest.Overlap(rec, rotation.StepSet, 2), rotation.StepCreate, rotation.StepSet, rotation.StepSet, rotation.StepSet)
		wantErrors(t, errs, []error{nil, nil, nil, nil})
		// Only the second setSecret runs twice.
		want := []rotation.Step{rotation.StepCreate, rotation.StepSet, rotation.StepSet, rotation.StepSet, rotation.StepSet}
		if diff := cmp.Diff(want, rec.steps()); diff != "" {
			t.Errorf("steps run (-want +got):\n%s", diff)
		}
		// And the two runs are concurrent.
		c := &concurrency{joined: make(chan struct{})}
		invokeSteps(rotationtest.Overlap(c, rotation.StepSet, 2), rotation.StepSet, rotation.StepSet)
		if diff := cmp.Diff([]int{1, 2, 2}, c.peaks); diff != "" {
			t.Errorf("runs at once, per run (-want +got):\n%s", diff)
		}
	})
	t.Run("every invocation", func(t *testing.T) {
		c := &concurrency{joined: make(chan struct{})}
		invokeSteps(rotationtest.Overlap(c, rotation.StepFinish, 0), rotation.StepFinish, rotation.StepFinish)
		if diff := cmp.Diff([]int{2, 2, 2, 2}, c.peaks); diff != "" {
			t.Errorf("concurrency per run (-want +got):\n%s", diff)
		}
	})
	t.Run("fails if a run fails", func(t *testing.T) {
		errX := errors.New("injected")
		c := &concurrency{joined: make(chan struct{}), fail: errX}
		errs := invokeSteps(rotationtest.Overlap(c, rotation.StepCreate, 1), rotation.StepCreate)
		wantErrors(t, errs, []error{errX})
	})
}

func TestReplay(t *testing.T) {
	rec := &stepRecorder{}
	errs := invokeSteps(rotationtest.Replay(rec), rotation.StepCreate, rotation.StepSet)
	wantErrors(t, errs, []error{nil, nil})
	if diff := cmp.Diff([]rotation.Step{rotation.StepCreate, rotation.StepCreate, rotation.StepSet, rotation.StepSet}, rec.steps()); diff != "" {
		t.Errorf("steps run (-want +got):\n%s", diff)
	}

	// A failing first invocation is not replayed.
	errX := errors.New("injected")
	rec = &stepRecorder{fail: map[rotation.Step]error{rotation.StepTest: errX}}
	errs = invokeSteps(rotationtest.Replay(rec), rotation.StepTest)
	wantErrors(t, errs, []error{errX})
	if diff := cmp.Diff([]rotation.Step{rotation.StepTest}, rec.steps()); diff != "" {
		t.Errorf("steps run (-want +got):\n%s", diff)
	}

	// A failing second invocation fails the step.
	n := 0
	inv := rotationtest.Replay(localsm.InvokerFunc(func(context.Context, string, events.SecretsManagerSecretRotationEvent) error {
		n++
		if n == 2 {
			return errX
		}
		return nil
	}))
	if err := inv.Invoke(t.Context(), "fn", stepEvent(rotation.StepFinish)); !errors.Is(err, errX) {
		t.Errorf("replay whose second run fails = %v, want %v", err, errX)
	}
}

// TestReplayCatchesRegeneration shows the wrappers composing with a real
// handler: a raw handler that regenerates its pending value when
// createSecret is replayed leaves AWSPENDING off the rotation's version.
func TestReplayCatchesRegeneration(t *testing.T) {
	ctx := t.Context()
	db := newConfDB(map[string]string{"app": "initial-password-1"})
	var inv localsm.Invoker
	f := localsm.New(localsm.Options{RotationAttempts: 1, Invoker: localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
		return inv.Invoke(ctx, fn, ev)
	})})
	for _, tt := range []struct {
		name   string
		wrap   wrapFunc
		wantOK bool
	}{
		{"correct", nil, true},
		{"regenerates", regenerateOnReplay, false},
	} {
		name := "db-" + tt.name
		if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(`{"username":"app","password":"initial-password-1"}`)}); err != nil {
			t.Fatal(err)
		}
		db.set("app", "initial-password-1")
		h, err := newHandler(f, slog.New(slog.DiscardHandler), singleUser{db}, tt.wrap)
		if err != nil {
			t.Fatal(err)
		}
		inv = rotationtest.Replay(localsm.HandlerInvoker(h))
		_, err = f.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(name), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")})
		if (err == nil) != tt.wantOK {
			t.Errorf("%s: replayed rotation = %v, want success %v", tt.name, err, tt.wantOK)
		}
	}
}
