package rotation_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rotationkit/rotation"
)

// seededReader is a deterministic byte stream: SHA-256 of seed and a counter.
// It stands in for crypto/rand where a test needs reproducible output.
type seededReader struct {
	seed []byte
	ctr  uint64
	buf  []byte
}

func newSeededReader(seed string) *seededReader { return &seededReader{seed: []byte(seed)} }

func (r *seededReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			var block [8]byte
			binary.BigEndian.PutUint64(block[:], r.ctr)
			r.ctr++
			sum := sha256.Sum256(append(append([]byte{}, r.seed...), block[:]...))
			r.buf = sum[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

// constReader returns b forever.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// emptyReader returns 0, nil forever: a reader that makes no progress.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

// Character types, defined here independently of the implementation.
var typeTests = []struct {
	name string
	in   func(byte) bool
}{
	{"lowercase", func(c byte) bool { return 'a' <= c && c <= 'z' }},
	{"uppercase", func(c byte) bool { return 'A' <= c && c <= 'Z' }},
	{"digit", func(c byte) bool { return '0' <= c && c <= '9' }},
	{"punctuation", func(c byte) bool { return strings.IndexByte(`!"#$%&'()*+,-./:;<=>?@[\]^_`+"`"+`{|}~`, c) >= 0 }},
	{"space", func(c byte) bool { return c == ' ' }},
}

// model is an independent description of what a policy allows: the expected
// alphabet in ASCII order and the names of the included (non-empty) types.
func model(p rotation.PasswordPolicy) (alphabet string, included []string) {
	skip := []bool{p.ExcludeLowercase, p.ExcludeUppercase, p.ExcludeNumbers, p.ExcludePunctuation, !p.IncludeSpace}
	excluded := func(c byte) bool {
		for _, r := range p.ExcludeCharacters {
			if r == rune(c) {
				return true
			}
		}
		return false
	}
	var sb strings.Builder
	has := make([]bool, len(typeTests))
	for c := byte(0x20); c <= 0x7e; c++ {
		for i, tt := range typeTests {
			if tt.in(c) && !skip[i] && !excluded(c) {
				sb.WriteByte(c)
				has[i] = true
			}
		}
	}
	for i, tt := range typeTests {
		if has[i] {
			included = append(included, tt.name)
		}
	}
	return sb.String(), included
}

// checkPassword reports every way pw violates p; it assumes p is valid.
func checkPassword(p rotation.PasswordPolicy, pw string) []string {
	var problems []string
	wantLen := p.Length
	if wantLen == 0 {
		wantLen = 32
	}
	if len(pw) != wantLen {
		problems = append(problems, fmt.Sprintf("len = %d, want %d", len(pw), wantLen))
	}
	alphabet, included := model(p)
	for i := 0; i < len(pw); i++ {
		if strings.IndexByte(alphabet, pw[i]) < 0 {
			problems = append(problems, fmt.Sprintf("byte %d is %q, not in alphabet %q", i, pw[i], alphabet))
		}
	}
	if !p.AllowMissingTypes {
		for _, name := range included {
			for _, tt := range typeTests {
				if tt.name == name && strings.IndexFunc(pw, func(r rune) bool { return r < 128 && tt.in(byte(r)) }) < 0 {
					problems = append(problems, fmt.Sprintf("no %s character although required", name))
				}
			}
		}
	}
	return problems
}

func TestPasswordPolicyZeroValue(t *testing.T) {
	var p rotation.PasswordPolicy
	var want []byte
	for c := byte('!'); c <= '~'; c++ {
		want = append(want, c)
	}
	if got := p.Alphabet(); got != string(want) {
		t.Errorf("Alphabet() = %q, want %q", got, want)
	}
	if len(want) != 94 {
		t.Fatalf("test bug: default alphabet has %d chars", len(want))
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
	for range 200 {
		pw, err := p.Generate()
		if err != nil {
			t.Fatalf("Generate() error: %v", err)
		}
		for _, problem := range checkPassword(p, pw) {
			t.Errorf("Generate(): %s", problem)
		}
	}
}

// TestPasswordPolicyFlagCombinations covers all 32 combinations of the four
// Exclude flags and IncludeSpace, with and without AllowMissingTypes.
func TestPasswordPolicyFlagCombinations(t *testing.T) {
	for mask := range 64 {
		p := rotation.PasswordPolicy{
			Length:             12,
			ExcludeLowercase:   mask&1 != 0,
			ExcludeUppercase:   mask&2 != 0,
			ExcludeNumbers:     mask&4 != 0,
			ExcludePunctuation: mask&8 != 0,
			IncludeSpace:       mask&16 != 0,
			AllowMissingTypes:  mask&32 != 0,
		}
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			wantAlphabet, _ := model(p)
			if got := p.Alphabet(); got != wantAlphabet {
				t.Errorf("Alphabet() = %q, want %q", got, wantAlphabet)
			}
			err := p.Validate()
			if wantAlphabet == "" {
				if err == nil {
					t.Fatal("Validate() = nil for a policy with no characters")
				}
				if _, gerr := p.Generate(); gerr == nil {
					t.Error("Generate() succeeded for a policy with no characters")
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			r := newSeededReader(fmt.Sprint(mask))
			for range 50 {
				pw, err := p.GenerateFrom(r)
				if err != nil {
					t.Fatalf("GenerateFrom() error: %v", err)
				}
				for _, problem := range checkPassword(p, pw) {
					t.Errorf("GenerateFrom() = %q: %s", pw, problem)
				}
			}
		})
	}
}

func TestPasswordPolicyExcludeCharacters(t *testing.T) {
	// The AWS rotation templates' default exclusions, plus non-ASCII runes
	// and invalid UTF-8, which must be ignored.
	const exclude = "/@\"'\\" + "é€😀" + "\xff\xfe"
	p := rotation.PasswordPolicy{Length: 64, ExcludeCharacters: exclude}
	alphabet := p.Alphabet()
	if len(alphabet) != 94-5 {
		t.Errorf("len(Alphabet()) = %d, want 89", len(alphabet))
	}
	if strings.ContainsAny(alphabet, `/@"'\`) {
		t.Errorf("Alphabet() = %q contains an excluded character", alphabet)
	}
	for range 500 {
		pw, err := p.Generate()
		if err != nil {
			t.Fatalf("Generate() error: %v", err)
		}
		if strings.ContainsAny(pw, `/@"'\`) {
			t.Fatalf("Generate() returned a password with an excluded character")
		}
		for _, problem := range checkPassword(p, pw) {
			t.Errorf("Generate(): %s", problem)
		}
	}
}

// A type whose characters are all in ExcludeCharacters is not included, so
// it is neither required nor counted against Length.
func TestPasswordPolicyTypeFullyExcluded(t *testing.T) {
	p := rotation.PasswordPolicy{Length: 3, ExcludeCharacters: "0123456789"}
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil (digits are not included)", err)
	}
	for range 200 {
		pw, err := p.Generate()
		if err != nil {
			t.Fatalf("Generate() error: %v", err)
		}
		if strings.ContainsAny(pw, "0123456789") {
			t.Fatal("password contains an excluded digit")
		}
		for _, problem := range checkPassword(p, pw) {
			t.Errorf("Generate(): %s", problem)
		}
	}
	p.Length = 2
	if err := p.Validate(); err == nil {
		t.Error("Validate() = nil for Length 2 with three required types")
	}
}

// A type reduced to a single character must still appear when required.
func TestPasswordPolicyRareTypeRequired(t *testing.T) {
	p := rotation.PasswordPolicy{Length: 4, ExcludeCharacters: "012345689", IncludeSpace: true, ExcludePunctuation: true}
	// Types: lowercase, uppercase, "7", " ".
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	r := newSeededReader("rare")
	for range 2000 {
		pw, err := p.GenerateFrom(r)
		if err != nil {
			t.Fatalf("GenerateFrom() error: %v", err)
		}
		if !strings.Contains(pw, "7") || !strings.Contains(pw, " ") {
			t.Fatalf("GenerateFrom() lacks the only digit or the space")
		}
		for _, problem := range checkPassword(p, pw) {
			t.Errorf("GenerateFrom(): %s", problem)
		}
	}
}

func TestPasswordPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       rotation.PasswordPolicy
		wantErr string // substring of the error; "" means valid
	}{
		{"zero value", rotation.PasswordPolicy{}, ""},
		{"length 4096", rotation.PasswordPolicy{Length: 4096}, ""},
		{"length 4097", rotation.PasswordPolicy{Length: 4097}, "Length"},
		{"length -1", rotation.PasswordPolicy{Length: -1}, "Length"},
		{"length MinInt", rotation.PasswordPolicy{Length: math.MinInt}, "Length"},
		{"length MaxInt", rotation.PasswordPolicy{Length: math.MaxInt}, "Length"},
		{"length 1 require each", rotation.PasswordPolicy{Length: 1}, "Length"},
		{"length 3 require four", rotation.PasswordPolicy{Length: 3}, "Length"},
		{"length 4 require four", rotation.PasswordPolicy{Length: 4}, ""},
		{"length 4 require five", rotation.PasswordPolicy{Length: 4, IncludeSpace: true}, "Length"},
		{"length 5 require five", rotation.PasswordPolicy{Length: 5, IncludeSpace: true}, ""},
		{"length 1 allow missing", rotation.PasswordPolicy{Length: 1, AllowMissingTypes: true}, ""},
		{"length 1 one type", rotation.PasswordPolicy{Length: 1, ExcludeLowercase: true, ExcludeUppercase: true, ExcludePunctuation: true}, ""},
		{"all flags", rotation.PasswordPolicy{ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true}, "no characters"},
		{"all by ExcludeCharacters", rotation.PasswordPolicy{ExcludeCharacters: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + `!"#$%&'()*+,-./:;<=>?@[\]^_` + "`{|}~"}, "ExcludeCharacters"},
		{"only space left", rotation.PasswordPolicy{IncludeSpace: true, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			_, genErr := tt.p.GenerateFrom(newSeededReader(tt.name))
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				if genErr != nil {
					t.Errorf("GenerateFrom() error = %v, want nil", genErr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want an error mentioning %q", err, tt.wantErr)
			}
			if genErr == nil || err == nil || genErr.Error() != err.Error() {
				t.Errorf("GenerateFrom() error = %v, want Validate's error %v", genErr, err)
			}
		})
	}
}

