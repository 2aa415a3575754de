package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Authentication types of sys.database_principals.
const (
	authInstance = 1 // a user mapped to a login
	authDatabase = 2 // a contained user with a password
)

// principal is what the catalog says about a user: its kind, server roles
// and permissions (for logins), and its roles and permissions in the
// current database.
type principal struct {
	exists      bool // a login, or a contained user, of that name exists
	contained   bool
	serverRoles []string
	serverPerms []perm
	dbRoles     []string
	dbPerms     []perm
}

// authType returns the authentication type of user in the session's
// database, or 0 when no database user has that name.
func (s *session) authType(ctx context.Context, user string) (int, error) {
	var t int
	err := s.conn.QueryRowContext(ctx, sqlAuthType, user).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap("reading the authentication type of a database user", err)
	}
	return t, nil
}

// readPrincipal reads what the catalog holds about name, as the admin.
func (s *session) readPrincipal(ctx context.Context, name string) (principal, error) {
	var p principal
	t, err := s.authType(ctx, name)
	if err != nil {
		return p, err
	}
	p.contained = t == authDatabase
	p.exists = p.contained
	str := func(dst *[]string) func(*sql.Rows) error {
		return func(r *sql.Rows) error {
			var v string
			if err := r.Scan(&v); err != nil {
				return err
			}
			*dst = append(*dst, v)
			return nil
		}
	}
	if !p.contained {
		var logins []string
		if err := s.query(ctx, "looking up the login", sqlLoginExists, str(&logins), name); err != nil {
			return p, err
		}
		p.exists = len(logins) > 0
		if err := s.query(ctx, "reading server role memberships", sqlServerRoles, str(&p.serverRoles), name); err != nil {
			return p, err
		}
		if err := s.query(ctx, "reading server permissions", sqlServerPerms, func(r *sql.Rows) error {
			var x perm
			if err := r.Scan(&x.State, &x.Permission, &x.Class); err != nil {
				return err
			}
			x.Resolved = true
			p.serverPerms = append(p.serverPerms, x)
			return nil
		}, name); err != nil {
			return p, err
		}
	}
	if err := s.query(ctx, "reading database role memberships", sqlDBRoles, str(&p.dbRoles), name); err != nil {
		return p, err
	}
	if err := s.query(ctx, "reading database permissions", sqlDBPerms, func(r *sql.Rows) error {
		var x perm
		var schema, object, column sql.NullString
		if err := r.Scan(&x.State, &x.Permission, &x.Class, &schema, &object, &column); err != nil {
			return err
		}
		x.Schema, x.Object, x.Column = schema.String, object.String, column.String
		x.Resolved = schema.Valid && object.Valid && column.Valid
		p.dbPerms = append(p.dbPerms, x)
		return nil
	}, name); err != nil {
		return p, err
	}
	return p, nil
}

// privilegedServerRoles and privilegedServerPerms make a login an
// administrator of logins (or of everything): the admin credential never
// changes such a login's password, nor copies them to a clone.
var (
	privilegedServerRoles = []string{"sysadmin", "securityadmin"}
	privilegedServerPerms = []string{"CONTROL SERVER", "ALTER ANY LOGIN", "IMPERSONATE ANY LOGIN"}
)

// checkUnprivileged refuses a principal that can administer logins. what
// names it for the error.
func (p principal) checkUnprivileged(what string) error {
	for _, r := range p.serverRoles {
		if slices.ContainsFunc(privilegedServerRoles, func(x string) bool { return strings.EqualFold(x, r) }) {
			return fmt.Errorf("refusing to use the admin credential on %s: it is a member of the server role %s, which administers logins; rotate it with its own password (a secret without \"masterarn\")", what, r)
		}
	}
	for _, x := range p.serverPerms {
		if x.State != "D" && slices.Contains(privilegedServerPerms, x.Permission) {
			return fmt.Errorf("refusing to use the admin credential on %s: it holds %s; rotate it with its own password (a secret without \"masterarn\")", what, x.Permission)
		}
	}
	return nil
}

// stmt is a statement to run: in the session's database, or in master
// (server permissions, through sqlInMaster).
type stmt struct {
	sql    string
	master bool
}

// copyStatements returns the statements that give clone the server roles,
// server permissions, database roles and database permissions base has,
// in that order. Every statement is safe to repeat. It fails, copying
// nothing, when a row cannot be copied faithfully: a clone with fewer
// privileges than its base would fail the application after the switch.
func copyStatements(base principal, clone string) ([]stmt, error) {
	var out []stmt
	for _, r := range base.serverRoles {
		if strings.EqualFold(r, "public") {
			continue
		}
		st, err := addMemberStatement(true, r, clone)
		if err != nil {
			return nil, err
		}
		out = append(out, stmt{sql: st})
	}
	for _, p := range base.serverPerms {
		if p.Class != classServer {
			return nil, fmt.Errorf("server permission %s is on a securable of class %d (an endpoint or another principal), which this function does not copy; grant it to the alternate login yourself, or use pre-created users (%s=%s)", p.Permission, p.Class, envMode, modePrecreated)
		}
		if p.Permission == "CONNECT SQL" && p.State == "G" {
			continue // every login gets it at CREATE LOGIN
		}
		st, err := grantStatement(p, clone)
		if err != nil {
			return nil, err
		}
		out = append(out, stmt{st, true})
	}
	for _, r := range base.dbRoles {
		if strings.EqualFold(r, "public") {
			continue
		}
		st, err := addMemberStatement(false, r, clone)
		if err != nil {
			return nil, err
		}
		out = append(out, stmt{sql: st})
	}
	for _, p := range base.dbPerms {
		if p.Class == classDatabase && p.Permission == "CONNECT" && p.State == "G" {
			continue // every new user gets it at CREATE USER
		}
		st, err := grantStatement(p, clone)
		if err != nil {
			return nil, err
		}
		out = append(out, stmt{sql: st})
	}
	return out, nil
}
