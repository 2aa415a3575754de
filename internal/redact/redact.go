// Package redact is the one definition of what a credential is and of the
// forms in which it can show up in text. rotation.Scrub, every place that
// hides a RotationToken, and the conformance suite's leak check all use
// it, so what one of them hides the others look for.
//
// A Matcher is compiled from needles (the strings that must not appear)
// and finds or cuts out, in one pass over a text, each needle in every
// form of Forms: raw; Go-quoted (strconv.Quote, QuoteToASCII, which slog's
// text handler uses); JSON-escaped with and without HTML escaping (which
// slog's JSON handler uses); URL query-, path- and userinfo-escaped, with
// upper- or lower-case hex; base64 (standard and URL alphabets, padded or
// not, at each of the three byte alignments a value can have inside a
// longer encoded string such as an "Authorization: Basic" header); hex in
// either case; decimal bytes (fmt's %v of a []byte); SQL with doubled
// single quotes; backslash-escaped (quotes and backslashes, every
// punctuation character, regexp.QuoteMeta).
//
// A needle marked Partial (a credential, as opposed to a whole JSON
// document) is also found by any run of WindowLen characters of it when
// it is at least WindowFrom characters long, so that a value with a few
// characters masked (28 of 32 shown) is still a leak. Only runs that look
// random count: no whitespace, no character three times in a row, and
// characters of at least two classes (lower case, upper case, digits,
// others); "-----BEGIN PRIVATE" or a word of a passphrase is not one.
// Runs are looked for in the raw form only; of a credential longer than
// 1024 characters, runs starting every len/1024 characters are used, so
// that a leaked run must be that much longer to be found.
//
// Needles shorter than MinLen are not looked for: they cannot be told
// apart from ordinary text. What no Matcher sees: a value transformed
// beyond these forms (encrypted, hashed, compressed, split across lines,
// reversed, a base64 run of a masked value), and a credential shorter
// than MinLen.
package redact

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	// MinLen is the shortest needle looked for.
	MinLen = 8
	// WindowLen is the length of a run of a long credential that counts
	// as a leak of it.
	WindowLen = 12
	// WindowFrom is the shortest credential whose runs are looked for.
	WindowFrom = 16
)

// maxRuns bounds the runs of one needle that are looked for.
const maxRuns = 1024

// anchor is the length of the prefix a pattern is indexed by. Every
// pattern is at least this long (forms of a needle of MinLen or more).
const anchor = 8

// Needle is a string that must not appear in text.
type Needle struct {
	Value string
	// Partial makes runs of WindowLen characters of Value count too. Set
	// it for credentials; leave it unset for a whole JSON document, whose
	// runs are ordinary JSON syntax and field names.
	Partial bool
}

// Matcher finds needles in text. It is safe for concurrent use.
type Matcher struct {
	pats   []pattern
	index  map[uint64][]int32 // first anchor bytes of a pattern -> patterns
	filter []uint64           // bit set over hash(key), len a power of two
	shift  uint               // hash(key) >> shift indexes filter's bits
}

type pattern struct {
	text   string
	needle int32
}

// Compile builds a Matcher for needles. Needle i is reported as i by Find.
func Compile(needles []Needle) *Matcher {
	m := &Matcher{index: map[uint64][]int32{}}
	add := func(text string, n int) {
		if len(text) < anchor {
			return
		}
		k := load64(text, 0)
		for _, p := range m.index[k] {
			if m.pats[p].text == text {
				return
			}
		}
		m.index[k] = append(m.index[k], int32(len(m.pats)))
		m.pats = append(m.pats, pattern{text, int32(n)})
	}
	for i, n := range needles {
		if len(n.Value) < MinLen {
			continue
		}
		for _, f := range Forms(n.Value) {
			add(f, i)
		}
		if n.Partial && len(n.Value) >= WindowFrom {
			// At most maxRuns runs per needle: a longer one (a private
			// key) is sampled every stride characters, so that any run
			// of WindowLen+stride-1 of its characters is still found.
			stride := (len(n.Value) + maxRuns - 1) / maxRuns
			for j := 0; j+WindowLen <= len(n.Value); j += stride {
				if w := n.Value[j : j+WindowLen]; randomLooking(w) {
					add(w, i)
				}
			}
		}
	}
	// About 16 filter bits per pattern keep lookups of the index rare.
	bits := uint(10)
	for 1<<bits < 16*len(m.pats) && bits < 20 {
		bits++
	}
	m.shift = 64 - bits
	m.filter = make([]uint64, 1<<bits/64)
	for k := range m.index {
		h := m.hash(k)
		m.filter[h/64] |= 1 << (h % 64)
	}
	return m
}

