package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
	"github.com/rotationkit/rotation/rotationtest"
)

// Secrets Manager calls one clean rotation may make, per mode (nine at
// most, one more for reading the admin secret).
const (
	maxCallsSingle      = 9
	maxCallsAdmin       = 10
	maxCallsAlternating = 10
)

const modelHost = "oracle.rotation.test"

type testCA struct {
	file string
	cert tls.Certificate
}

func newTestCA(t testing.TB) testCA {
	t.Helper()
	caPEM, cert := dbsecrettest.NewCA(t, []string{modelHost}, nil)
	return testCA{file: dbsecrettest.WriteFile(t, caPEM), cert: cert}
}

// strongPassword returns a password the verify function accepts.
func strongPassword() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("Aa1_%x", b)
}

// secretJSON is a secret in AWS's format for the model's server.
func secretJSON(user, password string, extra map[string]any) string {
	m := map[string]any{"engine": "oracle", "host": modelHost, "port": 2484, "username": user, "password": password, "dbname": "ORCL"}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// probeFor returns a Probe that shares no code with the rotator's Test:
// it decodes the secret itself, insists that it still names the model's
// server, port, service and engine, and asks the model whether the user
// and password log in.
func probeFor(m *model) func(context.Context, *rotation.Secret) error {
	return func(ctx context.Context, s *rotation.Secret) error {
		str, ok := s.SecretString()
		if !ok {
			return errors.New("probe: the value is binary")
		}
		var v struct {
			Engine   string          `json:"engine"`
			Host     string          `json:"host"`
			Port     json.RawMessage `json:"port"`
			Username string          `json:"username"`
			Password string          `json:"password"`
			DBName   string          `json:"dbname"`
		}
		if err := json.Unmarshal([]byte(str), &v); err != nil {
			return errors.New("probe: the value is not a JSON object")
		}
		port, err := strconv.Unquote(string(v.Port))
		if err != nil {
			port = string(v.Port)
		}
		if v.Engine != "oracle" || v.Host != modelHost || port != "2484" || v.DBName != "ORCL" {
			return errors.New("probe: the value no longer names the server, port, service or engine")
		}
		_, err = m.authenticate(v.Username, v.Password, v.DBName)
		return err
	}
}

func mapLookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func testSettings(t testing.TB, ca testCA, m *model, md mode) settings {
	t.Helper()
	env := map[string]string{envMode: string(md), envCABundle: ca.file}
	if md == modePrecreated {
		env[envUsers] = "app,app_b"
	}
	s, err := loadSettings(mapLookup(env))
	if err != nil {
		t.Fatal(err)
	}
	s.newConnector = m.connector
	return s
}

func handlerFor(s settings) func(rotation.Client, *slog.Logger) (rotationtest.HandleFunc, error) {
	return func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
		h, err := newHandler(c, s, l)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	}
}

func adminJSON(password string) string {
	b, _ := json.Marshal(map[string]any{"username": "admin", "password": password, "host": modelHost, "port": 2484})
	return string(b)
}

// seedBase gives the base user grants of every kind the function copies.
func seedBase(m *model, u *oUser) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u.grants = []grant{
		{Kind: "role", Name: "APP_READ", Option: "NO"},
		{Kind: "role", Name: "odd role", Option: "YES"},
		{Kind: "system", Name: "CREATE SESSION", Option: "NO"},
		{Kind: "object", Name: "SELECT", Option: "NO", Owner: "APPOWNER", Object: "ORDERS"},
		{Kind: "object", Name: "EXECUTE", Option: "YES", Owner: "APPOWNER", Object: "pkg'; DROP--"},
		{Kind: "object", Name: "READ", Option: "NO", Object: "DATA_DIR", Type: "DIRECTORY"},
		{Kind: "object", Name: "UPDATE", Option: "NO", Owner: "APPOWNER", Object: "ORDERS", Column: "STATUS"},
	}
	for _, r := range []string{"APP_READ", "odd role"} {
		if _, ok := m.users[r]; !ok {
			m.users[r] = &oUser{name: r, password: "\x00role"} // a role: cannot log in
		}
	}
}

