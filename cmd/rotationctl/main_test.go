package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation/localsm"
)

func TestUsageErrors(t *testing.T) {
	w := newWorld(t)
	w.seed(localsm.Secret{Name: "db", Versions: []localsm.Version{ver(vid("v1"), "1", "AWSCURRENT")}})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"status"}, "exactly one of them"},
		{[]string{"status", "--all", "db"}, "exactly one of them"},
		{[]string{"status", "--all", "--output", "yaml"}, "--output must be table or json"},
		{[]string{"rotate"}, "missing SECRET"},
		{[]string{"rotate", "a", "b"}, "one SECRET expected"},
		{[]string{"rollback", "db", "--strategy", "magic"}, "--strategy must be"},
		{[]string{"enable", "db", "--every", "30d"}, "--function is required"},
		{[]string{"enable", "db", "--function", fnARN}, "exactly one of --every and --schedule"},
		{[]string{"enable", "db", "--function", fnARN, "--every", "30"}, "want a number of days"},
		{[]string{"enable", "db", "--function", fnARN, "--every", "1001d"}, "secret db: rotation rules every 1001d rejected"},
		{[]string{"enable", "db", "--function", fnARN, "--schedule", "cron(0 22 * * ? *)", "--window", "4h"}, "rejected"},
		{[]string{"enable", "db", "--function", fnARN, "--schedule", "rate(2 hours)"}, "rejected"},
		{[]string{"enable", "db", "--function", fnARN, "--every", "30d", "--avoid", "Mon-Fri 08:00-18:00 Mars/Olympus"}, "unknown time zone"},
		{[]string{"enable", "db", "--function", fnARN, "--every", "30d", "--avoid", "Workdays 08:00-18:00 UTC"}, "days"},
	} {
		w.resetCalls()
		code, _, stderr := w.run("", tc.args...)
		if code != exitError {
			t.Errorf("%v: exit %d, want %d", tc.args, code, exitError)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: stderr %q does not contain %q", tc.args, stderr, tc.want)
		}
		if n := len(w.calls()); n != 0 {
			t.Errorf("%v: made API calls %v before rejecting the input", tc.args, w.calls())
		}
	}
}

