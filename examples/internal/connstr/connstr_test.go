package connstr

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rotationkit/rotation"
)

// hostile is a password with every character the formats treat specially.
const hostile = `p@ss:w/o?r#d&x=y;z{a}}b}'q"\ %41+é`

var cred = Credential{Host: "db.example.com", Port: 5432, OldUsername: "app", Username: "app_clone", Password: hostile}

func TestRewriteString(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		in   string
		want string
	}{
		{"postgres URL", Auto, "postgres://app:old@db.example.com:5432/app?sslmode=verify-full",
			"postgres://app_clone:p%40ss%3Aw%2Fo%3Fr%23d%26x%3Dy%3Bz%7Ba%7D%7Db%7D%27q%22%5C%20%2541%2B%C3%A9@db.example.com:5432/app?sslmode=verify-full"},
		{"URL query credentials", URL, "postgresql://db.example.com/app?user=app&password=old&sslmode=require",
			"postgresql://db.example.com/app?user=app_clone&password=p%40ss%3Aw%2Fo%3Fr%23d%26x%3Dy%3Bz%7Ba%7D%7Db%7D%27q%22%5C%20%2541%2B%C3%A9&sslmode=require"},
		{"URL without credentials kept", URL, "mongodb://db.example.com:5432/?tls=true", "mongodb://db.example.com:5432/?tls=true"},
		{"mongodb URI, trailing dot and case", URL, "mongodb://app:old@DB.example.com.:5432/?replicaSet=rs0&retryWrites=false",
			"mongodb://app_clone:p%40ss%3Aw%2Fo%3Fr%23d%26x%3Dy%3Bz%7Ba%7D%7Db%7D%27q%22%5C%20%2541%2B%C3%A9@DB.example.com.:5432/?replicaSet=rs0&retryWrites=false"},
		{"JDBC query", Auto, "jdbc:redshift://db.example.com:5432/dev?ssl=true&UID=app&PWD=old",
			"jdbc:redshift://db.example.com:5432/dev?ssl=true&UID=app_clone&PWD=p%40ss%3Aw%2Fo%3Fr%23d%26x%3Dy%3Bz%7Ba%7D%7Db%7D%27q%22%5C%20%2541%2B%C3%A9"},
		{"JDBC Redshift properties", JDBC, "jdbc:redshift://db.example.com:5432/dev;UID=app;PWD=old&ssl=true",
			"jdbc:redshift://db.example.com:5432/dev;UID=app_clone;PWD=p%40ss%3Aw%2Fo%3Fr%23d%26x%3Dy%3Bz%7Ba%7D%7Db%7D%27q%22%5C%20%2541%2B%C3%A9&ssl=true"},
		{"JDBC no credentials", JDBC, "jdbc:postgresql://db.example.com/app", "jdbc:postgresql://db.example.com/app"},
		{"JDBC SQL Server properties", JDBC, "jdbc:sqlserver://db.example.com:5432;databaseName=app;user=app;password={o;ld}",
			"jdbc:sqlserver://db.example.com:5432;databaseName=app;user=app_clone;password={p@ss:w/o?r#d&x=y;z{a}}}}b}}'q\"\\ %41+é}"},
		{"ODBC", Auto, "Driver={Amazon Redshift (x64)}; Server=db.example.com; Database=dev; UID=app; PWD=old; Port=5432",
			"Driver={Amazon Redshift (x64)}; Server=db.example.com; Database=dev; UID=app_clone; PWD={p@ss:w/o?r#d&x=y;z{a}}}}b}}'q\"\\ %41+é}; Port=5432"},
		{"ODBC tcp:host,port", ODBC, "Server=tcp:db.example.com,5432;Uid=app;Pwd={a}}b};Encrypt=yes",
			"Server=tcp:db.example.com,5432;Uid=app_clone;Pwd={p@ss:w/o?r#d&x=y;z{a}}}}b}}'q\"\\ %41+é};Encrypt=yes"},
		{"libpq key=value", Auto, "host=db.example.com port=5432 user=app password='o ld' sslmode=verify-full",
			`host=db.example.com port=5432 user=app_clone password='p@ss:w/o?r#d&x=y;z{a}}b}\'q"\\ %41+é' sslmode=verify-full`},
		{"MySQL DSN", Auto, "app:old@tcp(db.example.com:5432)/app?tls=true",
			`app_clone:p@ss:w/o?r#d&x=y;z{a}}b}'q"\ %41+é@tcp(db.example.com:5432)/app?tls=true`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RewriteString(tc.f, tc.in, cred)
			if err != nil {
				t.Fatalf("RewriteString: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("RewriteString (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRewriteStringRefusals(t *testing.T) {
	tests := []struct {
		name, in, want string
		f              Format
	}{
		{"another host", "postgres://app:old@evil.example.com/app", "host other", Auto},
		{"another of several hosts", "mongodb://app:old@db.example.com,evil.example.com/", "host other", URL},
		{"another port", "postgres://app:old@db.example.com:5433/app", "port other", Auto},
		{"no host", "postgres:///app?user=app", "names no host", URL},
		{"another user", "postgres://root:old@db.example.com/app", "user other", URL},
		{"two users", "postgres://app:old@db.example.com/app?user=root", "two different users", URL},
		{"bad escape", "postgres://app:o%zzld@db.example.com/app", "percent-escape", URL},
		{"not a URL", "db.example.com", "not a URL", URL},
		{"unix socket libpq", "host=/var/run/postgresql user=app", "Unix socket", KeyValue},
		{"libpq no =", "host db.example.com", "key=value", KeyValue},
		{"libpq unterminated", "host=db.example.com password='x", "unterminated", KeyValue},
		{"ODBC DSN only", "DSN=prod;UID=app;PWD=x", "names no host", ODBC},
		{"ODBC unterminated brace", "Server=db.example.com;PWD={abc", "unterminated", ODBC},
		{"ODBC text after brace", "Server=db.example.com;PWD={abc}x;", "after a {braced}", ODBC},
		{"JDBC oracle thin", "jdbc:oracle:thin:@db.example.com:1521/svc", "JDBC form", JDBC},
		{"MySQL unix socket", "app:x@unix(/tmp/mysql.sock)/app", "TCP", MySQLDSN},
		{"MySQL default host", "app:x@/app", "names no host", MySQLDSN},
		{"control character", "postgres://app:o\x00ld@db.example.com/app", "control character", URL},
		{"bad port", "postgres://app@db.example.com:99999/app", "invalid port", URL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RewriteString(tc.f, tc.in, cred)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("RewriteString: got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	t.Run("MySQL user with colon", func(t *testing.T) {
		c := cred
		c.Username = "a:b"
		_, err := RewriteString(MySQLDSN, "app:x@tcp(db.example.com)/app", c)
		if err == nil || !strings.Contains(err.Error(), `":"`) {
			t.Fatalf("got %v, want a refusal of ':'", err)
		}
	})
}

// TestRewriteAgainstDrivers reads the rewritten strings back with the
// drivers' own parsers.
func TestRewriteAgainstDrivers(t *testing.T) {
	for _, pw := range []string{hostile, "plain", "a b", `'`, `\`, "}", "{", ";", "=", " lead", "trail ", "%", "+", "@:/?#[]"} {
		c := cred
		c.Password = pw
		c.Port = 0
		t.Run(fmt.Sprintf("%q", pw), func(t *testing.T) {
			for _, in := range []string{
				"postgres://app:old@db.example.com:5432/app?sslmode=disable",
				"postgres://db.example.com/app?sslmode=disable&user=app&password=old",
				"host=db.example.com user=app password=old sslmode=disable",
			} {
				out, err := RewriteString(Auto, in, c)
				if err != nil {
					t.Fatalf("RewriteString: %v", err)
				}
				cfg, err := pgconn.ParseConfig(out)
				if err != nil {
					t.Fatalf("pgconn.ParseConfig of the rewritten form of %q: %v", in, err)
				}
				if cfg.User != c.Username || cfg.Password != c.Password || cfg.Host != c.Host {
					t.Errorf("pgconn reads the rewritten %q as user %q, host %q, password ok %v", in, cfg.User, cfg.Host, cfg.Password == c.Password)
				}
			}
			out, err := RewriteString(Auto, "app:old@tcp(db.example.com:3306)/app?tls=true", c)
			if err != nil {
				t.Fatalf("RewriteString: %v", err)
			}
			cfg, err := mysql.ParseDSN(out)
			if err != nil {
				t.Fatalf("mysql.ParseDSN of the rewritten DSN: %v", err)
			}
			if cfg.User != c.Username || cfg.Passwd != c.Password || cfg.Addr != "db.example.com:3306" {
				t.Errorf("mysql reads the rewritten DSN as user %q, addr %q, password ok %v", cfg.User, cfg.Addr, cfg.Passwd == c.Password)
			}
			out, err = RewriteString(URL, "mongodb://app:old@db.example.com:27017/?tls=true", c)
			if err != nil {
				t.Fatalf("RewriteString: %v", err)
			}
			u, err := url.Parse(out)
			if err != nil {
				t.Fatalf("url.Parse of the rewritten URI: %v", err)
			}
			if p, _ := u.User.Password(); u.User.Username() != c.Username || p != c.Password {
				t.Errorf("net/url reads the rewritten URI's userinfo wrongly")
			}
		})
	}
}

func TestRewriteSecret(t *testing.T) {
	cur, err := rotation.NewJSON(map[string]any{
		"engine": "postgres", "host": "db.example.com", "username": "app", "password": "old",
		"connectionString": "postgres://app:old@db.example.com/app",
		"jdbcUrl":          "jdbc:postgresql://db.example.com/app?user=app&password=old",
		"custom":           "host=db.example.com user=app password=old",
		"other":            "postgres://app:old@db.example.com/app",
	})
	if err != nil {
		t.Fatal(err)
	}
	fields, err := FieldsFromEnv(func(k string) (string, bool) {
		if k == EnvFields {
			return "custom:libpq", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := cur.With(map[string]any{"password": "N3w-pass"})
	if err != nil {
		t.Fatal(err)
	}
	c := Credential{Host: "db.example.com", Port: 5432, OldUsername: "app", Username: "app", Password: "N3w-pass"}
	if err := Check(pending, fields, c); err == nil {
		t.Errorf("Check of a value whose strings hold the old password: got nil, want an error")
	}
	out, err := Rewrite(pending, fields, c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"connectionString": "postgres://app:N3w-pass@db.example.com/app",
		"jdbcUrl":          "jdbc:postgresql://db.example.com/app?user=app&password=N3w-pass",
		"custom":           "host=db.example.com user=app password=N3w-pass",
		"other":            "postgres://app:old@db.example.com/app", // not a connection-string field
		"engine":           "postgres",
		"password":         "N3w-pass",
	}
	got := map[string]string{}
	for k := range want {
		got[k], _ = out.Get(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rewrite (-want +got):\n%s", diff)
	}
	if err := Check(out, fields, c); err != nil {
		t.Errorf("Check of the rewritten value: %v", err)
	}

	bad, _ := pending.With(map[string]any{"dsn": "postgres://app:old@attacker.example/app"})
	_, err = Rewrite(bad, fields, c)
	if !errors.Is(err, rotation.ErrInvalidSecret) || !strings.Contains(err.Error(), `field "dsn"`) {
		t.Errorf("Rewrite with a foreign host: got %v, want ErrInvalidSecret naming field \"dsn\"", err)
	}
	if strings.Contains(err.Error(), "attacker") || strings.Contains(err.Error(), "old") {
		t.Errorf("the error shows the field's value: %v", err)
	}
	num, _ := pending.With(map[string]any{"uri": 5})
	if _, err := Rewrite(num, fields, c); err == nil {
		t.Errorf("Rewrite of a numeric uri: got nil error")
	}
}

func TestFieldsFromEnv(t *testing.T) {
	for _, v := range []string{"x:nope", ":url"} {
		_, err := FieldsFromEnv(func(string) (string, bool) { return v, true })
		if err == nil || !strings.Contains(err.Error(), EnvFields) {
			t.Errorf("FieldsFromEnv(%q): got %v, want an error naming %s", v, err, EnvFields)
		}
	}
	f, err := FieldsFromEnv(func(string) (string, bool) { return " uri:odbc , extra ", true })
	if err != nil {
		t.Fatal(err)
	}
	var uri, extra Format = -1, -1
	for _, x := range f {
		switch x.Name {
		case "uri":
			uri = x.Format
		case "extra":
			extra = x.Format
		}
	}
	if uri != ODBC || extra != Auto {
		t.Errorf("FieldsFromEnv: uri %v extra %v, want odbc auto", uri, extra)
	}
}

// FuzzRewriteString: arbitrary strings and passwords never panic; an
// accepted rewrite reads back with the new credential, points at the
// secret's host, and never contains the old password when it had one
// (unless the new one contains it).
func FuzzRewriteString(f *testing.F) {
	for _, s := range []string{
		"postgres://app:old@db.example.com:5432/app", "jdbc:sqlserver://db.example.com;user=app;password={x}",
		"Server=db.example.com;UID=app;PWD={a}}b}", "host=db.example.com user=app password='a\\'b'",
		"app:old@tcp(db.example.com:5432)/app", "mongodb://app:o%40ld@db.example.com,db.example.com/?x=1",
		"jdbc:redshift://db.example.com:5432/dev?UID=app&PWD=old;ssl=true",
	} {
		f.Add(s, hostile, "app")
	}
	f.Fuzz(func(t *testing.T, in, pw, user string) {
		c := Credential{Host: "db.example.com", Port: 5432, OldUsername: "app", Username: user, Password: pw}
		for _, fm := range []Format{Auto, URL, JDBC, ODBC, KeyValue, MySQLDSN} {
			out, err := RewriteString(fm, in, c)
			if err != nil {
				if strings.Contains(err.Error(), in) && len(in) > 3 {
					t.Fatalf("error shows the input: %v", err)
				}
				continue
			}
			orig, err := parse(fm, in)
			if err != nil {
				t.Fatalf("accepted input does not parse: %v", err)
			}
			if fm == Auto && detect(out) != orig.format() {
				t.Fatalf("rewritten string reads as %v, was %v", detect(out), orig.format())
			}
			p, err := parse(orig.format(), out)
			if err != nil {
				t.Fatalf("rewritten string does not parse: %v", err)
			}
			if err := checkEndpoints(p.endpoints(), c); err != nil {
				t.Fatalf("rewritten string: %v", err)
			}
			if u, ok := p.user(); ok && u != user {
				t.Fatalf("rewritten user %q, want %q", u, user)
			}
			if got, ok := p.password(); ok && got != pw {
				t.Fatalf("rewritten password does not read back")
			}
		}
	})
}
