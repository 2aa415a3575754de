package main

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/rotationkit/rotation"
)

// Oracle's limits: identifiers hold 128 bytes from 12.2 on (with
// COMPATIBLE 12.2 or later), 30 before; the server is asked which
// (sqlCompatible). Passwords in IDENTIFIED BY hold 30 bytes before 23ai;
// the default password-verify function asks for 8 characters.
const (
	maxNameBytes       = 128
	legacyMaxNameBytes = 30
	maxPasswordBytes   = 30
	minPasswordBytes   = 8
	// maxOldPasswordBytes bounds the old password given to REPLACE, which
	// may have been set by another tool on a release that accepts more.
	maxOldPasswordBytes = 1024
)

// unquoted matches the names Oracle takes without quotes, and stores upper
// case.
var unquoted = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_$#]*$`)

// storedName is how Oracle stores a user name written the way the secret
// writes it: an unquoted name ("app") upper-cased ("APP"), as CREATE USER
// app and a login as app store and match it; any other name exactly as
// written, as CREATE USER "my.app" stores it.
func storedName(name string) string {
	if unquoted.MatchString(name) {
		return strings.ToUpper(name)
	}
	return name
}

// quoteIdent quotes name (as stored) by Oracle's rule: in double quotes,
// with no escape for '"', so a name holding '"' (or a NUL, or another
// control character) cannot be quoted and is refused, as is one over
// limit bytes. what names the name's origin for the error; the name
// itself is never quoted in it.
func quoteIdent(what, name string, limit int) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("%s is empty", what)
	case strings.ContainsRune(name, '"'):
		return "", fmt.Errorf("%s contains '\"', which an Oracle identifier cannot hold", what)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%s contains a control character", what)
	case len(name) > limit:
		return "", fmt.Errorf("%s is %d bytes long; this Oracle server allows %d", what, len(name), limit)
	}
	return `"` + name + `"`, nil
}

