package main

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
)

func TestQuoteIdent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"app", "[app]"},
		{"a]b", "[a]]b]"},
		{"]]", "[]]]]]"},
		{"[x]", "[[x]]]"},
		{"o'brien", "[o'brien]"},
		{`x"; DROP LOGIN sa;--`, `[x"; DROP LOGIN sa;--]`},
		{"ünï 名前", "[ünï 名前]"},
	} {
		if got := quoteIdent(tc.in); got != tc.want {
			t.Errorf("quoteIdent(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// Round trip through the model's tokenizer, which undoes the
		// quoting as SQL Server does.
		toks, quoted, err := tokens(quoteIdent(tc.in))
		if err != nil || len(toks) != 1 || !quoted[0] || toks[0] != tc.in {
			t.Errorf("quoteIdent(%q) does not parse back: %q %v %v", tc.in, toks, quoted, err)
		}
	}
}

func TestCheckNameAndPassword(t *testing.T) {
	long := strings.Repeat("a", 128)
	emoji := strings.Repeat("😀", 64) // 128 UTF-16 units
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"app", true}, {long, true}, {long + "a", false}, {emoji, true}, {emoji + "a", false},
		{"", false}, {"a\x00b", false}, {"a\nb", false}, {"a]b'c\"d", true},
	} {
		if err := checkName("n", tc.name); (err == nil) != tc.ok {
			t.Errorf("checkName(%.20q): %v, want ok=%v", tc.name, err, tc.ok)
		} else if err != nil && strings.Contains(err.Error(), tc.name) && tc.name != "" {
			t.Errorf("checkName's error quotes the name: %v", err)
		}
	}
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"Aa1!aaaa", true}, {strings.Repeat("x", 128), true}, {strings.Repeat("x", 129), false},
		{emoji, true}, {emoji + "x", false}, {"", false}, {"Aa1!\x00xyz", false}, {`'";]--`, true},
	} {
		err := checkPassword("password", tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("checkPassword(%.20q): %v, want ok=%v", tc.pw, err, tc.ok)
		}
		if err != nil && !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("checkPassword error is not ErrInvalidSecret: %v", err)
		}
	}
}

// TestConstantStatements: every statement that carries a password or a
// principal name is constant text with parameters: it holds no Go format
// verb, and every QUOTENAME has its NULL check.
func TestConstantStatements(t *testing.T) {
	param := regexp.MustCompile(`@p[0-9]+`)
	for name, st := range map[string]string{
		"changeOwnLogin": sqlChangeOwnLogin, "changeOwnUser": sqlChangeOwnUser,
		"setLoginPassword": sqlSetLoginPassword, "setUserPassword": sqlSetUserPassword,
		"createLogin": sqlCreateLogin, "createUserForLogin": sqlCreateUserForLogin, "createContainedUser": sqlCreateContainedUser,
	} {
		if strings.Contains(st, "%") {
			t.Errorf("%s holds a format verb", name)
		}
		if !param.MatchString(st) {
			t.Errorf("%s has no parameter", name)
		}
		if strings.Contains(st, "QUOTENAME") && !strings.Contains(st, "IF @stmt IS NULL THROW") {
			t.Errorf("%s does not raise when QUOTENAME returns NULL", name)
		}
		if strings.Contains(st, "PASSWORD") && !strings.Contains(st, "QUOTENAME(@p2, N'''')") {
			t.Errorf("%s does not quote the password as a string literal with QUOTENAME", name)
		}
	}
}

func TestGrantStatement(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    perm
		want string
		err  string
	}{
		{"server grant", perm{State: "G", Permission: "VIEW SERVER STATE", Class: classServer, Resolved: true}, "GRANT VIEW SERVER STATE TO [app_clone]", ""},
		{"database grant option", perm{State: "W", Permission: "VIEW DEFINITION", Class: classDatabase, Resolved: true}, "GRANT VIEW DEFINITION TO [app_clone] WITH GRANT OPTION", ""},
		{"deny object", perm{State: "D", Permission: "DELETE", Class: classObject, Schema: "dbo", Object: "Orders", Resolved: true}, "DENY DELETE ON OBJECT::[dbo].[Orders] TO [app_clone]", ""},
		{"column", perm{State: "G", Permission: "UPDATE", Class: classObject, Schema: "dbo", Object: "Orders", Column: "st]atus", Resolved: true}, "GRANT UPDATE ([st]]atus]) ON OBJECT::[dbo].[Orders] TO [app_clone]", ""},
		{"schema hostile", perm{State: "G", Permission: "EXECUTE", Class: classSchema, Schema: "x]; DROP LOGIN sa;--", Resolved: true}, "GRANT EXECUTE ON SCHEMA::[x]]; DROP LOGIN sa;--] TO [app_clone]", ""},
		{"unresolved", perm{State: "G", Permission: "SELECT", Class: classObject}, "", "no longer resolves"},
		{"bad state", perm{State: "R", Permission: "SELECT", Class: classDatabase, Resolved: true}, "", "not G, W or D"},
		{"bad permission", perm{State: "G", Permission: "SELECT; DROP", Class: classDatabase, Resolved: true}, "", "not a keyword list"},
		{"lowercase permission", perm{State: "G", Permission: "select", Class: classDatabase, Resolved: true}, "", "not a keyword list"},
		{"unknown class", perm{State: "G", Permission: "REFERENCES", Class: 6, Resolved: true}, "", "class 6"},
		{"long schema", perm{State: "G", Permission: "EXECUTE", Class: classSchema, Schema: strings.Repeat("s", 129), Resolved: true}, "", "at most 128"},
		{"long object", perm{State: "G", Permission: "SELECT", Class: classObject, Schema: "dbo", Object: strings.Repeat("o", 129), Resolved: true}, "", "at most 128"},
		{"long column", perm{State: "G", Permission: "SELECT", Class: classObject, Schema: "dbo", Object: "o", Column: strings.Repeat("c", 129), Resolved: true}, "", "at most 128"},
	} {
		got, err := grantStatement(tc.p, "app_clone")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := grantStatement(perm{State: "G", Permission: "SELECT", Class: classDatabase}, strings.Repeat("u", 129)); err == nil {
		t.Error("a grantee over 128 characters was accepted")
	}
}

