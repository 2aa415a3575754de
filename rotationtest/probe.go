package rotationtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/rotationkit/rotation/internal/redact"

	"github.com/rotationkit/rotation"
)

// wholeValue stands for the whole secret value where a field name is
// expected: the credential of a secret that is not a JSON object.
const wholeValue = ""

// probeAdvice ends every report of a Probe that proves nothing.
const probeAdvice = "A Probe must prove a login at the target service with the value it is given, " +
	"written independently of the rotator: never the rotator's Test, nor code the rotator shares. " +
	"A Probe that accepts a wrong credential makes every rule pass for a rotator that changes nothing"

// errProbe marks a Probe that failed its sanity check: a fixture error,
// not a violation.
var errProbe = errors.New("rotationtest: the fixture's Probe accepts values that must not authenticate")

// shape is what the suite knows about the shape of a fixture's secret:
// which fields are the credential and which other fields a rotation may
// rewrite.
type shape struct {
	creds     []string        // credential field names, or [wholeValue]
	mayChange map[string]bool // other fields a rotation may rewrite
	minBits   int             // the least estimated strength of a generated credential
}

// shapeOf returns the fields of fx, from its declarations or derived
// from its Secret.
func shapeOf(fx *Fixture) (shape, error) {
	f := shape{mayChange: map[string]bool{}, minBits: fx.MinStrength}
	if f.minBits == 0 {
		f.minBits = defaultMinStrength
	}
	obj, isObj := object(fx.Secret)
	switch {
	case fx.CredentialFields != nil:
		if len(fx.CredentialFields) == 0 {
			return f, errors.New("rotationtest: Fixture.CredentialFields is empty; leave it nil to derive the credential fields from Secret")
		}
		for _, k := range fx.CredentialFields {
			if !isObj {
				return f, fmt.Errorf("rotationtest: Fixture.CredentialFields names %q but Secret is not a JSON object", k)
			}
			if _, ok := scalar(obj[k]); !ok {
				return f, fmt.Errorf("rotationtest: Fixture.CredentialFields names %q, which is not a string or number field of Secret", k)
			}
		}
		f.creds = slices.Clone(fx.CredentialFields)
	case !isObj:
		f.creds = []string{wholeValue}
	default:
		for k, v := range obj {
			if _, ok := scalar(v); ok && redact.IsCredentialField(k) && !isLocator(k) {
				f.creds = append(f.creds, k)
			}
		}
		if len(f.creds) == 0 {
			return f, fmt.Errorf("rotationtest: no field of the fixture's Secret is named like a credential (fields: %s); set Fixture.CredentialFields", strings.Join(sortedObjKeys(obj), ", "))
		}
		sort.Strings(f.creds)
	}
	if fx.MayChange != nil {
		for _, k := range fx.MayChange {
			f.mayChange[k] = true
		}
		return f, nil
	}
	for k := range obj {
		lk := strings.ToLower(k)
		if strings.HasSuffix(lk, "id") || strings.HasPrefix(lk, "public") ||
			(fx.ZeroDowntime && (lk == "username" || lk == "user")) {
			f.mayChange[k] = true
		}
	}
	return f, nil
}

// isLocator reports whether field k names where a credential is used or
// kept rather than the credential itself ("token_url", "secret_arn").
func isLocator(k string) bool {
	k = strings.ToLower(k)
	for _, sfx := range []string{"url", "uri", "arn", "endpoint", "host"} {
		if strings.HasSuffix(k, sfx) {
			return true
		}
	}
	return false
}

// defaultMinStrength is the least estimated strength, in bits, of a
// generated credential when the fixture declares none.
const defaultMinStrength = 128

// object decodes s as a JSON object, keeping numbers as json.Number.
func object(s string) (map[string]any, bool) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

func sortedObjKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// scalar returns a string or number field's text.
func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// field returns the credential field k of value (the whole value for
// wholeValue).
func field(value, k string) (string, bool) {
	if k == wholeValue {
		return value, true
	}
	obj, ok := object(value)
	if !ok {
		return "", false
	}
	return scalar(obj[k])
}

// credKey identifies the credential a value holds: its credential fields.
func (f shape) credKey(value string) string {
	var b strings.Builder
	for _, k := range f.creds {
		v, _ := field(value, k)
		fmt.Fprintf(&b, "%d:%s;", len(v), v)
	}
	return b.String()
}

// withField returns value with field k set to text (the whole value for
// wholeValue). A number field stays a number when text is one.
func withField(value, k, text string) (string, error) {
	if k == wholeValue {
		return text, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(value), &m); err != nil {
		return "", err
	}
	old := bytes.TrimSpace(m[k])
	var raw []byte
	if len(old) > 0 && old[0] != '"' && json.Valid([]byte(text)) {
		raw = []byte(text)
	} else {
		var err error
		if raw, err = json.Marshal(text); err != nil {
			return "", err
		}
	}
	m[k] = raw
	b, err := json.Marshal(m)
	return string(b), err
}