// quotePassword quotes a password for IDENTIFIED BY or REPLACE by
// Oracle's rule: in double quotes, which cannot hold '"'. A password that
// cannot be quoted is refused, never altered. Errors name the field, not
// the value.
func quotePassword(field, pw string, limit int) (string, error) {
	switch {
	case pw == "":
		return "", fmt.Errorf("%w: field %q is empty", rotation.ErrInvalidSecret, field)
	case strings.ContainsRune(pw, '"'):
		return "", fmt.Errorf("%w: field %q contains '\"', which Oracle cannot take in IDENTIFIED BY (the statement takes no bind variables and the quoted form cannot hold '\"'); exclude it with %s", rotation.ErrInvalidSecret, field, "EXCLUDE_CHARACTERS")
	case strings.IndexFunc(pw, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%w: field %q contains a control character", rotation.ErrInvalidSecret, field)
	case len(pw) > limit:
		return "", fmt.Errorf("%w: field %q is %d bytes long; Oracle takes at most %d in IDENTIFIED BY", rotation.ErrInvalidSecret, field, len(pw), limit)
	}
	return `"` + pw + `"`, nil
}

// alterPasswordStatement is ALTER USER user IDENTIFIED BY new, with
// REPLACE old when old is not "" (a user changing its own password; a
// profile with a verify function demands it).
func alterPasswordStatement(user, newPW, oldPW string) (string, error) {
	u, err := quoteIdent("the user name (field \"username\")", user, maxNameBytes)
	if err != nil {
		return "", fmt.Errorf("%w: %w", rotation.ErrInvalidSecret, err)
	}
	pw, err := quotePassword("password", newPW, maxPasswordBytes)
	if err != nil {
		return "", err
	}
	st := "ALTER USER " + u + " IDENTIFIED BY " + pw
	if oldPW != "" {
		old, err := quotePassword("password of the old value", oldPW, maxOldPasswordBytes)
		if err != nil {
			return "", err
		}
		st += " REPLACE " + old
	}
	return st, nil
}

// createUserStatement is CREATE USER user IDENTIFIED BY pw, with the
// base user's default tablespace and profile when they are known.
func createUserStatement(user, pw, tablespace, profile string, limit int) (string, error) {
	u, err := quoteIdent("the alternate user's name", user, limit)
	if err != nil {
		return "", err
	}
	p, err := quotePassword("password", pw, maxPasswordBytes)
	if err != nil {
		return "", err
	}
	st := "CREATE USER " + u + " IDENTIFIED BY " + p
	if tablespace != "" {
		ts, err := quoteIdent("the base user's default tablespace", tablespace, maxNameBytes)
		if err != nil {
			return "", err
		}
		st += " DEFAULT TABLESPACE " + ts
	}
	if profile != "" {
		pr, err := quoteIdent("the base user's profile", profile, maxNameBytes)
		if err != nil {
			return "", err
		}
		st += " PROFILE " + pr
	}
	return st, nil
}

// privilegeName matches system and object privilege names (CREATE
// SESSION, SELECT ANY TABLE, INHERIT PRIVILEGES, ...): keywords, not
// identifiers, so they go into the statement unquoted and must be
// checked.
var privilegeName = regexp.MustCompile(`^[A-Z]+( [A-Z]+)*$`)

// grant is one privilege of the base user, as the catalog lists it.
type grant struct {
	// Kind is "role", "system" or "object".
	Kind string
	// Name is the role or privilege.
	Name string
	// Option is ADMIN_OPTION (roles, system privileges) or GRANTABLE
	// (object privileges): "YES" or "NO".
	Option string
	// Owner, Object, Column and Type name the object of an object
	// privilege; Type is DBA_TAB_PRIVS.TYPE (TABLE, VIEW, PACKAGE,
	// DIRECTORY, USER, ...). Column is set for DBA_COL_PRIVS rows.
	Owner, Object, Column, Type string
}

// grantStatement returns the GRANT that gives grantee g.
func grantStatement(g grant, grantee string) (string, error) {
	to, err := quoteIdent("the grantee", grantee, maxNameBytes)
	if err != nil {
		return "", err
	}
	var opt string
	switch g.Option {
	case "YES":
		opt = " WITH ADMIN OPTION"
		if g.Kind == "object" {
			opt = " WITH GRANT OPTION"
		}
	case "NO", "":
	default:
		return "", fmt.Errorf("a %s grant has option %q, not YES or NO", g.Kind, g.Option)
	}
	switch g.Kind {
	case "role":
		r, err := quoteIdent("a role name from the catalog", g.Name, maxNameBytes)
		if err != nil {
			return "", err
		}
		return "GRANT " + r + " TO " + to + opt, nil
	case "system":
		if !privilegeName.MatchString(g.Name) {
			return "", fmt.Errorf("the catalog returned a system privilege name that is not a keyword list; refusing to copy it")
		}
		return "GRANT " + g.Name + " TO " + to + opt, nil
	case "object":
	default:
		return "", fmt.Errorf("unknown grant kind %q", g.Kind)
	}
	if !privilegeName.MatchString(g.Name) {
		return "", fmt.Errorf("the catalog returned an object privilege name that is not a keyword list; refusing to copy it")
	}
	obj, err := quoteIdent("an object name from the catalog", g.Object, maxNameBytes)
	if err != nil {
		return "", err
	}
	var on string
	switch g.Type {
	case "DIRECTORY":
		on = "DIRECTORY " + obj
	case "USER":
		on = "USER " + obj
	default:
		owner, err := quoteIdent("an object owner from the catalog", g.Owner, maxNameBytes)
		if err != nil {
			return "", err
		}
		on = owner + "." + obj
	}
	priv := g.Name
	if g.Column != "" {
		col, err := quoteIdent("a column name from the catalog", g.Column, maxNameBytes)
		if err != nil {
			return "", err
		}
		priv += " (" + col + ")"
	}
	return "GRANT " + priv + " ON " + on + " TO " + to + opt, nil
}

// The queries, with bind variables (:1) for every value.
const (
	sqlSelectOne = "SELECT 1 FROM DUAL"
	// sqlCompatible reads COMPATIBLE, which decides the identifier limit
	// (128 bytes from 12.2, else 30). It needs SELECT on V$PARAMETER (the
	// RDS master user has it); when it fails, 30 is assumed.
	sqlCompatible = "SELECT value FROM v$parameter WHERE name = 'compatible'"
	sqlUser       = "SELECT username, profile, default_tablespace FROM dba_users WHERE username = :1"
	sqlRolePrivs  = "SELECT granted_role, admin_option FROM dba_role_privs WHERE grantee = :1 ORDER BY granted_role"
	sqlSysPrivs   = "SELECT privilege, admin_option FROM dba_sys_privs WHERE grantee = :1 ORDER BY privilege"
	sqlTabPrivs   = "SELECT owner, table_name, privilege, grantable, type FROM dba_tab_privs WHERE grantee = :1 ORDER BY owner, table_name, privilege"
	sqlColPrivs   = "SELECT owner, table_name, column_name, privilege, grantable FROM dba_col_privs WHERE grantee = :1 ORDER BY owner, table_name, column_name, privilege"
)