type fixtureKind int

const (
	kindSingle fixtureKind = iota
	kindSingleAdmin
	kindAlternating
	kindPrecreated
)

func fixture(t *testing.T, kind fixtureKind) rotationtest.Factory {
	ca := newTestCA(t)
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		m := newModel(modelHost, ca.cert)
		adminPW, pw := strongPassword(), strongPassword()
		m.addUser("ADMIN", adminPW, true)
		fx := &rotationtest.Fixture{Probe: probeFor(m), MaxCalls: maxCallsSingle}
		switch kind {
		case kindSingle:
			m.addUser("APP", pw, false)
			fx.Secret = secretJSON("app", pw, nil)
			fx.NewHandler = handlerFor(testSettings(t, ca, m, modeSingle))
		case kindSingleAdmin:
			m.addUser("APP", pw, false)
			fx.Secret = secretJSON("app", pw, map[string]any{"masterarn": "admin/app"})
			fx.Others = map[string]string{"admin/app": adminJSON(adminPW)}
			s := testSettings(t, ca, m, modeSingle)
			s.allowedUsers = []string{"app"}
			fx.NewHandler = handlerFor(s)
			fx.MaxCalls = maxCallsAdmin
		case kindAlternating, kindPrecreated:
			seedBase(m, m.addUser("APP", pw, false))
			s := testSettings(t, ca, m, modeAlternating)
			if kind == kindPrecreated {
				s = testSettings(t, ca, m, modePrecreated)
				m.addUser("APP_B", strongPassword(), false)
			}
			fx.Secret = secretJSON("app", pw, map[string]any{"masterarn": "admin/app"})
			fx.Others = map[string]string{"admin/app": adminJSON(adminPW)}
			fx.NewHandler = handlerFor(s)
			fx.ZeroDowntime = true
			fx.MaxCalls = maxCallsAlternating
		}
		return fx, nil
	}
}

func TestConformanceSingle(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindSingle))
}

func TestConformanceSingleAdmin(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindSingleAdmin))
}

func TestConformanceAlternating(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindAlternating))
}

func TestConformancePrecreated(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindPrecreated))
}

func TestConformanceOverHTTP(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindAlternating), rotationtest.OverHTTP())
}

// TestProbeRejectsAlteredValues: the Probe accepts the value that logs in
// and refuses every subtly altered copy, so the suite's verdicts mean
// something.
func TestProbeRejectsAlteredValues(t *testing.T) {
	ca := newTestCA(t)
	m := newModel(modelHost, ca.cert)
	pw := strongPassword()
	m.addUser("APP", pw, false)
	probe := probeFor(m)
	ctx := context.Background()
	if err := probe(ctx, rotation.NewString(secretJSON("app", pw, nil))); err != nil {
		t.Fatalf("the probe refuses the working value: %v", err)
	}
	for name, v := range map[string]string{
		"password, last character": secretJSON("app", pw[:len(pw)-1]+"x", nil),
		"password, case":           secretJSON("app", strings.ToLower(pw), nil),
		"username":                 secretJSON("app2", pw, nil),
		"host":                     strings.Replace(secretJSON("app", pw, nil), modelHost, "other.rotation.test", 1),
		"port":                     secretJSON("app", pw, map[string]any{"port": 1521}),
		"dbname":                   secretJSON("app", pw, map[string]any{"dbname": "ORCLPDB"}),
		"engine":                   secretJSON("app", pw, map[string]any{"engine": "postgres"}),
	} {
		if err := probe(ctx, rotation.NewString(v)); err == nil {
			t.Errorf("the probe accepts a value with another %s", name)
		}
	}
	if err := probe(ctx, rotation.NewBinary([]byte("binary"))); err == nil {
		t.Error("the probe accepts a binary value")
	}
}