func TestPasswordPolicyLengths(t *testing.T) {
	for _, n := range []int{0, 1, 2, 4, 31, 32, 255, 256, 257, 1000, 4096} {
		p := rotation.PasswordPolicy{Length: n, AllowMissingTypes: n < 4}
		pw, err := p.Generate()
		if err != nil {
			t.Fatalf("Length %d: Generate() error: %v", n, err)
		}
		for _, problem := range checkPassword(p, pw) {
			t.Errorf("Length %d: %s", n, problem)
		}
	}
}

func TestPasswordPolicyDeterministic(t *testing.T) {
	for _, p := range []rotation.PasswordPolicy{
		{},
		{Length: 4096},
		{Length: 20, AllowMissingTypes: true, IncludeSpace: true},
	} {
		a, errA := p.GenerateFrom(newSeededReader("seed"))
		b, errB := p.GenerateFrom(newSeededReader("seed"))
		c, errC := p.GenerateFrom(newSeededReader("other seed"))
		// Short reads must not change the result: the same bytes give the
		// same password however the reader splits them.
		d, errD := p.GenerateFrom(iotest.OneByteReader(newSeededReader("seed")))
		if err := errors.Join(errA, errB, errC, errD); err != nil {
			t.Fatalf("GenerateFrom() error: %v", err)
		}
		if a != b {
			t.Errorf("%+v: same seed gave different passwords", p)
		}
		if a != d {
			t.Errorf("%+v: one-byte reads gave a different password than full reads", p)
		}
		if a == c {
			t.Errorf("%+v: different seeds gave the same password", p)
		}
	}

	// An all-zero stream draws index 0 every time.
	tests := []struct {
		p    rotation.PasswordPolicy
		want string
	}{
		{rotation.PasswordPolicy{Length: 5, AllowMissingTypes: true}, "!!!!!"},
		{rotation.PasswordPolicy{Length: 5, AllowMissingTypes: true, IncludeSpace: true}, "     "},
		// Forced "aA0!" then "!!", shuffled with j = 0 at every step.
		{rotation.PasswordPolicy{Length: 6}, "A0!!!a"},
	}
	for _, tt := range tests {
		got, err := tt.p.GenerateFrom(constReader(0))
		if err != nil {
			t.Fatalf("%+v: GenerateFrom(zeros) error: %v", tt.p, err)
		}
		if got != tt.want {
			t.Errorf("%+v: GenerateFrom(zeros) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestPasswordPolicyReaderErrors(t *testing.T) {
	sentinel := errors.New("entropy exhausted")
	p := rotation.PasswordPolicy{Length: 64, AllowMissingTypes: true}

	_, err := p.GenerateFrom(iotest.ErrReader(sentinel))
	if !errors.Is(err, sentinel) {
		t.Errorf("GenerateFrom(ErrReader) error = %v, want it to wrap %v", err, sentinel)
	}

	// Data, then an error: the partial password must not leak into it.
	pw, err := p.GenerateFrom(io.MultiReader(bytes.NewReader(make([]byte, 40)), iotest.ErrReader(sentinel)))
	if !errors.Is(err, sentinel) {
		t.Errorf("GenerateFrom(40 bytes then error) error = %v, want it to wrap %v", err, sentinel)
	}
	if pw != "" {
		t.Errorf("GenerateFrom() returned %q alongside an error, want \"\"", pw)
	}
	if err != nil && strings.Contains(err.Error(), "!!!!") {
		t.Errorf("error %q contains part of the password", err)
	}

	_, err = p.GenerateFrom(io.LimitReader(constReader(0), 3))
	if !errors.Is(err, io.EOF) {
		t.Errorf("GenerateFrom(3 bytes) error = %v, want it to wrap io.EOF", err)
	}

	// Running out while drawing the required characters, and during the
	// shuffle's two-byte draws (positions above 256).
	_, err = rotation.PasswordPolicy{}.GenerateFrom(iotest.ErrReader(sentinel))
	if !errors.Is(err, sentinel) {
		t.Errorf("require each: GenerateFrom(ErrReader) error = %v, want it to wrap %v", err, sentinel)
	}
	_, err = rotation.PasswordPolicy{Length: 4096}.GenerateFrom(io.LimitReader(newSeededReader("short"), 7000))
	if !errors.Is(err, io.EOF) {
		t.Errorf("Length 4096: GenerateFrom(7000 bytes) error = %v, want it to wrap io.EOF", err)
	}

	_, err = p.GenerateFrom(emptyReader{})
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("GenerateFrom(0, nil reader) error = %v, want it to wrap io.ErrNoProgress", err)
	}

	// 0xFF is rejected for a 94-character alphabet and for every shuffle
	// range except powers of two; the draw must give up, not spin.
	for _, q := range []rotation.PasswordPolicy{p, {}, {Length: 4096}} {
		if _, err := q.GenerateFrom(constReader(0xff)); err == nil {
			t.Errorf("%+v: GenerateFrom(all 0xFF) succeeded, want an error", q)
		}
	}

	if _, err := p.GenerateFrom(nil); err == nil {
		t.Error("GenerateFrom(nil) succeeded, want an error")
	}
}

// TestPasswordPolicyUniform checks every alphabet character appears with
// roughly equal frequency. A modulo draw (byte % 94) would make the first 68
// characters 1.5 times as likely as the rest, far outside the tolerance; a
// correct draw lands within about 2 standard deviations (~2%), so ±20%
// (about 9 standard deviations) cannot flake.
func TestPasswordPolicyUniform(t *testing.T) {
	tests := []struct {
		name string
		p    rotation.PasswordPolicy
		n    int // passwords
	}{
		// Long passwords make the 4 forced characters negligible (0.1%).
		{"require each", rotation.PasswordPolicy{Length: 4096}, 49},
		{"allow missing", rotation.PasswordPolicy{Length: 32, AllowMissingTypes: true, IncludeSpace: true}, 6250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alphabet := tt.p.Alphabet()
			var counts [128]int
			total := 0
			for range tt.n {
				pw, err := tt.p.Generate()
				if err != nil {
					t.Fatalf("Generate() error: %v", err)
				}
				for i := 0; i < len(pw); i++ {
					counts[pw[i]]++
				}
				total += len(pw)
			}
			expected := float64(total) / float64(len(alphabet))
			for i := 0; i < len(alphabet); i++ {
				c := alphabet[i]
				if got := float64(counts[c]); got < 0.8*expected || got > 1.2*expected {
					t.Errorf("%q appeared %d times in %d chars, want %.0f ±20%%", c, counts[c], total, expected)
				}
			}
		})
	}
}

// TestPasswordPolicyNoPositionBias checks the required characters are not
// favoured at any position: with lowercase reduced to "a" and digits, every
// password contains an 'a', and 'a' must be equally likely at each position.
// A generator that put the required characters first would put 'a' at
// position 0 in every password.
func TestPasswordPolicyNoPositionBias(t *testing.T) {
	p := rotation.PasswordPolicy{
		Length:             8,
		ExcludeCharacters:  "bcdefghijklmnopqrstuvwxyz",
		ExcludeUppercase:   true,
		ExcludePunctuation: true,
	}
	const n = 20000
	var atPos [8]int
	for range n {
		pw, err := p.Generate()
		if err != nil {
			t.Fatalf("Generate() error: %v", err)
		}
		if !strings.Contains(pw, "a") || !strings.ContainsAny(pw, "0123456789") {
			t.Fatalf("Generate() is missing a required type")
		}
		for i := 0; i < len(pw); i++ {
			if pw[i] == 'a' {
				atPos[i]++
			}
		}
	}
	sum := 0
	for _, c := range atPos {
		sum += c
	}
	mean := float64(sum) / float64(len(atPos))
	for i, c := range atPos {
		// About 4000 per position, standard deviation about 57: ±10% is
		// about 7 standard deviations.
		if float64(c) < 0.9*mean || float64(c) > 1.1*mean {
			t.Errorf("'a' at position %d in %d of %d passwords, want %.0f ±10%%", i, c, n, mean)
		}
	}
}

func FuzzPasswordPolicy(f *testing.F) {
	f.Add(0, "", uint8(0), []byte("seed"))
	f.Add(1, "", uint8(0), []byte{})
	f.Add(1, "", uint8(0x40), []byte{1})
	f.Add(4, "", uint8(0), []byte{0xff, 0xff})
	f.Add(5, "", uint8(0x10), []byte{0})
	f.Add(4096, "/@\"'\\", uint8(0), []byte("x"))
	f.Add(4097, "", uint8(0), []byte{})
	f.Add(-1, "", uint8(0), []byte{})
	f.Add(3, "0123456789", uint8(0), []byte{})
	f.Add(2, "abcdefghijklmnopqrstuvwxyz", uint8(0x0a), []byte{7})
	f.Add(10, "é€\xff", uint8(0x1f), []byte{})
	f.Add(32, "", uint8(0x0f), []byte{})
	f.Add(math.MaxInt, "", uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, length int, exclude string, flags uint8, seed []byte) {
		p := rotation.PasswordPolicy{
			Length:             length,
			ExcludeCharacters:  exclude,
			ExcludeLowercase:   flags&1 != 0,
			ExcludeUppercase:   flags&2 != 0,
			ExcludeNumbers:     flags&4 != 0,
			ExcludePunctuation: flags&8 != 0,
			IncludeSpace:       flags&16 != 0,
			AllowMissingTypes:  flags&32 != 0,
		}
		wantAlphabet, included := model(p)
		if got := p.Alphabet(); got != wantAlphabet {
			t.Fatalf("Alphabet() = %q, want %q", got, wantAlphabet)
		}
		n := length
		if n == 0 {
			n = 32
		}
		wantValid := n >= 1 && n <= 4096 && wantAlphabet != "" && (p.AllowMissingTypes || n >= len(included))
		err := p.Validate()
		if (err == nil) != wantValid {
			t.Fatalf("Validate() = %v, want valid = %v", err, wantValid)
		}

		var r io.Reader = newSeededReader(string(seed))
		if flags&64 != 0 {
			// Exercise the hostile paths too: a short stream that ends.
			r = bytes.NewReader(seed)
		}
		pw, genErr := p.GenerateFrom(r)
		if !wantValid {
			if genErr == nil {
				t.Fatalf("GenerateFrom() succeeded for an invalid policy")
			}
			return
		}
		if genErr != nil {
			if pw != "" {
				t.Fatalf("GenerateFrom() returned a password alongside error %v", genErr)
			}
			if flags&64 != 0 {
				// A finite stream may run out (io.EOF) or be rejected as stuck.
				return
			}
			t.Fatalf("GenerateFrom() error: %v", genErr)
		}
		for _, problem := range checkPassword(p, pw) {
			t.Errorf("GenerateFrom() = %q: %s", pw, problem)
		}
		for i := 0; i < len(exclude); i++ {
			if exclude[i] < 128 && strings.IndexByte(pw, exclude[i]) >= 0 {
				t.Fatalf("password contains excluded %q", exclude[i])
			}
		}
	})
}

