package rotation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rotationkit/rotation/internal/redact"
)

// redacted is what every formatting of a Secret shows in place of a value.
const redacted = "[REDACTED]"

// Secret is one version's value: a string (usually a JSON object) or binary
// data. It is immutable. Printing it in any way (fmt verbs, slog, JSON)
// shows only its version id and labels, never the value; the value is
// reached only through the accessors that name what they return.
type Secret struct {
	versionID string
	stages    []string
	// d holds the value behind a pointer, so that even a Secret copied by
	// value and printed through reflection shows only an address.
	d *secretData
}

// secretData is the value of a Secret.
type secretData struct {
	str *string
	bin []byte

	// fields is the parsed JSON object, or nil when the value is not one;
	// parseErr says why.
	fields   map[string]json.RawMessage
	parseErr error
}

var errNoValue = fmt.Errorf("%w: the secret holds no value", ErrInvalidSecret)

// data returns the value, or an empty one for a zero or nil Secret.
func (s *Secret) data() *secretData {
	if s == nil || s.d == nil {
		return &secretData{parseErr: errNoValue}
	}
	return s.d
}

// NewString returns a secret holding s as its SecretString. A JSON object
// becomes available through Get, Int, Bool and With.
func NewString(s string) *Secret {
	d := &secretData{str: &s}
	d.parse()
	return &Secret{d: d}
}

// NewBinary returns a secret holding b as its SecretBinary.
func NewBinary(b []byte) *Secret {
	d := &secretData{bin: bytes.Clone(b)}
	d.parse()
	return &Secret{d: d}
}

// NewJSON returns a secret whose SecretString is the JSON encoding of
// fields.
func NewJSON(fields map[string]any) (*Secret, error) {
	if fields == nil {
		fields = map[string]any{}
	}
	b, err := marshalNoEscape(fields)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot encode fields as JSON: %v", ErrInvalidSecret, redactJSONError(err))
	}
	return NewString(string(b)), nil
}

// marshalNoEscape encodes v as JSON without HTML escaping, so that "<",
// ">" and "&" in values are stored as they are.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (s *secretData) parse() {
	if s.str == nil {
		s.parseErr = fmt.Errorf("%w: the secret is binary, not a JSON string", ErrInvalidSecret)
		return
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(*s.str))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		s.parseErr = fmt.Errorf("%w: the secret string is not a JSON object", ErrInvalidSecret)
		return
	}
	if dec.More() {
		s.parseErr = fmt.Errorf("%w: the secret string has data after its JSON object", ErrInvalidSecret)
		return
	}
	s.fields = m
}

// redactJSONError keeps only the kind of a JSON error, since some
// encoding/json messages quote the offending value.
func redactJSONError(err error) string {
	var ute *json.UnsupportedTypeError
	if errors.As(err, &ute) {
		return "unsupported type " + ute.Type.String()
	}
	return "invalid value"
}

// withVersion returns a copy of s labelled as version id with stages.
func (s *Secret) withVersion(id string, stages []string) *Secret {
	c := *s
	c.versionID = id
	c.stages = slices.Clone(stages)
	return &c
}

// VersionID returns the id of the version the value was read from, or ""
// for a value not yet stored.
func (s *Secret) VersionID() string {
	if s == nil {
		return ""
	}
	return s.versionID
}

// Stages returns the labels the version carried when it was read.
func (s *Secret) Stages() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.stages)
}

// IsBinary reports whether the value is SecretBinary.
func (s *Secret) IsBinary() bool { return s != nil && s.d != nil && s.d.str == nil }

// SecretString returns the raw string value and true, or "" and false for
// a binary secret. Handle the result as a secret: never log it.
func (s *Secret) SecretString() (string, bool) {
	if s.data().str == nil {
		return "", false
	}
	return *s.data().str, true
}

// SecretBinary returns a copy of the binary value, or nil for a string
// secret. Handle the result as a secret: never log it.
func (s *Secret) SecretBinary() []byte { return bytes.Clone(s.data().bin) }

// Validate returns nil if the value is a JSON object, or an error wrapping
// ErrInvalidSecret that says why not (never quoting the value).
func (s *Secret) Validate() error { return s.data().parseErr }

