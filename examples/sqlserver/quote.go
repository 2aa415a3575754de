package main

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/rotationkit/rotation"
)

// Limits of SQL Server: names are sysname (nvarchar(128)) and passwords
// hold at most 128 characters, both counted in UTF-16 code units, which is
// also what QUOTENAME accepts (it returns NULL for longer input).
// CHECK_POLICY asks for at least 8 characters.
const (
	maxNameLength     = 128
	maxPasswordLength = 128
	minPasswordLength = 8
)

// utf16Len is the length of s as SQL Server counts nvarchar characters.
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// checkName refuses a principal, role or object name that SQL Server
// could not store as given: empty, over 128 UTF-16 units, or holding a
// control character. what names the name's origin for the error; the name
// itself is never quoted in it.
func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", what)
	case utf16Len(name) > maxNameLength:
		return fmt.Errorf("%s is %d characters long; SQL Server names hold at most %d", what, utf16Len(name), maxNameLength)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%s contains a control character", what)
	}
	return nil
}

// checkPassword refuses a password SQL Server cannot take as given: more
// than 128 characters (QUOTENAME would return NULL), or a NUL, which ends
// the string on the server. It never alters the password. Errors name the
// field, not the value.
func checkPassword(field, pw string) error {
	switch {
	case pw == "":
		return fmt.Errorf("%w: field %q is empty", rotation.ErrInvalidSecret, field)
	case utf16Len(pw) > maxPasswordLength:
		return fmt.Errorf("%w: field %q is longer than SQL Server's %d characters", rotation.ErrInvalidSecret, field, maxPasswordLength)
	case strings.ContainsRune(pw, 0):
		return fmt.Errorf("%w: field %q contains a NUL character, which SQL Server cannot store", rotation.ErrInvalidSecret, field)
	}
	return nil
}

// quoteIdent quotes name as a delimited identifier by SQL Server's rule:
// in brackets, with every ']' doubled. It is what QUOTENAME(name) returns;
// callers check the length with checkName first.
func quoteIdent(name string) string {
	return "[" + strings.ReplaceAll(name, "]", "]]") + "]"
}

