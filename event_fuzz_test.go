package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
)

// rotationTokenMessages are the fixed texts parseEvent uses about a
// malformed RotationToken; a token that is a substring of one of them
// "appears" in an error without having leaked.
func rotationTokenMessages(tok string) string {
	return fmt.Sprintf("%v: RotationToken has %d characters, want 36 to 256\n%v: RotationToken contains a character outside [a-zA-Z0-9-]",
		rotation.ErrInvalidEvent, len(tok), rotation.ErrInvalidEvent)
}

// FuzzParseEvent sends arbitrary events to a Handler whose fake holds no
// secrets. Handle must never panic, must always fail with a *StepError,
// must not write, must not call the API for an event it rejects, and must
// never put the RotationToken in its error or its log.
func FuzzParseEvent(f *testing.F) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db/orders-AbCdEf"
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret", "", "create_secret", "CreateSecret", "finishSecret\x00"} {
		f.Add(step, arn, versionNew, testRotationToken)
	}
	f.Add("createSecret", "", versionNew, testRotationToken)
	f.Add("createSecret", arn, "", testRotationToken)
	f.Add("createSecret", arn, versionNew, "")
	f.Add("setSecret", arn, strings.Repeat("a", 31), testRotationToken)
	f.Add("setSecret", arn, strings.Repeat("a", 65), testRotationToken)
	f.Add("testSecret", arn, "b0000000-0000-4000-8000-00000000000\u00e9", testRotationToken)
	f.Add("testSecret", arn, versionNew, strings.Repeat("r", 35))
	f.Add("testSecret", arn, versionNew, strings.Repeat("r", 257))
	f.Add("finishSecret", arn, versionNew, "rtok0000_aaaa-4bbb-8ccc-dddddddddddd-never-log-me")
	f.Add("finishSecret", arn, versionNew, "rtok0000-aaaa-4bbb-8ccc-dddddddddddd\nnever-log-me")
	f.Add("finishSecret", strings.Repeat("s", 2049), versionNew, testRotationToken)
	f.Add("createSecret", "db/orders", versionNew, testRotationToken)
	f.Add("createSecret", `"quoted" \ name`, versionNew+"\"", testRotationToken)
	f.Add("createSecret", testRotationToken, versionNew, testRotationToken)

	f.Fuzz(func(t *testing.T, step, secretID, clientRequestToken, rotationToken string) {
		fake := localsm.New(localsm.Options{})
		var logs lockedBuffer
		rot := &testRotator{}
		h, err := rotation.New(fake, rot, func(o *rotation.Options) {
			o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		if err != nil {
			t.Fatal(err)
		}
		ev := events.SecretsManagerSecretRotationEvent{Step: step, SecretID: secretID, ClientRequestToken: clientRequestToken, RotationToken: rotationToken}

		var herr error
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("Handle(%+v) panicked: %v", ev, p)
				}
			}()
			herr = h.Handle(context.Background(), ev)
		}()

		if herr == nil {
			t.Fatalf("Handle(%+v) succeeded against a fake with no secrets", ev)
		}
		var se *rotation.StepError
		if !errors.As(herr, &se) {
			t.Fatalf("Handle error is %T, want *rotation.StepError: %v", herr, herr)
		}
		if se.Err == nil {
			t.Errorf("StepError without a cause")
		}
		if s, perr := rotation.ParseStep(step); perr == nil && se.Step != s {
			t.Errorf("StepError.Step = %q, want %q", se.Step, s)
		} else if perr != nil && (se.Step != "" || !errors.Is(herr, rotation.ErrUnknownStep)) {
			t.Errorf("unknown step %q: StepError.Step = %q, error %v; want no step and ErrUnknownStep", step, se.Step, herr)
		}
		calls := fake.Calls()
		if calls["PutSecretValue"] != 0 || calls["UpdateSecretVersionStage"] != 0 {
			t.Errorf("Handle made write calls: %v", calls)
		}
		if rot.counts() != [3]int64{} {
			t.Errorf("the Rotator was called (Create/Set/Test %v) without a secret", rot.counts())
		}
		if errors.Is(herr, rotation.ErrInvalidEvent) || errors.Is(herr, rotation.ErrUnknownStep) {
			if n := fake.TotalCalls(); n != 0 {
				t.Errorf("a rejected event made %d API calls: %v", n, calls)
			}
		}
		if len(se.SecretARN) > 2048+3 || len(se.VersionID) > 64+3 {
			t.Errorf("StepError carries %d and %d bytes of event fields, want them truncated", len(se.SecretARN), len(se.VersionID))
		}

		// The token must not appear, unless it is so short or so common
		// that it appears for other reasons: as part of the other fields
		// or of the messages the Handler and the fake produce anyway.
		if len(rotationToken) < 8 {
			return
		}
		// The reference: the same event without a RotationToken, run
		// against a fresh fake, with its error and log, plus the event's
		// other fields in the forms they are printed in.
		var refLogs lockedBuffer
		ref, _ := rotation.New(localsm.New(localsm.Options{}), &testRotator{}, func(o *rotation.Options) {
			o.Logger = slog.New(slog.NewJSONHandler(&refLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		refEv := ev
		refEv.RotationToken = ""
		refText := []string{rotationTokenMessages(rotationToken), step, secretID, clientRequestToken,
			strconv.Quote(secretID), strconv.Quote(clientRequestToken), jsonString(secretID), jsonString(clientRequestToken)}
		if refErr := ref.Handle(context.Background(), refEv); refErr != nil {
			refText = append(refText, refErr.Error())
		}
		refText = append(refText, refLogs.String())
		if strings.Contains(strings.Join(refText, "\n"), rotationToken) {
			return
		}
		if strings.Contains(herr.Error(), rotationToken) {
			t.Errorf("error text contains the RotationToken %q: %v", rotationToken, herr)
		}
		if strings.Contains(logs.String(), rotationToken) || strings.Contains(logs.String(), jsonString(rotationToken)) {
			t.Errorf("log contains the RotationToken %q:\n%s", rotationToken, logs.String())
		}
	})
}

// jsonString returns s as it appears inside a JSON string, without quotes.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return strings.TrimSuffix(strings.TrimPrefix(string(b), `"`), `"`)
}

// FuzzSecret builds a Secret from arbitrary input. No accessor panics, the
// accessors agree with each other, and nothing a Secret prints (fmt, slog,
// JSON, text) or returns as an error contains the input, when the input is
// long enough to be meaningful (8 bytes) and not already part of the
// redacted description.
func FuzzSecret(f *testing.F) {
	for _, seed := range []string{
		"",
		"{}",
		"null",
		"[]",
		`"string"`,
		"5432",
		knownPassword,
		accessorJSON,
		currentValue,
		`{"password":"` + knownPassword + `"}`,
		`{"password":"` + knownPassword + `"} trailing`,
		`{"a":1}{"b":2}`,
		`{"port":"5432","ssl":"true","nothing":null}`,
		`{"nested":{"password":"` + knownPassword + `"}}`,
		"{\"a\":\"\xff\xfe\"}",
		`{"big":1e400}`,
		`{"dup":"x","dup":"y"}`,
		"[REDACTED]",
		"rotation.Secret{version: unsaved, stages: [], string value: [REDACTED]}",
	} {
		f.Add(seed)
	}
	names := []string{"password", "username", "port", "ssl", "nothing", "absent", ""}

	f.Fuzz(func(t *testing.T, in string) {
		for _, s := range []*rotation.Secret{rotation.NewString(in), rotation.NewBinary([]byte(in))} {
			exerciseSecret(t, s, in, names)
		}
	})
}

// describeOutputs returns everything a Secret prints, in every way it can
// be printed.
func describeOutputs(s *rotation.Secret) []string {
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, creds{User: "u", Secret: s}))
	}
	for _, newHandler := range []func(*lockedBuffer) slog.Handler{
		func(b *lockedBuffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *lockedBuffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var b lockedBuffer
		l := slog.New(newHandler(&b))
		l.Info("m", "secret", s, "creds", creds{User: "u", Secret: s})
		out = append(out, b.String())
	}
	j, _ := json.Marshal(struct {
		S *rotation.Secret
		E embedding
	}{s, embedding{Secret: s}})
	txt, _ := s.MarshalText()
	return append(out, string(j), string(txt))
}