// Keys returns the JSON object's field names, sorted.
func (s *Secret) Keys() []string {
	keys := make([]string, 0, len(s.data().fields))
	for k := range s.data().fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Has reports whether the JSON object has field name (with any value,
// null included).
func (s *Secret) Has(name string) bool {
	_, ok := s.data().fields[name]
	return ok
}

func fieldError(name, problem string) error {
	return fmt.Errorf("%w: field %q %s", ErrInvalidSecret, name, problem)
}

// Lookup returns field name as a string. A JSON number or boolean is
// returned as its JSON text ("5432", "true"). ok is false when the field
// is absent or null. Objects and arrays are an error.
func (s *Secret) Lookup(name string) (value string, ok bool, err error) {
	if s.data().parseErr != nil {
		return "", false, s.data().parseErr
	}
	raw, present := s.data().fields[name]
	if !present {
		return "", false, nil
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case string(raw) == "null":
		return "", false, nil
	case len(raw) > 0 && raw[0] == '"':
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", false, fieldError(name, "is not a valid JSON string")
		}
		return v, true, nil
	case len(raw) > 0 && (raw[0] == '{' || raw[0] == '['):
		return "", false, fieldError(name, "is an object or array, want a string")
	default:
		return string(raw), true, nil
	}
}

// Get returns the required field name as a string; see Lookup. A missing,
// null or empty field is an error naming the field.
func (s *Secret) Get(name string) (string, error) {
	v, ok, err := s.Lookup(name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fieldError(name, "is missing")
	}
	if v == "" {
		return "", fieldError(name, "is empty")
	}
	return v, nil
}

// Int returns the required field name as an integer. Both 5432 and "5432"
// are accepted.
func (s *Secret) Int(name string) (int, error) {
	v, err := s.Get(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fieldError(name, "is not an integer")
	}
	return n, nil
}

// Bool returns field name as a boolean: true, false, "true" and "false"
// (any case) are accepted. ok is false when the field is absent or null.
func (s *Secret) Bool(name string) (value, ok bool, err error) {
	v, ok, err := s.Lookup(name)
	if err != nil || !ok {
		return false, false, err
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, fieldError(name, `is not a boolean (want true, false, "true" or "false")`)
}

// With returns a new secret (not yet stored: no version id) with the
// given fields set and every other field of s carried over unchanged.
// A nil value removes the field.
func (s *Secret) With(fields map[string]any) (*Secret, error) {
	if s.data().parseErr != nil {
		return nil, s.data().parseErr
	}
	m := make(map[string]json.RawMessage, len(s.data().fields)+len(fields))
	for k, v := range s.data().fields {
		m[k] = v
	}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
			continue
		}
		b, err := marshalNoEscape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: field %q: cannot encode: %s", ErrInvalidSecret, k, redactJSONError(err))
		}
		m[k] = b
	}
	b, err := marshalNoEscape(m)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot encode: %s", ErrInvalidSecret, redactJSONError(err))
	}
	return NewString(string(b)), nil
}

// Equal reports whether s and t hold the same value (labels are ignored).
func (s *Secret) Equal(t *Secret) bool {
	if s == nil || t == nil {
		return s == t
	}
	if (s.data().str == nil) != (t.data().str == nil) {
		return false
	}
	if s.data().str != nil {
		return *s.data().str == *t.data().str
	}
	return bytes.Equal(s.data().bin, t.data().bin)
}

func (s *Secret) describe() string {
	if s == nil {
		return "rotation.Secret(nil)"
	}
	kind := "string"
	if s.data().str == nil {
		kind = "binary"
	}
	id := s.versionID
	if id == "" {
		id = "unsaved"
	}
	return fmt.Sprintf("rotation.Secret{version: %s, stages: %v, %s value: %s}", id, s.stages, kind, redacted)
}

// String returns a description with the value redacted.
func (s *Secret) String() string { return s.describe() }

// GoString returns a description with the value redacted, for %#v.
func (s *Secret) GoString() string { return s.describe() }

// Format writes the redacted description for every verb, so no fmt verb
// (%s, %v, %+v, %#v, %x, %q, ...) can show the value.
func (s *Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.describe())) }

// LogValue implements slog.LogValuer: the version and labels, never the
// value.
func (s *Secret) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.String("version", s.versionID),
		slog.Any("stages", s.stages),
		slog.String("value", redacted),
	)
}

// MarshalJSON encodes the redacted marker, never the value, so a Secret
// embedded in a logged struct cannot leak. Use SecretString to store it.
func (s *Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalText encodes the redacted marker, never the value.
func (s *Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// credentials returns the strings of s that must never appear in a log or
// an error, as redact.Credentials defines them: the whole value, and
// every string or number held by a credential field at any depth.
func (s *Secret) credentials() []redact.Needle {
	if s == nil {
		return nil
	}
	d := s.data()
	var raw []byte
	switch {
	case d.str != nil:
		raw = []byte(*d.str)
	case d.bin != nil:
		raw = d.bin
	default:
		return nil
	}
	var out []redact.Needle
	for _, c := range redact.Credentials(raw) {
		out = append(out, redact.Needle{Value: c.Value, Partial: c.Partial})
	}
	return out
}