// The statements below that carry a password or a principal name are
// constant text: the values travel as bound parameters (@p1, @p2, ...;
// go-mssqldb sends them through sp_executesql as nvarchar) and the server
// quotes them itself with QUOTENAME before running the DDL, which cannot
// take parameters. QUOTENAME returns NULL for input over 128 characters,
// which would make EXEC run nothing; each batch raises an error instead.
// The password is never part of the SQL text this function sends.
const (
	// sqlSelectOne is Test's query.
	sqlSelectOne = "SELECT 1"

	// sqlAuthType returns the authentication type of a database user in
	// the current database: 1 INSTANCE (mapped to a login), 2 DATABASE (a
	// contained user with a password). No row: no such user.
	sqlAuthType = "SELECT authentication_type FROM sys.database_principals WHERE name = @p1"

	// sqlInMaster runs the statement @p1 in master: server permissions
	// can be granted only there, and the session stays in "dbname".
	sqlInMaster = "EXEC master.sys.sp_executesql @p1"

	// sqlLoginExists returns the name of the login @p1 if it exists.
	sqlLoginExists = "SELECT name FROM sys.server_principals WHERE name = @p1 AND type IN ('S', 'U', 'G', 'E', 'X')"

	// sqlChangeOwnLogin: a login changes its own password, giving the old
	// one (@p1 login, @p2 new password, @p3 old password). No permission
	// is needed besides knowing the old password.
	sqlChangeOwnLogin = `DECLARE @stmt nvarchar(max) = N'ALTER LOGIN ' + QUOTENAME(@p1) + N' WITH PASSWORD = N' + QUOTENAME(@p2, N'''') + N' OLD_PASSWORD = N' + QUOTENAME(@p3, N'''');
IF @stmt IS NULL THROW 50000, N'rotationkit: a name or password is too long for QUOTENAME', 1;
EXEC (@stmt);`

	// sqlChangeOwnUser: a contained database user changes its own
	// password (@p1 user, @p2 new, @p3 old).
	sqlChangeOwnUser = `DECLARE @stmt nvarchar(max) = N'ALTER USER ' + QUOTENAME(@p1) + N' WITH PASSWORD = N' + QUOTENAME(@p2, N'''') + N' OLD_PASSWORD = N' + QUOTENAME(@p3, N'''');
IF @stmt IS NULL THROW 50000, N'rotationkit: a name or password is too long for QUOTENAME', 1;
EXEC (@stmt);`

	// sqlSetLoginPassword: the admin (ALTER ANY LOGIN) sets a login's
	// password (@p1 login, @p2 password).
	sqlSetLoginPassword = `DECLARE @stmt nvarchar(max) = N'ALTER LOGIN ' + QUOTENAME(@p1) + N' WITH PASSWORD = N' + QUOTENAME(@p2, N'''');
IF @stmt IS NULL THROW 50000, N'rotationkit: a name or password is too long for QUOTENAME', 1;
EXEC (@stmt);`

	// sqlSetUserPassword: the admin (ALTER ANY USER) sets a contained
	// user's password (@p1 user, @p2 password).
	sqlSetUserPassword = `DECLARE @stmt nvarchar(max) = N'ALTER USER ' + QUOTENAME(@p1) + N' WITH PASSWORD = N' + QUOTENAME(@p2, N'''');
IF @stmt IS NULL THROW 50000, N'rotationkit: a name or password is too long for QUOTENAME', 1;
EXEC (@stmt);`

	// sqlCreateLogin creates a login if it does not exist (@p1 login, @p2
	// a throwaway password, @p3 the default database).
	sqlCreateLogin = `IF NOT EXISTS (SELECT 1 FROM sys.server_principals WHERE name = @p1)
BEGIN
DECLARE @stmt nvarchar(max) = N'CREATE LOGIN ' + QUOTENAME(@p1) + N' WITH PASSWORD = N' + QUOTENAME(@p2, N'''') + N', DEFAULT_DATABASE = ' + QUOTENAME(@p3);
IF @stmt IS NULL THROW 50000, N'rotationkit: a name or password is too long for QUOTENAME', 1;
EXEC (@stmt);
END`

	// sqlCreateUserForLogin creates the database user of a login in the
	// current database if it does not exist (@p1 login and user name).
	sqlCreateUserForLogin = `IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = @p1)
BEGIN
DECLARE @stmt nvarchar(max) = N'CREATE USER ' + QUOTENAME(@p1) + N' FOR LOGIN ' + QUOTENAME(@p1);
IF @stmt IS NULL THROW 50000, N'rotationkit: a name is too long for QUOTENAME', 1;
EXEC (@stmt);
END`

	// sqlCreateContainedUser creates a contained user with a throwaway
	// password if it does not exist (@p1 user, @p2 password).
	sqlCreateContainedUser = `IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = @p1)
BEGIN
DECLARE @stmt nvarchar(max) = N'CREATE USER ' + QUOTENAME(@p1) + N' WITH PASSWORD = N' + QUOTENAME(@p2, N'''');
IF @stmt IS NULL THROW 50000, N'rotationkit: a name or password is too long for QUOTENAME', 1;
EXEC (@stmt);
END`

	// sqlServerRoles lists the server roles a login is a member of (@p1).
	sqlServerRoles = `SELECT r.name FROM sys.server_role_members m
JOIN sys.server_principals r ON r.principal_id = m.role_principal_id
JOIN sys.server_principals u ON u.principal_id = m.member_principal_id
WHERE u.name = @p1 ORDER BY r.name`

	// sqlServerPerms lists a login's server-level permissions (@p1):
	// state (G, W grant with grant option, D deny), permission, class.
	sqlServerPerms = `SELECT p.state, p.permission_name, p.class FROM sys.server_permissions p
JOIN sys.server_principals u ON u.principal_id = p.grantee_principal_id
WHERE u.name = @p1 ORDER BY p.class, p.permission_name`

	// sqlDBRoles lists the database roles a user is a member of (@p1).
	sqlDBRoles = `SELECT r.name FROM sys.database_role_members m
JOIN sys.database_principals r ON r.principal_id = m.role_principal_id
JOIN sys.database_principals u ON u.principal_id = m.member_principal_id
WHERE u.name = @p1 ORDER BY r.name`

	// sqlDBPerms lists a user's permissions in the current database (@p1):
	// state, permission, class (0 database, 1 object or column, 3 schema),
	// schema, object and column names ('' where they do not apply; NULL
	// when the securable no longer resolves).
	sqlDBPerms = `SELECT p.state, p.permission_name, p.class,
CASE p.class WHEN 1 THEN OBJECT_SCHEMA_NAME(p.major_id) WHEN 3 THEN SCHEMA_NAME(p.major_id) ELSE N'' END,
CASE p.class WHEN 1 THEN OBJECT_NAME(p.major_id) ELSE N'' END,
CASE WHEN p.class = 1 AND p.minor_id > 0 THEN COL_NAME(p.major_id, p.minor_id) ELSE N'' END
FROM sys.database_permissions p
JOIN sys.database_principals u ON u.principal_id = p.grantee_principal_id
WHERE u.name = @p1 ORDER BY p.class, 4, 5, 6, p.permission_name`
)

