package dbsecret

import (
	"crypto/tls"
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

func secret(t *testing.T, fields map[string]any) *rotation.Secret {
	t.Helper()
	s, err := rotation.NewJSON(fields)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func base() map[string]any {
	return map[string]any{
		"engine": "postgres", "host": "db.example.com", "username": "app",
		"password": "hunter2-secret-value",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestParseDefaults(t *testing.T) {
	got, err := Parse(secret(t, base()), PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	want := Secret{Engine: "postgres", Host: "db.example.com", Port: 5432, Username: "app", Password: "hunter2-secret-value", DBName: "postgres", TLS: TLSVerifyFull}
	if *got != want {
		t.Errorf("Parse = %+v, want %+v", got.redacted(), want.redacted())
	}
	m, err := Parse(secret(t, with(base(), "engine", "mariadb")), MySQL)
	if err != nil {
		t.Fatal(err)
	}
	if m.Port != 3306 || m.DBName != "" || m.Engine != "mariadb" {
		t.Errorf("MySQL defaults: port %d dbname %q engine %q", m.Port, m.DBName, m.Engine)
	}
}

func TestParseFields(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    map[string]any
		check func(*Secret) bool
	}{
		{"port number", with(base(), "port", 6543), func(s *Secret) bool { return s.Port == 6543 }},
		{"port string", with(base(), "port", "6543"), func(s *Secret) bool { return s.Port == 6543 }},
		{"dbname", with(base(), "dbname", "app"), func(s *Secret) bool { return s.DBName == "app" }},
		{"masterarn", with(base(), "masterarn", "arn:aws:secretsmanager:us-east-1:1:secret:admin"), func(s *Secret) bool { return s.MasterARN != "" }},
		{"ssl false", with(base(), "ssl", false), func(s *Secret) bool { return s.TLS == TLSDisable }},
		{"ssl \"false\"", with(base(), "ssl", "false"), func(s *Secret) bool { return s.TLS == TLSDisable }},
		{"ssl \"FALSE\"", with(base(), "ssl", "FALSE"), func(s *Secret) bool { return s.TLS == TLSDisable }},
		{"ssl true", with(base(), "ssl", true), func(s *Secret) bool { return s.TLS == TLSVerifyFull }},
		{"ssl \"true\"", with(base(), "ssl", "true"), func(s *Secret) bool { return s.TLS == TLSVerifyFull }},
		{"ssl null is absent", with(base(), "ssl", json.RawMessage("null")), func(s *Secret) bool { return s.TLS == TLSVerifyFull }},
		{"sslmode require", with(base(), "sslmode", "require"), func(s *Secret) bool { return s.TLS == TLSRequire }},
		{"sslmode VERIFY_CA", with(base(), "sslmode", "VERIFY_CA"), func(s *Secret) bool { return s.TLS == TLSVerifyCA }},
		{"sslmode VERIFY_IDENTITY", with(base(), "sslmode", "VERIFY_IDENTITY", "ssl", true), func(s *Secret) bool { return s.TLS == TLSVerifyFull }},
		{"sslmode disable with ssl false", with(base(), "sslmode", "disable", "ssl", false), func(s *Secret) bool { return s.TLS == TLSDisable }},
		{"sslrootcert", with(base(), "sslrootcert", "/x/ca.pem"), func(s *Secret) bool { return s.SSLRootCert == "/x/ca.pem" }},
		{"aurora engine", with(base(), "engine", "aurora-postgresql"), func(s *Secret) bool { return s.Engine == "aurora-postgresql" }},
		{"engine case", with(base(), "engine", "Postgres"), func(s *Secret) bool { return s.Engine == "postgres" }},
		{"hostile but printable user", with(base(), "username", `a"; DROP TABLE x; --`), func(s *Secret) bool { return s.Username == `a"; DROP TABLE x; --` }},
		{"unicode user", with(base(), "username", "名前ü"), func(s *Secret) bool { return s.Username == "名前ü" }},
		{"IPv6 host", with(base(), "host", "::1"), func(s *Secret) bool { return s.Host == "::1" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(secret(t, tc.in), PostgreSQL)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) {
				t.Errorf("unexpected result %v", got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const pw = "hunter2-secret-value"
	for _, tc := range []struct {
		name  string
		in    map[string]any
		fam   Family
		field string
		want  string
	}{
		{"missing engine", with(base(), "engine", nil), PostgreSQL, "engine", "is missing"},
		{"unknown engine", with(base(), "engine", "db2"), PostgreSQL, "engine", "postgres, postgresql, aurora-postgresql"},
		{"wrong family", with(base(), "engine", "mysql"), PostgreSQL, "engine", "a MySQL/MariaDB engine, but this function rotates PostgreSQL"},
		{"postgres to mysql", base(), MySQL, "engine", "rotates MySQL/MariaDB"},
		{"missing host", with(base(), "host", nil), PostgreSQL, "host", "is missing"},
		{"empty host", with(base(), "host", ""), PostgreSQL, "host", "is empty"},
		{"host URL", with(base(), "host", "postgres://x@y/z"), PostgreSQL, "host", "not a URL"},
		{"reader endpoint", with(base(), "host", "db.cluster-ro-abc.us-east-1.rds.amazonaws.com"), PostgreSQL, "host", "reader endpoint"},
		{"host space", with(base(), "host", "a b"), PostgreSQL, "host", "whitespace"},
		{"port text", with(base(), "port", "fivefour"), PostgreSQL, "port", "not an integer"},
		{"port range", with(base(), "port", 70000), PostgreSQL, "port", "out of range"},
		{"port object", with(base(), "port", map[string]any{"a": 1}), PostgreSQL, "port", "object or array"},
		{"missing username", with(base(), "username", nil), PostgreSQL, "username", "is missing"},
		{"NUL in username", with(base(), "username", "a\x00b"), PostgreSQL, "username", "control character"},
		{"missing password", with(base(), "password", nil), PostgreSQL, "password", "is missing"},
		{"NUL in password", with(base(), "password", pw+"\x00"), PostgreSQL, "password", "control character"},
		{"ssl not bool", with(base(), "ssl", "yes please"), PostgreSQL, "ssl", "not a boolean"},
		{"sslmode prefer", with(base(), "sslmode", "prefer"), PostgreSQL, "sslmode", "fall back to plaintext"},
		{"sslmode PREFERRED", with(base(), "sslmode", "PREFERRED"), MySQL, "sslmode", "fall back to plaintext"},
		{"sslmode unknown", with(base(), "sslmode", "bogus"), PostgreSQL, "sslmode", "is not one of"},
		{"sslmode contradicts ssl false", with(base(), "sslmode", "verify-full", "ssl", false), PostgreSQL, "sslmode", "contradicts"},
		{"sslmode disable contradicts ssl true", with(base(), "sslmode", "disable", "ssl", true), PostgreSQL, "sslmode", "contradicts"},
		{"masterarn array", with(base(), "masterarn", []string{"x"}), PostgreSQL, "masterarn", "object or array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if tc.fam == MySQL && tc.name != "postgres to mysql" {
				in = with(in, "engine", "mysql")
				if tc.field == "engine" {
					in = tc.in
				}
			}
			_, err := Parse(secret(t, in), tc.fam)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !errors.Is(err, rotation.ErrInvalidSecret) {
				t.Errorf("error %v does not wrap rotation.ErrInvalidSecret", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("%q", tc.field)) {
				t.Errorf("error %q does not name field %q", msg, tc.field)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q lacks %q", msg, tc.want)
			}
			for _, v := range []string{pw, "db.example.com", "fivefour", "db2", "bogus", "cluster-ro-abc", "yes please"} {
				if strings.Contains(msg, v) {
					t.Errorf("error %q quotes the value %q", msg, v)
				}
			}
		})
	}
}

func TestParseNotJSON(t *testing.T) {
	for _, s := range []*rotation.Secret{nil, rotation.NewString("not json hunter2"), rotation.NewBinary([]byte("x"))} {
		if _, err := Parse(s, PostgreSQL); !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("Parse(%v) = %v, want ErrInvalidSecret", s, err)
		}
	}
}

func TestRedaction(t *testing.T) {
	const pw = "hunter2-secret-value"
	s, err := Parse(secret(t, base()), PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "secret", s)
	j, _ := json.Marshal(s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v %#v %s %q %x", s, s, s, s, s), b.String(), string(j)} {
		if strings.Contains(out, pw) {
			t.Errorf("formatted secret shows the password: %s", out)
		}
		if !strings.Contains(out, "db.example.com") {
			t.Errorf("formatted secret lost the host: %s", out)
		}
	}
}

func TestPolicies(t *testing.T) {
	for _, f := range []Family{PostgreSQL, MySQL} {
		p := f.DefaultPolicy()
		if err := p.Validate(); err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		for range 50 {
			pw, err := p.Generate()
			if err != nil {
				t.Fatal(err)
			}
			bad := MySQLExcludedCharacters
			if f == PostgreSQL {
				bad = PostgreSQLExcludedCharacters
			}
			if strings.ContainsAny(pw, bad) || len(pw) != 32 {
				t.Fatalf("%v: generated password violates the policy (length %d)", f, len(pw))
			}
		}
	}
	if !strings.Contains(PostgreSQLExcludedCharacters, ":") || strings.Contains(MySQLExcludedCharacters, ":") {
		t.Error("':' must be excluded for PostgreSQL only")
	}
}

func TestPolicyFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	p, err := PolicyFromEnv(PostgreSQL, env(nil))
	if err != nil || p != PostgreSQL.DefaultPolicy() {
		t.Errorf("empty env: %+v, %v", p, err)
	}
	p, err = PolicyFromEnv(PostgreSQL, env(map[string]string{
		EnvExcludeCharacters: "!", EnvPasswordLength: "64", EnvExcludePunctuation: "true",
		EnvRequireEachIncludedType: "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := rotation.PasswordPolicy{Length: 64, ExcludeCharacters: "!", ExcludePunctuation: true, AllowMissingTypes: true}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	for _, bad := range []map[string]string{
		{EnvPasswordLength: "0"}, {EnvPasswordLength: "x"}, {EnvPasswordLength: "5000"},
		{EnvExcludeNumbers: "maybe"},
		{EnvExcludeNumbers: "1", EnvExcludeLowercase: "1", EnvExcludeUppercase: "1", EnvExcludePunctuation: "1"},
	} {
		if _, err := PolicyFromEnv(MySQL, env(bad)); err == nil {
			t.Errorf("PolicyFromEnv(%v) succeeded", bad)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	parse := func(kv ...any) *Secret {
		s, err := Parse(secret(t, with(base(), kv...)), PostgreSQL)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if c, err := parse("ssl", false).TLSConfig(); c != nil || err != nil {
		t.Errorf("ssl=false: got %v, %v; want no TLS", c, err)
	}
	if c, err := parse("sslmode", "require").TLSConfig(); err != nil || !c.InsecureSkipVerify {
		t.Errorf("require: %v, %v", c, err)
	}

	// A bundle of our own, named by sslrootcert and by the caller.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, dbsecrettest.CAPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parse("sslrootcert", ca).TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.InsecureSkipVerify || c.ServerName != "db.example.com" || c.RootCAs == nil || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("verify-full config: %+v", c)
	}
	if c, err := parse().TLSConfig(ca); err != nil || c.RootCAs == nil {
		t.Errorf("caller bundle: %v", err)
	}
	if c, err := parse("sslmode", "verify-ca", "sslrootcert", ca).TLSConfig(); err != nil || c.VerifyConnection == nil {
		t.Errorf("verify-ca: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	if _, err := parse("sslrootcert", missing).TLSConfig(); !errors.Is(err, ErrNoCABundle) || !strings.Contains(err.Error(), `"sslrootcert"`) {
		t.Errorf("missing sslrootcert: %v", err)
	}
	if _, err := parse().TLSConfig(missing); !errors.Is(err, ErrNoCABundle) {
		t.Errorf("missing caller bundle: %v", err)
	}
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	_ = os.WriteFile(notPEM, []byte("nope"), 0o600)
	if _, err := parse().TLSConfig(notPEM); !errors.Is(err, ErrNoCABundle) {
		t.Errorf("non-PEM bundle: %v", err)
	}
	// The defaults: this machine has at least one of them.
	if c, err := parse().TLSConfig(); err != nil || c.RootCAs == nil {
		t.Errorf("default bundles: %v", err)
	}
}

func TestParseAdmin(t *testing.T) {
	target, err := Parse(secret(t, with(base(), "port", 6543, "dbname", "app", "ssl", false)), PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	// An RDS-managed master secret: username and password only.
	a, err := ParseAdmin(secret(t, map[string]any{"username": "master", "password": "admin-secret-pw"}), target, PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	want := Secret{Engine: "postgres", Host: "db.example.com", Port: 6543, Username: "master", Password: "admin-secret-pw", DBName: "app", TLS: TLSDisable}
	if *a != want {
		t.Errorf("ParseAdmin = %v, want %v", a, &want)
	}
	full := map[string]any{"engine": "postgres", "host": "DB.example.com", "port": "6543", "username": "master", "password": "admin-secret-pw", "dbname": "postgres", "ssl": true}
	if a, err := ParseAdmin(secret(t, full), target, PostgreSQL); err != nil || a.DBName != "postgres" || a.TLS != TLSVerifyFull {
		t.Errorf("full admin secret: %v, %v", a, err)
	}
	for _, tc := range []struct {
		name  string
		in    map[string]any
		field string
	}{
		{"other host", with(full, "host", "other.example.com"), "host"},
		{"other port", with(full, "port", 5432), "port"},
		{"other engine", with(full, "engine", "mysql"), "engine"},
		{"no password", with(full, "password", nil), "password"},
		{"no username", with(full, "username", nil), "username"},
	} {
		_, err := ParseAdmin(secret(t, tc.in), target, PostgreSQL)
		if !errors.Is(err, rotation.ErrInvalidSecret) || !strings.Contains(err.Error(), "admin secret") || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.field)) {
			t.Errorf("%s: error %v; want ErrInvalidSecret naming the admin secret and field %q", tc.name, err, tc.field)
		}
		if err != nil && (strings.Contains(err.Error(), "other.example.com") || strings.Contains(err.Error(), "admin-secret-pw")) {
			t.Errorf("%s: error quotes a value: %v", tc.name, err)
		}
	}
}

func TestCAFilesFromEnv(t *testing.T) {
	caA, caB := dbsecrettest.CAFile(t), dbsecrettest.CAFile(t)
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) { return v, k == "CA_LIST" && v != "" }
	}
	if files, err := CAFilesFromEnv(env(""), "CA_LIST", ":"); files != nil || err != nil {
		t.Errorf("unset: %v, %v", files, err)
	}
	files, err := CAFilesFromEnv(env(" "+caA+" : "+caB+":"), "CA_LIST", ":")
	if err != nil || len(files) != 2 || files[0] != caA || files[1] != caB {
		t.Errorf("two bundles: %v, %v", files, err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	if _, err := CAFilesFromEnv(env(caA+","+missing), "CA_LIST", ","); !errors.Is(err, ErrNoCABundle) || !strings.Contains(err.Error(), "CA_LIST") {
		t.Errorf("missing bundle: %v, want ErrNoCABundle naming CA_LIST", err)
	}
}

// TestParseSQLServerOracle covers the SQL Server and Oracle families: the
// defaults AWS's templates use, the required Oracle service name, and a
// secret of one family refused by the other naming the family.
func TestParseSQLServerOracle(t *testing.T) {
	ss, err := Parse(rotation.NewString(`{"engine":"sqlserver-se","host":"db.example.com","username":"app","password":"pw-0123456789"}`), SQLServer)
	if err != nil {
		t.Fatal(err)
	}
	if ss.Port != 1433 || ss.DBName != "master" || ss.TLS != TLSVerifyFull {
		t.Errorf("SQL Server defaults: port %d, dbname %q, tls %q; want 1433, master, verify-full", ss.Port, ss.DBName, ss.TLS)
	}
	ora, err := Parse(rotation.NewString(`{"engine":"oracle-ee","host":"db.example.com","username":"app","password":"pw-0123456789","dbname":"ORCL"}`), Oracle)
	if err != nil {
		t.Fatal(err)
	}
	if ora.Port != 1521 || ora.DBName != "ORCL" {
		t.Errorf("Oracle defaults: port %d, dbname %q; want 1521, ORCL", ora.Port, ora.DBName)
	}
	_, err = Parse(rotation.NewString(`{"engine":"oracle","host":"db.example.com","username":"app","password":"pw-0123456789"}`), Oracle)
	if !errors.Is(err, rotation.ErrInvalidSecret) || !strings.Contains(err.Error(), `"dbname"`) {
		t.Errorf("Oracle without dbname: %v; want an invalid-secret error naming dbname", err)
	}
	_, err = Parse(rotation.NewString(`{"engine":"sqlserver","host":"db.example.com","username":"app","password":"pw-0123456789"}`), Oracle)
	if err == nil || !strings.Contains(err.Error(), "a SQL Server engine") {
		t.Errorf("SQL Server secret given to the Oracle rotator: %v; want an error naming SQL Server", err)
	}
	for f, want := range map[Family]string{SQLServer: SQLServerExcludedCharacters, Oracle: OracleExcludedCharacters} {
		p := f.DefaultPolicy()
		if p.ExcludeCharacters != want || p.Validate() != nil {
			t.Errorf("%v default policy: %+v", f, p)
		}
		if !strings.Contains(p.ExcludeCharacters, `"`) {
			t.Errorf("%v default policy allows '\"'", f)
		}
	}
}
