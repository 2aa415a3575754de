package main

import (
	"errors"
	"strings"
	"testing"
)

func TestQuoteString(t *testing.T) {
	tests := []struct {
		in             string
		backslash, nbe string
	}{
		{`plain`, `'plain'`, `'plain'`},
		{`o'r`, `'o\'r'`, `'o''r'`},
		{`a\b`, `'a\\b'`, `'a\b'`},
		{`x'; DROP TABLE t; --`, `'x\'; DROP TABLE t; --'`, `'x''; DROP TABLE t; --'`},
		{`"%_`, `'\"%_'`, `'"%_'`},
		{"ü\n", `'ü\n'`, "'ü\n'"},
	}
	for _, tt := range tests {
		got, err := quoteString(tt.in, false)
		if err != nil || got != tt.backslash {
			t.Errorf("quoteString(%q, false) = %q, %v; want %q", tt.in, got, err, tt.backslash)
		}
		got, err = quoteString(tt.in, true)
		if err != nil || got != tt.nbe {
			t.Errorf("quoteString(%q, true) = %q, %v; want %q", tt.in, got, err, tt.nbe)
		}
	}
	if _, err := quoteString("a\x00b", false); err == nil {
		t.Error("quoteString accepted a NUL")
	}
	if _, err := quoteString("a\xffb", true); err == nil {
		t.Error("quoteString accepted invalid UTF-8")
	}
}

