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
		err  string // "" for success
	}{
		{"single", map[string]string{envMode: "single"}, ""},
		{"no mode", map[string]string{}, envMode},
		{"bad mode", map[string]string{envMode: "both"}, envMode},
		{"precreated without users", map[string]string{envMode: "alternating-precreated"}, envUsers},
		{"precreated same user twice", map[string]string{envMode: "alternating-precreated", envUsers: "App,app"}, envUsers},
		{"precreated JSON", map[string]string{envMode: "alternating-precreated", envUsers: `["a","b"]`}, ""},
		{"precreated long name", map[string]string{envMode: "alternating-precreated", envUsers: "a," + strings.Repeat("b", 129)}, "128"},
		{"users outside precreated", map[string]string{envMode: "single", envUsers: "a,b"}, envUsers},
		{"suffix outside alternating", map[string]string{envMode: "single", envSuffix: "_x"}, envSuffix},
		{"allowed users outside single", map[string]string{envMode: "alternating", "ALLOWED_USERS": "app"}, "ALLOWED_USERS"},
		{"CA bundle missing", map[string]string{envMode: "single", envCABundle: "/nonexistent/ca.pem"}, envCABundle},
		{"CA bundle", map[string]string{envMode: "single", envCABundle: ca.file}, ""},
		{"bad timeout", map[string]string{envMode: "single", dbsecret.EnvConnectTimeout: "soon"}, dbsecret.EnvConnectTimeout},
		{"password too long", map[string]string{envMode: "single", "PASSWORD_LENGTH": "129"}, "PASSWORD_LENGTH"},
		{"password too short", map[string]string{envMode: "single", "PASSWORD_LENGTH": "7"}, "PASSWORD_LENGTH"},
		{"admin endpoint", map[string]string{envMode: "single", "DB_ADMIN_ENDPOINT": "db.example.com"}, "DB_ADMIN_ENDPOINT"},
	} {
		s, err := loadSettings(mapLookup(tc.env))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.err)
		case tc.err == "" && s.policy.ExcludeCharacters == "":
			t.Errorf("%s: the default policy excludes nothing", tc.name)
		}
	}
}

// TestCreateRefusesBadSecrets: a malformed secret fails createSecret,
// naming the field, before anything is written.
func TestCreateRefusesBadSecrets(t *testing.T) {
	ca := newTestCA(t)
	m := newModel(modelHost, ca.cert)
	for _, tc := range []struct{ name, secret, field string }{
		{"mysql engine", `{"engine":"mysql","host":"h","username":"u","password":"p"}`, "engine"},
		{"no host", `{"engine":"sqlserver","username":"u","password":"p"}`, "host"},
		{"long user", `{"engine":"sqlserver","host":"h","username":"` + strings.Repeat("u", 129) + `","password":"p"}`, "username"},
		{"reader endpoint", `{"engine":"sqlserver","host":"x.cluster-ro-abc.rds.amazonaws.com","username":"u","password":"p"}`, "host"},
		{"masterarn without ALLOWED_USERS", `{"engine":"sqlserver","host":"h","username":"u","password":"p","masterarn":"a"}`, "ALLOWED_USERS"},
	} {
		for _, md := range []mode{modeSingle, modeAlternating} {
			if md == modeAlternating && tc.name == "masterarn without ALLOWED_USERS" {
				continue
			}
			r, err := newRotator(localsm.New(localsm.Options{}), testSettings(t, ca, m, md))
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Create(t.Context(), rotationtest.NewCreateRequest("arn:aws:secretsmanager:us-east-1:123456789012:secret:test-AbCdEf", "11111111-1111-4111-8111-111111111111", rotation.NewString(tc.secret), nil))
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%s, %s: %v; want an error naming %s", tc.name, md, err, tc.field)
			}
			if tc.field != "ALLOWED_USERS" && !errors.Is(err, rotation.ErrInvalidSecret) {
				t.Errorf("%s, %s: %v is not ErrInvalidSecret", tc.name, md, err)
			}
		}
	}
}

// TestRedact: a driver error that echoes a password loses it.
func TestRedact(t *testing.T) {
	err := redact("connecting", errors.New("login failed: password 'Sup3r$ecret!' rejected"), "Sup3r$ecret!")
	if strings.Contains(err.Error(), "Sup3r$ecret!") || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("redact: %v", err)
	}
}

func TestAcceptable(t *testing.T) {
	for _, tc := range []struct {
		user, pw string
		ok       bool
	}{
		{"app", "xxAPPxx1!", false}, {"app", "xxapxpx1!", true}, {"ab", "xxABxx1!", true}, {"App", "zzappzz1!", false},
	} {
		if got := acceptable(tc.user, tc.pw); got != tc.ok {
			t.Errorf("acceptable(%q, %q) = %v", tc.user, tc.pw, got)
		}
	}
}
