package localsm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/internal/schedule"
	"github.com/rotationkit/rotation/localsm"
)

const fnARN = "arn:aws:lambda:us-east-1:123456789012:function:rotator"

const msgPrevious = "A previous rotation isn't complete. That rotation will be reattempted."

// rotator is a rotation function that implements the four steps correctly
// with the fake's own methods, the way AWS's templates do. Hooks let a test
// make a step misbehave.
type rotator struct {
	f *localsm.Fake

	// before, if set, runs first; a non-nil error fails the step.
	before func(ev events.SecretsManagerSecretRotationEvent) error
	// omitToken makes createSecret leave out the RotationToken.
	omitToken bool
	// noFinish makes finishSecret return nil without moving AWSCURRENT.
	noFinish bool

	mu     sync.Mutex
	events []events.SecretsManagerSecretRotationEvent
	fns    []string
	tested []string // values testSecret read from AWSPENDING
}

func (r *rotator) Invoke(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.fns = append(r.fns, fn)
	r.mu.Unlock()
	if r.before != nil {
		if err := r.before(ev); err != nil {
			return err
		}
	}
	id, tok := aws.String(ev.SecretID), aws.String(ev.ClientRequestToken)
	switch rotation.Step(ev.Step) {
	case rotation.StepCreate:
		curOut, err := r.f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionStage: aws.String(cur)})
		if err != nil {
			return err
		}
		_, err = r.f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionId: tok, VersionStage: aws.String(pend)})
		if err == nil {
			return nil // created by an earlier attempt
		}
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return err
		}
		in := &secretsmanager.PutSecretValueInput{
			SecretId:           id,
			ClientRequestToken: tok,
			SecretString:       aws.String(aws.ToString(curOut.SecretString) + "+"),
			VersionStages:      []string{pend},
		}
		if !r.omitToken {
			in.RotationToken = aws.String(ev.RotationToken)
		}
		_, err = r.f.PutSecretValue(ctx, in)
		return err
	case rotation.StepSet:
		return nil
	case rotation.StepTest:
		out, err := r.f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionId: tok, VersionStage: aws.String(pend)})
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.tested = append(r.tested, aws.ToString(out.SecretString))
		r.mu.Unlock()
		return nil
	case rotation.StepFinish:
		if r.noFinish {
			return nil
		}
		d, err := r.f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: id})
		if err != nil {
			return err
		}
		holder := currentHolder(d.VersionIdsToStages)
		if holder == ev.ClientRequestToken {
			return nil
		}
		_, err = r.f.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: id, VersionStage: aws.String(cur),
			MoveToVersionId: tok, RemoveFromVersionId: aws.String(holder),
		})
		return err
	}
	return fmt.Errorf("unknown step %q", ev.Step)
}

// steps returns the steps invoked so far.
func (r *rotator) steps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		out = append(out, ev.Step)
	}
	return out
}

func (r *rotator) evs() []events.SecretsManagerSecretRotationEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// fixture is a fake with one secret "db" holding v1[AWSCURRENT] = "s3cret",
// and a rotator registered for fnARN.
type fixture struct {
	f     *localsm.Fake
	r     *rotator
	clock *localsm.ManualClock
	arn   string
}

func newFixture(t *testing.T, opts localsm.Options) *fixture {
	t.Helper()
	fx := &fixture{clock: localsm.NewManualClock(t0)}
	fx.r = &rotator{}
	opts.Clock = fx.clock
	if opts.Invoker == nil {
		opts.Invoker = localsm.Functions{fnARN: fx.r}
	}
	fx.f = localsm.New(opts)
	fx.r.f = fx.f
	s := seed(t, fx.f, "db", localsm.Version{ID: v1, SecretString: aws.String("s3cret"), Stages: []string{cur}})
	fx.arn = s.ARN
	return fx
}

func timeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func rotateInput(token string) *secretsmanager.RotateSecretInput {
	in := &secretsmanager.RotateSecretInput{SecretId: aws.String("db"), RotationLambdaARN: aws.String(fnARN)}
	if token != "" {
		in.ClientRequestToken = aws.String(token)
	}
	return in
}

// eventNames returns "Name" or "Name:step" for each recorded event.
func eventNames(f *localsm.Fake) []string {
	var out []string
	for _, e := range f.Events() {
		if e.Step != "" {
			out = append(out, e.Name+":"+string(e.Step))
		} else {
			out = append(out, e.Name)
		}
	}
	return out
}

var rotationTokenRE = regexp.MustCompile(`^[a-zA-Z0-9-]{36,256}$`)

func TestRotateSecretChecks(t *testing.T) {
	tests := []struct {
		name    string
		opts    localsm.Options // Invoker nil is replaced by Functions{fnARN: rotator}
		noInv   bool            // leave Options.Invoker nil
		state   []localsm.Version
		in      *secretsmanager.RotateSecretInput
		target  any
		code    string
		message string
	}{
		{
			name:   "unknown secret",
			in:     &secretsmanager.RotateSecretInput{SecretId: aws.String("nope"), RotationLambdaARN: aws.String(fnARN)},
			target: new(*types.ResourceNotFoundException),
			code:   "ResourceNotFoundException",
		},
		{
			name:   "unknown secret is checked before the function",
			noInv:  true,
			in:     &secretsmanager.RotateSecretInput{SecretId: aws.String("nope")},
			target: new(*types.ResourceNotFoundException),
			code:   "ResourceNotFoundException",
		},
		{
			name:    "no function configured",
			in:      &secretsmanager.RotateSecretInput{SecretId: aws.String("db")},
			target:  new(*types.InvalidRequestException),
			code:    "InvalidRequestException",
			message: "No Lambda rotation function ARN is associated with this secret.",
		},
		{
			name:    "no function is checked before invocability",
			noInv:   true,
			in:      &secretsmanager.RotateSecretInput{SecretId: aws.String("db")},
			target:  new(*types.InvalidRequestException),
			code:    "InvalidRequestException",
			message: "No Lambda rotation function ARN is associated with this secret.",
		},
		{
			name:  "nil Invoker cannot invoke",
			noInv: true,
			in:    rotateInput(""),
			code:  "AccessDeniedException",
		},
		{
			name: "Functions without the ARN",
			opts: localsm.Options{Invoker: localsm.Functions{"arn:aws:lambda:us-east-1:123456789012:function:other": localsm.InvokerFunc(func(context.Context, string, events.SecretsManagerSecretRotationEvent) error { return nil })}},
			in:   rotateInput(""),
			code: "AccessDeniedException",
		},
		{
			name:  "invocability is checked before a pending rotation",
			noInv: true,
			state: []localsm.Version{ver(v1, cur), ver(v2, pend)},
			in:    rotateInput(""),
			code:  "AccessDeniedException",
		},
		{
			name:    "AWSPENDING on another version",
			state:   []localsm.Version{ver(v1, cur), ver(v2, pend)},
			in:      rotateInput(""),
			target:  new(*types.InvalidRequestException),
			code:    "InvalidRequestException",
			message: msgPrevious,
		},
		{
			name:    "AWSPENDING on a placeholder",
			state:   []localsm.Version{ver(v1, cur), placeholder(v2, pend)},
			in:      rotateInput(""),
			target:  new(*types.InvalidRequestException),
			code:    "InvalidRequestException",
			message: msgPrevious,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			r := &rotator{}
			if opts.Invoker == nil && !tt.noInv {
				opts.Invoker = localsm.Functions{fnARN: r}
			}
			f := localsm.New(opts)
			r.f = f
			state := tt.state
			if state == nil {
				state = []localsm.Version{ver(v1, cur)}
			}
			before := seed(t, f, "db", state...)
			_, err := f.RotateSecret(timeout(t), tt.in)
			if tt.target != nil && !errors.As(err, tt.target) {
				t.Errorf("err = %v (%T), want %T", err, err, tt.target)
			}
			wantAPIError(t, "RotateSecret", err, tt.code, tt.message)
			if err := f.Wait(timeout(t)); err != nil {
				t.Fatal(err)
			}
			after, _ := f.Secret("db")
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("a rejected RotateSecret changed the secret (-want +got):\n%s", diff)
			}
			if len(r.steps()) != 0 || len(f.Events()) != 0 || len(f.Rotations()) != 0 {
				t.Errorf("a rejected RotateSecret invoked %v, recorded %v", r.steps(), eventNames(f))
			}
		})
	}

	t.Run("AWSPENDING on the AWSCURRENT version does not block", func(t *testing.T) {
		fx := newFixture(t, localsm.Options{})
		seed(t, fx.f, "db", ver(v1, prev), ver(v2, cur, pend))
		r, err := fx.f.Rotate(timeout(t), rotateInput(v3))
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if r.VersionID != v3 {
			t.Errorf("VersionID = %s, want %s", r.VersionID, v3)
		}
		if diff := cmp.Diff(map[string][]string{v2: {prev}, v3: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
	})

	t.Run("deleted secret", func(t *testing.T) {
		fx := newFixture(t, localsm.Options{})
		if _, err := fx.f.DeleteSecret(timeout(t), &secretsmanager.DeleteSecretInput{SecretId: aws.String("db")}); err != nil {
			t.Fatal(err)
		}
		_, err := fx.f.RotateSecret(timeout(t), rotateInput(""))
		var ir *types.InvalidRequestException
		if !errors.As(err, &ir) {
			t.Errorf("err = %v, want InvalidRequestException", err)
		}
	})

	t.Run("same token while running is idempotent", func(t *testing.T) {
		release := make(chan struct{})
		fx := newFixture(t, localsm.Options{})
		fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step == string(rotation.StepCreate) {
				<-release
			}
			return nil
		}
		if _, err := fx.f.RotateSecret(timeout(t), rotateInput(v2)); err != nil {
			t.Fatal(err)
		}
		out, err := fx.f.RotateSecret(timeout(t), rotateInput(v2))
		if err != nil {
			t.Errorf("repeating RotateSecret with the running token: %v", err)
		} else if aws.ToString(out.VersionId) != v2 {
			t.Errorf("VersionId = %s, want %s", aws.ToString(out.VersionId), v2)
		}
		_, err = fx.f.RotateSecret(timeout(t), rotateInput(v3))
		wantAPIError(t, "RotateSecret with another token while running", err, "InvalidRequestException", msgPrevious)
		close(release)
		if err := fx.f.Wait(timeout(t)); err != nil {
			t.Fatal(err)
		}
		if n := len(fx.f.Rotations()); n != 1 {
			t.Errorf("%d rotations started, want 1", n)
		}
	})
}

