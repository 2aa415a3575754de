package main

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

// Redshift's limits, as its CREATE USER and ALTER USER documentation
// states them.
const (
	// maxNameBytes is the longest user, group or role name (127 bytes).
	maxNameBytes = 127
	// Password length bounds.
	minPasswordLen, maxPasswordLen = 8, 64
	// forbiddenPasswordChars are refused in a Redshift password.
	forbiddenPasswordChars = dbsecret.RedshiftExcludedCharacters
)

// checkPassword applies Redshift's password rules: 8 to 64 printable ASCII
// characters with at least one upper-case letter, one lower-case letter and
// one digit, and none of ' " \ / @ or space. Errors name the field, never
// the value.
func checkPassword(pw string) error {
	bad := func(what string) error {
		return fmt.Errorf("%w: field %q %s (Redshift's rule)", rotation.ErrInvalidSecret, dbsecret.FieldPassword, what)
	}
	if len(pw) < minPasswordLen || len(pw) > maxPasswordLen {
		return bad(fmt.Sprintf("must be %d to %d characters", minPasswordLen, maxPasswordLen))
	}
	var upper, lower, digit bool
	for i := 0; i < len(pw); i++ {
		c := pw[i]
		switch {
		case c < 0x21 || c > 0x7e:
			return bad("must be printable ASCII without spaces")
		case strings.IndexByte(forbiddenPasswordChars, c) >= 0:
			return bad(`must not contain ' " \ / @ or a space`)
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	if !upper || !lower || !digit {
		return bad("needs an upper-case letter, a lower-case letter and a digit")
	}
	return nil
}

// checkPolicy refuses a password policy that can generate passwords
// Redshift rejects.
func checkPolicy(p rotation.PasswordPolicy) error {
	length := p.Length
	if length == 0 {
		length = 32
	}
	switch {
	case length < minPasswordLen || length > maxPasswordLen:
		return fmt.Errorf("%s must be %d to %d for Redshift", dbsecret.EnvPasswordLength, minPasswordLen, maxPasswordLen)
	case p.ExcludeUppercase || p.ExcludeLowercase || p.ExcludeNumbers:
		return fmt.Errorf("passwords for Redshift need upper-case letters, lower-case letters and digits: %s, %s and %s must not be true", dbsecret.EnvExcludeUppercase, dbsecret.EnvExcludeLowercase, dbsecret.EnvExcludeNumbers)
	case p.AllowMissingTypes:
		return fmt.Errorf("%s must be true for Redshift (every password needs an upper-case letter, a lower-case letter and a digit)", dbsecret.EnvRequireEachIncludedType)
	}
	if p.IncludeSpace && !strings.Contains(p.ExcludeCharacters, " ") {
		return fmt.Errorf("the password policy includes spaces, which Redshift refuses in passwords")
	}
	for _, c := range forbiddenPasswordChars {
		if !p.ExcludePunctuation && !strings.ContainsRune(p.ExcludeCharacters, c) && c != ' ' {
			return fmt.Errorf("%s must include %s: Redshift refuses them in passwords", dbsecret.EnvExcludeCharacters, "' \" \\ / @")
		}
	}
	return nil
}

// checkUser refuses user names Redshift would change or refuse: empty,
// over 127 bytes, with control characters, or with upper-case letters
// (Redshift folds user names to lower case, so the MD5 hash, salted with
// the name as written, would not match the stored user).
func checkUser(field, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: field %q is empty", rotation.ErrInvalidSecret, field)
	case len(name) > maxNameBytes:
		return fmt.Errorf("%w: field %q: the user name is %d bytes long, over Redshift's limit of %d", rotation.ErrInvalidSecret, field, len(name), maxNameBytes)
	case strings.ToLower(name) != name:
		return fmt.Errorf("%w: field %q: the user name has upper-case letters; Redshift folds user names to lower case, so write it in lower case", rotation.ErrInvalidSecret, field)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: field %q contains a control character", rotation.ErrInvalidSecret, field)
		}
	}
	return nil
}

