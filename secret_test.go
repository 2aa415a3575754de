package rotation_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotationkit/rotation"
)

// knownPassword is what no formatting of a Secret may show.
const knownPassword = "S3cr3t-Hunter2-Zx9Q"

// leakForms returns the ways a value could show up in output: as is, hex
// (%x), upper hex (%X), base64 (JSON of []byte) and Go-quoted.
func leakForms(v string) []string {
	return []string{
		v,
		hex.EncodeToString([]byte(v)),
		strings.ToUpper(hex.EncodeToString([]byte(v))),
		base64.StdEncoding.EncodeToString([]byte(v)),
		fmt.Sprintf("%q", v),
	}
}

func checkNoLeak(t *testing.T, what, out string, values ...string) {
	t.Helper()
	for _, v := range values {
		for _, form := range leakForms(v) {
			if strings.Contains(out, form) {
				t.Errorf("%s shows the secret value (as %q):\n%s", what, form, out)
			}
		}
	}
}

// creds is a struct a user might log, holding a Secret in an exported and
// an unexported field.
type creds struct {
	User   string
	Secret *rotation.Secret
	hidden *rotation.Secret
}

// embedding embeds a Secret.
type embedding struct {
	*rotation.Secret
	User string
}

func TestSecretNeverFormatsValue(t *testing.T) {
	str := rotation.NewString(`{"username":"app","password":"` + knownPassword + `"}`)
	bin := rotation.NewBinary([]byte(knownPassword))
	notJSON := rotation.NewString(knownPassword)
	// Every way of printing must give the same text for another value of
	// the same kind: output that depends on the value leaks it in some
	// encoding, even when the value is not visible as such.
	others := map[string]*rotation.Secret{
		"json":     rotation.NewString(`{"username":"x","password":"y"}`),
		"binary":   rotation.NewBinary([]byte{1}),
		"not json": rotation.NewString("other"),
	}
	argsOf := func(s *rotation.Secret) map[string]any {
		return map[string]any{
			"secret":    s,
			"creds":     creds{User: "app", Secret: s},
			"&creds":    &creds{User: "app", Secret: s, hidden: s},
			"embedding": embedding{Secret: s, User: "app"},
			"slice":     []*rotation.Secret{s, s},
			"map":       map[string]*rotation.Secret{"db": s},
			"any slice": []any{s},
		}
	}
	for name, s := range map[string]*rotation.Secret{"json": str, "binary": bin, "not json": notJSON} {
		t.Run(name, func(t *testing.T) {
			args, ref := argsOf(s), argsOf(others[name])
			for argName, arg := range args {
				for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%-8v"} {
					out := fmt.Sprintf(verb, arg)
					checkNoLeak(t, fmt.Sprintf("fmt %s of %s", verb, argName), out, knownPassword)
					// &creds has an unexported pointer, printed as an
					// address; the others must match exactly.
					if argName != "&creds" {
						if want := fmt.Sprintf(verb, ref[argName]); out != want {
							t.Errorf("fmt %s of %s depends on the value:\n got %s\nwant %s", verb, argName, out, want)
						}
					}
				}
				checkNoLeak(t, "fmt.Sprint of "+argName, fmt.Sprint(arg), knownPassword)
				checkNoLeak(t, "fmt.Sprintln of "+argName, fmt.Sprintln(arg, arg), knownPassword)
			}
			if out := fmt.Sprintf("%v", s); !strings.Contains(out, "[REDACTED]") {
				t.Errorf("%%v of a Secret = %q, want it to say [REDACTED]", out)
			}
			if got, want := s.String(), fmt.Sprintf("%v", s); got != want {
				t.Errorf("String() = %q, %%v = %q; want the same", got, want)
			}
			if got, want := s.GoString(), fmt.Sprintf("%#v", s); got != want {
				t.Errorf("GoString() = %q, %%#v = %q; want the same", got, want)
			}

			for _, enc := range []string{"json", "text"} {
				var buf bytes.Buffer
				var h slog.Handler
				if enc == "json" {
					h = slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
				} else {
					h = slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
				}
				logger := slog.New(h)
				for argName, arg := range args {
					logger.Info("value", "arg", arg)
					logger.Info("attr", slog.Any(argName, arg))
					logger.Info("group", slog.Group("g", slog.Any(argName, arg)))
					logger.With("with", arg).Debug("with")
				}
				logger.LogAttrs(t.Context(), slog.LevelError, "attrs", slog.Any("secret", s))
				checkNoLeak(t, "slog "+enc, buf.String(), knownPassword)
				if !strings.Contains(buf.String(), "[REDACTED]") {
					t.Errorf("slog %s output never says [REDACTED]:\n%s", enc, buf.String())
				}
			}

			for argName, arg := range args {
				b, err := json.Marshal(arg)
				if err != nil {
					t.Errorf("json.Marshal(%s): %v", argName, err)
					continue
				}
				checkNoLeak(t, "json.Marshal of "+argName, string(b), knownPassword)
				b, err = json.MarshalIndent(arg, "", "  ")
				if err != nil {
					t.Errorf("json.MarshalIndent(%s): %v", argName, err)
				}
				checkNoLeak(t, "json.MarshalIndent of "+argName, string(b), knownPassword)
			}
			b, err := json.Marshal(struct {
				Name   string           `json:"name"`
				Secret *rotation.Secret `json:"secret"`
			}{"db", s})
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"name":"db","secret":"[REDACTED]"}`; string(b) != want {
				t.Errorf("json.Marshal of a struct with a Secret = %s, want %s", b, want)
			}
			if txt, err := s.MarshalText(); err != nil || string(txt) != "[REDACTED]" {
				t.Errorf("MarshalText() = %q, %v; want [REDACTED]", txt, err)
			}
		})
	}
}

// TestSecretFormatShowsVersion: what a Secret prints is its version and
// labels, so logs stay useful.
func TestSecretFormatShowsVersion(t *testing.T) {
	s := rotation.NewString(`{"password":"` + knownPassword + `"}`)
	for _, verb := range []string{"%v", "%s", "%+v", "%#v"} {
		out := fmt.Sprintf(verb, s)
		for _, want := range []string{"unsaved", "[REDACTED]", "string"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s of an unsaved Secret = %q, want it to contain %q", verb, out, want)
			}
		}
	}
	if out := fmt.Sprint(rotation.NewBinary([]byte{1, 2})); !strings.Contains(out, "binary") {
		t.Errorf("a binary Secret prints as %q, want it to say binary", out)
	}
	var nilSecret *rotation.Secret
	for _, verb := range []string{"%v", "%s", "%#v", "%d"} {
		if out := fmt.Sprintf(verb, nilSecret); out == "" {
			t.Errorf("%s of a nil Secret is empty", verb)
		}
	}
}

// --- accessors ------------------------------------------------------------

const accessorJSON = `{
	"username": "app",
	"empty": "",
	"port": 5432,
	"portString": "5432",
	"portSpaced": " 5432 ",
	"portFloat": 5432.5,
	"portWord": "five",
	"ssl": true,
	"sslString": "true",
	"sslUpper": "FALSE",
	"sslWord": "yes",
	"nothing": null,
	"nested": {"a": 1},
	"list": [1, 2],
	"unicode": "p\u00e4ss\"word",
	"big": 123456789012345678901234567890
}`

func TestSecretLookup(t *testing.T) {
	s := rotation.NewString(accessorJSON)
	if err := s.Validate(); err != nil {
		t.Fatalf("Valid() = %v", err)
	}
	type result struct {
		Value string
		OK    bool
		Err   bool
	}
	cases := []struct {
		field string
		want  result
	}{
		{"username", result{"app", true, false}},
		{"empty", result{"", true, false}},
		{"port", result{"5432", true, false}},
		{"portString", result{"5432", true, false}},
		{"ssl", result{"true", true, false}},
		{"nothing", result{"", false, false}},
		{"absent", result{"", false, false}},
		{"nested", result{"", false, true}},
		{"list", result{"", false, true}},
		{"unicode", result{"päss\"word", true, false}},
		{"big", result{"123456789012345678901234567890", true, false}},
	}
	for _, tc := range cases {
		v, ok, err := s.Lookup(tc.field)
		if diff := cmp.Diff(tc.want, result{v, ok, err != nil}); diff != "" {
			t.Errorf("Lookup(%q) (-want +got):\n%s", tc.field, diff)
		}
		if err != nil && !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("Lookup(%q) error %v does not wrap ErrInvalidSecret", tc.field, err)
		}
	}
	if !s.Has("nothing") || s.Has("absent") {
		t.Errorf("Has: a null field is present, an absent one is not")
	}
	want := []string{"big", "empty", "list", "nested", "nothing", "port", "portFloat", "portSpaced", "portString", "portWord", "ssl", "sslString", "sslUpper", "sslWord", "unicode", "username"}
	if diff := cmp.Diff(want, s.Keys()); diff != "" {
		t.Errorf("Keys() (-want +got):\n%s", diff)
	}
}

func TestSecretGet(t *testing.T) {
	s := rotation.NewString(accessorJSON)
	if v, err := s.Get("username"); err != nil || v != "app" {
		t.Errorf(`Get("username") = %q, %v; want "app"`, v, err)
	}
	for _, field := range []string{"absent", "nothing", "empty", "nested", "list"} {
		v, err := s.Get(field)
		if err == nil {
			t.Errorf("Get(%q) = %q, want an error", field, v)
			continue
		}
		if !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("Get(%q) error %v does not wrap ErrInvalidSecret", field, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", field)) {
			t.Errorf("Get(%q) error %q does not name the field", field, err)
		}
	}
}

func TestSecretInt(t *testing.T) {
	s := rotation.NewString(accessorJSON)
	for _, field := range []string{"port", "portString", "portSpaced"} {
		if n, err := s.Int(field); err != nil || n != 5432 {
			t.Errorf("Int(%q) = %d, %v; want 5432", field, n, err)
		}
	}
	for _, field := range []string{"portFloat", "portWord", "absent", "nothing", "empty", "nested", "big", "ssl"} {
		n, err := s.Int(field)
		if err == nil {
			t.Errorf("Int(%q) = %d, want an error", field, n)
			continue
		}
		if !errors.Is(err, rotation.ErrInvalidSecret) || !strings.Contains(err.Error(), fmt.Sprintf("%q", field)) {
			t.Errorf("Int(%q) error %q: want ErrInvalidSecret naming the field", field, err)
		}
	}
	// The error names the field, never its value.
	_, err := rotation.NewString(`{"port":"` + knownPassword + `"}`).Int("port")
	if err == nil || strings.Contains(err.Error(), knownPassword) {
		t.Errorf("Int of a non-number = %v, want an error not quoting the value", err)
	}
}

func TestSecretBool(t *testing.T) {
	s := rotation.NewString(accessorJSON)
	type result struct{ Value, OK, Err bool }
	cases := []struct {
		field string
		want  result
	}{
		{"ssl", result{true, true, false}},
		{"sslString", result{true, true, false}},
		{"sslUpper", result{false, true, false}},
		{"absent", result{false, false, false}},
		{"nothing", result{false, false, false}},
		{"sslWord", result{false, false, true}},
		{"username", result{false, false, true}},
		{"nested", result{false, false, true}},
	}
	for _, tc := range cases {
		v, ok, err := s.Bool(tc.field)
		if diff := cmp.Diff(tc.want, result{v, ok, err != nil}); diff != "" {
			t.Errorf("Bool(%q) (-want +got):\n%s", tc.field, diff)
		}
		if err != nil && (!errors.Is(err, rotation.ErrInvalidSecret) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.field))) {
			t.Errorf("Bool(%q) error %q: want ErrInvalidSecret naming the field", tc.field, err)
		}
	}
}

func TestSecretWith(t *testing.T) {
	orig := `{"username":"app","password":"old","host":"db","port":5432,"futureField":{"x":[1,2.50]},"gone":"soon"}`
	s := rotation.NewString(orig)
	w, err := s.With(map[string]any{"password": "new", "gone": nil, "added": 7, "flag": true})
	if err != nil {
		t.Fatalf("With: %v", err)
	}
	got := decodeFields(t, mustString(t, w))
	want := decodeFields(t, `{"username":"app","password":"new","host":"db","port":5432,"futureField":{"x":[1,2.50]},"added":7,"flag":true}`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("With result (-want +got):\n%s", diff)
	}
	if w.VersionID() != "" || len(w.Stages()) != 0 {
		t.Errorf("With result has version %q stages %v, want an unsaved value", w.VersionID(), w.Stages())
	}
	if mustString(t, s) != orig {
		t.Errorf("With changed the original")
	}
	if w.Has("gone") {
		t.Errorf("With(nil) did not remove the field")
	}
	// Removing an absent field and an empty With are no-ops on content.
	same, err := s.With(map[string]any{"absent": nil})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(decodeFields(t, orig), decodeFields(t, mustString(t, same))); diff != "" {
		t.Errorf("With(absent: nil) (-want +got):\n%s", diff)
	}
	if n, err := w.Int("port"); err != nil || n != 5432 {
		t.Errorf("With lost port: %d, %v", n, err)
	}

	// Values that cannot be encoded are errors that never quote them.
	for name, v := range map[string]any{"channel": make(chan int), "NaN": math.NaN(), "func": func() {}} {
		_, err := s.With(map[string]any{"password": v})
		if !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("With(%s) = %v, want ErrInvalidSecret", name, err)
		}
	}
	// With on something that is not a JSON object fails.
	for name, bad := range map[string]*rotation.Secret{
		"binary":   rotation.NewBinary([]byte(`{"a":1}`)),
		"not json": rotation.NewString(knownPassword),
		"array":    rotation.NewString(`[1]`),
	} {
		_, err := bad.With(map[string]any{"password": "x"})
		if !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("With on %s = %v, want ErrInvalidSecret", name, err)
		}
		if err != nil && strings.Contains(err.Error(), knownPassword) {
			t.Errorf("With on %s: error quotes the value: %v", name, err)
		}
	}
}

func mustString(t *testing.T, s *rotation.Secret) string {
	t.Helper()
	v, ok := s.SecretString()
	if !ok {
		t.Fatalf("secret is binary")
	}
	return v
}

func TestSecretValidate(t *testing.T) {
	cases := map[string]bool{
		`{}`:                true,
		`{"a":1}`:           true,
		` {"a":1} `:         true,
		`{"a":1}{"b":2}`:    false,
		`{"a":1} x`:         false,
		`null`:              false,
		`[]`:                false,
		`"string"`:          false,
		`5432`:              false,
		``:                  false,
		`{"a":`:             false,
		knownPassword:       false,
		`{"dup":1,"dup":2}`: true,
		"{\"a\":\"\xff\"}":  true, // invalid UTF-8 is replaced, as encoding/json does
		`{"password":"` + knownPassword + `"} trailing`: false,
	}
	for in, ok := range cases {
		err := rotation.NewString(in).Validate()
		if (err == nil) != ok {
			t.Errorf("NewString(%q).Validate() = %v, want valid=%v", in, err, ok)
		}
		if err != nil {
			if !errors.Is(err, rotation.ErrInvalidSecret) {
				t.Errorf("NewString(%q).Validate() = %v, want ErrInvalidSecret", in, err)
			}
			if strings.Contains(err.Error(), knownPassword) {
				t.Errorf("Valid() error quotes the value: %v", err)
			}
		}
	}
}

func TestSecretBinary(t *testing.T) {
	in := []byte{0, 1, 2, 0xff, 'p', 'w'}
	s := rotation.NewBinary(in)
	in[0] = 42 // NewBinary copied its input
	if !s.IsBinary() {
		t.Errorf("IsBinary() = false")
	}
	if str, ok := s.SecretString(); ok || str != "" {
		t.Errorf("SecretString() = %q, %v; want \"\", false", str, ok)
	}
	got := s.SecretBinary()
	if diff := cmp.Diff([]byte{0, 1, 2, 0xff, 'p', 'w'}, got); diff != "" {
		t.Errorf("SecretBinary() (-want +got):\n%s", diff)
	}
	got[1] = 42 // SecretBinary returns a copy
	if s.SecretBinary()[1] != 1 {
		t.Errorf("SecretBinary() returned the secret's own slice")
	}
	if err := s.Validate(); !errors.Is(err, rotation.ErrInvalidSecret) {
		t.Errorf("Valid() of a binary secret = %v, want ErrInvalidSecret", err)
	}
	if _, err := s.Get("password"); !errors.Is(err, rotation.ErrInvalidSecret) {
		t.Errorf("Get on a binary secret = %v, want ErrInvalidSecret", err)
	}
	if _, _, err := s.Bool("ssl"); !errors.Is(err, rotation.ErrInvalidSecret) {
		t.Errorf("Bool on a binary secret = %v, want ErrInvalidSecret", err)
	}
	if len(s.Keys()) != 0 || s.Has("password") {
		t.Errorf("a binary secret has fields")
	}
	if !s.Equal(rotation.NewBinary([]byte{0, 1, 2, 0xff, 'p', 'w'})) {
		t.Errorf("Equal: same bytes are not equal")
	}
	if s.Equal(rotation.NewString(string([]byte{0, 1, 2, 0xff, 'p', 'w'}))) {
		t.Errorf("Equal: a binary secret equals a string secret with the same bytes")
	}
	if rotation.NewString("").IsBinary() {
		t.Errorf("an empty string secret reports binary")
	}
}

func TestSecretEqual(t *testing.T) {
	a := rotation.NewString(`{"a":1}`)
	var nilSecret *rotation.Secret
	cases := []struct {
		x, y *rotation.Secret
		want bool
	}{
		{a, rotation.NewString(`{"a":1}`), true},
		{a, rotation.NewString(`{"a": 1}`), false}, // values, not JSON semantics
		{a, nilSecret, false},
		{nilSecret, nilSecret, true},
		{nilSecret, a, false},
	}
	for i, tc := range cases {
		if got := tc.x.Equal(tc.y); got != tc.want {
			t.Errorf("case %d: Equal = %v, want %v", i, got, tc.want)
		}
	}
}

func TestNewJSON(t *testing.T) {
	s, err := rotation.NewJSON(map[string]any{"username": "app", "port": 5432})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Int("port"); err != nil || n != 5432 {
		t.Errorf("Int(port) = %d, %v", n, err)
	}
	if _, err := rotation.NewJSON(map[string]any{"password": math.Inf(1)}); !errors.Is(err, rotation.ErrInvalidSecret) {
		t.Errorf("NewJSON(+Inf) = %v, want ErrInvalidSecret", err)
	}
	_, err = rotation.NewJSON(map[string]any{"password": json.RawMessage(knownPassword)})
	if !errors.Is(err, rotation.ErrInvalidSecret) || strings.Contains(err.Error(), knownPassword) {
		t.Errorf("NewJSON(invalid raw JSON) = %v, want ErrInvalidSecret without the value", err)
	}
}

func TestParseStep(t *testing.T) {
	for _, s := range rotation.Steps() {
		got, err := rotation.ParseStep(s.String())
		if err != nil || got != s {
			t.Errorf("ParseStep(%q) = %q, %v", s, got, err)
		}
	}
	want := []rotation.Step{"createSecret", "setSecret", "testSecret", "finishSecret"}
	if diff := cmp.Diff(want, rotation.Steps()); diff != "" {
		t.Errorf("Steps() (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "create_secret", "CreateSecret", "createsecret", "createSecret ", "rotate", strings.Repeat("x", 10000)} {
		if _, err := rotation.ParseStep(bad); !errors.Is(err, rotation.ErrUnknownStep) {
			t.Errorf("ParseStep(%.20q) = %v, want ErrUnknownStep", bad, err)
		} else if len(err.Error()) > 200 {
			t.Errorf("ParseStep of a long input gives a %d-byte error", len(err.Error()))
		}
	}
}

func TestStepErrorText(t *testing.T) {
	cause := errors.New("boom")
	e := &rotation.StepError{Step: rotation.StepSet, SecretARN: "arn:x", VersionID: "v1", Err: cause}
	if got, want := e.Error(), `setSecret for secret "arn:x" version "v1": boom`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, cause) {
		t.Errorf("StepError does not unwrap to its cause")
	}
	e.Step = ""
	if !strings.HasPrefix(e.Error(), "rotation for secret") {
		t.Errorf("Error() of a StepError without a step = %q", e.Error())
	}
}

func TestSecretEdgeCases(t *testing.T) {
	s := rotation.NewString(`{"note":"a<b&c","flag":"1","on":true}`)
	w, err := s.With(map[string]any{"extra": "x>y"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := w.SecretString()
	if !strings.Contains(raw, `"note":"a<b&c"`) || !strings.Contains(raw, `"extra":"x>y"`) {
		t.Errorf("With changed the encoding of values: %s", raw)
	}
	if _, _, err := s.Bool("flag"); !errors.Is(err, rotation.ErrInvalidSecret) {
		t.Errorf(`Bool("flag") with "1": err = %v, want ErrInvalidSecret`, err)
	}
	if v, ok, err := s.Bool("on"); !v || !ok || err != nil {
		t.Errorf(`Bool("on") = %v, %v, %v`, v, ok, err)
	}
	empty, err := rotation.NewJSON(nil)
	if err != nil || empty.Validate() != nil {
		t.Errorf("NewJSON(nil) = %v, %v; want a valid empty object", empty, err)
	}
	var nilSecret *rotation.Secret
	if nilSecret.VersionID() != "" || nilSecret.Stages() != nil || nilSecret.IsBinary() {
		t.Error("a nil *Secret must report no version, no stages and not binary")
	}
	var zero rotation.Secret
	if zero.IsBinary() || zero.Validate() == nil {
		t.Error("the zero Secret must be neither binary nor valid")
	}
}
