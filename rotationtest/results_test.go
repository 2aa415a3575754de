package rotationtest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

func TestViolations(t *testing.T) {
	v1 := &rotationtest.Violation{Rule: "a", Reason: "r", Err: errors.New("x")}
	v2 := &rotationtest.Violation{Rule: "b", Reason: "r", Err: errors.New("y")}
	v3 := &rotationtest.Violation{Rule: "c", Reason: "r", Err: errors.New("z")}
	other := errors.New("fixture")
	err := errors.Join(v1, fmt.Errorf("wrapped: %w", errors.Join(v2, other)), v3)
	var got []string
	for _, v := range rotationtest.Violations(err) {
		got = append(got, v.Rule)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, got); diff != "" {
		t.Errorf("Violations (-want +got):\n%s", diff)
	}
	if vs := rotationtest.Violations(nil); vs != nil {
		t.Errorf("Violations(nil) = %v, want nil", vs)
	}
	if vs := rotationtest.Violations(other); vs != nil {
		t.Errorf("Violations(a non-violation) = %v, want nil", vs)
	}
}

func TestReportString(t *testing.T) {
	var r rotationtest.Report
	if s := r.String(); !strings.Contains(s, "not measured") || strings.Contains(s, ": 0") {
		t.Errorf("Report{}.String() = %q; want calls not measured, not 0", s)
	}
	rep, err := rotationtest.Check(t.Context(), singleUserFactory(correctSingleUser, nil))
	if err != nil {
		t.Fatal(err)
	}
	s := rep.String()
	for _, want := range []string{
		fmt.Sprintf("Secrets Manager calls per rotation: %d", rep.Calls),
		"labels after rule rotates: ", "[AWSCURRENT]", "[AWSPREVIOUS]",
		"events of rule rotates: RotationStarted RotationSucceeded RotationStarted RotationSucceeded",
		"skipped neighbours-untouched: the fixture has no Neighbour",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Report.String() lacks %q:\n%s", want, s)
		}
	}
	if len(rep.Events) == 0 || rep.Labels == "" {
		t.Errorf("Report.Events = %v, Labels = %q; want both", rep.Events, rep.Labels)
	}
}

// TestReportWhenTheCleanRotationFails: the calls are reported as not
// measured, and the events show the failing step.
func TestReportWhenTheCleanRotationFails(t *testing.T) {
	failSet := func(next rotationtest.HandleFunc, _ rotation.Client, _ *slog.Logger) rotationtest.HandleFunc {
		return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step == string(rotation.StepSet) {
				return errors.New("the target is down")
			}
			return next(ctx, ev)
		}
	}
	rep, err := rotationtest.Check(t.Context(), singleUserFactory(correctSingleUser, failSet))
	if len(rotationtest.Violations(err)) == 0 {
		t.Fatalf("Check = %v; want violations", err)
	}
	s := rep.String()
	if !strings.Contains(s, "not measured") || !strings.Contains(s, "RotationFailed(setSecret)") {
		t.Errorf("Report.String() = %q; want calls not measured and the failed step among the events", s)
	}
}

func TestExempt(t *testing.T) {
	exempt := func(m map[string]string) rotationtest.Factory {
		return withFixture(singleUserFactory(correctSingleUser, nil), func(fx *rotationtest.Fixture) { fx.Exempt = m })
	}
	rep, err := rotationtest.Check(t.Context(), exempt(map[string]string{"old-credentials-retired": "the provider keeps old secrets for a day"}))
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	want := "old-credentials-retired: exempted by the fixture: the provider keeps old secrets for a day"
	found := false
	for _, s := range rep.Skipped {
		found = found || s == want
	}
	if !found {
		t.Errorf("Report.Skipped = %q, want it to hold %q", rep.Skipped, want)
	}
	// An exemption turns the rule off: a rotator that never retires old
	// passwords then passes it.
	_, err = rotationtest.Check(t.Context(), withFixture(multiFactory(true), func(fx *rotationtest.Fixture) {
		fx.Exempt = map[string]string{"old-credentials-retired": "ACL users keep several passwords on purpose"}
	}))
	for _, v := range rotationtest.Violations(err) {
		if v.Rule == "old-credentials-retired" {
			t.Errorf("an exempted rule reported %v", v)
		}
	}

	for _, tt := range []struct {
		m    map[string]string
		want string
	}{
		{map[string]string{"no-such-rule": "x"}, "not a rule"},
		{map[string]string{"faults": "slow"}, "cannot be turned off"},
		{map[string]string{"strong-credentials": " "}, "without a reason"},
	} {
		_, err := rotationtest.Check(t.Context(), exempt(tt.m))
		if err == nil || len(rotationtest.Violations(err)) != 0 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Check with Exempt %v = %v; want a fixture error saying %q", tt.m, err, tt.want)
		}
	}
}

func TestCredentialFieldErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*rotationtest.Fixture)
		want string
	}{
		{"empty", func(fx *rotationtest.Fixture) { fx.CredentialFields = []string{} }, "CredentialFields is empty"},
		{"missing field", func(fx *rotationtest.Fixture) { fx.CredentialFields = []string{"pwd"} }, `names "pwd", which is not a string or number field`},
		{"no credential-like field", func(fx *rotationtest.Fixture) {
			fx.Secret = `{"username":"app","pw":"initial-password-1"}`
		}, "no field of the fixture's Secret is named like a credential"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rotationtest.Check(t.Context(), withFixture(singleUserFactory(correctSingleUser, nil), tt.edit))
			if err == nil || len(rotationtest.Violations(err)) != 0 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v; want a fixture error saying %q", err, tt.want)
			}
		})
	}
}

// TestDeclaredFields: a fixture that names its credential and the fields
// a rotation rewrites passes, and one that declares too little fails.
func TestDeclaredFields(t *testing.T) {
	// The rotator also rewrites "dsn", which embeds the password.
	withDSN := func(db *confDB, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
		return customCreate{singleUser{db}, func(req *rotation.CreateRequest) (*rotation.Secret, error) {
			pw, err := newPassword()
			if err != nil {
				return nil, err
			}
			current, err := req.Current(context.Background())
			if err != nil {
				return nil, err
			}
			return current.With(map[string]any{"password": pw, "dsn": "app:" + pw + "@db.internal"})
		}}
	}
	base := withFixture(singleUserFactory(withDSN, nil), func(fx *rotationtest.Fixture) {
		fx.Secret = `{"username":"app","password":"initial-password-1","host":"db.internal","dsn":"app:initial-password-1@db.internal"}`
	})
	_, err := rotationtest.Check(t.Context(), base)
	got := map[string]bool{}
	for _, v := range rotationtest.Violations(err) {
		got[v.Rule] = true
	}
	if !got["secret-preserved"] {
		t.Errorf("Check = %v; want secret-preserved to report the rewritten dsn", err)
	}
	_, err = rotationtest.Check(t.Context(), withFixture(base, func(fx *rotationtest.Fixture) {
		fx.CredentialFields = []string{"password"}
		fx.MayChange = []string{"dsn"}
	}))
	if err != nil {
		t.Errorf("Check with the dsn declared in MayChange: %v", err)
	}
}

func TestTimeoutOptions(t *testing.T) {
	// A handler that takes longer than the step timeout fails its step.
	slow := func(next rotationtest.HandleFunc, _ rotation.Client, _ *slog.Logger) rotationtest.HandleFunc {
		return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step == string(rotation.StepTest) {
				select {
				case <-time.After(300 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return next(ctx, ev)
		}
	}
	rep, err := rotationtest.Check(t.Context(), singleUserFactory(correctSingleUser, slow), rotationtest.StepTimeout(50*time.Millisecond), rotationtest.RuleTimeout(20*time.Second))
	if len(rotationtest.Violations(err)) == 0 || !strings.Contains(err.Error(), "timed out") && !strings.Contains(err.Error(), "deadline") {
		t.Errorf("Check with a 50ms step timeout and a 300ms testSecret = %v; want timeouts reported", err)
	}
	if rep.Calls != 0 {
		t.Errorf("Report.Calls = %d; the clean rotation cannot have succeeded", rep.Calls)
	}
	// A rule timeout ends a rule that hangs.
	start := time.Now()
	_, err = rotationtest.Check(t.Context(), singleUserFactory(correctSingleUser, slow), rotationtest.StepTimeout(time.Minute), rotationtest.RuleTimeout(100*time.Millisecond))
	if err == nil {
		t.Error("Check with a 100ms rule timeout and a 300ms testSecret found nothing")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Check with a 100ms rule timeout took %v", d)
	}
}
