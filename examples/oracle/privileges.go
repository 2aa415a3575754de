package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// account is what the catalog says about a user.
type account struct {
	exists              bool
	profile, tablespace string
	grants              []grant
}

// nameLimit returns the server's identifier limit in bytes: 128 when
// COMPATIBLE is 12.2 or later, 30 otherwise or when it cannot be read.
func (s *session) nameLimit(ctx context.Context) int {
	var v string
	if err := s.conn.QueryRowContext(ctx, sqlCompatible).Scan(&v); err != nil {
		return legacyMaxNameBytes
	}
	return nameLimitFor(v)
}

// nameLimitFor is nameLimit's rule for a COMPATIBLE value.
func nameLimitFor(compatible string) int {
	parts := strings.SplitN(compatible, ".", 3)
	major, err := strconv.Atoi(parts[0])
	if err != nil {
		return legacyMaxNameBytes
	}
	minor := 0
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	if major > 12 || major == 12 && minor >= 2 {
		return maxNameBytes
	}
	return legacyMaxNameBytes
}

// readAccount reads user (as stored) from DBA_USERS and its grants from
// DBA_ROLE_PRIVS, DBA_SYS_PRIVS, DBA_TAB_PRIVS and DBA_COL_PRIVS, as the
// admin.
func (s *session) readAccount(ctx context.Context, user string) (account, error) {
	var a account
	if err := s.query(ctx, "reading DBA_USERS", sqlUser, func(r *sql.Rows) error {
		var name string
		var profile, ts sql.NullString
		if err := r.Scan(&name, &profile, &ts); err != nil {
			return err
		}
		a.exists, a.profile, a.tablespace = true, profile.String, ts.String
		return nil
	}, user); err != nil {
		return a, err
	}
	if !a.exists {
		return a, nil
	}
	two := func(kind string) func(*sql.Rows) error {
		return func(r *sql.Rows) error {
			g := grant{Kind: kind}
			if err := r.Scan(&g.Name, &g.Option); err != nil {
				return err
			}
			a.grants = append(a.grants, g)
			return nil
		}
	}
	if err := s.query(ctx, "reading DBA_ROLE_PRIVS", sqlRolePrivs, two("role"), user); err != nil {
		return a, err
	}
	if err := s.query(ctx, "reading DBA_SYS_PRIVS", sqlSysPrivs, two("system"), user); err != nil {
		return a, err
	}
	if err := s.query(ctx, "reading DBA_TAB_PRIVS", sqlTabPrivs, func(r *sql.Rows) error {
		g := grant{Kind: "object"}
		var typ sql.NullString
		if err := r.Scan(&g.Owner, &g.Object, &g.Name, &g.Option, &typ); err != nil {
			return err
		}
		g.Type = typ.String
		a.grants = append(a.grants, g)
		return nil
	}, user); err != nil {
		return a, err
	}
	if err := s.query(ctx, "reading DBA_COL_PRIVS", sqlColPrivs, func(r *sql.Rows) error {
		g := grant{Kind: "object"}
		if err := r.Scan(&g.Owner, &g.Object, &g.Column, &g.Name, &g.Option); err != nil {
			return err
		}
		a.grants = append(a.grants, g)
		return nil
	}, user); err != nil {
		return a, err
	}
	return a, nil
}

// Roles and system privileges that administer users: the admin credential
// never changes the password of, nor clones, a user holding one.
var (
	privilegedRoles = []string{"DBA", "RDS_MASTER_ROLE", "IMP_FULL_DATABASE", "DATAPUMP_IMP_FULL_DATABASE"}
	privilegedSys   = []string{"ALTER USER", "CREATE USER", "DROP USER", "BECOME USER", "GRANT ANY PRIVILEGE", "GRANT ANY ROLE", "GRANT ANY OBJECT PRIVILEGE", "ALTER ANY ROLE", "SYSDBA", "SYSOPER"}
)

// checkUnprivileged refuses an account that administers users.
func (a account) checkUnprivileged(what string) error {
	for _, g := range a.grants {
		if g.Kind == "role" && slices.Contains(privilegedRoles, g.Name) || g.Kind == "system" && slices.Contains(privilegedSys, g.Name) {
			return fmt.Errorf("refusing to use the admin credential on %s: it holds %s, which administers users; rotate it with its own password (a secret without \"masterarn\")", what, g.Name)
		}
	}
	return nil
}

// copyStatements returns the GRANTs that give clone every grant of base,
// roles first. GRANT is safe to repeat. It fails, copying nothing, when a
// grant cannot be copied faithfully.
func copyStatements(base account, clone string) ([]string, error) {
	out := make([]string, 0, len(base.grants))
	for _, g := range base.grants {
		st, err := grantStatement(g, clone)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}
