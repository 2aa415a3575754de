package rotation

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Password lengths accepted by PasswordPolicy, matching GetRandomPassword.
const (
	defaultPasswordLength = 32
	maxPasswordLength     = 4096
)

// The character types GetRandomPassword draws from.
const (
	lowercaseChars   = "abcdefghijklmnopqrstuvwxyz"
	uppercaseChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars       = "0123456789"
	punctuationChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	spaceChars       = " "
)

// maxRejections bounds how many consecutive draws may be rejected before the
// random source is declared broken. Every draw is accepted with probability
// above 1/2, so a working source hits the bound with probability below 2^-128.
const maxRejections = 128

// errRandomSourceStuck is returned when the random source keeps producing
// values that rejection sampling must discard (for example all 0xFF bytes).
var errRandomSourceStuck = errors.New("rotation: generating password: random source produced too many rejected values in a row")

// PasswordPolicy describes a password the way Secrets Manager's
// GetRandomPassword does, so a rotation can generate one locally without that
// API call.
//
// The zero value is the API's default: 32 characters drawn from upper- and
// lowercase ASCII letters, digits and the 32 ASCII punctuation characters,
// with at least one character of each of those four types.
//
// A character type counts as included when it is not excluded by its flag
// and at least one of its characters survives ExcludeCharacters. A type whose
// characters are all listed in ExcludeCharacters is therefore not included,
// and is not required even when AllowMissingTypes is false.
//
// A PasswordPolicy is a plain value; its methods do not modify it and are
// safe for concurrent use.
type PasswordPolicy struct {
	// Length is the number of characters in the password. 0 means 32, the
	// API default; otherwise it must be between 1 and 4096.
	Length int

	// ExcludeCharacters lists characters that never appear in the password.
	// Only ASCII characters matter; anything else in it is ignored.
	ExcludeCharacters string

	// ExcludeNumbers leaves out the digits 0-9.
	ExcludeNumbers bool

	// ExcludePunctuation leaves out the 32 ASCII punctuation characters
	// !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ .
	ExcludePunctuation bool

	// ExcludeUppercase leaves out the letters A-Z.
	ExcludeUppercase bool

	// ExcludeLowercase leaves out the letters a-z.
	ExcludeLowercase bool

	// IncludeSpace adds the space character as a type of its own.
	IncludeSpace bool

	// AllowMissingTypes turns off the API's default
	// RequireEachIncludedType=true: when false (the default), the password
	// contains at least one character of every included type (lowercase,
	// uppercase, digits, punctuation, and space if IncludeSpace).
	AllowMissingTypes bool
}

// length returns the effective length: Length, or 32 when Length is 0.
func (p PasswordPolicy) length() int {
	if p.Length == 0 {
		return defaultPasswordLength
	}
	return p.Length
}

// classes returns the characters of each included type that survive
// ExcludeCharacters, in the order lowercase, uppercase, digits, punctuation,
// space. Types left with no characters are omitted.
func (p PasswordPolicy) classes() []string {
	var excluded [128]bool
	for i := 0; i < len(p.ExcludeCharacters); i++ {
		// Bytes of multi-byte UTF-8 sequences are all >= 0x80, so reading
		// the string byte by byte never mistakes part of a rune for ASCII.
		if b := p.ExcludeCharacters[i]; b < 128 {
			excluded[b] = true
		}
	}
	keep := func(set string) string {
		var sb strings.Builder
		for i := 0; i < len(set); i++ {
			if !excluded[set[i]] {
				sb.WriteByte(set[i])
			}
		}
		return sb.String()
	}
	var out []string
	add := func(skip bool, set string) {
		if skip {
			return
		}
		if s := keep(set); s != "" {
			out = append(out, s)
		}
	}
	add(p.ExcludeLowercase, lowercaseChars)
	add(p.ExcludeUppercase, uppercaseChars)
	add(p.ExcludeNumbers, digitChars)
	add(p.ExcludePunctuation, punctuationChars)
	add(!p.IncludeSpace, spaceChars)
	return out
}

// alphabetOf returns the union of classes in ASCII order.
func alphabetOf(classes []string) string {
	var in [128]bool
	n := 0
	for _, c := range classes {
		for i := 0; i < len(c); i++ {
			in[c[i]] = true
			n++
		}
	}
	b := make([]byte, 0, n)
	for c := range in {
		if in[c] {
			b = append(b, byte(c))
		}
	}
	return string(b)
}

// Alphabet returns the characters that may appear in a password generated
// under p, in ascending ASCII order. It is empty when every character is
// excluded. Alphabet does not check Length.
func (p PasswordPolicy) Alphabet() string {
	return alphabetOf(p.classes())
}

// Validate reports whether passwords can be generated under p. It fails when
// Length is outside 1..4096 (0 stands for 32), when the flags and
// ExcludeCharacters leave no character to choose from, or when
// AllowMissingTypes is false and Length is shorter than the number of
// included types. The error names the offending field.
func (p PasswordPolicy) Validate() error {
	_, err := p.validate()
	return err
}

