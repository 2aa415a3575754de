package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation/localsm"
)

// seedRotating adds "db" with rotation on through fnARN.
func seedRotating(w *world) {
	on := true
	w.seed(localsm.Secret{Name: "db", RotationEnabled: &on, RotationLambdaARN: fnARN, RotationRules: &localsm.RotationRules{AutomaticallyAfterDays: 30},
		Versions: []localsm.Version{ver(vid("v1"), "1", "AWSCURRENT")}})
}

func labelsNow(t *testing.T, w *world, name string) map[string][]string {
	t.Helper()
	s, ok := w.fake.Secret(name)
	if !ok {
		t.Fatalf("no secret %s", name)
	}
	return s.Labels()
}

func TestRotate(t *testing.T) {
	t.Run("succeeds", func(t *testing.T) {
		w := newWorld(t)
		seedRotating(w)
		code, stdout, stderr := w.run("", "rotate", "db", "--wait", "--poll", "5ms")
		if code != exitOK {
			t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", code, stderr, stdout)
		}
		for _, want := range []string{"Rotation of arn:aws:secretsmanager:us-east-1:123456789012:secret:db", "finishSecret", "the rotation succeeded"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		l := labelsNow(t, w, "db")
		if diff := cmp.Diff([]string{"AWSPREVIOUS"}, l[vid("v1")]); diff != "" {
			t.Errorf("v1 labels (-want +got):\n%s", diff)
		}
		if len(l) != 2 {
			t.Errorf("labels %v: want a new AWSCURRENT version and v1 AWSPREVIOUS", l)
		}
	})
	t.Run("fails at testSecret", func(t *testing.T) {
		w := newWorld(t)
		seedRotating(w)
		w.failTest.Store(true)
		code, stdout, stderr := w.run("", "rotate", "db", "--wait", "--poll", "5ms", "--timeout", "1s", "--output", "json")
		if code != exitCheck {
			t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitCheck, stderr)
		}
		if !strings.Contains(stderr, "secret db: the rotation to version") || !strings.Contains(stderr, "setSecret, testSecret or finishSecret (the value is stored)") {
			t.Errorf("stderr does not name the secret and the step reached:\n%s", stderr)
		}
		var got followOutput
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		if got.Outcome != "timed-out" || !strings.Contains(got.Advice, "do NOT abandon") {
			t.Errorf("outcome %q advice %q", got.Outcome, got.Advice)
		}
		if l := labelsNow(t, w, "db"); !cmp.Equal([]string{"AWSCURRENT"}, l[vid("v1")]) {
			t.Errorf("AWSCURRENT moved off v1 although the test failed: %v", l)
		}
		// A second rotate is refused with the diagnosis (exit 1).
		w.fake.Wait(t.Context())
		code, _, stderr = w.run("", "rotate", "db")
		if code != exitCheck || !strings.Contains(stderr, "RotateSecret refused") || !strings.Contains(stderr, "incomplete") {
			t.Errorf("second rotate: exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("no function configured", func(t *testing.T) {
		w := newWorld(t)
		w.seed(localsm.Secret{Name: "db", Versions: []localsm.Version{ver(vid("v1"), "1", "AWSCURRENT")}})
		code, _, stderr := w.run("", "rotate", "db", "--wait")
		if code != exitError || !strings.Contains(stderr, "secret db: RotateSecret") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("abandoned while followed", func(t *testing.T) {
		w := newWorld(t)
		seedRotating(w)
		w.failTest.Store(true)
		type result struct {
			code           int
			stdout, stderr string
		}
		done := make(chan result, 1)
		go func() {
			code, stdout, stderr := w.run("", "rotate", "db", "--wait", "--poll", "5ms", "--timeout", "20s")
			done <- result{code, stdout, stderr}
		}()
		// Once the pending value is stored, an operator removes AWSPENDING.
		deadline := time.Now().Add(10 * time.Second)
		for {
			s, _ := w.fake.Secret("db")
			if v, ok := s.Staged("AWSPENDING"); ok && !v.Placeholder() {
				_, err := w.fake.UpdateSecretVersionStage(t.Context(), &secretsmanager.UpdateSecretVersionStageInput{
					SecretId: aws.String("db"), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(v.ID)})
				if err != nil {
					t.Fatal(err)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the pending value was never stored")
			}
			time.Sleep(time.Millisecond)
		}
		r := <-done
		if r.code != exitCheck || !strings.Contains(r.stderr, "was abandoned") || !strings.Contains(r.stdout, "AWSPENDING left version") {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

func TestTestSubcommand(t *testing.T) {
	w := newWorld(t)
	seedRotating(w)
	before := labelsNow(t, w, "db")
	code, stdout, stderr := w.run("", "test", "db", "--poll", "5ms")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"Test rotation", "testSecret", "finished", "TestRotationFailed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	w.fake.Wait(t.Context())
	if diff := cmp.Diff(before, labelsNow(t, w, "db")); diff != "" {
		t.Errorf("test changed the labels (-before +after):\n%s", diff)
	}
}

func TestRollback(t *testing.T) {
	seed := func(w *world, strategy string, extra ...localsm.Version) {
		s := localsm.Secret{Name: "db", Versions: append([]localsm.Version{ver(vid("v1"), "1", "AWSPREVIOUS"), ver(vid("v2"), "2", "AWSCURRENT")}, extra...)}
		if strategy != "" {
			s.Tags = map[string]string{strategyTag: strategy}
		}
		w.seed(s)
	}
	rolledBack := map[string][]string{vid("v1"): {"AWSCURRENT"}, vid("v2"): {"AWSPREVIOUS"}}
	unchanged := map[string][]string{vid("v1"): {"AWSPREVIOUS"}, vid("v2"): {"AWSCURRENT"}}

	w := newWorld(t)
	seed(w, strategyAlternating)
	code, stdout, stderr := w.run("n\n", "rollback", "db")
	if code != exitCheck || !strings.Contains(stderr, "not confirmed") || !strings.Contains(stderr, "Proceed? [y/N]") || strings.Contains(stdout, "After:") {
		t.Errorf("declined: exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	if diff := cmp.Diff(unchanged, labelsNow(t, w, "db")); diff != "" {
		t.Errorf("declined rollback changed labels (-want +got):\n%s", diff)
	}
	code, stdout, stderr = w.run("y\n", "rollback", "db")
	if code != exitOK {
		t.Fatalf("confirmed: exit %d, stderr %q", code, stderr)
	}
	if diff := cmp.Diff(rolledBack, labelsNow(t, w, "db")); diff != "" {
		t.Errorf("labels after rollback (-want +got):\n%s", diff)
	}
	_, after, _ := strings.Cut(stdout, "After:")
	if !strings.Contains(stdout, "Before:") || !strings.Contains(after, "AWSCURRENT   "+vid("v1")) || !strings.Contains(after, "AWSPREVIOUS  "+vid("v2")) {
		t.Errorf("output lacks the before/after label tables:\n%s", stdout)
	}

	// Two keys via --strategy, JSON output with before and after.
	seed(w, "")
	code, stdout, stderr = w.run("", "rollback", "db", "--strategy", "two-keys", "--yes", "--output", "json")
	var got labelChange
	if err := json.Unmarshal([]byte(stdout), &got); code != exitOK || err != nil {
		t.Fatalf("two-keys: exit %d (%v), stderr %q", code, err, stderr)
	}
	if diff := cmp.Diff(labels(unchanged), got.Before); diff != "" {
		t.Errorf("before (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(labels(rolledBack), got.After); diff != "" {
		t.Errorf("after (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name, strategy string
		extra          []localsm.Version
		want           string
	}{
		{"single user", strategySingle, nil, "rotationctl rotate db --wait"},
		{"unknown strategy", "", nil, "pass --strategy"},
		{"rotation in flight", strategyAlternating, []localsm.Version{placeholder(vid("v3"), time.Time{})}, "a rotation is in flight"},
	} {
		seed(w, tc.strategy, tc.extra...)
		before := labelsNow(t, w, "db")
		code, _, stderr := w.run("", "rollback", "db", "--yes")
		if code != exitCheck || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr, exitCheck, tc.want)
		}
		if diff := cmp.Diff(before, labelsNow(t, w, "db")); diff != "" {
			t.Errorf("%s: labels changed (-before +after):\n%s", tc.name, diff)
		}
	}
	w.seed(localsm.Secret{Name: "fresh", Versions: []localsm.Version{ver(vid("v1"), "1", "AWSCURRENT")}})
	if code, _, stderr := w.run("", "rollback", "fresh", "--strategy", "alternating", "--yes"); code != exitCheck || !strings.Contains(stderr, "nothing to roll back to") {
		t.Errorf("no AWSPREVIOUS: exit %d, stderr %q", code, stderr)
	}
}

func TestUnstick(t *testing.T) {
	w := newWorld(t)
	cur := ver(vid("v1"), "1", "AWSCURRENT")
	w.seed(localsm.Secret{Name: "db", Versions: []localsm.Version{cur, placeholder(vid("v2"), time.Time{})}})
	code, stdout, stderr := w.run("y\n", "unstick", "db")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if diff := cmp.Diff(map[string][]string{vid("v1"): {"AWSCURRENT"}}, labelsNow(t, w, "db")); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if !strings.Contains(stdout, "remove AWSPENDING from version "+vid("v2")) {
		t.Errorf("output:\n%s", stdout)
	}
	code, stdout, _ = w.run("", "unstick", "db")
	if code != exitOK || !strings.Contains(stdout, "nothing to unstick") {
		t.Errorf("nothing to do: exit %d, output %q", code, stdout)
	}

	// A stored pending value: refused for single user (and unknown), with
	// the diagnosis; allowed for alternating users.
	withValue := map[string][]string{vid("v1"): {"AWSCURRENT"}, vid("v3"): {"AWSPENDING"}}
	w.seed(localsm.Secret{Name: "db", Versions: []localsm.Version{cur, ver(vid("v3"), "3", "AWSPENDING")}})
	for _, args := range [][]string{{"unstick", "db", "--yes"}, {"unstick", "db", "--yes", "--strategy", "single"}} {
		code, _, stderr = w.run("", args...)
		if code != exitCheck || !strings.Contains(stderr, "do NOT abandon") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if diff := cmp.Diff(withValue, labelsNow(t, w, "db")); diff != "" {
			t.Errorf("%v changed labels (-want +got):\n%s", args, diff)
		}
	}
	if code, _, stderr = w.run("", "unstick", "db", "--yes", "--strategy", "alternating"); code != exitOK {
		t.Errorf("alternating: exit %d, stderr %q", code, stderr)
	}
	if diff := cmp.Diff(map[string][]string{vid("v1"): {"AWSCURRENT"}}, labelsNow(t, w, "db")); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// BenchmarkStatus measures `rotationctl status --all --output json` over a
// fleet of healthy secrets against the local Secrets Manager over HTTP.
func BenchmarkStatus(b *testing.B) {
	for _, tc := range []struct {
		n     int
		stuck int // every stuck-th secret has an orphaned AWSPENDING
	}{{1000, 0}, {10000, 0}, {10000, 100}} {
		n := tc.n
		name := fmt.Sprintf("%d_secrets", n)
		if tc.stuck > 0 {
			name += fmt.Sprintf("_1_in_%d_stuck", tc.stuck)
		}
		b.Run(name, func(b *testing.B) {
			w := newWorld(b)
			seedFleet(b, w, n)
			for i := 0; tc.stuck > 0 && i < n; i += tc.stuck {
				id := fmt.Sprintf("%08d", i)
				on := true
				w.seed(localsm.Secret{Name: "fleet/" + id, RotationEnabled: &on, RotationLambdaARN: fnARN, RotationRules: &localsm.RotationRules{AutomaticallyAfterDays: 30},
					Versions: []localsm.Version{ver(vid(id+"b"), "2", "AWSCURRENT"), placeholder(vid(id+"c"), w.now.Add(-2*time.Hour))}})
			}
			want := exitOK
			if tc.stuck > 0 {
				want = exitCheck
			}
			w.resetCalls()
			a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, now: func() time.Time { return w.now }}
			args := []string{"status", "--all", "--output", "json", "--endpoint-url", w.sm.URL, "--region", "us-east-1"}
			b.ResetTimer()
			for b.Loop() {
				if code := a.run(b.Context(), args); code != want {
					b.Fatalf("exit %d", code)
				}
			}
			b.StopTimer()
			total := 0
			for _, v := range w.calls() {
				total += v
			}
			b.ReportMetric(float64(total)/float64(n*b.N), "calls/secret")
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "secrets/s")
		})
	}
}

func TestMissingSecret(t *testing.T) {
	w := newWorld(t)
	for _, args := range [][]string{
		{"enable", "nosuch", "--function", fnARN, "--every", "30d"},
		{"rotate", "nosuch", "--wait"},
		{"test", "nosuch"},
		{"rollback", "nosuch", "--yes", "--strategy", "alternating"},
		{"unstick", "nosuch", "--yes"},
	} {
		code, _, stderr := w.run("", args...)
		if code != exitError || !strings.Contains(stderr, "secret nosuch") || !strings.Contains(stderr, "ResourceNotFoundException") {
			t.Errorf("%v: exit %d, stderr %q; want %d naming the secret and the cause", args, code, stderr, exitError)
		}
	}
}
