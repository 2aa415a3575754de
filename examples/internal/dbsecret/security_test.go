package dbsecret

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
)

// TestRedactionOfValueCopies: a Secret copied by value (stored by value in
// a struct, or *s handed to a logger) is redacted like the pointer, for
// every fmt verb, slog's JSON and text handlers, and encoding/json; a nil
// *Secret still formats.
func TestRedactionOfValueCopies(t *testing.T) {
	const pw = "PW-CANARY-value-copy"
	p, err := Parse(secret(t, with(base(), "password", pw)), PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	v := *p
	type holder struct {
		S     Secret
		Inner struct{ S Secret }
	}
	h := holder{S: v}
	h.Inner.S = v
	var outs []string
	outs = append(outs, fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%T", v, v, v, v, v, v, v, v, v))
	outs = append(outs, fmt.Sprint(v), fmt.Sprintln(v), fmt.Sprintf("%v|%+v|%#v", h, h, h))
	outs = append(outs, fmt.Sprintf("%v", []Secret{v}), fmt.Sprintf("%v", map[string]Secret{"k": v}))
	for _, newHandler := range []func(*strings.Builder) slog.Handler{
		func(b *strings.Builder) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *strings.Builder) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var b strings.Builder
		l := slog.New(newHandler(&b))
		l.Info("value", "s", v)
		l.Info("any", slog.Any("s", v))
		l.Info("holder", "h", h)
		outs = append(outs, b.String())
	}
	j1, _ := json.Marshal(v)
	j2, _ := json.Marshal(h)
	outs = append(outs, string(j1), string(j2))
	for _, out := range outs {
		if strings.Contains(out, pw) {
			t.Errorf("a value copy of a Secret shows the password: %s", out)
		}
	}
	if s := fmt.Sprint(v); !strings.Contains(s, "db.example.com") || !strings.Contains(s, "[REDACTED]") {
		t.Errorf("value formatting lost its fields: %s", s)
	}
	var nilp *Secret
	if got := fmt.Sprintf("%v %+v %s", nilp, nilp, nilp); got != "<nil> <nil> <nil>" {
		t.Errorf("nil *Secret formats as %q", got)
	}
	if j, err := json.Marshal(nilp); err != nil || string(j) != "null" {
		t.Errorf("nil *Secret marshals as %s, %v", j, err)
	}
}

// TestCABundlesReadOnce: TLSConfig reads a CA bundle once per process and
// shares the pool; a bundle that fails to load is looked for again.
func TestCABundlesReadOnce(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, dbsecrettest.CAPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Parse(secret(t, base()), PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := s.TLSConfig(ca)
	if err != nil {
		t.Fatal(err)
	}
	// Gone from disk: the process keeps what it read.
	if err := os.Remove(ca); err != nil {
		t.Fatal(err)
	}
	c2, err := s.TLSConfig(ca)
	if err != nil {
		t.Fatalf("second TLSConfig re-read the removed bundle: %v", err)
	}
	if c1.RootCAs != c2.RootCAs {
		t.Error("the two configurations have different pools: the bundle was read twice")
	}
	// The same file named by sslrootcert is the same list: shared too.
	withRoot := *s
	withRoot.SSLRootCert = ca
	if c3, err := withRoot.TLSConfig(); err != nil || c3.RootCAs != c1.RootCAs {
		t.Errorf("sslrootcert naming the cached bundle: %v (shared pool: %v)", err, err == nil && c3.RootCAs == c1.RootCAs)
	}
	// Failures are not kept: a bundle that appears later is used.
	late := filepath.Join(dir, "late.pem")
	if _, err := s.TLSConfig(late); !errors.Is(err, ErrNoCABundle) {
		t.Fatalf("missing bundle: %v", err)
	}
	if err := os.WriteFile(late, dbsecrettest.CAPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := s.TLSConfig(late); err != nil || c.RootCAs == nil {
		t.Errorf("bundle created after a failed load: %v", err)
	}
	// Concurrent first loads are safe (run with -race).
	conc := filepath.Join(dir, "conc.pem")
	if err := os.WriteFile(conc, dbsecrettest.CAPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() { _, err := s.TLSConfig(conc); errs <- err }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestAdminPolicyFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	p, err := AdminPolicyFromEnv(PostgreSQL, env(map[string]string{}))
	if err != nil || p != (AdminPolicy{}) {
		t.Errorf("empty environment: %+v, %v", p, err)
	}
	p, err = AdminPolicyFromEnv(PostgreSQL, env(map[string]string{EnvAdminEndpoint: " db.example.com:6543 ", EnvAdminAllowPlaintext: "TRUE"}))
	if err != nil || p != (AdminPolicy{Host: "db.example.com", Port: 6543, AllowPlaintext: true}) {
		t.Errorf("endpoint and plaintext: %+v, %v", p, err)
	}
	p, err = AdminPolicyFromEnv(PostgreSQL, env(map[string]string{EnvAdminEndpoint: "[::1]:5432"}))
	if err != nil || p.Host != "::1" || p.Port != 5432 {
		t.Errorf("IPv6 endpoint: %+v, %v", p, err)
	}
	for _, bad := range []map[string]string{
		{EnvAdminEndpoint: "db.example.com"},
		{EnvAdminEndpoint: ":5432"},
		{EnvAdminEndpoint: "db.example.com:0"},
		{EnvAdminEndpoint: "db.example.com:x"},
		{EnvAdminEndpoint: "postgres://db.example.com:5432"},
		{EnvAdminEndpoint: "db.cluster-ro-abc.eu-west-1.rds.amazonaws.com:5432"},
		{EnvAdminAllowPlaintext: "perhaps"},
	} {
		if _, err := AdminPolicyFromEnv(PostgreSQL, env(bad)); err == nil {
			t.Errorf("AdminPolicyFromEnv(%v) succeeded", bad)
		} else {
			for k := range bad {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("AdminPolicyFromEnv(%v) = %v, want an error naming %s", bad, err, k)
				}
			}
		}
	}
}

func TestAllowedUsersFromEnv(t *testing.T) {
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) { return v, k == EnvAllowedUsers }
	}
	if u, err := AllowedUsersFromEnv(env(" ")); u != nil || err != nil {
		t.Errorf("blank: %v, %v", u, err)
	}
	if u, err := AllowedUsersFromEnv(env(" app , App,app, report ")); err != nil || strings.Join(u, "|") != "app|App|report" {
		t.Errorf("list: %q, %v", u, err)
	}
	for _, bad := range []string{"app,,report", "app,", "a\x00b"} {
		if _, err := AllowedUsersFromEnv(env(bad)); err == nil || !strings.Contains(err.Error(), EnvAllowedUsers) {
			t.Errorf("AllowedUsersFromEnv(%q) = %v, want an error naming %s", bad, err, EnvAllowedUsers)
		}
	}
}

// TestAdminPolicyEndpoint: the admin credential's server never comes from
// the rotated secret alone, and its TLS settings come from the function.
func TestAdminPolicyEndpoint(t *testing.T) {
	target := func(kv ...any) *Secret {
		s, err := Parse(secret(t, with(with(base(), "port", 6543, "ssl", false), kv...)), PostgreSQL)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rdsMaster := secret(t, map[string]any{"username": "master", "password": "admin-secret-pw"})
	full := map[string]any{"host": "DB.example.com", "port": 6543, "username": "master", "password": "admin-secret-pw", "ssl": false, "sslrootcert": "/nonexistent/admin.pem"}
	pinned := AdminPolicy{Host: "db.example.com", Port: 6543}

	t.Run("no host, not pinned", func(t *testing.T) {
		_, err := AdminPolicy{}.ParseAdmin(rdsMaster, target(), PostgreSQL)
		if !errors.Is(err, ErrAdminEndpoint) || !strings.Contains(err.Error(), EnvAdminEndpoint) {
			t.Errorf("got %v, want ErrAdminEndpoint naming %s", err, EnvAdminEndpoint)
		}
		// Plaintext allowed or not, the endpoint must be pinned.
		if _, err := (AdminPolicy{AllowPlaintext: true}).ParseAdmin(rdsMaster, target(), PostgreSQL); !errors.Is(err, ErrAdminEndpoint) {
			t.Errorf("AllowPlaintext: got %v, want ErrAdminEndpoint", err)
		}
	})
	t.Run("no host, pinned, rotated secret elsewhere", func(t *testing.T) {
		for _, tg := range []*Secret{target("host", "attacker.example"), target("port", 5432), target("host", "127.0.0.1")} {
			_, err := pinned.ParseAdmin(rdsMaster, tg, PostgreSQL)
			if !errors.Is(err, ErrAdminEndpoint) || !strings.Contains(err.Error(), EnvAdminEndpoint) {
				t.Errorf("target %v: got %v, want ErrAdminEndpoint naming %s", tg, err, EnvAdminEndpoint)
			}
			if err != nil && (strings.Contains(err.Error(), "attacker") || strings.Contains(err.Error(), "admin-secret-pw")) {
				t.Errorf("error quotes a value: %v", err)
			}
		}
	})
	t.Run("no host, pinned, matching", func(t *testing.T) {
		a, err := pinned.ParseAdmin(rdsMaster, target("host", "DB.EXAMPLE.COM", "sslmode", "disable", "sslrootcert", "/nonexistent/x.pem"), PostgreSQL)
		if err != nil {
			t.Fatal(err)
		}
		want := Secret{Engine: "postgres", Host: "db.example.com", Port: 6543, Username: "master", Password: "admin-secret-pw", DBName: "postgres", TLS: TLSVerifyFull}
		if *a != want {
			t.Errorf("got %v, want %v (the pinned host, verify-full, no sslrootcert)", a, want)
		}
	})
	t.Run("admin host", func(t *testing.T) {
		a, err := AdminPolicy{}.ParseAdmin(secret(t, full), target(), PostgreSQL)
		if err != nil {
			t.Fatal(err)
		}
		if a.Host != "DB.example.com" || a.Port != 6543 || a.TLS != TLSVerifyFull || a.SSLRootCert != "" {
			t.Errorf("got %v, want the admin secret's host, verify-full, no sslrootcert", a)
		}
		if _, err := pinned.ParseAdmin(secret(t, full), target(), PostgreSQL); err != nil {
			t.Errorf("admin host equal to the pinned one: %v", err)
		}
		other := AdminPolicy{Host: "other.example.com", Port: 6543}
		if _, err := other.ParseAdmin(secret(t, full), target(), PostgreSQL); !errors.Is(err, ErrAdminEndpoint) {
			t.Errorf("admin host differing from the pinned one: %v, want ErrAdminEndpoint", err)
		}
		if _, err := (AdminPolicy{}).ParseAdmin(secret(t, full), target("host", "attacker.example"), PostgreSQL); !errors.Is(err, rotation.ErrInvalidSecret) || !strings.Contains(err.Error(), `"host"`) {
			t.Errorf("rotated secret naming another host: %v", err)
		}
		// An admin secret with a host but no port means the default port,
		// not the rotated secret's.
		noPort := with(full, "port", nil)
		if _, err := (AdminPolicy{}).ParseAdmin(secret(t, noPort), target(), PostgreSQL); !errors.Is(err, rotation.ErrInvalidSecret) || !strings.Contains(err.Error(), `"port"`) {
			t.Errorf("admin secret without a port, rotated secret on 6543: %v", err)
		}
		if a, err := (AdminPolicy{}).ParseAdmin(secret(t, noPort), target("port", 5432), PostgreSQL); err != nil || a.Port != 5432 {
			t.Errorf("admin secret without a port, rotated secret on 5432: %v, %v", a, err)
		}
	})
	t.Run("AllowPlaintext follows the secrets", func(t *testing.T) {
		p := pinned
		p.AllowPlaintext = true
		a, err := p.ParseAdmin(rdsMaster, target(), PostgreSQL)
		if err != nil || a.TLS != TLSDisable {
			t.Errorf("rotated secret ssl=false: %v, %v; want plaintext", a, err)
		}
		a, err = p.ParseAdmin(secret(t, with(full, "ssl", true, "sslrootcert", nil)), target(), PostgreSQL)
		if err != nil || a.TLS != TLSVerifyFull {
			t.Errorf("admin secret ssl=true: %v, %v; want verify-full", a, err)
		}
	})
}