// validate checks p and returns its included classes.
func (p PasswordPolicy) validate() ([]string, error) {
	if p.Length < 0 || p.Length > maxPasswordLength {
		return nil, fmt.Errorf("rotation: invalid password policy: Length %d is out of range 1..%d (0 means %d)", p.Length, maxPasswordLength, defaultPasswordLength)
	}
	classes := p.classes()
	if len(classes) == 0 {
		return nil, errors.New("rotation: invalid password policy: ExcludeCharacters and the Exclude flags leave no characters to choose from")
	}
	if !p.AllowMissingTypes && p.length() < len(classes) {
		return nil, fmt.Errorf("rotation: invalid password policy: Length %d is shorter than the %d included character types, each of which must appear; raise Length, exclude types, or set AllowMissingTypes", p.length(), len(classes))
	}
	return classes, nil
}

// Generate returns a new random password that satisfies p, reading
// randomness from crypto/rand. It returns Validate's error if p is invalid.
func (p PasswordPolicy) Generate() (string, error) {
	return p.GenerateFrom(rand.Reader)
}

// GenerateFrom is like Generate but reads randomness from r, which lets tests
// supply a deterministic source. Production code should call Generate. If
// reading r fails, the error wraps r's error; if r keeps producing values
// that must be discarded (for example only 0xFF bytes) it fails rather than
// looping forever. Errors never contain the password or any part of it.
//
// Every character is an index into the alphabet drawn uniformly by rejection
// sampling over bytes (or big-endian uint16 values for ranges above 256), so
// there is no modulo bias. When AllowMissingTypes is false and more than one
// type is included, one character of each included type is drawn uniformly
// from that type, the remaining characters are drawn uniformly from the whole
// alphabet, and the result is shuffled with a Fisher-Yates shuffle that uses
// the same unbiased draw, so no type is favoured at any position. Generation
// always finishes in a bounded number of draws; it never retries whole
// passwords.
func (p PasswordPolicy) GenerateFrom(r io.Reader) (string, error) {
	classes, err := p.validate()
	if err != nil {
		return "", err
	}
	if r == nil {
		return "", errors.New("rotation: generating password: nil random source")
	}
	n := p.length()
	alphabet := alphabetOf(classes)

	// A single included type is the whole alphabet, so the requirement is
	// met by any password and the shuffle would be a no-op in distribution.
	forced := 0
	if !p.AllowMissingTypes && len(classes) > 1 {
		forced = len(classes)
	}

	src := newRandSource(r, n, forced > 0)
	out := make([]byte, n)
	for i := range forced {
		j, err := src.intn(len(classes[i]))
		if err != nil {
			return "", err
		}
		out[i] = classes[i][j]
	}
	for i := forced; i < n; i++ {
		j, err := src.intn(len(alphabet))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[j]
	}
	if forced > 0 {
		for i := n - 1; i > 0; i-- {
			j, err := src.intn(i + 1)
			if err != nil {
				return "", err
			}
			out[i], out[j] = out[j], out[i]
		}
	}
	return string(out), nil
}

// randSource draws unbiased integers from a byte stream.
type randSource struct {
	r   io.Reader
	buf []byte
	pos int // next unread byte in buf
	end int // bytes of buf filled by the last read
}

// newRandSource sizes the buffer for a password of n characters, with a
// shuffle when shuffle is true, so that crypto/rand is usually read once.
func newRandSource(r io.Reader, n int, shuffle bool) *randSource {
	need := n
	if shuffle {
		need += n - 1
		if n > 256 {
			need += n - 256 // positions above 256 take two bytes each
		}
	}
	size := need + need/4 + 16 // room for rejected draws
	size = min(size, 4096)
	return &randSource{r: r, buf: make([]byte, size)}
}

// byte returns the next byte of the stream.
func (s *randSource) byte() (byte, error) {
	if s.pos == s.end {
		for tries := 0; ; tries++ {
			m, err := s.r.Read(s.buf)
			if m > 0 {
				// Use the bytes now; a persistent error is returned by
				// the next Read, as io.Reader implementations do.
				s.pos, s.end = 0, m
				break
			}
			if err != nil {
				return 0, fmt.Errorf("rotation: generating password: reading random source: %w", err)
			}
			if tries >= 100 {
				return 0, fmt.Errorf("rotation: generating password: reading random source: %w", io.ErrNoProgress)
			}
		}
	}
	b := s.buf[s.pos]
	s.pos++
	return b, nil
}

// intn returns a uniform integer in [0, n) for 1 <= n <= 65536, by rejection
// sampling: values at or above the largest multiple of n that fits in the
// draw are discarded, so every result has the same number of preimages.
func (s *randSource) intn(n int) (int, error) {
	if n <= 1 {
		return 0, nil
	}
	if n <= 256 {
		limit := 256 - 256%n
		for range maxRejections {
			b, err := s.byte()
			if err != nil {
				return 0, err
			}
			if int(b) < limit {
				return int(b) % n, nil
			}
		}
		return 0, errRandomSourceStuck
	}
	limit := 65536 - 65536%n
	for range maxRejections {
		hi, err := s.byte()
		if err != nil {
			return 0, err
		}
		lo, err := s.byte()
		if err != nil {
			return 0, err
		}
		if v := int(hi)<<8 | int(lo); v < limit {
			return v % n, nil
		}
	}
	return 0, errRandomSourceStuck
}
