package rotationtest

import (
	"strings"
	"testing"
)

func TestStrength(t *testing.T) {
	for _, tt := range []struct {
		s        string
		min, max float64
	}{
		{"12345678", 26, 27},                  // 8 digits
		{strings.Repeat("ab12", 8), 165, 166}, // 32 of [a-z0-9]
		{strings.Repeat("aB3!", 8), 209, 210}, // 32 of the 94 printable
		{"", 0, 0},
	} {
		got, _ := strength(tt.s)
		if got < tt.min || got > tt.max {
			t.Errorf("strength(%q) = %.1f, want %.0f..%.0f", tt.s, got, tt.min, tt.max)
		}
	}
}

func TestAltered(t *testing.T) {
	for _, s := range []string{"a", "password-1", "-----BEGIN KEY-----\nAAAAzzzz\n-----END KEY-----\n", "99999999", "ZZZ"} {
		a := altered(s)
		if a == s || len([]rune(a)) != len([]rune(s)) {
			t.Errorf("altered(%q) = %q; want one character changed", s, a)
		}
		diff := 0
		for i := range []rune(s) {
			if []rune(s)[i] != []rune(a)[i] {
				diff++
			}
		}
		if diff != 1 {
			t.Errorf("altered(%q) changed %d characters, want 1", s, diff)
		}
	}
}

func TestRandomLike(t *testing.T) {
	a, err := randomLike("0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := randomLike("0123456789abcdef")
	if a == b || len(a) != 16 || strings.Trim(a, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
		t.Errorf("randomLike gave %q and %q; want two different 16-character lower-case alphanumeric values", a, b)
	}
}

func TestWithField(t *testing.T) {
	got, err := withField(`{"user":"app","pin":1234,"password":"x"}`, "pin", "1235")
	if err != nil || got != `{"password":"x","pin":1235,"user":"app"}` {
		t.Errorf("withField on a number = %s, %v", got, err)
	}
	got, err = withField(`{"password":"x"}`, "password", `"quoted"`)
	if err != nil || got != `{"password":"\"quoted\""}` {
		t.Errorf("withField on a string = %s, %v", got, err)
	}
}
