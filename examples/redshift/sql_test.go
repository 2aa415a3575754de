package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

// The statements below run only on Redshift (roles, SVV_* views) or are
// Redshift's spelling; their text is what these unit tests check.

func TestMD5Password(t *testing.T) {
	// Redshift's documentation example: password "ez", user "user1":
	// md5("ezuser1") = 153c434b4b77c89e6b94f12c5393af5b.
	if got, want := md5Password("user1", "ez"), "md5153c434b4b77c89e6b94f12c5393af5b"; got != want {
		t.Errorf("md5Password = %q, want %q", got, want)
	}
}

func TestCheckPassword(t *testing.T) {
	good := []string{"Abcdefg1", "Aa1" + strings.Repeat("x", 61), "Aa1!#$%&()*+,-.:;<=>?[]^_`{|}~"}
	for _, pw := range good {
		if err := checkPassword(pw); err != nil {
			t.Errorf("checkPassword(%q): %v", pw, err)
		}
	}
	bad := []string{"Abcdef1", "Aa1" + strings.Repeat("x", 62), "abcdefg1", "ABCDEFG1", "Abcdefgh", "Abcdefg1'", `Abcdefg1"`, `Abcdefg1\`, "Abcdefg1/", "Abcdefg1@", "Abcdefg 1", "Abcdefg1é", "Abcdefg1\x00"}
	for _, pw := range bad {
		err := checkPassword(pw)
		if !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("checkPassword(%q) = %v, want ErrInvalidSecret", pw, err)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// TestDefaultPolicyMeetsRedshiftRules: every password the default policy
// generates passes Redshift's rules.
func TestDefaultPolicyMeetsRedshiftRules(t *testing.T) {
	p := dbsecret.Redshift.DefaultPolicy()
	if err := checkPolicy(p); err != nil {
		t.Fatal(err)
	}
	for range 2000 {
		pw, err := p.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if err := checkPassword(pw); err != nil {
			t.Fatalf("a generated password fails Redshift's rules: %v", err)
		}
	}
}

func TestCheckPolicyRefuses(t *testing.T) {
	base := dbsecret.Redshift.DefaultPolicy()
	for name, mod := range map[string]func(*rotation.PasswordPolicy){
		"too short":        func(p *rotation.PasswordPolicy) { p.Length = 7 },
		"too long":         func(p *rotation.PasswordPolicy) { p.Length = 65 },
		"no digits":        func(p *rotation.PasswordPolicy) { p.ExcludeNumbers = true },
		"no upper":         func(p *rotation.PasswordPolicy) { p.ExcludeUppercase = true },
		"types optional":   func(p *rotation.PasswordPolicy) { p.AllowMissingTypes = true },
		"allows @":         func(p *rotation.PasswordPolicy) { p.ExcludeCharacters = `/"'\` },
		"allows backslash": func(p *rotation.PasswordPolicy) { p.ExcludeCharacters = `/"'@` },
		"spaces":           func(p *rotation.PasswordPolicy) { p.IncludeSpace = true; p.ExcludeCharacters = `/"'@\` },
	} {
		p := base
		mod(&p)
		if err := checkPolicy(p); err == nil {
			t.Errorf("%s: checkPolicy accepted it", name)
		}
	}
	p := base
	p.ExcludePunctuation = true
	p.ExcludeCharacters = ""
	if err := checkPolicy(p); err != nil {
		t.Errorf("no punctuation at all: %v", err)
	}
}

func TestCheckUser(t *testing.T) {
	for _, u := range []string{"app", `we"ird; drop user x`, "émile", strings.Repeat("a", 127)} {
		if err := checkUser("username", u); err != nil {
			t.Errorf("checkUser(%q): %v", u, err)
		}
	}
	for _, u := range []string{"", "App", strings.Repeat("a", 128), "a\nb"} {
		if err := checkUser("username", u); !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("checkUser(%q) = %v, want ErrInvalidSecret", u, err)
		}
	}
}