func TestRotateSuccess(t *testing.T) {
	fx := newFixture(t, localsm.Options{StrictRotationToken: true})
	out, err := fx.f.RotateSecret(timeout(t), rotateInput(v2))
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if diff := cmp.Diff(&secretsmanager.RotateSecretOutput{ARN: aws.String(fx.arn), Name: aws.String("db"), VersionId: aws.String(v2)}, out,
		ignoreSDK); diff != "" {
		t.Errorf("RotateSecret output (-want +got):\n%s", diff)
	}
	r, ok := fx.f.Rotation(v2)
	if !ok {
		t.Fatalf("Rotation(%s) not found", v2)
	}
	if err := r.Wait(timeout(t)); err != nil {
		t.Fatalf("rotation failed: %v", err)
	}
	if r.Attempts() != 1 || r.FunctionARN != fnARN || r.SecretARN != fx.arn || r.TestOnly {
		t.Errorf("rotation: attempts %d, function %s, secret %s, test-only %v; want 1, %s, %s, false",
			r.Attempts(), r.FunctionARN, r.SecretARN, r.TestOnly, fnARN, fx.arn)
	}

	evs := fx.r.evs()
	if diff := cmp.Diff([]string{"createSecret", "setSecret", "testSecret", "finishSecret"}, fx.r.steps()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	for i, ev := range evs {
		if ev.SecretID != fx.arn {
			t.Errorf("event %d SecretId = %q, want the full ARN %q", i, ev.SecretID, fx.arn)
		}
		if ev.ClientRequestToken != v2 {
			t.Errorf("event %d ClientRequestToken = %q, want %q", i, ev.ClientRequestToken, v2)
		}
		if !rotationTokenRE.MatchString(ev.RotationToken) {
			t.Errorf("event %d RotationToken has length %d or characters outside [a-zA-Z0-9-]", i, len(ev.RotationToken))
		}
		if ev.RotationToken != evs[0].RotationToken {
			t.Errorf("event %d RotationToken differs from the first step's", i)
		}
	}
	fx.r.mu.Lock()
	if diff := cmp.Diff([]string{fnARN, fnARN, fnARN, fnARN}, fx.r.fns); diff != "" {
		t.Errorf("function ARNs invoked (-want +got):\n%s", diff)
	}
	fx.r.mu.Unlock()

	if diff := cmp.Diff([]string{localsm.EventRotationStarted, localsm.EventRotationSucceeded}, eventNames(fx.f)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, e := range fx.f.Events() {
		if e.VersionID != v2 || e.SecretARN != fx.arn {
			t.Errorf("event %s carries %s/%s, want %s/%s", e.Name, e.SecretARN, e.VersionID, fx.arn, v2)
		}
	}

	// AWSPENDING removed, AWSPREVIOUS on the old version.
	if diff := cmp.Diff(map[string][]string{v1: {prev}, v2: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	s, _ := fx.f.Secret("db")
	v, _ := s.Version(v2)
	if v.RotationToken != evs[0].RotationToken {
		t.Errorf("the new version does not carry the rotation's RotationToken")
	}
	got, err := fx.f.GetSecretValue(timeout(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("s3cret+", aws.ToString(got.SecretString)); diff != "" {
		t.Errorf("AWSCURRENT value (-want +got):\n%s", diff)
	}
	d, err := fx.f.DescribeSecret(timeout(t), &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(aws.Time(t0), d.LastRotatedDate); diff != "" {
		t.Errorf("LastRotatedDate (-want +got):\n%s", diff)
	}
	if !aws.ToBool(d.RotationEnabled) || aws.ToString(d.RotationLambdaARN) != fnARN {
		t.Errorf("RotationEnabled %v, RotationLambdaARN %v; want true, %s", d.RotationEnabled, d.RotationLambdaARN, fnARN)
	}
	if d.RotationRules != nil || d.NextRotationDate != nil {
		t.Errorf("RotationRules %v, NextRotationDate %v; want nil without rules", d.RotationRules, d.NextRotationDate)
	}

	// A second rotation uses the stored function.
	r2, err := fx.f.Rotate(timeout(t), &secretsmanager.RotateSecretInput{SecretId: aws.String("db"), ClientRequestToken: aws.String(v3)})
	if err != nil {
		t.Fatalf("second Rotate: %v", err)
	}
	if r2.FunctionARN != fnARN {
		t.Errorf("second rotation used %q, want %q", r2.FunctionARN, fnARN)
	}
	if diff := cmp.Diff(map[string][]string{v2: {prev}, v3: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
		t.Errorf("labels after the second rotation (-want +got):\n%s", diff)
	}
	if len(fx.f.Rotations()) != 2 {
		t.Errorf("Rotations() has %d entries, want 2", len(fx.f.Rotations()))
	}
}

// TestRotatePlaceholder: while createSecret runs, the version exists with
// only AWSPENDING and no value.
func TestRotatePlaceholder(t *testing.T) {
	fx := newFixture(t, localsm.Options{})
	var seen struct {
		labels map[string][]string
		errID  error
		errSt  error
	}
	fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
		if ev.Step != string(rotation.StepCreate) {
			return nil
		}
		ctx := context.Background()
		d, err := fx.f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
		if err != nil {
			return err
		}
		seen.labels = d.VersionIdsToStages
		_, seen.errID = fx.f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionId: aws.String(ev.ClientRequestToken)})
		_, seen.errSt = fx.f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionStage: aws.String(pend)})
		return nil
	}
	if _, err := fx.f.Rotate(timeout(t), rotateInput(v2)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{v1: {cur}, v2: {pend}}, seen.labels); diff != "" {
		t.Errorf("labels during createSecret (-want +got):\n%s", diff)
	}
	wantAPIError(t, "GetSecretValue(placeholder id)", seen.errID, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: "+v2)
	wantAPIError(t, "GetSecretValue(AWSPENDING placeholder)", seen.errSt, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSPENDING")
	s, _ := fx.f.Secret("db")
	if len(s.Versions) != 2 {
		t.Errorf("%d versions after the rotation, want 2 (filling in makes no second version)", len(s.Versions))
	}
}

func TestRotateFailure(t *testing.T) {
	for i, step := range rotation.Steps() {
		t.Run(string(step), func(t *testing.T) {
			fx := newFixture(t, localsm.Options{RotationAttempts: 3})
			boom := errors.New("boom")
			fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
				if ev.Step == string(step) {
					return boom
				}
				return nil
			}
			r, err := fx.f.Rotate(timeout(t), rotateInput(v2))
			var sf *localsm.StepFailedError
			if !errors.As(err, &sf) {
				t.Fatalf("Rotate: err = %v, want *StepFailedError", err)
			}
			if sf.Step != step || sf.FunctionARN != fnARN || !errors.Is(err, boom) {
				t.Errorf("StepFailedError = %+v, want step %s, function %s, wrapping boom", sf, step, fnARN)
			}
			wantMsg := fmt.Sprintf("Error when executing lambda %s during %s step", fnARN, step)
			if !strings.HasPrefix(err.Error(), wantMsg) {
				t.Errorf("error %q does not start with %q", err, wantMsg)
			}
			if r.Attempts() != 3 {
				t.Errorf("Attempts = %d, want 3", r.Attempts())
			}

			// Each attempt stops at the failing step.
			var once []string
			for _, s := range rotation.Steps()[:i+1] {
				once = append(once, string(s))
			}
			want := slices.Concat(once, once, once)
			if diff := cmp.Diff(want, fx.r.steps()); diff != "" {
				t.Errorf("steps invoked (-want +got):\n%s", diff)
			}
			for j, ev := range fx.r.evs() {
				if ev.ClientRequestToken != v2 {
					t.Errorf("invocation %d ClientRequestToken = %s, want %s", j, ev.ClientRequestToken, v2)
				}
			}
			failed := localsm.EventRotationFailed + ":" + string(step)
			if diff := cmp.Diff([]string{
				localsm.EventRotationStarted, failed,
				localsm.EventRotationStarted, failed,
				localsm.EventRotationStarted, failed,
			}, eventNames(fx.f)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			for _, e := range fx.f.Events() {
				if e.Name == localsm.EventRotationFailed && !strings.HasPrefix(e.Message, wantMsg) {
					t.Errorf("RotationFailed message %q does not start with %q", e.Message, wantMsg)
				}
			}

			// The pending version stays; AWSCURRENT is untouched.
			s, _ := fx.f.Secret("db")
			p, ok := s.Staged(pend)
			if !ok || p.ID != v2 {
				t.Errorf("AWSPENDING is on %q (%v), want %s", p.ID, ok, v2)
			}
			if c, _ := s.Staged(cur); c.ID != v1 {
				t.Errorf("AWSCURRENT is on %s, want %s", c.ID, v1)
			}
			if wantPlaceholder := step == rotation.StepCreate; p.Placeholder() != wantPlaceholder {
				t.Errorf("pending version Placeholder() = %v, want %v", p.Placeholder(), wantPlaceholder)
			}
			if !s.LastRotatedDate.IsZero() {
				t.Errorf("LastRotatedDate = %v after a failed rotation, want unset", s.LastRotatedDate)
			}

			// A later RotateSecret is refused.
			_, err = fx.f.RotateSecret(timeout(t), rotateInput(v3))
			var ir *types.InvalidRequestException
			if !errors.As(err, &ir) {
				t.Errorf("RotateSecret after the failure: err = %v, want InvalidRequestException", err)
			}
			wantAPIError(t, "RotateSecret after the failure", err, "InvalidRequestException", msgPrevious)
		})
	}
}

func TestRotateRetrySucceeds(t *testing.T) {
	fx := newFixture(t, localsm.Options{RotationAttempts: 3})
	var mu sync.Mutex
	failed := false
	fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
		mu.Lock()
		defer mu.Unlock()
		if ev.Step == string(rotation.StepSet) && !failed {
			failed = true
			return errors.New("transient")
		}
		return nil
	}
	r, err := fx.f.Rotate(timeout(t), rotateInput(v2))
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if r.Attempts() != 2 {
		t.Errorf("Attempts = %d, want 2", r.Attempts())
	}
	if diff := cmp.Diff([]string{
		"createSecret", "setSecret",
		"createSecret", "setSecret", "testSecret", "finishSecret",
	}, fx.r.steps()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		localsm.EventRotationStarted, localsm.EventRotationFailed + ":setSecret",
		localsm.EventRotationStarted, localsm.EventRotationSucceeded,
	}, eventNames(fx.f)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for i, ev := range fx.r.evs() {
		if ev.ClientRequestToken != v2 {
			t.Errorf("invocation %d ClientRequestToken = %s, want %s", i, ev.ClientRequestToken, v2)
		}
	}
	if diff := cmp.Diff(map[string][]string{v1: {prev}, v2: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	s, _ := fx.f.Secret("db")
	if len(s.Versions) != 2 {
		t.Errorf("%d versions, want 2", len(s.Versions))
	}
}

func TestRotateFinishWithoutMovingCurrent(t *testing.T) {
	fx := newFixture(t, localsm.Options{RotationAttempts: 2})
	fx.r.noFinish = true
	_, err := fx.f.Rotate(timeout(t), rotateInput(v2))
	var sf *localsm.StepFailedError
	if !errors.As(err, &sf) || sf.Step != rotation.StepFinish {
		t.Fatalf("Rotate: err = %v, want a finishSecret StepFailedError", err)
	}
	if diff := cmp.Diff([]string{
		localsm.EventRotationStarted, localsm.EventRotationFailed + ":finishSecret",
		localsm.EventRotationStarted, localsm.EventRotationFailed + ":finishSecret",
	}, eventNames(fx.f)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{v1: {cur}, v2: {pend}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

func TestRotatePanickingInvoker(t *testing.T) {
	fx := newFixture(t, localsm.Options{RotationAttempts: 1})
	fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
		if ev.Step == string(rotation.StepTest) {
			panic("crash in testSecret")
		}
		return nil
	}
	_, err := fx.f.Rotate(timeout(t), rotateInput(v2))
	var sf *localsm.StepFailedError
	if !errors.As(err, &sf) || sf.Step != rotation.StepTest {
		t.Fatalf("Rotate: err = %v, want a testSecret StepFailedError", err)
	}
	if !strings.Contains(err.Error(), "crash in testSecret") {
		t.Errorf("error %q does not mention the panic", err)
	}
	if diff := cmp.Diff([]string{"createSecret", "setSecret", "testSecret"}, fx.r.steps()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

func TestStrictRotationToken(t *testing.T) {
	tests := []struct {
		strict, omit bool
		wantErr      bool
	}{
		{strict: true, omit: true, wantErr: true},
		{strict: true, omit: false},
		{strict: false, omit: true},
		{strict: false, omit: false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("strict=%v,omit=%v", tt.strict, tt.omit), func(t *testing.T) {
			fx := newFixture(t, localsm.Options{StrictRotationToken: tt.strict, RotationAttempts: 1})
			fx.r.omitToken = tt.omit
			_, err := fx.f.Rotate(timeout(t), rotateInput(v2))
			if !tt.wantErr {
				if err != nil {
					t.Errorf("Rotate: %v", err)
				}
				return
			}
			var sf *localsm.StepFailedError
			if !errors.As(err, &sf) || sf.Step != rotation.StepCreate {
				t.Fatalf("Rotate: err = %v, want a createSecret StepFailedError", err)
			}
			want := fmt.Sprintf("Pending secret version %s for Secret db was not created by Lambda %s.", v2, fnARN)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
			if diff := cmp.Diff([]string{"createSecret"}, fx.r.steps()); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("token from another rotation", func(t *testing.T) {
		// createSecret writes the version itself, but with a token the
		// service never issued.
		fx := newFixture(t, localsm.Options{StrictRotationToken: true, RotationAttempts: 1})
		fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step != string(rotation.StepCreate) {
				return nil
			}
			_, err := fx.f.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
				SecretId: aws.String(ev.SecretID), ClientRequestToken: aws.String(ev.ClientRequestToken),
				SecretString: aws.String("forged"), VersionStages: []string{pend},
				RotationToken: aws.String("00000000-0000-0000-0000-000000000000-forged"),
			})
			return err
		}
		_, err := fx.f.Rotate(timeout(t), rotateInput(v2))
		if err == nil || !strings.Contains(err.Error(), "was not created by Lambda") {
			t.Errorf("Rotate: err = %v, want the was-not-created-by-Lambda failure", err)
		}
	})
}

// TestStepErrorHidesRotationToken: a function error that echoes its event
// must not carry the RotationToken into the rotation's error or the
// RotationFailed event, which secretsmanager-local logs; the cause stays
// reachable with errors.As.
func TestStepErrorHidesRotationToken(t *testing.T) {
	fx := newFixture(t, localsm.Options{RotationAttempts: 1})
	var tok string
	fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
		tok = ev.RotationToken
		return &localsm.FunctionError{Type: "ValueError", Message: fmt.Sprintf("bad event %+v", ev)}
	}
	_, err := fx.f.Rotate(timeout(t), rotateInput(v2))
	var fe *localsm.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("Rotate: err = %v, want a FunctionError", err)
	}
	if tok == "" {
		t.Fatal("the function saw no RotationToken")
	}
	if !strings.Contains(err.Error(), "bad event") || strings.Contains(err.Error(), tok) {
		t.Errorf("Rotate error %q: want the function's message without the RotationToken", err)
	}
	var failed int
	for _, e := range fx.f.Events() {
		if e.Name == localsm.EventRotationFailed {
			failed++
			if strings.Contains(e.Message, tok) || !strings.Contains(e.Message, "bad event") {
				t.Errorf("RotationFailed message %q: want the function's message without the RotationToken", e.Message)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d RotationFailed events, want 1", failed)
	}
}

func TestRotateImmediatelyFalse(t *testing.T) {
	fx := newFixture(t, localsm.Options{})
	seed(t, fx.f, "db", ver(v1, prev), localsm.Version{ID: v2, SecretString: aws.String("s3cret"), Stages: []string{cur, "X"}})
	var during map[string][]string
	fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
		d, err := fx.f.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
		if err != nil {
			return err
		}
		during = d.VersionIdsToStages
		return nil
	}
	in := rotateInput(v3)
	in.RotateImmediately = aws.Bool(false)
	r, err := fx.f.Rotate(timeout(t), in)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if !r.TestOnly {
		t.Errorf("TestOnly = false, want true")
	}
	if diff := cmp.Diff([]string{"testSecret"}, fx.r.steps()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{v1: {prev}, v2: {cur, "X"}, v3: {pend}}, during, sortStrings); diff != "" {
		t.Errorf("labels during testSecret (-want +got):\n%s", diff)
	}
	fx.r.mu.Lock()
	if diff := cmp.Diff([]string{"s3cret"}, fx.r.tested); diff != "" {
		t.Errorf("value testSecret read from AWSPENDING (-want +got):\n%s", diff)
	}
	fx.r.mu.Unlock()
	if diff := cmp.Diff(map[string][]string{v1: {prev}, v2: {cur, "X"}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
		t.Errorf("labels afterwards (-want +got):\n%s", diff)
	}
	s, _ := fx.f.Secret("db")
	if _, ok := s.Version(v3); ok {
		t.Errorf("the test version %s is still there", v3)
	}
	if diff := cmp.Diff([]string{localsm.EventTestRotationStarted, localsm.EventTestRotationSucceeded}, eventNames(fx.f)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if !s.LastRotatedDate.IsZero() {
		t.Errorf("LastRotatedDate = %v after a test rotation, want unset", s.LastRotatedDate)
	}
	if s.RotationEnabled == nil || !*s.RotationEnabled {
		t.Errorf("RotationEnabled = %v, want true", s.RotationEnabled)
	}

	t.Run("failing test", func(t *testing.T) {
		fx := newFixture(t, localsm.Options{RotationAttempts: 3})
		fx.r.before = func(events.SecretsManagerSecretRotationEvent) error { return errors.New("bad config") }
		in := rotateInput(v2)
		in.RotateImmediately = aws.Bool(false)
		_, err := fx.f.Rotate(timeout(t), in)
		var sf *localsm.StepFailedError
		if !errors.As(err, &sf) || sf.Step != rotation.StepTest {
			t.Errorf("Rotate: err = %v, want a testSecret StepFailedError", err)
		}
		if diff := cmp.Diff([]string{localsm.EventTestRotationStarted, localsm.EventTestRotationFailed + ":testSecret"}, eventNames(fx.f)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string][]string{v1: {cur}}, labels(t, fx.f, "db")); diff != "" {
			t.Errorf("labels afterwards (-want +got):\n%s", diff)
		}
		// Nothing is left pending, so a real rotation may start.
		if _, err := fx.f.RotateSecret(timeout(t), rotateInput(v3)); err != nil {
			t.Errorf("RotateSecret after a failed test: %v", err)
		}
		_ = fx.f.Wait(timeout(t))
	})
}

// TestManualPutAbandonsRotation: a PutSecretValue with default stages
// during a rotation removes AWSPENDING and records RotationAbandoned.
func TestManualPutAbandonsRotation(t *testing.T) {
	fx := newFixture(t, localsm.Options{RotationAttempts: 3})
	inSet := make(chan struct{})
	release := make(chan struct{})
	fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
		if ev.Step == string(rotation.StepSet) {
			close(inSet)
			<-release
			return errors.New("target rejected the new password")
		}
		return nil
	}
	if _, err := fx.f.RotateSecret(timeout(t), rotateInput(v2)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inSet:
	case <-time.After(5 * time.Second):
		t.Fatal("setSecret was never invoked")
	}
	if _, err := fx.f.PutSecretValue(timeout(t), putInput("db", v3, "manual")); err != nil {
		t.Fatalf("manual PutSecretValue: %v", err)
	}
	if diff := cmp.Diff(map[string][]string{v1: {prev}, v3: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
		t.Errorf("labels after the manual put (-want +got):\n%s", diff)
	}
	s, _ := fx.f.Secret("db")
	if _, ok := s.Staged(pend); ok {
		t.Errorf("AWSPENDING still attached after the manual put")
	}
	close(release)
	r, _ := fx.f.Rotation(v2)
	if err := r.Wait(timeout(t)); err == nil {
		t.Errorf("abandoned rotation reported success")
	}
	if r.Attempts() > 2 {
		t.Errorf("abandoned rotation was attempted %d times; it should stop once AWSPENDING is gone", r.Attempts())
	}
	names := eventNames(fx.f)
	if !slices.Contains(names, localsm.EventRotationAbandoned) {
		t.Errorf("events %v lack RotationAbandoned", names)
	}
	for _, e := range fx.f.Events() {
		if e.Name == localsm.EventRotationAbandoned && e.VersionID != v2 {
			t.Errorf("RotationAbandoned names version %s, want %s", e.VersionID, v2)
		}
	}
	if diff := cmp.Diff(map[string][]string{v1: {prev}, v3: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
		t.Errorf("labels at the end (-want +got):\n%s", diff)
	}
	// Nothing is pending any more: a new rotation may start.
	fx.r.before = nil
	if _, err := fx.f.Rotate(timeout(t), rotateInput(vid(4))); err != nil {
		t.Errorf("Rotate after the abandoned rotation: %v", err)
	}

	t.Run("UpdateSecret", func(t *testing.T) {
		fx := newFixture(t, localsm.Options{})
		seed(t, fx.f, "db", ver(v1, cur), ver(v2, pend))
		if _, err := fx.f.UpdateSecret(timeout(t), &secretsmanager.UpdateSecretInput{SecretId: aws.String("db"), SecretString: aws.String("manual"), ClientRequestToken: aws.String(v3)}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string][]string{v1: {prev}, v3: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{localsm.EventRotationAbandoned}, eventNames(fx.f)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})

	t.Run("PutSecretValue with AWSPENDING does not abandon", func(t *testing.T) {
		fx := newFixture(t, localsm.Options{})
		seed(t, fx.f, "db", ver(v1, cur), ver(v2, pend))
		if _, err := fx.f.PutSecretValue(timeout(t), putInput("db", v3, "x", "X")); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string][]string{v1: {cur}, v2: {pend}, v3: {"X"}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
		if len(fx.f.Events()) != 0 {
			t.Errorf("events %v, want none", eventNames(fx.f))
		}
	})
}

func TestCancelRotateSecret(t *testing.T) {
	fx := newFixture(t, localsm.Options{RotationAttempts: 3})
	fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
		if ev.Step == string(rotation.StepTest) {
			return errors.New("fails")
		}
		return nil
	}
	in := rotateInput(v2)
	in.RotationRules = &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1)}
	if _, err := fx.f.Rotate(timeout(t), in); err == nil {
		t.Fatal("Rotate succeeded, want failure")
	}
	out, err := fx.f.CancelRotateSecret(timeout(t), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String("db")})
	if err != nil {
		t.Fatalf("CancelRotateSecret: %v", err)
	}
	if diff := cmp.Diff(v2, aws.ToString(out.VersionId)); diff != "" {
		t.Errorf("CancelRotateSecret VersionId (-want +got):\n%s", diff)
	}
	d, err := fx.f.DescribeSecret(timeout(t), &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
	if err != nil {
		t.Fatal(err)
	}
	if d.RotationEnabled == nil || *d.RotationEnabled {
		t.Errorf("RotationEnabled = %v, want false (not nil)", d.RotationEnabled)
	}
	if d.NextRotationDate != nil {
		t.Errorf("NextRotationDate = %v, want nil", d.NextRotationDate)
	}
	if diff := cmp.Diff(map[string][]string{v1: {cur}, v2: {pend}}, d.VersionIdsToStages, sortStrings); diff != "" {
		t.Errorf("labels: AWSPENDING must stay (-want +got):\n%s", diff)
	}
	// Nothing is due while rotation is off.
	fx.clock.Advance(72 * time.Hour)
	ran, err := fx.f.RunDue(timeout(t))
	if err != nil || len(ran) != 0 {
		t.Errorf("RunDue after cancel ran %d rotations (%v), want none", len(ran), err)
	}

	t.Run("during a rotation", func(t *testing.T) {
		fx := newFixture(t, localsm.Options{RotationAttempts: 3})
		inSet := make(chan struct{})
		release := make(chan struct{})
		fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step == string(rotation.StepSet) {
				select {
				case <-inSet:
				default:
					close(inSet)
				}
				<-release
				return errors.New("fails")
			}
			return nil
		}
		if _, err := fx.f.RotateSecret(timeout(t), rotateInput(v2)); err != nil {
			t.Fatal(err)
		}
		<-inSet
		if _, err := fx.f.CancelRotateSecret(timeout(t), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String("db")}); err != nil {
			t.Fatal(err)
		}
		close(release)
		r, _ := fx.f.Rotation(v2)
		if err := r.Wait(timeout(t)); err == nil {
			t.Errorf("cancelled rotation succeeded")
		}
		if r.Attempts() > 2 {
			t.Errorf("cancelled rotation was attempted %d times, want it to stop after the current attempt", r.Attempts())
		}
		if diff := cmp.Diff(map[string][]string{v1: {cur}, v2: {pend}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
	})
}

func TestSchedules(t *testing.T) {
	tests := []struct {
		name  string
		rules types.RotationRulesType
		next  time.Time // after a rotation at t0 (2024-01-10 10:30 UTC)
		next2 time.Time // after the scheduled rotation at next
	}{
		{
			name:  "AutomaticallyAfterDays=1",
			rules: types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1)},
			next:  time.Date(2024, 1, 11, 0, 0, 0, 0, time.UTC),
			next2: time.Date(2024, 1, 12, 0, 0, 0, 0, time.UTC),
		},
		{
			name:  "rate(4 hours)",
			rules: types.RotationRulesType{ScheduleExpression: aws.String("rate(4 hours)")},
			next:  time.Date(2024, 1, 10, 14, 0, 0, 0, time.UTC),
			next2: time.Date(2024, 1, 10, 18, 0, 0, 0, time.UTC),
		},
		{
			name:  "rate(2 days)",
			rules: types.RotationRulesType{ScheduleExpression: aws.String("rate(2 days)"), Duration: aws.String("3h")},
			next:  time.Date(2024, 1, 12, 0, 0, 0, 0, time.UTC),
			next2: time.Date(2024, 1, 14, 0, 0, 0, 0, time.UTC),
		},
		{
			name:  "cron(0 16 * * ? *)",
			rules: types.RotationRulesType{ScheduleExpression: aws.String("cron(0 16 * * ? *)")},
			next:  time.Date(2024, 1, 10, 16, 0, 0, 0, time.UTC),
			next2: time.Date(2024, 1, 11, 16, 0, 0, 0, time.UTC),
		},
		{
			name:  "cron(0 8 ? * MON *)",
			rules: types.RotationRulesType{ScheduleExpression: aws.String("cron(0 8 ? * MON *)")},
			next:  time.Date(2024, 1, 15, 8, 0, 0, 0, time.UTC),
			next2: time.Date(2024, 1, 22, 8, 0, 0, 0, time.UTC),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, localsm.Options{})
			in := rotateInput(v2)
			rules := tt.rules
			in.RotationRules = &rules
			if _, err := fx.f.Rotate(timeout(t), in); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			d, err := fx.f.DescribeSecret(timeout(t), &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(aws.Time(tt.next), d.NextRotationDate); diff != "" {
				t.Errorf("NextRotationDate (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&rules, d.RotationRules, ignoreSDK); diff != "" {
				t.Errorf("RotationRules (-want +got):\n%s", diff)
			}

			// Not yet due.
			fx.clock.Set(tt.next.Add(-time.Second))
			ran, err := fx.f.RunDue(timeout(t))
			if err != nil || len(ran) != 0 {
				t.Errorf("RunDue before the window ran %d rotations (%v), want none", len(ran), err)
			}
			// Due.
			fx.clock.Set(tt.next)
			ran, err = fx.f.RunDue(timeout(t))
			if err != nil {
				t.Fatalf("RunDue: %v", err)
			}
			if len(ran) != 1 {
				t.Fatalf("RunDue ran %d rotations, want 1", len(ran))
			}
			if err := ran[0].Err(); err != nil {
				t.Errorf("scheduled rotation failed: %v", err)
			}
			newID := ran[0].VersionID
			if newID == v2 {
				t.Errorf("scheduled rotation reused the token of the finished rotation")
			}
			if diff := cmp.Diff(map[string][]string{v2: {prev}, newID: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
				t.Errorf("labels after the scheduled rotation (-want +got):\n%s", diff)
			}
			d, err = fx.f.DescribeSecret(timeout(t), &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(aws.Time(tt.next), d.LastRotatedDate); diff != "" {
				t.Errorf("LastRotatedDate (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(aws.Time(tt.next2), d.NextRotationDate); diff != "" {
				t.Errorf("NextRotationDate after the scheduled rotation (-want +got):\n%s", diff)
			}
			// Running again at the same instant does nothing.
			if ran, _ := fx.f.RunDue(timeout(t)); len(ran) != 0 {
				t.Errorf("second RunDue ran %d rotations, want none", len(ran))
			}
		})
	}
}

// TestRunDueReattemptsPending: a rotation that failed leaves AWSPENDING;
// the next window reattempts it with the same token.
func TestRunDueReattemptsPending(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			fx := newFixture(t, localsm.Options{RotationAttempts: 2, StrictRotationToken: strict})
			var mu sync.Mutex
			broken := true
			fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
				mu.Lock()
				defer mu.Unlock()
				if broken && ev.Step == string(rotation.StepSet) {
					return errors.New("target down")
				}
				return nil
			}
			in := rotateInput(v2)
			in.RotationRules = &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1)}
			if _, err := fx.f.Rotate(timeout(t), in); err == nil {
				t.Fatal("Rotate succeeded, want failure")
			}
			d, err := fx.f.DescribeSecret(timeout(t), &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
			if err != nil {
				t.Fatal(err)
			}
			if d.NextRotationDate == nil {
				t.Fatalf("NextRotationDate unset after a failed rotation: it would never be reattempted")
			}
			mu.Lock()
			broken = false
			mu.Unlock()
			fx.clock.Set(*d.NextRotationDate)
			ran, err := fx.f.RunDue(timeout(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(ran) != 1 {
				t.Fatalf("RunDue ran %d rotations, want 1", len(ran))
			}
			if ran[0].VersionID != v2 {
				t.Errorf("reattempt used token %s, want the pending %s", ran[0].VersionID, v2)
			}
			if err := ran[0].Err(); err != nil {
				t.Errorf("reattempt failed: %v", err)
			}
			if diff := cmp.Diff(map[string][]string{v1: {prev}, v2: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			for _, ev := range fx.r.evs() {
				if ev.ClientRequestToken != v2 {
					t.Errorf("invocation with ClientRequestToken %s, want %s", ev.ClientRequestToken, v2)
				}
			}
		})
	}
}

func TestInvalidRotationRules(t *testing.T) {
	tests := []struct {
		name  string
		rules types.RotationRulesType
	}{
		{"days and expression", types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1), ScheduleExpression: aws.String("rate(1 days)")}},
		{"days 1001", types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1001)}},
		{"days -1", types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(-1)}},
		{"rate(1 hours)", types.RotationRulesType{ScheduleExpression: aws.String("rate(1 hours)")}},
		{"rate(1000 days)", types.RotationRulesType{ScheduleExpression: aws.String("rate(1000 days)")}},
		{"rate(4 weeks)", types.RotationRulesType{ScheduleExpression: aws.String("rate(4 weeks)")}},
		{"cron minutes not 0", types.RotationRulesType{ScheduleExpression: aws.String("cron(5 10 * * ? *)")}},
		{"cron year not *", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 10 * * ? 2030)")}},
		{"cron both days", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 10 1 * MON *)")}},
		{"cron hours too close", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 1,2 * * ? *)")}},
		{"bad characters", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 10 * * ? *);")}},
		{"duration 100h", types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1), Duration: aws.String("100h")}},
		{"duration 25h", types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1), Duration: aws.String("25h")}},
		{"duration 0h", types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1), Duration: aws.String("0h")}},
		{"duration beyond the hourly window", types.RotationRulesType{ScheduleExpression: aws.String("rate(4 hours)"), Duration: aws.String("5h")}},
		{"no rule", types.RotationRulesType{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, perr := schedule.Parse(schedule.Rules{
				AutomaticallyAfterDays: aws.ToInt64(tt.rules.AutomaticallyAfterDays),
				ScheduleExpression:     aws.ToString(tt.rules.ScheduleExpression),
				Duration:               aws.ToString(tt.rules.Duration),
			})
			var se *schedule.Error
			if !errors.As(perr, &se) {
				t.Fatalf("schedule.Parse accepted %s (err %v); fix the test table", tt.name, perr)
			}
			fx := newFixture(t, localsm.Options{})
			before, _ := fx.f.Secret("db")
			in := rotateInput(v2)
			rules := tt.rules
			in.RotationRules = &rules
			_, err := fx.f.RotateSecret(timeout(t), in)
			wantAPIError(t, "RotateSecret", err, se.Code, se.Message)
			if se.Code == schedule.CodeInvalidParameter {
				var ip *types.InvalidParameterException
				if !errors.As(err, &ip) {
					t.Errorf("errors.As(%v, *types.InvalidParameterException) = false", err)
				}
			}
			after, _ := fx.f.Secret("db")
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("rejected RotateSecret changed the secret (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("AutomaticallyAfterDays explicitly 0", func(t *testing.T) {
		// schedule.Rules cannot tell 0 from unset; the API model's range
		// 1-1000 makes an explicit 0 a ValidationException.
		fx := newFixture(t, localsm.Options{})
		in := rotateInput(v2)
		in.RotationRules = &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(0)}
		_, err := fx.f.RotateSecret(timeout(t), in)
		wantAPIError(t, "RotateSecret", err, "ValidationException", "")
	})
}