// md5Password is the hashed form Redshift (and PostgreSQL) accept in
// CREATE USER and ALTER USER: "md5" followed by the hex MD5 of the
// password concatenated with the user name. The password itself never
// reaches the server, its logs or STL_QUERY.
func md5Password(user, password string) string {
	sum := md5.Sum([]byte(password + user))
	return "md5" + hex.EncodeToString(sum[:])
}

// hashFor returns the value for PASSWORD '...' in the configured form.
func hashFor(form, user, password string) (string, error) {
	switch form {
	case "", hashMD5:
		return md5Password(user, password), nil
	case hashSCRAM:
		return scramVerifier(password)
	}
	return "", fmt.Errorf("unknown password hash form %q", form)
}

// ident quotes a name as an SQL identifier ("...", quotes doubled).
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// alterPasswordSQL changes a user's password to a hashed value. The hash
// (hex or base64 and '$', ':') is quoted as a literal: ALTER USER takes no
// bind parameters.
func alterPasswordSQL(user, hashed string) (string, error) {
	lit, err := quoteLiteral(hashed)
	if err != nil {
		return "", err
	}
	return "ALTER USER " + ident(user) + " PASSWORD " + lit, nil
}

// createUserSQL creates the clone: no superuser (CREATEUSER), no CREATEDB,
// with the hash of a throwaway random password (PASSWORD DISABLE is
// Redshift-only), which nobody knows, until alterPasswordSQL sets the real
// one after the grants.
func createUserSQL(user, throwawayHash string) (string, error) {
	lit, err := quoteLiteral(throwawayHash)
	if err != nil {
		return "", err
	}
	return "CREATE USER " + ident(user) + " PASSWORD " + lit + " NOCREATEDB", nil
}

// grant is one privilege-bearing membership or object privilege a user
// holds: a group, a role, or a privilege on a schema or relation.
type grant struct {
	kind      grantKind
	name      string // group or role name, or the object's name
	schema    string // relations: the schema
	privilege string // object privileges: SELECT, USAGE, ...
}

type grantKind int

const (
	groupGrant grantKind = iota + 1
	roleGrant
	schemaGrant
	relationGrant
	databaseGrant
)

// Privileges copied, as Redshift's SVV_*_PRIVILEGES views name them. Any
// other value read from the catalog is refused, not pasted into SQL.
var (
	schemaPrivileges   = []string{"USAGE", "CREATE", "ALTER", "DROP"}
	databasePrivileges = []string{"CREATE", "TEMP", "TEMPORARY", "USAGE", "ALTER", "DROP"}
	relationPrivileges = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES", "DROP", "ALTER", "TRUNCATE", "TRIGGER", "RULE"}
)

var errUnknownPrivilege = errors.New("unknown privilege")

// grantSQL returns the statement that gives g to user.
func grantSQL(g grant, user string) (string, error) {
	switch g.kind {
	case groupGrant:
		return "ALTER GROUP " + ident(g.name) + " ADD USER " + ident(user), nil
	case roleGrant:
		return "GRANT ROLE " + ident(g.name) + " TO " + ident(user), nil
	case schemaGrant:
		if !slices.Contains(schemaPrivileges, g.privilege) {
			return "", fmt.Errorf("%w %q on schema %q", errUnknownPrivilege, g.privilege, g.name)
		}
		return "GRANT " + g.privilege + " ON SCHEMA " + ident(g.name) + " TO " + ident(user), nil
	case databaseGrant:
		if !slices.Contains(databasePrivileges, g.privilege) {
			return "", fmt.Errorf("%w %q on database %q", errUnknownPrivilege, g.privilege, g.name)
		}
		return "GRANT " + g.privilege + " ON DATABASE " + ident(g.name) + " TO " + ident(user), nil
	case relationGrant:
		if !slices.Contains(relationPrivileges, g.privilege) {
			return "", fmt.Errorf("%w %q on %q.%q", errUnknownPrivilege, g.privilege, g.schema, g.name)
		}
		return "GRANT " + g.privilege + " ON " + pgx.Identifier{g.schema, g.name}.Sanitize() + " TO " + ident(user), nil
	}
	return "", errors.New("unknown grant kind")
}