func BenchmarkGenerate(b *testing.B) {
	for _, p := range []rotation.PasswordPolicy{
		{Length: 32},
		{Length: 32, AllowMissingTypes: true},
		{Length: 4096},
	} {
		b.Run(fmt.Sprintf("len=%d/allowMissing=%v", p.Length, p.AllowMissingTypes), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Generate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ExamplePasswordPolicy_Alphabet() {
	p := rotation.PasswordPolicy{
		ExcludeUppercase:  true,
		ExcludeLowercase:  true,
		ExcludeCharacters: "/@\"'\\",
	}
	fmt.Println(p.Alphabet())
	// Output: !#$%&()*+,-.0123456789:;<=>?[]^_`{|}~
}

func ExamplePasswordPolicy_Validate() {
	for _, p := range []rotation.PasswordPolicy{
		{},
		{Length: 1},
		{Length: 1, AllowMissingTypes: true},
		{Length: 5000},
	} {
		fmt.Println(p.Validate())
	}
	// Output:
	// <nil>
	// rotation: invalid password policy: Length 1 is shorter than the 4 included character types, each of which must appear; raise Length, exclude types, or set AllowMissingTypes
	// <nil>
	// rotation: invalid password policy: Length 5000 is out of range 1..4096 (0 means 32)
}

func ExamplePasswordPolicy_Generate() {
	// The exclusions the AWS rotation templates use by default.
	p := rotation.PasswordPolicy{Length: 24, ExcludeCharacters: "/@\"'\\"}
	pw, err := p.Generate()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(pw), strings.ContainsAny(pw, "/@\"'\\"))
	// Output: 24 false
}