func TestEnable(t *testing.T) {
	berlin := "Mon-Fri 08:00-18:00 Europe/Berlin"
	t.Run("outside business hours", func(t *testing.T) {
		w := newWorld(t)
		w.seed(localsm.Secret{Name: "db", Versions: []localsm.Version{ver(vid("v1"), "1", "AWSCURRENT")}})
		w.policies["rotator"] = goodPolicy
		// 20:00-23:00 UTC is 21:00-24:00 (winter) or 22:00-01:00 (summer) in Berlin.
		code, stdout, stderr := w.run("", "enable", "db", "--function", fnARN, "--schedule", "cron(0 20 ? * MON-FRI *)", "--window", "3h",
			"--avoid", berlin, "--no-rotate-now", "--lambda-endpoint-url", w.lambda.URL)
		if code != exitOK {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		s, _ := w.fake.Secret("db")
		if s.RotationEnabled == nil || !*s.RotationEnabled || s.RotationLambdaARN != fnARN {
			t.Errorf("rotation not enabled with the function: %+v", s)
		}
		if diff := cmp.Diff(&localsm.RotationRules{ScheduleExpression: "cron(0 20 ? * MON-FRI *)", Duration: "3h"}, s.RotationRules); diff != "" {
			t.Errorf("rules (-want +got):\n%s", diff)
		}
		for _, want := range []string{"Mon 2026-03-02 20:00", "Tue 2026-03-03 20:00", "Checked 60 windows", "0 conflict(s)"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("whole-day windows meet business hours", func(t *testing.T) {
		w := newWorld(t)
		w.seed(localsm.Secret{Name: "db", Versions: []localsm.Version{ver(vid("v1"), "1", "AWSCURRENT")}})
		code, _, stderr := w.run("", "enable", "db", "--function", fnARN, "--every", "30d", "--avoid", berlin)
		if code != exitCheck {
			t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitCheck, stderr)
		}
		if !strings.Contains(stderr, "secret db:") || !strings.Contains(stderr, "hours to avoid") {
			t.Errorf("error does not name the secret and the cause: %s", stderr)
		}
		if got := w.calls()["RotateSecret"]; got != 0 {
			t.Errorf("RotateSecret called %d times after the check failed", got)
		}
		if s, _ := w.fake.Secret("db"); s.RotationEnabled != nil {
			t.Errorf("rotation configured although refused")
		}
		// --force overrides, with a warning.
		code, _, stderr = w.run("", "enable", "db", "--function", fnARN, "--every", "30d", "--avoid", berlin, "--force")
		if code != exitOK || !strings.Contains(stderr, "warning") {
			t.Errorf("--force: exit %d, stderr:\n%s", code, stderr)
		}
		w.fake.Wait(t.Context())
	})
	t.Run("daylight saving time moves the office", func(t *testing.T) {
		// 06:00-07:00 UTC is 07:00-08:00 in Berlin in winter but 08:00-09:00
		// from 29 March 2026: the 60 windows from 2 March reach into summer.
		w := newWorld(t)
		w.seed(localsm.Secret{Name: "db", Versions: []localsm.Version{ver(vid("v1"), "1", "AWSCURRENT")}})
		args := []string{"enable", "db", "--function", fnARN, "--schedule", "cron(0 6 ? * MON-FRI *)", "--window", "1h", "--avoid", berlin, "--no-rotate-now"}
		code, _, stderr := w.run("", args...)
		if code != exitCheck || !strings.Contains(stderr, "2026-03-30") {
			t.Errorf("exit %d, want %d naming Mon 30 March; stderr:\n%s", code, exitCheck, stderr)
		}
		code, _, stderr = w.run("", append(args, "--check-windows", "15")...)
		if code != exitOK {
			t.Errorf("15 windows (all before the change): exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("function policy", func(t *testing.T) {
		w := newWorld(t)
		w.seed(localsm.Secret{Name: "db", Versions: []localsm.Version{ver(vid("v1"), "1", "AWSCURRENT")}})
		args := []string{"enable", "db", "--function", fnARN, "--every", "30d", "--no-rotate-now", "--lambda-endpoint-url", w.lambda.URL, "--output", "json"}

		code, _, stderr := w.run("", args...)
		if code != exitCheck || !strings.Contains(stderr, "does not exist") {
			t.Errorf("missing function: exit %d, stderr:\n%s", code, stderr)
		}
		w.policies["rotator"] = ""
		code, _, stderr = w.run("", args...)
		if code != exitCheck || !strings.Contains(stderr, "no resource policy") {
			t.Errorf("no policy: exit %d, stderr:\n%s", code, stderr)
		}
		w.policies["rotator"] = `{"Version":"2012-10-17","Statement":[{"Sid":"other","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction"}]}`
		code, _, stderr = w.run("", args...)
		if code != exitCheck || !strings.Contains(stderr, "no statement allowing secretsmanager.amazonaws.com") {
			t.Errorf("policy for another principal: exit %d, stderr:\n%s", code, stderr)
		}
		if s, _ := w.fake.Secret("db"); s.RotationEnabled != nil {
			t.Fatalf("rotation configured although the policy check failed")
		}
		w.policies["rotator"] = `{"Version":"2012-10-17","Statement":[{"Sid":"sm","Effect":"Allow","Principal":{"Service":"secretsmanager.amazonaws.com"},"Action":"lambda:InvokeFunction"}]}`
		code, _, stderr = w.run("", args...)
		if code != exitOK || !strings.Contains(stderr, "aws:SourceAccount") {
			t.Errorf("policy without SourceAccount: exit %d (want 0 with a warning), stderr:\n%s", code, stderr)
		}
		w.policies["rotator"] = goodPolicy
		code, stdout, stderr := w.run("", args...)
		if code != exitOK {
			t.Fatalf("good policy: exit %d, stderr:\n%s", code, stderr)
		}
		var got enableOutput
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("json output: %v\n%s", err, stdout)
		}
		if !strings.HasPrefix(got.PolicyCheck, "ok") || got.Rules != "every 30d" || got.RotateNow || len(got.NextWindows) != 5 {
			t.Errorf("json output %+v", got)
		}
		// Windows of AutomaticallyAfterDays open at midnight UTC, 30 days apart.
		for i, win := range got.NextWindows[1:] {
			if d := win.Start.Sub(got.NextWindows[i].Start); d != 30*24*time.Hour {
				t.Errorf("window %d opens %v after the previous one, want 720h", i+1, d)
			}
		}
	})
}

const goodPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"sm","Effect":"Allow","Principal":{"Service":["secretsmanager.amazonaws.com"]},"Action":["lambda:InvokeFunction"],"Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"}}}]}`

func TestHoursOverlap(t *testing.T) {
	h, err := parseHours("Mon-Fri 08:00-18:00 Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		start, end string
		want       bool
	}{
		{"2026-01-05 06:00", "2026-01-05 07:00", false}, // Mon 07:00-08:00 CET
		{"2026-01-05 06:00", "2026-01-05 07:01", true},  // reaches 08:01 CET
		{"2026-07-06 06:00", "2026-07-06 07:00", true},  // Mon 08:00-09:00 CEST
		{"2026-07-06 16:00", "2026-07-06 17:00", false}, // Mon 18:00-19:00 CEST
		{"2026-01-10 09:00", "2026-01-10 12:00", false}, // Saturday
		{"2026-01-09 22:00", "2026-01-10 08:00", false}, // Fri night to Sat
		{"2026-01-04 00:00", "2026-01-05 00:00", false}, // Sunday UTC = Sun 01:00 to Mon 01:00 CET
	} {
		_, _, got := h.overlap(utc(tc.start), utc(tc.end))
		if got != tc.want {
			t.Errorf("overlap(%s, %s) = %v, want %v", tc.start, tc.end, got, tc.want)
		}
	}
	night, err := parseHours("daily 22:00-06:00 UTC")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, got := night.overlap(utc("2026-01-06 03:00"), utc("2026-01-06 04:00")); !got {
		t.Errorf("a span across midnight does not cover 03:00")
	}
	if _, _, got := night.overlap(utc("2026-01-06 12:00"), utc("2026-01-06 14:00")); got {
		t.Errorf("a span across midnight covers noon")
	}
	fri, _ := parseHours("Fri-Mon 00:00-24:00 UTC")
	for d, want := range map[string]bool{"2026-01-09": true, "2026-01-11": true, "2026-01-12": true, "2026-01-07": false} {
		if _, _, got := fri.overlap(utc(d+" 10:00"), utc(d+" 11:00")); got != want {
			t.Errorf("Fri-Mon on %s: %v, want %v", d, got, want)
		}
	}
	for _, bad := range []string{"Mon-Fri 08:00 UTC", "Mon-Fri 8-18 UTC", "Mon-Fri 08:00-08:00 UTC", "Mon-Fri 08:00-25:00 UTC", "Mon-Fri 08:00-18:00"} {
		if _, err := parseHours(bad); err == nil {
			t.Errorf("parseHours(%q) accepted", bad)
		}
	}
}

// statusJSON runs status with JSON output and returns the health by name.
func statusJSON(t *testing.T, w *world, args ...string) (int, map[string]string, statusOutput, string) {
	t.Helper()
	code, stdout, stderr := w.run("", append([]string{"status", "--output", "json"}, args...)...)
	var out statusOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("status output is not JSON (%v): %s\nstderr: %s", err, stdout, stderr)
	}
	got := map[string]string{}
	for _, s := range out.Secrets {
		got[s.Name] = s.Health
	}
	return code, got, out, stderr
}

func TestStatusVerdicts(t *testing.T) {
	w := newWorld(t)
	on := func() *bool { b := true; return &b }
	off := func() *bool { b := false; return &b }
	days := &localsm.RotationRules{AutomaticallyAfterDays: 30}
	old := w.now.Add(-3 * time.Hour)
	recent := w.now.Add(-5 * time.Minute)
	last := w.now.Add(-10 * 24 * time.Hour)
	next := w.now.Add(20 * 24 * time.Hour)
	w.policies["rotator"] = ""
	for _, s := range []localsm.Secret{
		{Name: "app/ok", RotationEnabled: on(), RotationLambdaARN: fnARN, RotationRules: days, LastRotatedDate: last, NextRotationDate: next,
			Versions: []localsm.Version{ver(vid("a1"), "1", "AWSPREVIOUS"), ver(vid("a2"), "2", "AWSCURRENT")}},
		{Name: "app/off", RotationEnabled: off(), Versions: []localsm.Version{ver(vid("b1"), "1", "AWSCURRENT")}},
		{Name: "app/never", Versions: []localsm.Version{ver(vid("c1"), "1", "AWSCURRENT")}},
		{Name: "app/stuck", RotationEnabled: on(), RotationLambdaARN: fnARN, RotationRules: days,
			Versions: []localsm.Version{ver(vid("d1"), "1", "AWSCURRENT"), placeholder(vid("d2"), old)}},
		{Name: "app/failed", RotationEnabled: on(), RotationLambdaARN: fnARN, RotationRules: days,
			Versions: []localsm.Version{ver(vid("e1"), "1", "AWSCURRENT"), {ID: vid("e2"), SecretString: value("2"), Stages: []string{"AWSPENDING"}, CreatedDate: old}}},
		{Name: "app/rotating", RotationEnabled: on(), RotationLambdaARN: fnARN, RotationRules: days,
			Versions: []localsm.Version{ver(vid("f1"), "1", "AWSCURRENT"), placeholder(vid("f2"), recent)}},
		{Name: "app/overdue", RotationEnabled: on(), RotationLambdaARN: fnARN, RotationRules: days, LastRotatedDate: w.now.Add(-40 * 24 * time.Hour),
			NextRotationDate: w.now.Add(-10 * 24 * time.Hour).Truncate(24 * time.Hour), Versions: []localsm.Version{ver(vid("g1"), "1", "AWSCURRENT")}},
		{Name: "app/nofn", RotationEnabled: on(), RotationRules: days, Versions: []localsm.Version{ver(vid("h1"), "1", "AWSCURRENT")}},
		{Name: "app/gone", RotationEnabled: on(), RotationLambdaARN: missingARN, RotationRules: days, Versions: []localsm.Version{ver(vid("i1"), "1", "AWSCURRENT")}},
		{Name: "other/ok", Versions: []localsm.Version{ver(vid("j1"), "1", "AWSCURRENT")}},
	} {
		w.seed(s)
	}
	want := map[string]string{
		"app/ok": healthOK, "app/off": healthDisabled, "app/never": healthDisabled, "app/stuck": healthStuck,
		"app/failed": healthFailed, "app/rotating": healthRotating, "app/overdue": healthOverdue,
		"app/nofn": healthNoFunction, "app/gone": healthFunctionMissing,
	}
	code, got, out, stderr := statusJSON(t, w, "--prefix", "app/", "--lambda-endpoint-url", w.lambda.URL)
	if code != exitCheck {
		t.Errorf("exit %d, want %d; stderr: %s", code, exitCheck, stderr)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("health by secret (-want +got):\n%s", diff)
	}
	if !strings.Contains(stderr, "5 of 9 secrets need attention") {
		t.Errorf("stderr: %s", stderr)
	}
	for _, s := range out.Secrets {
		switch s.Name {
		case "app/stuck":
			if !strings.Contains(s.Advice, "update-secret-version-stage") || !strings.Contains(s.Advice, vid("d2")) {
				t.Errorf("stuck advice: %q", s.Advice)
			}
		case "app/ok":
			if diff := cmp.Diff(map[string][]string{vid("a1"): {"AWSPREVIOUS"}, vid("a2"): {"AWSCURRENT"}}, s.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if s.Rules != "every 30d" || s.Function != fnARN || s.LastRotated == nil || !s.LastRotated.Equal(last) {
				t.Errorf("app/ok: %+v", s)
			}
		}
	}
	// One GetFunction per function, not per secret; GetSecretValue and
	// ListSecretVersionIds only for the unfinished rotations.
	c := w.calls()
	if c["ListSecrets"] != 1 || c["DescribeSecret"] != 0 || c["GetSecretValue"] != 3 || c["ListSecretVersionIds"] != 3 {
		t.Errorf("calls %v: want 1 ListSecrets, 0 DescribeSecret, 3 GetSecretValue, 3 ListSecretVersionIds", c)
	}

	// Named secrets: DescribeSecret each; a missing one is an API error
	// naming it (exit 2).
	code, got, _, stderr = statusJSON(t, w, "app/ok", "other/ok", "app/missing")
	if code != exitError {
		t.Errorf("named with a missing secret: exit %d, want %d", code, exitError)
	}
	if diff := cmp.Diff(map[string]string{"app/ok": healthOK, "other/ok": healthDisabled, "app/missing": healthError}, got); diff != "" {
		t.Errorf("named (-want +got):\n%s", diff)
	}
	if !strings.Contains(stderr, "1 of 3 secrets could not be examined") {
		t.Errorf("stderr: %s", stderr)
	}

	// The table names each problem and its advice under the table.
	code, stdout, _ := w.run("", "status", "app/stuck", "app/ok")
	if code != exitCheck {
		t.Errorf("table: exit %d", code)
	}
	for _, want := range []string{"NAME", "HEALTH", "app/stuck", "stuck", "AWSCURRENT=" + vid("d1")[:8], "AWSPENDING=" + vid("d2")[:8], "app/stuck (stuck): AWSPENDING is on version", "2 secrets: 1 ok, 1 stuck"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
}

func TestStatusProgress(t *testing.T) {
	w := newWorld(t)
	for i := range 300 {
		w.seed(localsm.Secret{Name: fmt.Sprintf("s%03d", i), Versions: []localsm.Version{ver(vid(fmt.Sprint(i)), "1", "AWSCURRENT")}})
	}
	if code, _, stderr := w.run("", "status", "--all"); code != exitOK || stderr != "" {
		t.Errorf("piped: exit %d, stderr %q (want no progress)", code, stderr)
	}
	code, _, stderr := w.run("", "status", "--all", "--progress", "always")
	if code != exitOK || !strings.Contains(stderr, "status: 300/300 secrets") {
		t.Errorf("--progress always: exit %d, stderr %q", code, stderr)
	}
}

func TestStatusThrottling(t *testing.T) {
	w := newWorld(t)
	const n = 2000
	for i := range n {
		s := localsm.Secret{Name: fmt.Sprintf("fleet/%05d", i), Versions: []localsm.Version{ver(vid(fmt.Sprint(i)), "1", "AWSCURRENT")}}
		if i%100 == 0 {
			s.Versions = append(s.Versions, placeholder(vid(fmt.Sprint("p", i)), w.now.Add(-2*time.Hour)))
		}
		w.seed(s)
	}
	// Every other request is throttled: the SDK backs off and retries.
	w.throttle = func(_ string, n int64) bool { return n%2 == 0 }
	code, got, _, stderr := statusJSON(t, w, "--all", "--concurrency", "8")
	if code != exitCheck {
		t.Errorf("exit %d, want %d (20 stuck); stderr: %s", code, exitCheck, stderr)
	}
	stuck := 0
	for _, h := range got {
		if h == healthStuck {
			stuck++
		}
	}
	if len(got) != n || stuck != n/100 {
		t.Errorf("%d secrets, %d stuck; want %d and %d", len(got), stuck, n, n/100)
	}
	if w.throttled.Load() == 0 {
		t.Errorf("no request was throttled: the test proves nothing")
	}

	// Throttled for good: an API error naming the operation (exit 2).
	w.throttle = func(string, int64) bool { return true }
	code, _, stderr = w.run("", "status", "--all", "--max-attempts", "3")
	if code != exitError || !strings.Contains(stderr, "ListSecrets") || !strings.Contains(stderr, "ThrottlingException") {
		t.Errorf("persistent throttling: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = w.run("", "rotate", "fleet/00001", "--max-attempts", "2")
	if code != exitError || !strings.Contains(stderr, "secret fleet/00001: RotateSecret") {
		t.Errorf("rotate under throttling: exit %d, stderr %q", code, stderr)
	}
}

func TestStatusFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 5,000 secrets")
	}
	w := newWorld(t)
	const n = 5000
	seedFleet(t, w, n)
	code, got, out, stderr := statusJSON(t, w, "--all")
	if code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	if len(got) != n || out.Summary.ByHealth[healthOK] != n {
		t.Errorf("%d secrets, summary %v; want %d ok", len(got), out.Summary.ByHealth, n)
	}
	total := 0
	for _, v := range w.calls() {
		total += v
	}
	if perSecret := float64(total) / n; perSecret > 0.02 {
		t.Errorf("%d calls for %d secrets (%.3f per secret), want at most 0.02: %v", total, n, perSecret, w.calls())
	}
}

// seedFleet adds n healthy secrets with rotation on.
func seedFleet(tb testing.TB, w *world, n int) {
	on := true
	rules := &localsm.RotationRules{AutomaticallyAfterDays: 30}
	for i := range n {
		id := fmt.Sprintf("%08d", i)
		err := w.fake.Seed(localsm.Secret{
			Name: "fleet/" + id, RotationEnabled: &on, RotationLambdaARN: fnARN, RotationRules: rules,
			LastRotatedDate: w.now.Add(-24 * time.Hour), NextRotationDate: w.now.Add(29 * 24 * time.Hour),
			Versions: []localsm.Version{ver(vid(id+"a"), "1", "AWSPREVIOUS"), ver(vid(id+"b"), "2", "AWSCURRENT")},
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

func TestProfile(t *testing.T) {
	w := newWorld(t)
	w.seed(localsm.Secret{Name: "db", Versions: []localsm.Version{ver(vid("v1"), "1", "AWSCURRENT")}})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[profile ops]\nregion = eu-west-3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[ops]\naws_access_key_id = AKIDOPSPROFILE\naws_secret_access_key = ops-dummy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	var out, errb strings.Builder
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, now: func() time.Time { return w.now }}
	// No --region: the profile's applies; its credentials sign the requests.
	if code := a.run(t.Context(), []string{"status", "db", "--profile", "ops", "--endpoint-url", w.sm.URL}); code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	auth, _ := w.authorization.Load().(string)
	if !strings.Contains(auth, "Credential=AKIDOPSPROFILE/") || !strings.Contains(auth, "/eu-west-3/secretsmanager/") {
		t.Errorf("request not signed with the profile's key and region: %q", auth)
	}
	errb.Reset()
	if code := a.run(t.Context(), []string{"status", "db", "--profile", "nosuch", "--endpoint-url", w.sm.URL}); code != exitError || !strings.Contains(errb.String(), "nosuch") {
		t.Errorf("unknown profile: exit %d, stderr %q", code, errb.String())
	}
}