// revokeSQL returns the statement that takes g from user.
func revokeSQL(g grant, user string) (string, error) {
	switch g.kind {
	case groupGrant:
		return "ALTER GROUP " + ident(g.name) + " DROP USER " + ident(user), nil
	case roleGrant:
		return "REVOKE ROLE " + ident(g.name) + " FROM " + ident(user), nil
	case schemaGrant, relationGrant, databaseGrant:
		s, err := grantSQL(g, user)
		if err != nil {
			return "", err
		}
		// "GRANT p ON x TO u" -> "REVOKE p ON x FROM u"
		s = strings.TrimPrefix(s, "GRANT ")
		i := strings.LastIndex(s, " TO ")
		return "REVOKE " + s[:i] + " FROM " + s[i+4:], nil
	}
	return "", errors.New("unknown grant kind")
}

// syncSQL returns the statements that make clone's grants equal base's:
// grants base has and clone lacks, then revocations of what clone has and
// base does not (so a privilege revoked from the base user is revoked from
// the clone at the next rotation). Order is deterministic.
func syncSQL(base, clone []grant, user string) ([]string, error) {
	key := func(g grant) string {
		return fmt.Sprintf("%d\x00%s\x00%s\x00%s", g.kind, g.schema, g.name, g.privilege)
	}
	have := map[string]bool{}
	for _, g := range clone {
		have[key(g)] = true
	}
	want := map[string]bool{}
	for _, g := range base {
		want[key(g)] = true
	}
	sortGrants := func(gs []grant) []grant {
		gs = slices.Clone(gs)
		slices.SortFunc(gs, func(a, b grant) int { return strings.Compare(key(a), key(b)) })
		return slices.CompactFunc(gs, func(a, b grant) bool { return key(a) == key(b) })
	}
	var out []string
	for _, g := range sortGrants(base) {
		if have[key(g)] {
			continue
		}
		s, err := grantSQL(g, user)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	for _, g := range sortGrants(clone) {
		if want[key(g)] {
			continue
		}
		s, err := revokeSQL(g, user)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Catalog queries. Groups are in pg_group on Redshift and PostgreSQL;
// roles (Redshift RBAC) in SVV_USER_GRANTS; a user's own object
// privileges in SVV_DATABASE_PRIVILEGES, SVV_SCHEMA_PRIVILEGES and
// SVV_RELATION_PRIVILEGES (Redshift only).
const (
	groupsQuery = `SELECT g.groname FROM pg_catalog.pg_group g, pg_catalog.pg_user u
		WHERE u.usename = $1 AND u.usesysid = ANY(g.grolist)`
	rolesQuery            = `SELECT role_name FROM svv_user_grants WHERE user_name = $1`
	schemaPrivilegesQuery = `SELECT namespace_name, privilege_type FROM svv_schema_privileges
		WHERE identity_type = 'user' AND identity_name = $1`
	databasePrivilegesQuery = `SELECT database_name, privilege_type FROM svv_database_privileges
		WHERE identity_type = 'user' AND identity_name = $1`
	relationPrivilegesQuery = `SELECT namespace_name, relation_name, privilege_type FROM svv_relation_privileges
		WHERE identity_type = 'user' AND identity_name = $1`
	// userQuery reads whether a user exists and is a superuser (in
	// Redshift, CREATEUSER) or may create databases.
	userQuery = `SELECT usesuper, usecreatedb FROM pg_catalog.pg_user WHERE usename = $1`
)
