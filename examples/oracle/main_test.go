package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

func TestLoadSettings(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		err  string
	}{
		{"single", map[string]string{envMode: "single"}, ""},
		{"no mode", map[string]string{}, envMode},
		{"precreated without users", map[string]string{envMode: "alternating-precreated"}, envUsers},
		{"precreated same stored name", map[string]string{envMode: "alternating-precreated", envUsers: "App,APP"}, envUsers},
		{"precreated quoted name", map[string]string{envMode: "alternating-precreated", envUsers: `a,b"c`}, `'"'`},
		{"precreated", map[string]string{envMode: "alternating-precreated", envUsers: "app_a,app_b"}, ""},
		{"users outside precreated", map[string]string{envMode: "alternating", envUsers: "a,b"}, envUsers},
		{"allowed users outside single", map[string]string{envMode: "alternating", "ALLOWED_USERS": "app"}, "ALLOWED_USERS"},
		{"CA bundle missing", map[string]string{envMode: "single", envCABundle: "/nonexistent.pem"}, envCABundle},
		{"CA bundle", map[string]string{envMode: "single", envCABundle: ca.file}, ""},
		{"policy allows '\"'", map[string]string{envMode: "single", "EXCLUDE_CHARACTERS": "/@"}, "EXCLUDE_CHARACTERS"},
		{"policy without punctuation", map[string]string{envMode: "single", "EXCLUDE_CHARACTERS": "", "EXCLUDE_PUNCTUATION": "true"}, ""},
		{"password too long", map[string]string{envMode: "single", "PASSWORD_LENGTH": "31"}, "PASSWORD_LENGTH"},
		{"password too short", map[string]string{envMode: "single", "PASSWORD_LENGTH": "7"}, "PASSWORD_LENGTH"},
		{"bad timeout", map[string]string{envMode: "single", dbsecret.EnvConnectTimeout: "-1s"}, dbsecret.EnvConnectTimeout},
	} {
		s, err := loadSettings(mapLookup(tc.env))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.err)
		case tc.err == "" && !s.policy.ExcludePunctuation && !strings.Contains(s.policy.ExcludeCharacters, `"`):
			t.Errorf("%s: the policy allows '\"'", tc.name)
		}
	}
}

// TestDefaultPolicyPasswordsQuote: passwords of the default policy always
// quote (no '"', at most 30 bytes), and those createAcceptable keeps pass
// the verify function's rules.
func TestDefaultPolicyPasswordsQuote(t *testing.T) {
	s, err := loadSettings(mapLookup(map[string]string{envMode: "single"}))
	if err != nil {
		t.Fatal(err)
	}
	rejected := 0
	for i := 0; i < 200; i++ {
		pw, err := s.policy.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := quotePassword("password", pw, maxPasswordBytes); err != nil {
			t.Fatalf("a default-policy password does not quote: %v", err)
		}
		if !acceptable("app", pw, "ORCL") {
			rejected++
			continue
		}
		if err := verifyPassword("APP", pw, ""); err != nil {
			t.Fatalf("a default-policy password that createAcceptable keeps fails the verify function: %v", err)
		}
	}
	// createAcceptable tries 20 times: a rejection rate near one half
	// would already make a failure likely.
	if rejected > 80 {
		t.Errorf("%d of 200 default-policy passwords would be regenerated", rejected)
	}
}

// TestCreateRefusesBadSecrets: a malformed secret fails createSecret,
// naming the field, before anything is written.
func TestCreateRefusesBadSecrets(t *testing.T) {
	ca := newTestCA(t)
	m := newModel(modelHost, ca.cert)
	for _, tc := range []struct{ name, secret, field string }{
		{"sqlserver engine", `{"engine":"sqlserver","host":"h","username":"u","password":"p","dbname":"ORCL"}`, "engine"},
		{"no dbname", `{"engine":"oracle","host":"h","username":"u","password":"p"}`, "dbname"},
		{"quote in user", `{"engine":"oracle","host":"h","username":"a\"b","password":"p","dbname":"ORCL"}`, "username"},
		{"long user", `{"engine":"oracle","host":"h","username":"` + strings.Repeat("u", 129) + `","password":"p","dbname":"ORCL"}`, "username"},
	} {
		for _, md := range []mode{modeSingle, modeAlternating} {
			r, err := newRotator(localsm.New(localsm.Options{}), testSettings(t, ca, m, md))
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Create(t.Context(), rotationtest.NewCreateRequest("arn:aws:secretsmanager:us-east-1:123456789012:secret:test-AbCdEf", "11111111-1111-4111-8111-111111111111", rotation.NewString(tc.secret), nil))
			if err == nil || !strings.Contains(err.Error(), tc.field) || !errors.Is(err, rotation.ErrInvalidSecret) {
				t.Errorf("%s, %s: %v; want an invalid-secret error naming %s", tc.name, md, err, tc.field)
			}
		}
	}
}

func TestAcceptable(t *testing.T) {
	for _, tc := range []struct {
		user, pw string
		ok       bool
	}{
		{"app", "xxAPPxx11", false}, {"app", "xxPPAxx11", false}, {"app", "xxORCLx11", false}, {"app", "Oracle12x", false},
		{"app", "xxapxpx11", true}, {"my.app", "x1my.appx1", false}, {"app", "Xyxyxy12", false}, {"app", "XYxyxy12!", false},
		{"app", "XYxyxy12!#", true},
	} {
		if got := acceptable(tc.user, tc.pw, "ORCL"); got != tc.ok {
			t.Errorf("acceptable(%q, %q) = %v", tc.user, tc.pw, got)
		}
	}
}