func TestLambdaInvoker(t *testing.T) {
	ev := events.SecretsManagerSecretRotationEvent{
		Step: "createSecret", SecretID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
		ClientRequestToken: v2, RotationToken: "11111111-2222-3333-4444-555555555555",
	}
	tests := []struct {
		name      string
		arn       string
		status    int
		header    string
		body      string
		wantPath  string
		wantQuery string
		wantErr   bool
		wantFnErr *localsm.FunctionError
	}{
		{
			name: "success", arn: "arn:aws:lambda:us-east-1:123456789012:function:rotator",
			status: 200, body: "null", wantPath: "/2015-03-31/functions/rotator/invocations",
		},
		{
			name: "qualified ARN", arn: "arn:aws:lambda:us-east-1:123456789012:function:rotator:live",
			status: 200, body: "null", wantPath: "/2015-03-31/functions/rotator/invocations", wantQuery: "Qualifier=live",
		},
		{
			name: "version-qualified ARN", arn: "arn:aws:lambda:us-east-1:123456789012:function:rotator:7",
			status: 200, body: "null", wantPath: "/2015-03-31/functions/rotator/invocations", wantQuery: "Qualifier=7",
		},
		{
			name: "plain name", arn: "function",
			status: 200, body: `{"ok":true}`, wantPath: "/2015-03-31/functions/function/invocations",
		},
		{
			name: "emulator error: 200 without header", arn: fnARN,
			status: 200, body: `{"errorMessage":"boom","errorType":"errorString"}`,
			wantPath: "/2015-03-31/functions/rotator/invocations", wantErr: true,
			wantFnErr: &localsm.FunctionError{Type: "errorString", Message: "boom"},
		},
		{
			name: "AWS error: X-Amz-Function-Error", arn: fnARN,
			status: 200, header: "Unhandled", body: `{"errorMessage":"bad","errorType":"Runtime.ExitError"}`,
			wantPath: "/2015-03-31/functions/rotator/invocations", wantErr: true,
			wantFnErr: &localsm.FunctionError{Type: "Runtime.ExitError", Message: "bad"},
		},
		{
			name: "5xx", arn: fnARN, status: 502, body: "bad gateway",
			wantPath: "/2015-03-31/functions/rotator/invocations", wantErr: true,
		},
		{
			name: "4xx", arn: fnARN, status: 404, body: `{"Message":"Function not found"}`,
			wantPath: "/2015-03-31/functions/rotator/invocations", wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				gotPath, gotMethod, gotQuery string
				gotBody                      []byte
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath, gotMethod, gotQuery = r.URL.Path, r.Method, r.URL.RawQuery
				gotBody, _ = io.ReadAll(r.Body)
				if tt.header != "" {
					w.Header().Set("X-Amz-Function-Error", tt.header)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			inv := localsm.LambdaInvoker{Endpoint: srv.URL + "/", Client: srv.Client()}
			err := inv.Invoke(timeout(t), tt.arn, ev)
			if (err != nil) != tt.wantErr {
				t.Errorf("Invoke: err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantFnErr != nil {
				var fe *localsm.FunctionError
				if !errors.As(err, &fe) {
					t.Errorf("err = %v (%T), want *FunctionError", err, err)
				} else if diff := cmp.Diff(tt.wantFnErr, fe); diff != "" {
					t.Errorf("FunctionError (-want +got):\n%s", diff)
				}
			}
			if gotMethod != http.MethodPost || gotPath != tt.wantPath || gotQuery != tt.wantQuery {
				t.Errorf("request %s %s?%s, want POST %s?%s", gotMethod, gotPath, gotQuery, tt.wantPath, tt.wantQuery)
			}
			want := `{"Step":"createSecret","SecretId":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf","ClientRequestToken":"` + v2 + `","RotationToken":"11111111-2222-3333-4444-555555555555"}`
			if diff := cmp.Diff(want, string(gotBody)); diff != "" {
				t.Errorf("request body (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("drives a rotation", func(t *testing.T) {
		// A function that fails every createSecret: the fake records the
		// failure through the HTTP invoker.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"errorMessage":"boom","errorType":"errorString"}`)
		}))
		defer srv.Close()
		f := localsm.New(localsm.Options{Invoker: localsm.LambdaInvoker{Endpoint: srv.URL, Client: srv.Client()}, RotationAttempts: 1})
		seed(t, f, "db", ver(v1, cur))
		_, err := f.Rotate(timeout(t), rotateInput(v2))
		var fe *localsm.FunctionError
		var sf *localsm.StepFailedError
		if !errors.As(err, &sf) || sf.Step != rotation.StepCreate || !errors.As(err, &fe) || fe.Message != "boom" {
			t.Errorf("Rotate: err = %v, want a createSecret failure wrapping FunctionError boom", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		err := localsm.LambdaInvoker{Endpoint: url}.Invoke(timeout(t), fnARN, ev)
		if err == nil {
			t.Errorf("Invoke against a closed server succeeded")
		}
	})
}

// TestConcurrentRotation: many goroutines use the API while a rotation
// runs; run with -race.
func TestConcurrentRotation(t *testing.T) {
	fx := newFixture(t, localsm.Options{StrictRotationToken: true})
	seed(t, fx.f, "other", ver(v1, cur))
	ctx := timeout(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tok := fmt.Sprintf("%08d-%04d-4000-8000-000000000000", g+10, i%10000)
				// Custom labels only: a default-stage put would abandon the
				// rotation on "db".
				if _, err := fx.f.PutSecretValue(ctx, putInput("db", tok, "c"+tok, fmt.Sprintf("G%d", g))); err != nil {
					var re *types.ResourceExistsException
					if !errors.As(err, &re) {
						t.Errorf("PutSecretValue: %v", err)
						return
					}
				}
				if _, err := fx.f.PutSecretValue(ctx, putInput("other", tok, "o"+tok)); err != nil {
					var re *types.ResourceExistsException
					if !errors.As(err, &re) {
						t.Errorf("PutSecretValue other: %v", err)
						return
					}
				}
				if _, err := fx.f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
					t.Errorf("GetSecretValue: %v", err)
					return
				}
				if _, err := fx.f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")}); err != nil {
					t.Errorf("DescribeSecret: %v", err)
					return
				}
				_ = fx.f.Events()
				_ = fx.f.Calls()
			}
		}()
	}
	for i := range 5 {
		if _, err := fx.f.Rotate(ctx, rotateInput(vid(100+i))); err != nil {
			t.Errorf("Rotate %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	if err := fx.f.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := fx.f.Secret("db")
	c, _ := s.Staged(cur)
	if c.ID != vid(104) {
		t.Errorf("AWSCURRENT on %s, want the last rotation's %s", c.ID, vid(104))
	}
	if _, ok := s.Staged(pend); ok {
		t.Errorf("AWSPENDING left after the rotations")
	}
	succeeded := 0
	for _, e := range fx.f.Events() {
		if e.Name == localsm.EventRotationSucceeded {
			succeeded++
		}
	}
	if succeeded != 5 {
		t.Errorf("%d RotationSucceeded events, want 5", succeeded)
	}
}

// TestStepTimeout: StepTimeout is enforced whether or not the invoker
// honours its context, a step that returns after the deadline has timed
// out even if it returns nil, and Fake.Wait waits for an invocation that
// outlives its deadline.
func TestStepTimeout(t *testing.T) {
	const limit = 50 * time.Millisecond
	wantTimeout := func(t *testing.T, err error) {
		t.Helper()
		var sf *localsm.StepFailedError
		if !errors.As(err, &sf) || sf.Step != rotation.StepSet {
			t.Fatalf("err = %v, want a setSecret StepFailedError", err)
		}
		if want := "Task timed out after 0.05 seconds"; !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to say %q", err, want)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("errors.Is(%v, context.DeadlineExceeded) = false", err)
		}
	}

	t.Run("overrun that returns nil", func(t *testing.T) {
		fx := newFixture(t, localsm.Options{StepTimeout: limit, RotationAttempts: 1})
		fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step == string(rotation.StepSet) {
				time.Sleep(6 * limit) // ignores its context, like a blocking driver call
			}
			return nil
		}
		start := time.Now()
		_, err := fx.f.Rotate(timeout(t), rotateInput(v2))
		wantTimeout(t, err)
		if d := time.Since(start); d >= 6*limit {
			t.Errorf("the rotation ended after %v, want it to end at the %v deadline", d, limit)
		}
		if err := fx.f.Wait(timeout(t)); err != nil {
			t.Errorf("Wait: %v", err)
		}
		if diff := cmp.Diff([]string{"createSecret", "setSecret"}, fx.r.steps()); diff != "" {
			t.Errorf("steps (-want +got):\n%s", diff)
		}
	})

	t.Run("honours the context but returns nil", func(t *testing.T) {
		rot := &rotator{}
		inv := localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step == string(rotation.StepSet) {
				<-ctx.Done()
				return nil // the step gave up in time, but reports success
			}
			return rot.Invoke(ctx, fn, ev)
		})
		f := localsm.New(localsm.Options{StepTimeout: limit, RotationAttempts: 1, Invoker: inv})
		rot.f = f
		seed(t, f, "db", localsm.Version{ID: v1, SecretString: aws.String("s3cret"), Stages: []string{cur}})
		_, err := f.Rotate(timeout(t), rotateInput(v2))
		wantTimeout(t, err)
	})

	t.Run("hangs", func(t *testing.T) {
		release := make(chan struct{})
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { close(release) }) })
		fx := newFixture(t, localsm.Options{StepTimeout: limit, RotationAttempts: 2})
		fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step == string(rotation.StepSet) {
				<-release
			}
			return nil
		}
		r, err := fx.f.Rotate(timeout(t), rotateInput(v2))
		wantTimeout(t, err)
		if r.Attempts() != 2 {
			t.Errorf("Attempts = %d, want 2: a timed-out step is retried like any failed one", r.Attempts())
		}
		// The two abandoned invocations still run: Wait waits for them.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := fx.f.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait while abandoned invocations run = %v, want context.DeadlineExceeded", err)
		}
		once.Do(func() { close(release) })
		if err := fx.f.Wait(timeout(t)); err != nil {
			t.Errorf("Wait after the invocations returned: %v", err)
		}
		var names []string
		for _, e := range fx.f.Events() {
			names = append(names, e.Name)
		}
		if slices.Contains(names, localsm.EventRotationSucceeded) {
			t.Errorf("events %v: a late return must not count as success", names)
		}
	})
}

