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

const modelHost = "sqlserver.rotation.test"

// testCA is a CA and a server certificate for modelHost, with the CA's
// file for ROTATION_CA_BUNDLE.
type testCA struct {
	file string
	cert tls.Certificate
}

func newTestCA(t testing.TB) testCA {
	t.Helper()
	caPEM, cert := dbsecrettest.NewCA(t, []string{modelHost}, nil)
	return testCA{file: dbsecrettest.WriteFile(t, caPEM), cert: cert}
}

// strongPassword returns a password CHECK_POLICY accepts.
func strongPassword() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("Aa1!%x", b)
}

// secretJSON is a secret in AWS's format for the model's server.
func secretJSON(user, password, db string, extra map[string]any) string {
	m := map[string]any{"engine": "sqlserver", "host": modelHost, "port": 1433, "username": user, "password": password, "dbname": db}
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
// server, port, database and engine, and asks the model whether the user
// and password log in.
func probeFor(m *model, db string) func(context.Context, *rotation.Secret) error {
	return func(ctx context.Context, s *rotation.Secret) error {
		var v struct {
			Engine   string          `json:"engine"`
			Host     string          `json:"host"`
			Port     json.RawMessage `json:"port"`
			Username string          `json:"username"`
			Password string          `json:"password"`
			DBName   string          `json:"dbname"`
		}
		str, ok := s.SecretString()
		if !ok {
			return errors.New("probe: the value is binary")
		}
		if err := json.Unmarshal([]byte(str), &v); err != nil {
			return errors.New("probe: the value is not a JSON object")
		}
		port, err := strconv.Unquote(string(v.Port))
		if err != nil {
			port = string(v.Port)
		}
		if v.Engine != "sqlserver" || v.Host != modelHost || port != "1433" || v.DBName != db {
			return errors.New("probe: the value no longer names the server, port, database or engine")
		}
		_, _, err = m.authenticate(v.Username, v.Password, v.DBName)
		return err
	}
}

// testSettings are the settings of a mode for the model: the test CA as
// ROTATION_CA_BUNDLE.
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

func mapLookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
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

// adminJSON is an admin secret for the model's server.
func adminJSON(password string) string {
	b, _ := json.Marshal(map[string]any{"username": "rdsadmin_master", "password": password, "host": modelHost, "port": 1433})
	return string(b)
}

// seedBase gives a base login privileges of every kind the function
// copies, with hostile names.
func seedBase(m *model, l *mLogin, db string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l.serverRoles = []string{"##MS_ServerStateReader##"}
	l.serverPerms = []perm{{State: "G", Permission: "VIEW SERVER STATE", Class: classServer, Resolved: true}}
	u := m.dbs[key(db)].users[key(l.name)]
	u.roles = []string{"db_datareader", "app]role"}
	u.perms = []perm{
		{State: "G", Permission: "SELECT", Class: classObject, Schema: "dbo", Object: "Orders", Resolved: true},
		{State: "W", Permission: "EXECUTE", Class: classSchema, Schema: "sales'; DROP TABLE x;--", Resolved: true},
		{State: "D", Permission: "DELETE", Class: classObject, Schema: "dbo", Object: "Ord]ers [archive]", Resolved: true},
		{State: "G", Permission: "UPDATE", Class: classObject, Schema: "dbo", Object: "Orders", Column: "status", Resolved: true},
		{State: "G", Permission: "VIEW DEFINITION", Class: classDatabase, Resolved: true},
	}
}

type fixtureKind int

const (
	kindSingle fixtureKind = iota
	kindSingleContained
	kindSingleAdmin
	kindAlternating
	kindAlternatingContained
	kindPrecreated
)

// fixture returns a Factory for kind; each call builds a fresh model.
func fixture(t *testing.T, kind fixtureKind) rotationtest.Factory {
	ca := newTestCA(t)
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		m := newModel(modelHost, ca.cert)
		const db = "appdb"
		m.addDB(db, kind == kindSingleContained || kind == kindAlternatingContained)
		adminPW := strongPassword()
		m.addLogin("rdsadmin_master", adminPW, "", true)
		pw := strongPassword()
		fx := &rotationtest.Fixture{Probe: probeFor(m, db), MaxCalls: maxCallsSingle}
		switch kind {
		case kindSingle:
			m.addLogin("app", pw, db, false)
			fx.Secret = secretJSON("app", pw, db, nil)
			fx.NewHandler = handlerFor(testSettings(t, ca, m, modeSingle))
		case kindSingleContained:
			m.addContained(db, "app", pw)
			fx.Secret = secretJSON("app", pw, db, nil)
			fx.NewHandler = handlerFor(testSettings(t, ca, m, modeSingle))
		case kindSingleAdmin:
			m.addLogin("app", pw, db, false)
			fx.Secret = secretJSON("app", pw, db, map[string]any{"masterarn": "admin/app"})
			fx.Others = map[string]string{"admin/app": adminJSON(adminPW)}
			s := testSettings(t, ca, m, modeSingle)
			s.allowedUsers = []string{"app"}
			fx.NewHandler = handlerFor(s)
			fx.MaxCalls = maxCallsAdmin
		case kindAlternating, kindAlternatingContained, kindPrecreated:
			s := testSettings(t, ca, m, modeAlternating)
			if kind == kindAlternatingContained {
				m.addContained(db, "app", pw)
			} else {
				seedBase(m, m.addLogin("app", pw, db, false), db)
			}
			if kind == kindPrecreated {
				s = testSettings(t, ca, m, modePrecreated)
				m.addLogin("app_b", strongPassword(), db, false)
			}
			fx.Secret = secretJSON("app", pw, db, map[string]any{"masterarn": "admin/app"})
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

func TestConformanceSingleContained(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindSingleContained))
}

func TestConformanceSingleAdmin(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindSingleAdmin))
}

func TestConformanceAlternating(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindAlternating))
}

func TestConformanceAlternatingContained(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindAlternatingContained))
}

func TestConformancePrecreated(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, fixture(t, kindPrecreated))
}

// TestConformanceOverHTTP runs the single-user suite through a real
// aws-sdk-go-v2 client over loopback HTTP.
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
	m.addDB("appdb", false)
	pw := strongPassword()
	m.addLogin("app", pw, "appdb", false)
	probe := probeFor(m, "appdb")
	ctx := context.Background()
	if err := probe(ctx, rotation.NewString(secretJSON("app", pw, "appdb", nil))); err != nil {
		t.Fatalf("the probe refuses the working value: %v", err)
	}
	for name, v := range map[string]string{
		"password, last character": secretJSON("app", pw[:len(pw)-1]+"x", "appdb", nil),
		"password, case":           secretJSON("app", strings.ToLower(pw), "appdb", nil),
		"username":                 secretJSON("app2", pw, "appdb", nil),
		"host":                     strings.Replace(secretJSON("app", pw, "appdb", nil), modelHost, "other.rotation.test", 1),
		"port":                     secretJSON("app", pw, "appdb", map[string]any{"port": 1434}),
		"dbname":                   secretJSON("app", pw, "master", nil),
		"engine":                   secretJSON("app", pw, "appdb", map[string]any{"engine": "mysql"}),
	} {
		if err := probe(ctx, rotation.NewString(v)); err == nil {
			t.Errorf("the probe accepts a value with another %s", name)
		}
	}
	if err := probe(ctx, rotation.NewBinary([]byte("binary"))); err == nil {
		t.Error("the probe accepts a binary value")
	}
}