// load64 reads s[i:i+8] as a little-endian integer.
func load64(s string, i int) uint64 {
	s = s[i : i+anchor]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func (m *Matcher) hash(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> m.shift }

// scan calls hit for every occurrence of a pattern in text.
func (m *Matcher) scan(text string, hit func(start, end int, needle int32)) {
	if m == nil || len(m.pats) == 0 {
		return
	}
	for i := 0; i+anchor <= len(text); i++ {
		k := load64(text, i)
		h := m.hash(k)
		if m.filter[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, p := range m.index[k] {
			pt := m.pats[p]
			if strings.HasPrefix(text[i:], pt.text) {
				hit(i, i+len(pt.text), pt.needle)
			}
		}
	}
}

// Find returns the indexes of the needles found in text, in increasing
// order.
func (m *Matcher) Find(text string) []int {
	var found []int
	m.scan(text, func(_, _ int, n int32) {
		if !slices.Contains(found, int(n)) {
			found = append(found, int(n))
		}
	})
	slices.Sort(found)
	return found
}

// Redact returns text with every occurrence of a needle replaced by
// marker (overlapping occurrences become one marker), and whether
// anything was replaced.
func (m *Matcher) Redact(text, marker string) (string, bool) {
	type span struct{ start, end int }
	var spans []span
	m.scan(text, func(start, end int, _ int32) {
		if n := len(spans); n > 0 && start <= spans[n-1].end {
			spans[n-1].end = max(spans[n-1].end, end)
			return
		}
		spans = append(spans, span{start, end})
	})
	if len(spans) == 0 {
		return text, false
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, s := range spans {
		b.WriteString(text[last:s.start])
		b.WriteString(marker)
		last = s.end
	}
	b.WriteString(text[last:])
	return b.String(), true
}

// randomLooking reports whether a run of a credential is distinctive
// enough to count as a leak on its own.
func randomLooking(w string) bool {
	var classes [4]bool
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		case i >= 2 && c == w[i-1] && c == w[i-2]:
			return false
		case c >= 'a' && c <= 'z':
			classes[0] = true
		case c >= 'A' && c <= 'Z':
			classes[1] = true
		case c >= '0' && c <= '9':
			classes[2] = true
		default:
			classes[3] = true
		}
	}
	n := 0
	for _, c := range classes {
		if c {
			n++
		}
	}
	return n >= 2
}

// Forms returns v as it can appear in text, v first, without duplicates.
// See the package documentation for the list.
func Forms(v string) []string {
	forms := []string{v}
	add := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	inner := func(q string) string {
		if len(q) >= 2 {
			return q[1 : len(q)-1]
		}
		return q
	}
	add(inner(strconv.Quote(v)))
	add(inner(strconv.QuoteToASCII(v)))
	if b, err := json.Marshal(v); err == nil {
		add(inner(string(b)))
	}
	add(inner(string(appendJSONNoHTML(nil, v))))
	for _, f := range []string{url.QueryEscape(v), url.PathEscape(v), strings.TrimPrefix(url.UserPassword("", v).String(), ":")} {
		add(f)
		add(lowerEscapes(f))
	}
	add(strings.ReplaceAll(v, "'", "''"))
	add(backslashed(v, `\'"`))
	add(backslashed(v, `\'`))
	add(backslashed(v, `\"`))
	add(backslashedPunct(v))
	add(regexp.QuoteMeta(v))
	add(hex.EncodeToString([]byte(v)))
	add(strings.ToUpper(hex.EncodeToString([]byte(v))))
	add(decimalBytes(v))
	buf := make([]byte, len(v)+2)
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for o := 0; o < 3; o++ {
			clear(buf[:o])
			copy(buf[o:], v)
			s := enc.EncodeToString(buf[:o+len(v)])
			// Keep the characters that encode bits of v only: the first
			// ones may mix in the bytes before it, the last the bytes
			// after it.
			add(s[(8*o+5)/6 : 8*(o+len(v))/6])
		}
	}
	return forms
}

// decimalBytes is fmt's %v of []byte(v) without the brackets.
func decimalBytes(v string) string {
	b := make([]byte, 0, 4*len(v))
	for i := 0; i < len(v); i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendUint(b, uint64(v[i]), 10)
	}
	return string(b)
}

// appendJSONNoHTML is encoding/json's escaping with SetEscapeHTML(false).
func appendJSONNoHTML(dst []byte, v string) []byte {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return dst
	}
	return append(dst, strings.TrimSuffix(sb.String(), "\n")...)
}

// lowerEscapes lower-cases the hex digits of every %XX escape in s.
func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = toLowerHex(b[i+1])
			b[i+2] = toLowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func toLowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// backslashed puts a backslash before every byte of v found in special.
func backslashed(v, special string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if strings.IndexByte(special, v[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// backslashedPunct puts a backslash before every ASCII byte of v that is
// neither a letter, a digit nor '_', as shells and some loggers do.
func backslashedPunct(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x80 && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