// TestWait: Wait starts no goroutine (none leaks when its context ends
// first), may run concurrently with RotateSecret, and waits for every
// rotation, including one started while it waits.
func TestWait(t *testing.T) {
	t.Run("no goroutine leak", func(t *testing.T) {
		release := make(chan struct{})
		fx := newFixture(t, localsm.Options{})
		fx.r.before = func(events.SecretsManagerSecretRotationEvent) error { <-release; return nil }
		if _, err := fx.f.RotateSecret(timeout(t), rotateInput(v2)); err != nil {
			t.Fatal(err)
		}
		before := runtime.NumGoroutine()
		for i := 0; i < 200; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Microsecond)
			if err := fx.f.Wait(ctx); err == nil {
				t.Fatal("Wait returned nil while a rotation runs")
			}
			cancel()
		}
		if after := runtime.NumGoroutine(); after > before+10 {
			t.Errorf("goroutines: %d before 200 timed-out Waits, %d after", before, after)
		}
		close(release)
		if err := fx.f.Wait(timeout(t)); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})

	t.Run("concurrent with RotateSecret", func(t *testing.T) {
		f := localsm.New(localsm.Options{RotationAttempts: 1, Invoker: localsm.InvokerFunc(func(context.Context, string, events.SecretsManagerSecretRotationEvent) error {
			return errors.New("fails")
		})})
		ctx := context.Background()
		const n = 10
		for i := 0; i < n; i++ {
			seed(t, f, fmt.Sprint("s", i), ver(v1, cur))
		}
		stop := make(chan struct{})
		waiterDone := make(chan struct{})
		go func() {
			defer close(waiterDone)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, cancel := context.WithTimeout(ctx, time.Millisecond)
				_ = f.Wait(c)
				cancel()
			}
		}()
		for round := 0; round < 20; round++ {
			var tokens []string
			for i := 0; i < n; i++ {
				out, err := f.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(fmt.Sprint("s", i)), RotationLambdaARN: aws.String(fnARN)})
				if err != nil {
					t.Fatalf("round %d: RotateSecret: %v", round, err)
				}
				tokens = append(tokens, aws.ToString(out.VersionId))
			}
			if err := f.Wait(timeout(t)); err != nil {
				t.Fatalf("Wait: %v", err)
			}
			for i, tok := range tokens {
				r, ok := f.Rotation(tok)
				if !ok || r.Err() == localsm.ErrRotationRunning {
					t.Fatalf("rotation %s still running after Wait returned", tok)
				}
				if _, err := f.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(fmt.Sprint("s", i)), VersionStage: aws.String(pend), RemoveFromVersionId: aws.String(tok)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		close(stop)
		<-waiterDone
	})
}