// referenceOutputs returns describeOutputs for a fixed string or binary
// secret, computed once.
var referenceOutputs = func() func(binary bool) []string {
	var once sync.Once
	var str, bin []string
	return func(binary bool) []string {
		once.Do(func() {
			str = describeOutputs(rotation.NewString("x"))
			bin = describeOutputs(rotation.NewBinary([]byte("x")))
		})
		if binary {
			return bin
		}
		return str
	}
}()

func exerciseSecret(t *testing.T, s *rotation.Secret, in string, names []string) {
	t.Helper()
	var texts []string
	keep := func(err error) {
		if err != nil {
			texts = append(texts, err.Error())
		}
	}

	// Accessors never panic and agree with each other.
	if s.IsBinary() {
		if got := string(s.SecretBinary()); got != in {
			t.Errorf("SecretBinary() does not round-trip")
		}
		if _, ok := s.SecretString(); ok {
			t.Errorf("binary secret has a SecretString")
		}
	} else if got, ok := s.SecretString(); !ok || got != in {
		t.Errorf("SecretString() does not round-trip")
	}
	valid := s.Validate()
	keep(valid)
	if valid != nil && !errors.Is(valid, rotation.ErrInvalidSecret) {
		t.Errorf("Validate() = %v, want nil or ErrInvalidSecret", valid)
	}
	keys := s.Keys()
	if valid != nil && len(keys) != 0 {
		t.Errorf("invalid secret has keys %q", keys)
	}
	for _, name := range append(keys, names...) {
		if s.Has(name) != (valid == nil && containsString(keys, name)) {
			t.Errorf("Has(%q) disagrees with Keys()", name)
		}
		v, ok, err := s.Lookup(name)
		keep(err)
		if err != nil && !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("Lookup(%q) error %v does not wrap ErrInvalidSecret", name, err)
		}
		if ok && err != nil {
			t.Errorf("Lookup(%q) = ok and an error", name)
		}
		g, gerr := s.Get(name)
		keep(gerr)
		if wantOK := err == nil && ok && v != ""; (gerr == nil) != wantOK || gerr == nil && g != v {
			t.Errorf("Get(%q) = %q, %v disagrees with Lookup = %q, %v, %v", name, g, gerr, v, ok, err)
		}
		_, ierr := s.Int(name)
		keep(ierr)
		_, _, berr := s.Bool(name)
		keep(berr)
	}
	w, werr := s.With(map[string]any{"password": "replaced", "absent": nil})
	keep(werr)
	if (werr == nil) != (valid == nil) {
		t.Errorf("With error %v, but Valid() = %v", werr, valid)
	}
	if werr == nil {
		if err := w.Validate(); err != nil {
			t.Errorf("With produced an invalid secret: %v", err)
		}
		if pw, err := w.Get("password"); err != nil || pw != "replaced" {
			t.Errorf("With(password) then Get = %q, %v", pw, err)
		}
		for _, k := range keys {
			if k != "password" && !w.Has(k) {
				t.Errorf("With lost field %q", k)
			}
		}
		for _, k := range keys {
			r, err := s.With(map[string]any{k: nil})
			if err != nil || r.Has(k) {
				t.Errorf("With(%q: nil) = %v, %v; want the field removed", k, r, err)
			}
		}
	}
	if !s.Equal(s) {
		t.Errorf("a secret is not Equal to itself")
	}

	// What the secret prints does not depend on its value at all: it is
	// the same as for a fixed value of the same kind.
	outputs := describeOutputs(s)
	refOutputs := referenceOutputs(s.IsBinary())
	for i := range outputs {
		if a, b := stripSlogTime(outputs[i]), stripSlogTime(refOutputs[i]); a != b {
			t.Errorf("output %d depends on the value:\n got %s\nwant %s", i, a, b)
		}
	}

	if len(in) < 8 {
		return
	}
	reference := strings.Join(refOutputs, "\n")
	if strings.Contains(reference, in) {
		return
	}
	for _, o := range outputs {
		if strings.Contains(o, in) {
			t.Errorf("printed secret contains its value: %s", o)
		}
	}
	for _, text := range texts {
		if strings.Contains(text, in) {
			t.Errorf("error contains the secret value: %s", text)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stripSlogTime removes slog's time attribute, which differs between runs.
func stripSlogTime(s string) string {
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, `"time":"`); i >= 0 {
			if j := strings.Index(line[i+8:], `"`); j >= 0 {
				line = line[:i] + line[i+8+j+1:]
			}
		}
		if strings.HasPrefix(line, "time=") {
			if j := strings.IndexByte(line, ' '); j >= 0 {
				line = line[j:]
			}
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
