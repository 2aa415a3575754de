package dbsecret

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rotationkit/rotation"
)

// Characters each family's default policy leaves out of generated
// passwords.
//
// The rotators themselves never put a password into SQL text or a
// connection string (PostgreSQL gets a SCRAM verifier, MySQL a bound
// parameter, and both connect through driver configs), so the exclusions
// are for the secret's other consumers: applications and tools that paste
// the password into connection strings without escaping it.
//
//   - space, '"', '\” and '\\' end or escape values in libpq key=value
//     conninfo strings, JDBC/ODBC strings and shell command lines;
//   - '/' and '@' split URL-style DSNs (postgres://user:pw@host/db,
//     mysql://...) and go-sql-driver's user:pw@tcp(host)/db;
//   - ':' (PostgreSQL only) separates the user and password in URL DSNs
//     and the fields of ~/.pgpass, where '\\' is also the escape
//     character.
//
// The MySQL set is the AWS templates' default (/@"'\ plus space); MySQL
// clients split DSNs at the first ':' of user:password, so a ':' inside
// the password is safe there.
//
// SQL Server passwords reach the server as bound parameters, so the
// exclusions are for connection strings only: ADO.NET and ODBC strings
// end a value at ';' and quote with '{' '}' or quotes, and '=' separates
// keys from values; URL DSNs split at '/', '@', ':' and '?'.
//
// Oracle passwords cannot be bound in ALTER USER: they are sent quoted as
// "..." (Oracle's rule), which cannot hold '"', so '"' must stay excluded
// (the Oracle rotator refuses a policy that allows it). Only the
// punctuation that Oracle tools accept unquoted in user/password@service
// strings and EZConnect URLs is kept: '#', '_', '-', '.', '+' and '!'.
const (
	PostgreSQLExcludedCharacters = ` /@"'\:`
	MySQLExcludedCharacters      = ` /@"'\`
	SQLServerExcludedCharacters  = ` /@"'\:;={}?`
	OracleExcludedCharacters     = ` "$%&'()*,/:;<=>?@[\]^` + "`{|}~"
	// Redshift refuses passwords with any of ' " \ / @ or space (and
	// requires 8 to 64 characters with an upper-case letter, a lower-case
	// letter and a digit); its set is exactly those.
	RedshiftExcludedCharacters = ` /@"'\`
	// DocumentDBExcludedCharacters: DocumentDB refuses / " @ in master
	// passwords; ':' and '%' besides break hand-written mongodb:// URIs.
	DocumentDBExcludedCharacters = ` /@"'\:%`
)

// DefaultPolicy returns the family's default password policy: 32
// characters (30 for Oracle, the most its password verifiers accept
// before 23ai) of letters, digits and punctuation, at least one of each,
// without the family's excluded characters. The SQL Server policy meets
// CHECK_POLICY's complexity rule (8 to 128 characters from three of four
// classes); the Oracle one meets ORA12C_VERIFY_FUNCTION's (at least 8
// characters, a letter and a digit).
func (f Family) DefaultPolicy() rotation.PasswordPolicy {
	p := rotation.PasswordPolicy{Length: 32}
	switch f {
	case PostgreSQL:
		p.ExcludeCharacters = PostgreSQLExcludedCharacters
	case MySQL:
		p.ExcludeCharacters = MySQLExcludedCharacters
	case SQLServer:
		p.ExcludeCharacters = SQLServerExcludedCharacters
	case Oracle:
		p.Length = 30
		p.ExcludeCharacters = OracleExcludedCharacters
	case Redshift:
		p.ExcludeCharacters = RedshiftExcludedCharacters
	case DocumentDB:
		p.ExcludeCharacters = DocumentDBExcludedCharacters
	}
	return p
}

// Environment variables PolicyFromEnv reads: the names the AWS templates
// use, so an existing function's configuration carries over.
const (
	EnvExcludeCharacters       = "EXCLUDE_CHARACTERS"         // replaces the family's excluded characters
	EnvPasswordLength          = "PASSWORD_LENGTH"            // 1..4096, default 32 (Oracle 30)
	EnvExcludeNumbers          = "EXCLUDE_NUMBERS"            // true/false
	EnvExcludePunctuation      = "EXCLUDE_PUNCTUATION"        // true/false
	EnvExcludeUppercase        = "EXCLUDE_UPPERCASE"          // true/false
	EnvExcludeLowercase        = "EXCLUDE_LOWERCASE"          // true/false
	EnvRequireEachIncludedType = "REQUIRE_EACH_INCLUDED_TYPE" // true/false, default true
)

// PolicyFromEnv returns the family's default policy overridden by the
// environment variables above, read through lookup (os.LookupEnv in a
// main). EXCLUDE_CHARACTERS replaces the default set, as in the AWS
// templates; set it to "" to allow every punctuation character. Errors
// name the variable; the policy is validated before it is returned.
func PolicyFromEnv(f Family, lookup func(string) (string, bool)) (rotation.PasswordPolicy, error) {
	p := f.DefaultPolicy()
	if lookup == nil {
		return p, nil
	}
	if v, ok := lookup(EnvExcludeCharacters); ok {
		p.ExcludeCharacters = v
	}
	if v, ok := lookup(EnvPasswordLength); ok && strings.TrimSpace(v) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 4096 {
			return p, fmt.Errorf("dbsecret: %s must be an integer from 1 to 4096", EnvPasswordLength)
		}
		p.Length = n
	}
	flags := []struct {
		name string
		dst  *bool
		neg  bool
	}{
		{EnvExcludeNumbers, &p.ExcludeNumbers, false},
		{EnvExcludePunctuation, &p.ExcludePunctuation, false},
		{EnvExcludeUppercase, &p.ExcludeUppercase, false},
		{EnvExcludeLowercase, &p.ExcludeLowercase, false},
		{EnvRequireEachIncludedType, &p.AllowMissingTypes, true},
	}
	for _, fl := range flags {
		v, ok := lookup(fl.name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(v)))
		if err != nil {
			return p, fmt.Errorf("dbsecret: %s must be true or false", fl.name)
		}
		*fl.dst = b != fl.neg
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("dbsecret: password policy from the environment: %w", err)
	}
	return p, nil
}
