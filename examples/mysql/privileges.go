package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// errPrivileged means the account whose password the admin would change
// can itself manage accounts or grant privileges.
var errPrivileged = errors.New("refusing to change the password of a privileged account")

// checkUnprivileged refuses, before the admin changes user's password,
// an account that can create or change other accounts or grant
// privileges: whoever can write the rotated secret chooses the user (in
// single mode within ALLOWED_USERS), and reads the new password back, so
// an admin resetting such an account would hand its powers out. Checked
// on every account of user (one per host in hosts) and, recursively, on
// every role granted to them, by reading SHOW GRANTS. Refused, at any
// level:
//
//   - SUPER and CREATE USER;
//   - GRANT OPTION (WITH GRANT OPTION on anything) and, for roles, WITH
//     ADMIN OPTION;
//   - ALL [PRIVILEGES], INSERT or UPDATE on *.* or on the mysql schema
//     (the grant tables: UPDATE on them is what ALTER USER and SET
//     PASSWORD FOR another account check, besides CREATE USER).
//
// A SHOW GRANTS line that cannot be read is an error too: the check fails
// closed. what describes the user for errors (never its name: errors name
// fields, not values).
func (s *session) checkUnprivileged(ctx context.Context, what, user string, hosts []string) error {
	type grantee struct {
		name, host string
		role       bool
	}
	var queue []grantee
	for _, h := range hosts {
		queue = append(queue, grantee{name: user, host: h})
	}
	seen := map[grantee]bool{}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		if seen[g] {
			continue
		}
		seen[g] = true
		if len(seen) > 256 {
			return fmt.Errorf("%s: more than 256 accounts and roles to check", what)
		}
		acct := quoteIdent(g.name) + "@" + quoteIdent(g.host)
		if g.role && g.host == "" {
			acct = quoteIdent(g.name) // a MariaDB role has no host
		}
		lines, err := s.showGrants(ctx, acct)
		if err != nil {
			return fmt.Errorf("%s: checking its privileges (the admin needs SELECT on the mysql schema): %w", what, err)
		}
		for i, l := range lines {
			priv, roles, err := grantPrivileges(l, s.mode)
			if err != nil {
				return fmt.Errorf("%s: checking its privileges: grant %d of %d: %w", what, i+1, len(lines), err)
			}
			if priv != "" {
				via := ""
				if g.role {
					via = " through a granted role"
				}
				return fmt.Errorf("%w: %s holds %s%s; the admin changes only accounts that cannot manage other accounts or grant privileges",
					errPrivileged, what, priv, via)
			}
			for _, r := range roles {
				queue = append(queue, grantee{name: r[0], host: r[1], role: true})
			}
		}
	}
	return nil
}

// grantPrivileges reads one SHOW GRANTS line and returns the first
// privilege checkUnprivileged refuses ("" if none) and the roles the line
// grants, as [name, host] (host "" for MariaDB roles). REVOKE (MySQL's
// partial revokes) and SET DEFAULT ROLE lines grant nothing.
func grantPrivileges(line string, mode sqlMode) (string, [][2]string, error) {
	toks, err := tokenize(line, mode)
	if err != nil {
		return "", nil, err
	}
	if len(toks) == 0 || toks[0].kind != tokWord {
		return "", nil, fmt.Errorf("%w: it is not a GRANT statement", errGrantShape)
	}
	switch toks[0].val {
	case "GRANT":
	case "REVOKE", "SET":
		return "", nil, nil
	default:
		return "", nil, fmt.Errorf("%w: it is not a GRANT statement", errGrantShape)
	}
	on, to := topLevelKeyword(toks, "TO")
	if to < 0 {
		return "", nil, fmt.Errorf("%w: no TO keyword", errGrantShape)
	}
	for i := to + 1; i+1 < len(toks); i++ {
		if toks[i].kind != tokWord || toks[i+1].kind != tokWord || toks[i+1].val != "OPTION" {
			continue
		}
		switch toks[i].val {
		case "GRANT":
			return "GRANT OPTION", nil, nil
		case "ADMIN":
			return "ADMIN OPTION on a role", nil, nil
		}
	}
	if on < 0 {
		// GRANT role[, role] TO ...: MariaDB writes `role`, MySQL 8
		// `role`@`host`.
		var roles [][2]string
		for _, item := range splitTopLevel(toks[1:to]) {
			isName := func(t token) bool { return t.kind == tokIdent || t.kind == tokString || t.kind == tokWord }
			switch {
			case len(item) == 1 && isName(item[0]):
				roles = append(roles, [2]string{item[0].val, ""})
			case len(item) == 3 && isName(item[0]) && item[1].kind == tokPunct && item[1].val == "@" && isName(item[2]):
				roles = append(roles, [2]string{item[0].val, item[2].val})
			default:
				return "", nil, fmt.Errorf("%w: a granted role is not a quoted name", errGrantShape)
			}
		}
		return "", roles, nil
	}
	obj := toks[on+1 : to]
	if len(obj) > 0 && obj[0].kind == tokWord && (obj[0].val == "TABLE" || obj[0].val == "FUNCTION" || obj[0].val == "PROCEDURE" || obj[0].val == "PACKAGE") {
		obj = obj[1:]
	}
	global := len(obj) == 3 && obj[0].val == "*" && obj[1].val == "." && obj[2].val == "*" &&
		obj[0].kind == tokPunct && obj[1].kind == tokPunct && obj[2].kind == tokPunct
	grantTables := len(obj) >= 2 && (obj[0].kind == tokIdent || obj[0].kind == tokWord) && strings.EqualFold(obj[0].val, "mysql") &&
		obj[1].kind == tokPunct && obj[1].val == "."
	where := "on *.*"
	if grantTables {
		where = "on the mysql schema"
	}
	for _, p := range splitTopLevel(toks[1:on]) {
		var words []string
		d := 0
		for _, t := range p {
			switch {
			case t.kind == tokPunct && t.val == "(":
				d++
			case t.kind == tokPunct && t.val == ")":
				d--
			case d == 0 && t.kind == tokWord:
				words = append(words, t.val)
			}
		}
		name := strings.Join(words, " ")
		switch name {
		case "SUPER", "CREATE USER":
			return name, nil, nil
		case "ALL", "ALL PRIVILEGES", "INSERT", "UPDATE":
			if global || grantTables {
				if name == "ALL" {
					name = "ALL PRIVILEGES"
				}
				return name + " " + where, nil, nil
			}
		}
	}
	return "", nil, nil
}

// splitTopLevel splits toks at the commas outside parentheses.
func splitTopLevel(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		if t.kind != tokPunct {
			continue
		}
		switch t.val {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 0 {
				out = append(out, toks[start:i])
				start = i + 1
			}
		}
	}
	return append(out, toks[start:])
}