// TestStopRotations: after StopRotations no rotation starts, while the
// running one goes on and Wait waits for it.
func TestStopRotations(t *testing.T) {
	fx := newFixture(t, localsm.Options{})
	seed(t, fx.f, "other", ver(v1, cur))
	inSet := make(chan struct{})
	release := make(chan struct{})
	fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
		if ev.Step == string(rotation.StepSet) && ev.ClientRequestToken == v2 {
			close(inSet)
			<-release
		}
		return nil
	}
	in := rotateInput(v2)
	in.RotationRules = &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1)}
	if _, err := fx.f.RotateSecret(timeout(t), in); err != nil {
		t.Fatal(err)
	}
	<-inSet
	fx.f.StopRotations()
	other := rotateInput(v3)
	other.SecretId = aws.String("other")
	_, err := fx.f.RotateSecret(timeout(t), other)
	wantAPIError(t, "RotateSecret after StopRotations", err, "ServiceUnavailable", "")
	close(release)
	if err := fx.f.Wait(timeout(t)); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	r, _ := fx.f.Rotation(v2)
	if err := r.Err(); err != nil {
		t.Errorf("the rotation running at StopRotations: %v, want success", err)
	}
	fx.clock.Advance(72 * time.Hour)
	ran, err := fx.f.RunDue(timeout(t))
	if err != nil || len(ran) != 0 {
		t.Errorf("RunDue after StopRotations ran %d rotations (%v), want none", len(ran), err)
	}
}