func TestAddMemberStatement(t *testing.T) {
	got, err := addMemberStatement(true, "##MS_ServerStateReader##", "a]b")
	if err != nil || got != "ALTER SERVER ROLE [##MS_ServerStateReader##] ADD MEMBER [a]]b]" {
		t.Errorf("server role: %q, %v", got, err)
	}
	got, err = addMemberStatement(false, "app]role", "app_clone")
	if err != nil || got != "ALTER ROLE [app]]role] ADD MEMBER [app_clone]" {
		t.Errorf("database role: %q, %v", got, err)
	}
	if _, err := addMemberStatement(false, "", "x"); err == nil {
		t.Error("an empty role name was accepted")
	}
	if _, err := addMemberStatement(false, "r", strings.Repeat("m", 129)); err == nil {
		t.Error("a member name over 128 characters was accepted")
	}
}

// TestCopyStatementsFromCatalogRows: rows as sys.server_role_members,
// sys.server_permissions, sys.database_role_members and
// sys.database_permissions return them for a typical application login on
// RDS (CONNECT SQL and CONNECT come with CREATE LOGIN/USER and are
// skipped; public is everyone's).
func TestCopyStatementsFromCatalogRows(t *testing.T) {
	base := principal{
		exists:      true,
		serverRoles: []string{"##MS_ServerStateReader##", "public"},
		serverPerms: []perm{
			{State: "G", Permission: "CONNECT SQL", Class: classServer, Resolved: true},
			{State: "G", Permission: "VIEW ANY DATABASE", Class: classServer, Resolved: true},
		},
		dbRoles: []string{"db_datareader", "db_datawriter", "public"},
		dbPerms: []perm{
			{State: "G", Permission: "CONNECT", Class: classDatabase, Resolved: true},
			{State: "G", Permission: "SHOWPLAN", Class: classDatabase, Resolved: true},
			{State: "G", Permission: "EXECUTE", Class: classSchema, Schema: "api", Resolved: true},
			{State: "G", Permission: "SELECT", Class: classObject, Schema: "dbo", Object: "Order Lines", Resolved: true},
			{State: "D", Permission: "SELECT", Class: classObject, Schema: "dbo", Object: "Salaries", Column: "amount", Resolved: true},
		},
	}
	got, err := copyStatements(base, "app_clone")
	if err != nil {
		t.Fatal(err)
	}
	want := []stmt{
		{sql: "ALTER SERVER ROLE [##MS_ServerStateReader##] ADD MEMBER [app_clone]"},
		{sql: "GRANT VIEW ANY DATABASE TO [app_clone]", master: true},
		{sql: "ALTER ROLE [db_datareader] ADD MEMBER [app_clone]"},
		{sql: "ALTER ROLE [db_datawriter] ADD MEMBER [app_clone]"},
		{sql: "GRANT SHOWPLAN TO [app_clone]"},
		{sql: "GRANT EXECUTE ON SCHEMA::[api] TO [app_clone]"},
		{sql: "GRANT SELECT ON OBJECT::[dbo].[Order Lines] TO [app_clone]"},
		{sql: "DENY SELECT ([amount]) ON OBJECT::[dbo].[Salaries] TO [app_clone]"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(stmt{})); diff != "" {
		t.Errorf("copyStatements (-want +got):\n%s", diff)
	}
	base.serverPerms = append(base.serverPerms, perm{State: "G", Permission: "CONNECT", Class: 105, Resolved: true}) // an endpoint
	if _, err := copyStatements(base, "app_clone"); err == nil || !strings.Contains(err.Error(), "class 105") {
		t.Errorf("an endpoint permission: %v, want an error naming class 105", err)
	}
}

func TestCheckUnprivileged(t *testing.T) {
	for _, tc := range []struct {
		p  principal
		ok bool
	}{
		{principal{serverRoles: []string{"##MS_ServerStateReader##"}}, true},
		{principal{serverRoles: []string{"SYSADMIN"}}, false},
		{principal{serverRoles: []string{"securityadmin"}}, false},
		{principal{serverPerms: []perm{{State: "G", Permission: "ALTER ANY LOGIN"}}}, false},
		{principal{serverPerms: []perm{{State: "W", Permission: "IMPERSONATE ANY LOGIN"}}}, false},
		{principal{serverPerms: []perm{{State: "D", Permission: "CONTROL SERVER"}}}, true},
	} {
		if err := tc.p.checkUnprivileged("x"); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.p, err, tc.ok)
		}
	}
}
