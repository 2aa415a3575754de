package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
)

func TestStoredName(t *testing.T) {
	for in, want := range map[string]string{
		"app": "APP", "App_1": "APP_1", "a$b#c": "A$B#C", "my.app": "my.app", "1app": "1app", "app-x": "app-x", "ünï": "ünï",
	} {
		if got := storedName(in); got != want {
			t.Errorf("storedName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		limit      int
	}{
		{"APP", `"APP"`, 128},
		{"o'brien; DROP USER x", `"o'brien; DROP USER x"`, 128},
		{strings.Repeat("A", 30), `"` + strings.Repeat("A", 30) + `"`, 30},
		{strings.Repeat("A", 31), "", 30},
		{strings.Repeat("é", 64), `"` + strings.Repeat("é", 64) + `"`, 128}, // 128 bytes
		{strings.Repeat("é", 64) + "x", "", 128},
		{`a"b`, "", 128},
		{"a\x00b", "", 128},
		{"", "", 128},
	} {
		got, err := quoteIdent("n", tc.name, tc.limit)
		if tc.want == "" {
			if err == nil {
				t.Errorf("quoteIdent(%.20q) = %q, want an error", tc.name, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("quoteIdent(%.20q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
		toks, err := otokens(got)
		if err != nil || len(toks) != 1 || !toks[0].quoted || toks[0].s != tc.name {
			t.Errorf("quoteIdent(%.20q) does not parse back: %v %v", tc.name, toks, err)
		}
	}
}

func TestAlterPasswordStatement(t *testing.T) {
	got, err := alterPasswordStatement("APP", "Aa1!x'y;z", "Old-Pw#1")
	if err != nil || got != `ALTER USER "APP" IDENTIFIED BY "Aa1!x'y;z" REPLACE "Old-Pw#1"` {
		t.Errorf("own change: %q, %v", got, err)
	}
	got, err = alterPasswordStatement("my.app", "Aa1!xyz12", "")
	if err != nil || got != `ALTER USER "my.app" IDENTIFIED BY "Aa1!xyz12"` {
		t.Errorf("admin change: %q, %v", got, err)
	}
	for _, tc := range []struct{ user, pw, old, want string }{
		{"APP", `Aa1"x`, "", `'"'`},
		{"APP", "Aa1\x00x", "", "control"},
		{"APP", strings.Repeat("a", 31), "", "30"},
		{"APP", "Aa1!xyz12", `old"pw`, "old value"},
		{`A"PP`, "Aa1!xyz12", "", "username"},
		{strings.Repeat("A", 129), "Aa1!xyz12", "", "username"},
	} {
		_, err := alterPasswordStatement(tc.user, tc.pw, tc.old)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("alterPasswordStatement(%.10q, ...): %v; want an error containing %s", tc.user, err, tc.want)
		}
		if err != nil && !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("%v is not ErrInvalidSecret", err)
		}
		if err != nil && tc.pw != "" && strings.Contains(err.Error(), tc.pw) {
			t.Error("the error quotes the password")
		}
	}
	// 31 bytes of a 30-character password: bytes count, not characters.
	if _, err := alterPasswordStatement("APP", "é"+strings.Repeat("a", 29), ""); err == nil {
		t.Error("a 31-byte password was accepted")
	}
}

func TestCreateUserStatement(t *testing.T) {
	got, err := createUserStatement("APP_CLONE", "Throwaway1", "APP DATA", "APP_PROFILE", 128)
	if err != nil || got != `CREATE USER "APP_CLONE" IDENTIFIED BY "Throwaway1" DEFAULT TABLESPACE "APP DATA" PROFILE "APP_PROFILE"` {
		t.Errorf("%q, %v", got, err)
	}
	got, err = createUserStatement("APP_CLONE", "Throwaway1", "", "", 128)
	if err != nil || got != `CREATE USER "APP_CLONE" IDENTIFIED BY "Throwaway1"` {
		t.Errorf("%q, %v", got, err)
	}
	if _, err := createUserStatement(strings.Repeat("A", 31), "Throwaway1", "", "", 30); err == nil {
		t.Error("a 31-byte name was accepted with a 30-byte limit")
	}
	if _, err := createUserStatement("A", "Throwaway1", `T"S`, "", 128); err == nil {
		t.Error("a tablespace with '\"' was accepted")
	}
	if _, err := createUserStatement("A", "Throwaway1", "", `P"R`, 128); err == nil {
		t.Error("a profile with '\"' was accepted")
	}
}

func TestGrantStatement(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    grant
		want string
		err  string
	}{
		{"role", grant{Kind: "role", Name: "APP_READ", Option: "NO"}, `GRANT "APP_READ" TO "APP_CLONE"`, ""},
		{"role admin", grant{Kind: "role", Name: "odd role", Option: "YES"}, `GRANT "odd role" TO "APP_CLONE" WITH ADMIN OPTION`, ""},
		{"system", grant{Kind: "system", Name: "CREATE SESSION", Option: "NO"}, `GRANT CREATE SESSION TO "APP_CLONE"`, ""},
		{"system admin", grant{Kind: "system", Name: "SELECT ANY TABLE", Option: "YES"}, `GRANT SELECT ANY TABLE TO "APP_CLONE" WITH ADMIN OPTION`, ""},
		{"object", grant{Kind: "object", Name: "SELECT", Option: "NO", Owner: "APPOWNER", Object: "ORDERS", Type: "TABLE"}, `GRANT SELECT ON "APPOWNER"."ORDERS" TO "APP_CLONE"`, ""},
		{"object grantable hostile", grant{Kind: "object", Name: "EXECUTE", Option: "YES", Owner: "O", Object: "pkg'; DROP--", Type: "PACKAGE"}, `GRANT EXECUTE ON "O"."pkg'; DROP--" TO "APP_CLONE" WITH GRANT OPTION`, ""},
		{"directory", grant{Kind: "object", Name: "READ", Option: "NO", Owner: "SYS", Object: "DATA_DIR", Type: "DIRECTORY"}, `GRANT READ ON DIRECTORY "DATA_DIR" TO "APP_CLONE"`, ""},
		{"inherit", grant{Kind: "object", Name: "INHERIT PRIVILEGES", Option: "NO", Owner: "SYS", Object: "APP", Type: "USER"}, `GRANT INHERIT PRIVILEGES ON USER "APP" TO "APP_CLONE"`, ""},
		{"column", grant{Kind: "object", Name: "UPDATE", Option: "NO", Owner: "O", Object: "T", Column: "STATUS"}, `GRANT UPDATE ("STATUS") ON "O"."T" TO "APP_CLONE"`, ""},
		{"bad option", grant{Kind: "role", Name: "R", Option: "MAYBE"}, "", "not YES or NO"},
		{"bad system", grant{Kind: "system", Name: "CREATE SESSION; DROP", Option: "NO"}, "", "keyword list"},
		{"bad object privilege", grant{Kind: "object", Name: "select", Option: "NO", Owner: "O", Object: "T"}, "", "keyword list"},
		{"quote in object", grant{Kind: "object", Name: "SELECT", Option: "NO", Owner: "O", Object: `T"X`}, "", `'"'`},
		{"quote in owner", grant{Kind: "object", Name: "SELECT", Option: "NO", Owner: `O"`, Object: "T"}, "", `'"'`},
		{"quote in column", grant{Kind: "object", Name: "SELECT", Option: "NO", Owner: "O", Object: "T", Column: `C"`}, "", `'"'`},
		{"quote in role", grant{Kind: "role", Name: `R"`, Option: "NO"}, "", `'"'`},
		{"unknown kind", grant{Kind: "proxy", Name: "X"}, "", "unknown grant kind"},
	} {
		got, err := grantStatement(tc.g, "APP_CLONE")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %q, %v; want an error containing %s", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
		// The model parses it back to the same grant.
		toks, err := otokens(got)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		back, grantee, err := parseGrant(toks)
		want := tc.g
		if want.Type != "DIRECTORY" && want.Type != "USER" {
			want.Type = ""
		}
		if want.Type != "" {
			want.Owner = ""
			back.Owner = ""
		}
		if err != nil || grantee != "APP_CLONE" || !cmp.Equal(back, want) {
			t.Errorf("%s: parses back as %+v to %q (%v), want %+v", tc.name, back, grantee, err, want)
		}
	}
	if _, err := grantStatement(grant{Kind: "role", Name: "R"}, `X"`); err == nil {
		t.Error("a grantee with '\"' was accepted")
	}
}

// TestCopyStatementsFromCatalogRows: rows as DBA_ROLE_PRIVS,
// DBA_SYS_PRIVS, DBA_TAB_PRIVS and DBA_COL_PRIVS return them for an
// application user on RDS.
func TestCopyStatementsFromCatalogRows(t *testing.T) {
	base := account{exists: true, profile: "DEFAULT", tablespace: "USERS", grants: []grant{
		{Kind: "role", Name: "CONNECT", Option: "NO"},
		{Kind: "role", Name: "APP_RW", Option: "NO"},
		{Kind: "system", Name: "CREATE SESSION", Option: "NO"},
		{Kind: "system", Name: "UNLIMITED TABLESPACE", Option: "NO"},
		{Kind: "object", Owner: "APPOWNER", Object: "ORDERS", Name: "DELETE", Option: "NO", Type: "TABLE"},
		{Kind: "object", Owner: "APPOWNER", Object: "ORDERS", Name: "SELECT", Option: "YES", Type: "TABLE"},
		{Kind: "object", Owner: "SYS", Object: "DBMS_CRYPTO", Name: "EXECUTE", Option: "NO", Type: "PACKAGE"},
		{Kind: "object", Owner: "APPOWNER", Object: "ORDERS", Column: "NOTE", Name: "UPDATE", Option: "NO"},
	}}
	got, err := copyStatements(base, "APP_CLONE")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`GRANT "CONNECT" TO "APP_CLONE"`,
		`GRANT "APP_RW" TO "APP_CLONE"`,
		`GRANT CREATE SESSION TO "APP_CLONE"`,
		`GRANT UNLIMITED TABLESPACE TO "APP_CLONE"`,
		`GRANT DELETE ON "APPOWNER"."ORDERS" TO "APP_CLONE"`,
		`GRANT SELECT ON "APPOWNER"."ORDERS" TO "APP_CLONE" WITH GRANT OPTION`,
		`GRANT EXECUTE ON "SYS"."DBMS_CRYPTO" TO "APP_CLONE"`,
		`GRANT UPDATE ("NOTE") ON "APPOWNER"."ORDERS" TO "APP_CLONE"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("copyStatements (-want +got):\n%s", diff)
	}
	base.grants = append(base.grants, grant{Kind: "object", Owner: "X", Object: `bad"name`, Name: "SELECT", Option: "NO"})
	if _, err := copyStatements(base, "APP_CLONE"); err == nil {
		t.Error("a grant on an unquotable name was copied")
	}
}

func TestNameLimitFor(t *testing.T) {
	for in, want := range map[string]int{"19.0.0": 128, "12.2.0": 128, "12.2.0.1": 128, "21.0.0.0": 128, "12.1.0.2": 30, "11.2.0.4.0": 30, "bogus": 30, "": 30} {
		if got := nameLimitFor(in); got != want {
			t.Errorf("nameLimitFor(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestCheckUnprivileged(t *testing.T) {
	for _, tc := range []struct {
		g  grant
		ok bool
	}{
		{grant{Kind: "role", Name: "CONNECT"}, true},
		{grant{Kind: "role", Name: "DBA"}, false},
		{grant{Kind: "role", Name: "RDS_MASTER_ROLE"}, false},
		{grant{Kind: "system", Name: "CREATE SESSION"}, true},
		{grant{Kind: "system", Name: "GRANT ANY ROLE"}, false},
		{grant{Kind: "object", Name: "ALTER USER"}, true}, // an object privilege of that name is no system privilege
	} {
		if err := (account{grants: []grant{tc.g}}).checkUnprivileged("x"); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.g, err, tc.ok)
		}
	}
}