// TestAbandonedRotationStops: once AWSPENDING leaves the rotation's
// version, the rotation invokes no further step, is not retried, records
// no success and leaves LastRotatedDate alone, and its error says it was
// abandoned; whoever took AWSPENDING away.
func TestAbandonedRotationStops(t *testing.T) {
	t.Run("manual write during setSecret", func(t *testing.T) {
		fx := newFixture(t, localsm.Options{RotationAttempts: 3})
		fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step == string(rotation.StepSet) {
				_, err := fx.f.PutSecretValue(context.Background(), putInput("db", v3, "manual"))
				return err
			}
			return nil
		}
		in := rotateInput(v2)
		in.RotationRules = &types.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)")}
		r, err := fx.f.Rotate(timeout(t), in)
		if !errors.Is(err, localsm.ErrRotationAbandoned) || !strings.Contains(err.Error(), "abandoned") {
			t.Errorf("Rotate: err = %v, want ErrRotationAbandoned", err)
		}
		if diff := cmp.Diff([]string{"createSecret", "setSecret"}, fx.r.steps()); diff != "" {
			t.Errorf("steps (-want +got): testSecret and finishSecret must not run:\n%s", diff)
		}
		if r.Attempts() != 1 {
			t.Errorf("Attempts = %d, want 1 (no retry)", r.Attempts())
		}
		if diff := cmp.Diff(map[string][]string{v1: {prev}, v3: {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
			t.Errorf("labels: the manual write must stand (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{localsm.EventRotationStarted, localsm.EventRotationAbandoned}, eventNames(fx.f)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		s, _ := fx.f.Secret("db")
		if !s.LastRotatedDate.IsZero() {
			t.Errorf("LastRotatedDate = %v, want unset", s.LastRotatedDate)
		}
		if s.NextRotationDate.IsZero() {
			t.Errorf("NextRotationDate unset after an abandoned rotation: the schedule would stop")
		}
	})

	t.Run("function removes AWSPENDING in finishSecret", func(t *testing.T) {
		fx := newFixture(t, localsm.Options{RotationAttempts: 3})
		var f *localsm.Fake
		inv := localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			if err := fx.r.Invoke(ctx, fn, ev); err != nil || ev.Step != string(rotation.StepFinish) {
				return err
			}
			_, err := f.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("db"), VersionStage: aws.String(pend), RemoveFromVersionId: aws.String(ev.ClientRequestToken)})
			return err
		})
		f = localsm.New(localsm.Options{Clock: fx.clock, RotationAttempts: 3, Invoker: inv})
		fx.r.f = f
		seed(t, f, "db", localsm.Version{ID: v1, SecretString: aws.String("s3cret"), Stages: []string{cur}})
		r, err := f.Rotate(timeout(t), rotateInput(v2))
		if !errors.Is(err, localsm.ErrRotationAbandoned) {
			t.Errorf("Rotate: err = %v, want ErrRotationAbandoned", err)
		}
		if r.Attempts() != 1 {
			t.Errorf("Attempts = %d, want 1", r.Attempts())
		}
		if slices.Contains(eventNames(f), localsm.EventRotationSucceeded) {
			t.Errorf("events %v record a success", eventNames(f))
		}
		if s, _ := f.Secret("db"); !s.LastRotatedDate.IsZero() {
			t.Errorf("LastRotatedDate = %v, want unset", s.LastRotatedDate)
		}
	})
}