// permissionName matches the permission names of sys.*_permissions
// (SELECT, VIEW DEFINITION, ALTER ANY SCHEMA, ...): they are keywords, not
// identifiers, so they go into the statement unquoted and must be checked.
var permissionName = regexp.MustCompile(`^[A-Z]+( [A-Z]+)*$`)

// The catalog's permission classes this function copies.
const (
	classDatabase = 0
	classObject   = 1
	classSchema   = 3
	classServer   = 100
)

// perm is one row of sqlServerPerms or sqlDBPerms.
type perm struct {
	State      string // G, W or D
	Permission string
	Class      int
	// Schema, Object and Column name the securable (database
	// permissions only); ok is false when the catalog returned NULL.
	Schema, Object, Column string
	Resolved               bool
}

// grantStatement returns the statement that gives grantee the permission
// p describes: GRANT, GRANT ... WITH GRANT OPTION or DENY, on the server,
// the database, a schema, an object or a column. Every name is quoted with
// quoteIdent; the permission name is checked against permissionName.
func grantStatement(p perm, grantee string) (string, error) {
	if !permissionName.MatchString(p.Permission) {
		return "", fmt.Errorf("the catalog returned a permission name that is not a keyword list (class %d); refusing to copy it", p.Class)
	}
	if err := checkName("the grantee", grantee); err != nil {
		return "", err
	}
	var verb, suffix string
	switch p.State {
	case "G":
		verb = "GRANT"
	case "W":
		verb, suffix = "GRANT", " WITH GRANT OPTION"
	case "D":
		verb = "DENY"
	default:
		return "", fmt.Errorf("permission %s has state %q, not G, W or D", p.Permission, p.State)
	}
	var on string
	switch p.Class {
	case classServer, classDatabase:
	case classObject, classSchema:
		if !p.Resolved {
			return "", fmt.Errorf("permission %s (class %d) names a securable the catalog no longer resolves", p.Permission, p.Class)
		}
		if err := checkName("a schema name from the catalog", p.Schema); err != nil {
			return "", err
		}
		if p.Class == classSchema {
			on = " ON SCHEMA::" + quoteIdent(p.Schema)
			break
		}
		if err := checkName("an object name from the catalog", p.Object); err != nil {
			return "", err
		}
		on = " ON OBJECT::" + quoteIdent(p.Schema) + "." + quoteIdent(p.Object)
		if p.Column != "" {
			if err := checkName("a column name from the catalog", p.Column); err != nil {
				return "", err
			}
			on = " (" + quoteIdent(p.Column) + ")" + on
		}
	default:
		return "", fmt.Errorf("permission %s is on a securable of class %d (not the server, the database, a schema or an object), which this function does not copy; grant it to the alternate user yourself, or use pre-created users (%s=%s)", p.Permission, p.Class, envMode, modePrecreated)
	}
	return verb + " " + p.Permission + on + " TO " + quoteIdent(grantee) + suffix, nil
}

// addMemberStatement returns ALTER [SERVER] ROLE role ADD MEMBER member.
// Adding a member twice is not an error in SQL Server, so it is safe to
// repeat.
func addMemberStatement(server bool, role, member string) (string, error) {
	if err := checkName("a role name from the catalog", role); err != nil {
		return "", err
	}
	if err := checkName("the member", member); err != nil {
		return "", err
	}
	kw := "ALTER ROLE "
	if server {
		kw = "ALTER SERVER ROLE "
	}
	return kw + quoteIdent(role) + " ADD MEMBER " + quoteIdent(member), nil
}