func TestAccount(t *testing.T) {
	got, err := account("a`b'c\\d", "10.0.%")
	if want := "`a``b'c\\d`@`10.0.%`"; err != nil || got != want {
		t.Errorf("account = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"", " app", "app ", "app\x00", "app\n", "emoji😀", "bad\xff"} {
		if _, err := account(bad, "%"); !errors.Is(err, errUnquotable) {
			t.Errorf("account(%q) error = %v, want errUnquotable", bad, err)
		}
	}
	if _, err := account("app", ""); err != nil {
		t.Errorf("account with the empty host: %v", err)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want serverInfo
	}{
		{"10.11.19-MariaDB-0+deb12u1", serverInfo{true, [3]int{10, 11, 19}}},
		{"8.0.36", serverInfo{false, [3]int{8, 0, 36}}},
		{"8.0.mysql_aurora.3.05.2", serverInfo{false, [3]int{8, 0, 0}}},
		{"5.7.44-log", serverInfo{false, [3]int{5, 7, 44}}},
		{"5.5.5-10.6.12-MariaDB", serverInfo{true, [3]int{5, 5, 5}}},
	}
	for _, tt := range tests {
		if got := parseVersion(tt.in); got != tt.want {
			t.Errorf("parseVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	v := serverInfo{version: [3]int{8, 0, 13}}
	if !v.atLeast(8, 0, 13) || !v.atLeast(5, 7, 8) || v.atLeast(8, 0, 14) || v.atLeast(8, 1) {
		t.Errorf("atLeast is wrong for %v", v)
	}
}

func TestParseSQLMode(t *testing.T) {
	if m := parseSQLMode("STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES"); !m.noBackslashEscapes || m.ansiQuotes {
		t.Errorf("got %+v", m)
	}
	if m := parseSQLMode("ansi_quotes"); !m.ansiQuotes {
		t.Errorf("got %+v", m)
	}
}

// grantCases are SHOW GRANTS lines as MariaDB 10.11 and MySQL print them,
// for the account base@host, with the expected rewrite for alt@host.
var grantCases = []struct {
	name       string
	mode       sqlMode
	user, host string
	line       string
	want       string // rewritten for `alt`@`h`
	norm       string
	revoke     string
}{
	{
		name: "mariadb usage with password hash and options",
		user: "app", host: "%",
		line:   "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*7B9EBEED26AA52ED10C0F549FA863F13C39E0209' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5",
		want:   "GRANT USAGE ON *.* TO `alt`@`h` REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5",
		norm:   "GRANT USAGE ON *.* TO <grantee> REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5",
		revoke: "",
	},
	{
		name: "mariadb usage, hash only",
		user: "app", host: "127.0.0.1",
		line:   "GRANT USAGE ON *.* TO `app`@`127.0.0.1` IDENTIFIED BY PASSWORD '*7B9E'",
		want:   "GRANT USAGE ON *.* TO `alt`@`h`",
		norm:   "GRANT USAGE ON *.* TO <grantee>",
		revoke: "",
	},
	{
		name: "mariadb plugin",
		user: "app", host: "%",
		line: "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED VIA ed25519 USING 'abc' OR unix_socket WITH GRANT OPTION",
		want: "GRANT USAGE ON *.* TO `alt`@`h` WITH GRANT OPTION",
		norm: "GRANT USAGE ON *.* TO <grantee> WITH GRANT OPTION",
		// The global GRANT OPTION is revocable.
		revoke: "REVOKE GRANT OPTION ON *.* FROM `alt`@`h`",
	},
	{
		name: "db privileges",
		user: "app", host: "%",
		line:   "GRANT SELECT, INSERT ON `shop`.* TO `app`@`%`",
		want:   "GRANT SELECT, INSERT ON `shop`.* TO `alt`@`h`",
		norm:   "GRANT SELECT, INSERT ON `shop`.* TO <grantee>",
		revoke: "REVOKE SELECT, INSERT ON `shop`.* FROM `alt`@`h`",
	},
	{
		name: "columns with grant option",
		user: "app", host: "%",
		line:   "GRANT SELECT (`a`), UPDATE (`b`) ON `shop`.`t` TO `app`@`%` WITH GRANT OPTION",
		want:   "GRANT SELECT (`a`), UPDATE (`b`) ON `shop`.`t` TO `alt`@`h` WITH GRANT OPTION",
		norm:   "GRANT SELECT (`a`), UPDATE (`b`) ON `shop`.`t` TO <grantee> WITH GRANT OPTION",
		revoke: "REVOKE SELECT (`a`), UPDATE (`b`), GRANT OPTION ON `shop`.`t` FROM `alt`@`h`",
	},
	{
		name: "role",
		user: "app", host: "%",
		line:   "GRANT `reader` TO `app`@`%`",
		want:   "GRANT `reader` TO `alt`@`h`",
		norm:   "GRANT `reader` TO <grantee>",
		revoke: "REVOKE `reader` FROM `alt`@`h`",
	},
	{
		name: "mysql 8 role with host",
		user: "app", host: "%",
		line:   "GRANT `reader`@`%`,`writer`@`%` TO `app`@`%` WITH ADMIN OPTION",
		want:   "GRANT `reader`@`%`,`writer`@`%` TO `alt`@`h` WITH ADMIN OPTION",
		norm:   "GRANT `reader`@`%`,`writer`@`%` TO <grantee> WITH ADMIN OPTION",
		revoke: "REVOKE `reader`@`%`,`writer`@`%` FROM `alt`@`h`",
	},
	{
		name: "default role",
		user: "app", host: "%",
		line:   "SET DEFAULT ROLE `reader` FOR `app`@`%`",
		want:   "SET DEFAULT ROLE `reader` FOR `alt`@`h`",
		norm:   "SET DEFAULT ROLE `reader` FOR <grantee>",
		revoke: "",
	},
	{
		name: "mysql 8 partial revoke",
		user: "app", host: "%",
		line:   "REVOKE INSERT ON `mysql`.* FROM `app`@`%`",
		want:   "REVOKE INSERT ON `mysql`.* FROM `alt`@`h`",
		norm:   "REVOKE INSERT ON `mysql`.* FROM <grantee>",
		revoke: "",
	},
	{
		name: "routine",
		user: "app", host: "%",
		line:   "GRANT EXECUTE, ALTER ROUTINE ON PROCEDURE `shop`.`p` TO `app`@`%`",
		want:   "GRANT EXECUTE, ALTER ROUTINE ON PROCEDURE `shop`.`p` TO `alt`@`h`",
		norm:   "GRANT EXECUTE, ALTER ROUTINE ON PROCEDURE `shop`.`p` TO <grantee>",
		revoke: "REVOKE EXECUTE, ALTER ROUTINE ON PROCEDURE `shop`.`p` FROM `alt`@`h`",
	},
	{
		name: "hostile names",
		user: "x'`; DROP TABLE t; --\\", host: "10.0.%",
		line:   "GRANT SELECT ON `to`.`x TO y` TO `x'``; DROP TABLE t; --\\`@`10.0.%`",
		want:   "GRANT SELECT ON `to`.`x TO y` TO `alt`@`h`",
		norm:   "GRANT SELECT ON `to`.`x TO y` TO <grantee>",
		revoke: "REVOKE SELECT ON `to`.`x TO y` FROM `alt`@`h`",
	},
	{
		name: "ansi quotes",
		mode: sqlMode{ansiQuotes: true},
		user: `a"b`, host: "%",
		line:   `GRANT SELECT ON "shop".* TO "a""b"@"%" IDENTIFIED BY PASSWORD '*AB'`,
		want:   "GRANT SELECT ON \"shop\".* TO `alt`@`h`",
		norm:   `GRANT SELECT ON "shop".* TO <grantee>`,
		revoke: "REVOKE SELECT ON \"shop\".* FROM `alt`@`h`",
	},
	{
		name: "mysql 5.7 single quotes with backslash escapes",
		user: `o'r\x`, host: "%",
		line:   `GRANT SELECT ON ` + "`shop`" + `.* TO 'o\'r\\x'@'%'`,
		want:   "GRANT SELECT ON `shop`.* TO `alt`@`h`",
		norm:   "GRANT SELECT ON `shop`.* TO <grantee>",
		revoke: "REVOKE SELECT ON `shop`.* FROM `alt`@`h`",
	},
	{
		name: "single quotes without backslash escapes",
		mode: sqlMode{noBackslashEscapes: true},
		user: `o'r\x`, host: "%",
		line:   `GRANT SELECT ON ` + "`shop`" + `.* TO 'o''r\x'@'%'`,
		want:   "GRANT SELECT ON `shop`.* TO `alt`@`h`",
		norm:   "GRANT SELECT ON `shop`.* TO <grantee>",
		revoke: "REVOKE SELECT ON `shop`.* FROM `alt`@`h`",
	},
	{
		name: "proxy",
		user: "app", host: "%",
		line:   "GRANT PROXY ON ''@'%' TO 'app'@'%' WITH GRANT OPTION",
		want:   "GRANT PROXY ON ''@'%' TO `alt`@`h` WITH GRANT OPTION",
		norm:   "GRANT PROXY ON ''@'%' TO <grantee> WITH GRANT OPTION",
		revoke: "REVOKE PROXY ON ''@'%' FROM `alt`@`h`",
	},
}

func TestRewriteGrant(t *testing.T) {
	for _, tt := range grantCases {
		t.Run(tt.name, func(t *testing.T) {
			g, err := parseGrant(tt.line, tt.mode, tt.user, tt.host)
			if err != nil {
				t.Fatalf("parseGrant: %v", err)
			}
			if got := g.text("`alt`@`h`"); got != tt.want {
				t.Errorf("text:\n got %s\nwant %s", got, tt.want)
			}
			if got := g.normalized(); got != tt.norm {
				t.Errorf("normalized:\n got %s\nwant %s", got, tt.norm)
			}
			if got := g.revoke("`alt`@`h`"); got != tt.revoke {
				t.Errorf("revoke:\n got %s\nwant %s", got, tt.revoke)
			}
		})
	}
}

func TestRewriteGrantRefuses(t *testing.T) {
	tests := []struct {
		name, line, user, host string
	}{
		{"other user", "GRANT SELECT ON *.* TO `other`@`%`", "app", "%"},
		{"other host", "GRANT SELECT ON *.* TO `app`@`localhost`", "app", "%"},
		{"user name prefix", "GRANT SELECT ON *.* TO `app2`@`%`", "app", "%"},
		{"two grantees", "GRANT SELECT ON *.* TO `app`@`%`, `evil`@`%`", "app", "%"},
		{"statement separator", "GRANT SELECT ON *.* TO `app`@`%`; DROP TABLE t", "app", "%"},
		{"comment", "GRANT SELECT ON *.* TO `app`@`%` -- x", "app", "%"},
		{"not a grant", "DROP USER `app`@`%`", "app", "%"},
		{"unterminated", "GRANT SELECT ON `db.* TO `app`@`%`", "app", "%"},
		{"no account", "GRANT SELECT ON *.* TO", "app", "%"},
		{"bare account", "GRANT SELECT ON *.* TO app@`%`", "app", "%"},
		{"spaced account", "GRANT SELECT ON *.* TO `app` @ `%`", "app", "%"},
		{"text after default role", "SET DEFAULT ROLE `r` FOR `app`@`%` , `x`@`%`", "app", "%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if g, err := parseGrant(tt.line, sqlMode{}, tt.user, tt.host); !errors.Is(err, errGrantShape) {
				t.Errorf("parseGrant(%q) = %+v, %v; want errGrantShape", tt.line, g, err)
			}
		})
	}
}

// FuzzParseGrant checks that whatever a line holds, a rewrite either is
// refused or keeps the statement's text outside the grantee and the
// IDENTIFIED clause, and holds the new account exactly once more.
func FuzzParseGrant(f *testing.F) {
	for _, tt := range grantCases {
		f.Add(tt.line, tt.user, tt.host, tt.mode.ansiQuotes, tt.mode.noBackslashEscapes)
	}
	f.Fuzz(func(t *testing.T, line, user, host string, ansi, nbe bool) {
		g, err := parseGrant(line, sqlMode{ansiQuotes: ansi, noBackslashEscapes: nbe}, user, host)
		if err != nil {
			return
		}
		const marker = "\x01ALT\x01"
		out := g.text(marker)
		if strings.Count(out, marker) != 1+strings.Count(line, marker) {
			t.Fatalf("rewrite of %q lost or duplicated the account: %q", line, out)
		}
		if strings.ContainsAny(strings.ReplaceAll(out, marker, ""), ";#") && !strings.ContainsAny(line, ";#") {
			t.Fatalf("rewrite of %q added a separator: %q", line, out)
		}
	})
}

func TestGrantRoles(t *testing.T) {
	tests := map[string]string{
		"GRANT `reader` TO `app`@`%`":                          "`reader`",
		"SET DEFAULT ROLE `reader` FOR `app`@`%`":              "`reader`",
		"GRANT `r`@`%`, `w`@`%` TO `app`@`%`":                  "`r`@`%`, `w`@`%`",
		"GRANT SELECT ON `shop`.* TO `app`@`%`":                "",
		"REVOKE INSERT ON `mysql`.* FROM `app`@`%`":            "",
		"GRANT PROXY ON ''@'%' TO `app`@`%` WITH GRANT OPTION": "",
	}
	for line, want := range tests {
		g, err := parseGrant(line, sqlMode{}, "app", "%")
		if err != nil {
			t.Fatalf("parseGrant(%q): %v", line, err)
		}
		if got := g.roles(); got != want {
			t.Errorf("roles(%q) = %q, want %q", line, got, want)
		}
	}
}