func TestStatements(t *testing.T) {
	s, err := alterPasswordSQL(`a"b`, "md5abc")
	if err != nil {
		t.Fatal(err)
	}
	if want := `ALTER USER "a""b" PASSWORD 'md5abc'`; s != want {
		t.Errorf("alterPasswordSQL = %q, want %q", s, want)
	}
	s, err = createUserSQL("app_clone", "md5x")
	if err != nil {
		t.Fatal(err)
	}
	if want := `CREATE USER "app_clone" PASSWORD 'md5x' NOCREATEDB`; s != want {
		t.Errorf("createUserSQL = %q, want %q", s, want)
	}
	tests := []struct {
		g             grant
		grant, revoke string
	}{
		{grant{kind: groupGrant, name: "readers"}, `ALTER GROUP "readers" ADD USER "c"`, `ALTER GROUP "readers" DROP USER "c"`},
		{grant{kind: roleGrant, name: `r"x`}, `GRANT ROLE "r""x" TO "c"`, `REVOKE ROLE "r""x" FROM "c"`},
		{grant{kind: schemaGrant, name: "sales", privilege: "USAGE"}, `GRANT USAGE ON SCHEMA "sales" TO "c"`, `REVOKE USAGE ON SCHEMA "sales" FROM "c"`},
		{grant{kind: databaseGrant, name: "dev", privilege: "TEMP"}, `GRANT TEMP ON DATABASE "dev" TO "c"`, `REVOKE TEMP ON DATABASE "dev" FROM "c"`},
		{grant{kind: relationGrant, schema: "sales", name: "to do", privilege: "SELECT"}, `GRANT SELECT ON "sales"."to do" TO "c"`, `REVOKE SELECT ON "sales"."to do" FROM "c"`},
	}
	for _, tc := range tests {
		g, err := grantSQL(tc.g, "c")
		if err != nil || g != tc.grant {
			t.Errorf("grantSQL(%+v) = %q, %v; want %q", tc.g, g, err, tc.grant)
		}
		r, err := revokeSQL(tc.g, "c")
		if err != nil || r != tc.revoke {
			t.Errorf("revokeSQL(%+v) = %q, %v; want %q", tc.g, r, err, tc.revoke)
		}
	}
	// A privilege name read from the catalog is never pasted into SQL
	// unless it is a known one.
	for _, g := range []grant{
		{kind: relationGrant, schema: "s", name: "t", privilege: "SELECT ON x TO PUBLIC; --"},
		{kind: schemaGrant, name: "s", privilege: "ALL"},
	} {
		if _, err := grantSQL(g, "c"); !errors.Is(err, errUnknownPrivilege) {
			t.Errorf("grantSQL(%+v): %v, want errUnknownPrivilege", g, err)
		}
	}
}

func TestSyncSQL(t *testing.T) {
	base := []grant{
		{kind: groupGrant, name: "readers"},
		{kind: roleGrant, name: "analyst"},
		{kind: relationGrant, schema: "s", name: "t", privilege: "SELECT"},
		{kind: relationGrant, schema: "s", name: "t", privilege: "SELECT"}, // listed twice
	}
	clone := []grant{
		{kind: groupGrant, name: "readers"},
		{kind: groupGrant, name: "writers"},
		{kind: schemaGrant, name: "s", privilege: "CREATE"},
	}
	got, err := syncSQL(base, clone, "app_clone")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`GRANT ROLE "analyst" TO "app_clone"`,
		`GRANT SELECT ON "s"."t" TO "app_clone"`,
		`ALTER GROUP "writers" DROP USER "app_clone"`,
		`REVOKE CREATE ON SCHEMA "s" FROM "app_clone"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("syncSQL (-want +got):\n%s", diff)
	}
	if again, _ := syncSQL(base, base, "app_clone"); len(again) != 0 {
		t.Errorf("syncSQL of equal sets = %q, want nothing", again)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := configFromEnv(env("ROTATION_MODE", "alternating"))
	if err != nil {
		t.Fatal(err)
	}
	if c.hash != hashMD5 || c.policy.ExcludeCharacters != dbsecret.RedshiftExcludedCharacters {
		t.Errorf("defaults: hash %q, excluded %q", c.hash, c.policy.ExcludeCharacters)
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"ROTATION_MODE", "single", "PASSWORD_HASH", "plain"}, "PASSWORD_HASH"},
		{[]string{"ROTATION_MODE", "single", "PASSWORD_LENGTH", "100"}, "PASSWORD_LENGTH"},
		{[]string{"ROTATION_MODE", "single", "EXCLUDE_CHARACTERS", ""}, "EXCLUDE_CHARACTERS"},
		{[]string{"ROTATION_MODE", "single", "CONNECTION_STRING_FIELDS", "x:bogus"}, "CONNECTION_STRING_FIELDS"},
		{[]string{"ROTATION_MODE", "alternating-precreated", "ALTERNATE_USERS", "a"}, "ALTERNATE_USERS"},
		{[]string{}, "ROTATION_MODE"},
	} {
		if _, err := configFromEnv(env(tc.env...)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("configFromEnv(%q) = %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}