// TestRotateAfterAbandonment: abandoning a rotation releases the secret at
// once, so a new RotateSecret works while the abandoned rotation's step is
// still running.
func TestRotateAfterAbandonment(t *testing.T) {
	fx := newFixture(t, localsm.Options{RotationAttempts: 3})
	inSet := make(chan struct{})
	release := make(chan struct{})
	fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
		if ev.Step == string(rotation.StepSet) && ev.ClientRequestToken == v2 {
			close(inSet)
			<-release
		}
		return nil
	}
	if _, err := fx.f.RotateSecret(timeout(t), rotateInput(v2)); err != nil {
		t.Fatal(err)
	}
	<-inSet
	if _, err := fx.f.PutSecretValue(timeout(t), putInput("db", v3, "manual")); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.f.RotateSecret(timeout(t), rotateInput(vid(4))); err != nil {
		t.Fatalf("RotateSecret after the abandonment, while the old step runs: %v", err)
	}
	r4, _ := fx.f.Rotation(vid(4))
	if err := r4.Wait(timeout(t)); err != nil {
		t.Errorf("the new rotation: %v", err)
	}
	close(release)
	r2, _ := fx.f.Rotation(v2)
	if err := r2.Wait(timeout(t)); !errors.Is(err, localsm.ErrRotationAbandoned) {
		t.Errorf("the abandoned rotation: %v, want ErrRotationAbandoned", err)
	}
	if err := fx.f.Wait(timeout(t)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{v3: {prev}, vid(4): {cur}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// TestManualWriteCountsAsRotation: a manual default-stage write that moves
// AWSCURRENT counts as a rotation for an AutomaticallyAfterDays schedule
// even when no rotation runs; not for rate() or cron().
func TestManualWriteCountsAsRotation(t *testing.T) {
	tests := []struct {
		name   string
		rules  types.RotationRulesType
		counts bool
	}{
		{"AutomaticallyAfterDays", types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}, true},
		{"rate", types.RotationRulesType{ScheduleExpression: aws.String("rate(30 days)")}, false},
		{"cron", types.RotationRulesType{ScheduleExpression: aws.String("cron(0 8 1 * ? *)")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, localsm.Options{})
			in := rotateInput(v2)
			rules := tt.rules
			in.RotationRules = &rules
			if _, err := fx.f.Rotate(timeout(t), in); err != nil {
				t.Fatal(err)
			}
			before, _ := fx.f.Secret("db")
			written := fx.clock.Advance(10 * 24 * time.Hour)
			if _, err := fx.f.PutSecretValue(timeout(t), putInput("db", v3, "manual")); err != nil {
				t.Fatal(err)
			}
			after, _ := fx.f.Secret("db")
			if !tt.counts {
				if !after.LastRotatedDate.Equal(before.LastRotatedDate) || !after.NextRotationDate.Equal(before.NextRotationDate) {
					t.Errorf("LastRotatedDate %v -> %v, NextRotationDate %v -> %v; want both unchanged", before.LastRotatedDate, after.LastRotatedDate, before.NextRotationDate, after.NextRotationDate)
				}
				return
			}
			if !after.LastRotatedDate.Equal(written) {
				t.Errorf("LastRotatedDate = %v, want the time of the write %v", after.LastRotatedDate, written)
			}
			if !after.NextRotationDate.After(before.NextRotationDate) || after.NextRotationDate.Before(written.Add(29*24*time.Hour)) {
				t.Errorf("NextRotationDate = %v (was %v), want about 30 days after the write at %v", after.NextRotationDate, before.NextRotationDate, written)
			}
		})
	}
}