// altered returns s with one character, in the middle, replaced by
// another of the same kind (a digit by a digit, a letter by a letter of
// the same case), so that the value keeps its shape but is wrong.
func altered(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return "x"
	}
	i := len(r) / 2
	// Prefer a letter or digit near the middle: in a PEM block or a
	// connection string, punctuation may be syntax.
	for d := 0; d < len(r); d++ {
		if j := i + d; j < len(r) && isAlnum(r[j]) {
			i = j
			break
		}
		if j := i - d; j >= 0 && isAlnum(r[j]) {
			i = j
			break
		}
	}
	switch c := r[i]; {
	case c >= '0' && c <= '9':
		r[i] = '0' + (c-'0'+1)%10
	case c >= 'a' && c <= 'z':
		r[i] = 'a' + (c-'a'+1)%26
	case c >= 'A' && c <= 'Z':
		r[i] = 'A' + (c-'A'+1)%26
	case c == 'x':
		r[i] = 'y'
	default:
		r[i] = 'x'
	}
	return string(r)
}

func isAlnum(c rune) bool {
	return c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c))
}

// randomLike returns a random string, from crypto/rand, as long as s (at
// least 16 characters) from the kinds of character s uses: a plausible but
// wrong credential.
func randomLike(s string) (string, error) {
	alphabet := ""
	var lower, upper, digit, other bool
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= '0' && c <= '9':
			digit = true
		default:
			other = true
		}
	}
	if lower || !(upper || digit) {
		alphabet += "abcdefghijklmnopqrstuvwxyz"
	}
	if upper {
		alphabet += "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	}
	if digit || !(lower || upper) {
		alphabet += "0123456789"
	}
	if other {
		alphabet += "-_.+"
	}
	n := max(len([]rune(s)), 16)
	out := make([]byte, n)
	for i := range out {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[j.Int64()]
	}
	return string(out), nil
}

// strength estimates the strength of s in bits from its length and the
// kinds of character it uses (lower case, upper case, digits, ASCII
// punctuation, anything else), as if every character were drawn at random
// from those kinds. It overestimates a value from a narrower alphabet (hex
// counts as lower case and digits) and any value that is not random; it
// is a floor check, not a measure.
func strength(s string) (bits float64, alphabet int) {
	var lower, upper, digit, punct, other bool
	n := 0
	for _, c := range s {
		n++
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= '0' && c <= '9':
			digit = true
		case c < unicode.MaxASCII && unicode.IsPunct(c) || unicode.IsSymbol(c) && c < unicode.MaxASCII:
			punct = true
		default:
			other = true
		}
	}
	for _, k := range []struct {
		on   bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {punct, 32}, {other, 64}} {
		if k.on {
			alphabet += k.size
		}
	}
	if alphabet < 2 {
		return 0, alphabet
	}
	return float64(n) * math.Log2(float64(alphabet)), alphabet
}

// fieldName describes credential field k for a message.
func fieldName(k string) string {
	if k == wholeValue {
		return "the value"
	}
	return fmt.Sprintf("field %q", k)
}

// checkProbe makes sure the fixture's Probe is a real check before any
// rule relies on it: it must accept the initial secret (checked by
// newEnv) and reject the same secret with a credential field changed in
// one character, and with every credential field replaced by a random
// value of the same kind (a random password for the same user).
func checkProbe(ctx context.Context, fx *Fixture, f shape) error {
	var accepted []string
	for _, k := range f.creds {
		v, _ := field(fx.Secret, k)
		bad, err := withField(fx.Secret, k, altered(v))
		if err != nil {
			return fmt.Errorf("rotationtest: altering %s of the fixture's secret: %w", fieldName(k), err)
		}
		if fx.Probe(ctx, rotation.NewString(bad)) == nil {
			accepted = append(accepted, fmt.Sprintf("the initial secret with %s changed in one character", fieldName(k)))
		}
	}
	bad := fx.Secret
	for _, k := range f.creds {
		v, _ := field(fx.Secret, k)
		r, err := randomLike(v)
		if err != nil {
			return err
		}
		if bad, err = withField(bad, k, r); err != nil {
			return fmt.Errorf("rotationtest: replacing %s of the fixture's secret: %w", fieldName(k), err)
		}
	}
	if fx.Probe(ctx, rotation.NewString(bad)) == nil {
		accepted = append(accepted, "the initial secret with a random "+strings.Join(credNames(f.creds), " and "))
	}
	if len(accepted) == 0 {
		return nil
	}
	return fmt.Errorf("%w: it accepts %s. %s (see Fixture.Probe)", errProbe, strings.Join(accepted, "; "), probeAdvice)
}

func credNames(creds []string) []string {
	out := make([]string, len(creds))
	for i, k := range creds {
		if k == wholeValue {
			k = "value"
		}
		out[i] = k
	}
	return out
}