// TestRotateSecretIdempotentRetry: RotateSecret retried with the same
// ClientRequestToken after its rotation finished (the first response was
// lost) gets the same answer and starts nothing; the same token on
// another secret is an ordinary request.
func TestRotateSecretIdempotentRetry(t *testing.T) {
	fx := newFixture(t, localsm.Options{})
	seed(t, fx.f, "other", ver(v1, cur))
	first, err := fx.f.RotateSecret(timeout(t), rotateInput(v2))
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.f.Wait(timeout(t)); err != nil {
		t.Fatal(err)
	}
	steps := len(fx.r.steps())
	again, err := fx.f.RotateSecret(timeout(t), rotateInput(v2))
	if err != nil {
		t.Fatalf("retried RotateSecret: %v", err)
	}
	if diff := cmp.Diff(first, again, ignoreSDK); diff != "" {
		t.Errorf("retried RotateSecret output (-first +retry):\n%s", diff)
	}
	if err := fx.f.Wait(timeout(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.f.Rotations()); n != 1 || len(fx.r.steps()) != steps {
		t.Errorf("the retry started something: %d rotations, %d invocations (was %d)", n, len(fx.r.steps()), steps)
	}
	other := rotateInput(v2)
	other.SecretId = aws.String("other")
	out, err := fx.f.RotateSecret(timeout(t), other)
	if err != nil {
		t.Fatalf("RotateSecret(other) with a token used on db: %v", err)
	}
	if aws.ToString(out.Name) != "other" || len(fx.f.Rotations()) != 2 {
		t.Errorf("the same token on another secret did not start its own rotation: %+v, %d rotations", out, len(fx.f.Rotations()))
	}
	_ = fx.f.Wait(timeout(t))
}

// TestTestOnlyRestoresPending: RotateImmediately=false from
// v1[AWSCURRENT, AWSPENDING] leaves v1 with both labels again.
func TestTestOnlyRestoresPending(t *testing.T) {
	fx := newFixture(t, localsm.Options{})
	seed(t, fx.f, "db", localsm.Version{ID: v1, SecretString: aws.String("s3cret"), Stages: []string{cur, pend}})
	in := rotateInput(v2)
	in.RotateImmediately = aws.Bool(false)
	if _, err := fx.f.Rotate(timeout(t), in); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if diff := cmp.Diff(map[string][]string{v1: {cur, pend}}, labels(t, fx.f, "db"), sortStrings); diff != "" {
		t.Errorf("labels after the test rotation (-want +got):\n%s", diff)
	}
}

// TestMaxHistory: MaxHistory caps the events and finished rotations the
// fake keeps.
func TestMaxHistory(t *testing.T) {
	const history = 3
	fx := newFixture(t, localsm.Options{MaxHistory: history})
	var last []string
	for i := 0; i < 8; i++ {
		r, err := fx.f.Rotate(timeout(t), rotateInput(vid(10+i)))
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		last = append(last, r.VersionID)
	}
	if n := len(fx.f.Events()); n != history {
		t.Errorf("%d events kept, want %d", n, history)
	}
	var kept []string
	for _, r := range fx.f.Rotations() {
		kept = append(kept, r.VersionID)
	}
	if diff := cmp.Diff(last[len(last)-history:], kept); diff != "" {
		t.Errorf("rotations kept (-want +got):\n%s", diff)
	}
	if _, ok := fx.f.Rotation(last[0]); ok {
		t.Errorf("Rotation(%s) still found beyond MaxHistory", last[0])
	}

	unlimited := newFixture(t, localsm.Options{})
	for i := 0; i < 5; i++ {
		if _, err := unlimited.f.Rotate(timeout(t), rotateInput(vid(10+i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(unlimited.f.Rotations()); n != 5 {
		t.Errorf("MaxHistory 0 kept %d rotations, want all 5", n)
	}
}

// TestRetryBackoffIsCancellable: a cancelled or abandoned rotation does
// not sit out its RetryBackoff.
func TestRetryBackoffIsCancellable(t *testing.T) {
	for _, how := range []string{"CancelRotateSecret", "manual write"} {
		t.Run(how, func(t *testing.T) {
			fx := newFixture(t, localsm.Options{RotationAttempts: 3, RetryBackoff: time.Hour})
			failed := make(chan struct{})
			var once sync.Once
			fx.r.before = func(ev events.SecretsManagerSecretRotationEvent) error {
				if ev.Step == string(rotation.StepSet) {
					once.Do(func() { close(failed) })
					return errors.New("fails")
				}
				return nil
			}
			if _, err := fx.f.RotateSecret(timeout(t), rotateInput(v2)); err != nil {
				t.Fatal(err)
			}
			<-failed
			var err error
			if how == "CancelRotateSecret" {
				_, err = fx.f.CancelRotateSecret(timeout(t), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String("db")})
			} else {
				_, err = fx.f.PutSecretValue(timeout(t), putInput("db", v3, "manual"))
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := fx.f.Wait(timeout(t)); err != nil {
				t.Fatalf("the rotation still waits out its backoff: %v", err)
			}
			r, _ := fx.f.Rotation(v2)
			if r.Attempts() != 1 {
				t.Errorf("Attempts = %d, want 1", r.Attempts())
			}
		})
	}
}

// TestLambdaInvokerErrorBodies: the ways the Invoke API and the Runtime
// Interface Emulator report a failed or timed-out function.
func TestLambdaInvokerErrorBodies(t *testing.T) {
	tests := []struct {
		name, header, body string
		wantFnErr          *localsm.FunctionError // nil: success
		wantErr            string                 // a non-function error containing this
	}{
		{name: "null payload", body: "null"},
		{name: "object payload", body: `{"ok":true}`},
		{name: "string payload", body: `"done"`},
		{name: "empty payload", body: ``},
		{name: "null errorMessage", body: `{"errorMessage":null,"errorType":"Runtime.ExitError"}`,
			wantFnErr: &localsm.FunctionError{Type: "Runtime.ExitError"}},
		{name: "errorType alone", body: `{"errorType":"Runtime.ExitError"}`,
			wantFnErr: &localsm.FunctionError{Type: "Runtime.ExitError"}},
		{name: "errorMessage alone", body: `{"errorMessage":"boom"}`,
			wantFnErr: &localsm.FunctionError{Message: "boom"}},
		{name: "header with a non-JSON body", header: "Unhandled", body: "Task timed out",
			wantFnErr: &localsm.FunctionError{Message: "Task timed out"}},
		{name: "header with an empty body", header: "Unhandled",
			wantFnErr: &localsm.FunctionError{Message: "X-Amz-Function-Error: Unhandled"}},
		{name: "emulator timeout, plain text", body: "Task timed out after 3.00 seconds",
			wantFnErr: &localsm.FunctionError{Message: "Task timed out after 3.00 seconds"}},
		{name: "emulator timeout, JSON string", body: `"Task timed out after 3.00 seconds"`,
			wantFnErr: &localsm.FunctionError{Message: "Task timed out after 3.00 seconds"}},
		{name: "body over the limit", body: `"` + strings.Repeat("a", localsm.MaxLambdaResponse) + `"`,
			wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("X-Amz-Function-Error", tt.header)
				}
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			err := localsm.LambdaInvoker{Endpoint: srv.URL, Client: srv.Client()}.Invoke(timeout(t), fnARN, events.SecretsManagerSecretRotationEvent{Step: "createSecret"})
			var fe *localsm.FunctionError
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Invoke = %v, want an error containing %q", err, tt.wantErr)
				}
			case tt.wantFnErr == nil:
				if err != nil {
					t.Errorf("Invoke = %v, want success", err)
				}
			case !errors.As(err, &fe):
				t.Errorf("Invoke = %v (%T), want *FunctionError", err, err)
			default:
				if diff := cmp.Diff(tt.wantFnErr, fe); diff != "" {
					t.Errorf("FunctionError (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// currentHolder returns the id of the version labelled AWSCURRENT.
func currentHolder(m map[string][]string) string {
	for id, stages := range m {
		if slices.Contains(stages, string(rotation.StageCurrent)) {
			return id
		}
	}
	return ""
}
