// Package dbsecret parses and validates the database secrets AWS's rotation
// templates use, for the PostgreSQL, MySQL/MariaDB, Redshift, DocumentDB,
// SQL Server and Oracle
// examples, so that a bad secret fails up front with a message naming the
// field instead of deep inside a driver.
//
// # The secret format
//
// The JSON object the AWS templates (and the RDS console) write:
//
//	{
//	  "engine":    "postgres",            // required; see Family.Engines
//	  "host":      "db.example.com",      // required
//	  "port":      5432,                  // optional; number or string; default per family
//	  "username":  "app",                 // required
//	  "password":  "...",                 // required
//	  "dbname":    "app",                 // optional; default "postgres" for PostgreSQL, "dev" for Redshift, none for MySQL
//	  "masterarn": "arn:aws:secretsmanager:...", // optional; the admin secret (alternating users)
//	  "ssl":       true,                  // optional; bool or "true"/"false"; see below
//	  "sslmode":   "verify-full",         // optional; see TLSMode
//	  "sslrootcert": "/var/task/ca.pem"   // optional; CA bundle path, overrides the defaults
//	}
//
// Other fields are ignored here and kept by the rotators, so existing
// secrets work unchanged.
//
// # TLS: never a silent downgrade
//
// The AWS templates fall back to plaintext when "ssl" is absent. This
// package does not: an absent "ssl" means TLS is required and the server
// certificate is verified against the host name (verify-full). Plaintext
// is used only when the secret says so explicitly, with "ssl": false (or
// "sslmode": "disable"). "sslmode" may relax verification explicitly
// ("require" encrypts without verifying; "verify-ca" skips the host name
// check); modes that would fall back to plaintext ("prefer", "allow",
// MySQL's PREFERRED) are refused.
//
// # Errors
//
// Every error wraps rotation.ErrInvalidSecret and names the field, never
// its value: a secret's fields (passwords, but also host names and user
// names an operator may consider sensitive) do not reach logs through this
// package. The exceptions are "engine", whose value is named only when it
// is one of the well-known engine names, and CA bundle paths, which are
// configuration, not credentials.
//
// # Stability
//
// The API is small on purpose and shared by the postgres and mysql
// examples (and the SQL Server and Oracle ones): Parse and ParseAdmin, Secret (with TLSConfig), Family (with
// Engines, DefaultPort and DefaultPolicy), TLSMode, PolicyFromEnv,
// TestRetryFromEnv, DefaultCAFiles, CAFilesFromEnv, ErrNoCABundle, and the Field*, Env* and
// *ExcludedCharacters constants; and, for admin credentials, AdminPolicy
// (with ParseAdmin), AdminPolicyFromEnv, AllowedUsersFromEnv and
// ErrAdminEndpoint.
package dbsecret

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/rotationkit/rotation"
)

// Field names of the secret, as the AWS templates spell them.
const (
	FieldEngine      = "engine"
	FieldHost        = "host"
	FieldPort        = "port"
	FieldUsername    = "username"
	FieldPassword    = "password"
	FieldDBName      = "dbname"
	FieldMasterARN   = "masterarn"
	FieldSSL         = "ssl"
	FieldSSLMode     = "sslmode"
	FieldSSLRootCert = "sslrootcert"
)

// Family is a group of engines one rotation function serves.
type Family int

const (
	// PostgreSQL: RDS PostgreSQL and Aurora PostgreSQL.
	PostgreSQL Family = iota + 1
	// MySQL: MySQL, MariaDB and Aurora MySQL (one wire protocol and one
	// account syntax; the rotator may still branch on Secret.Engine).
	MySQL
	// SQLServer: RDS for SQL Server (every edition) and self-managed SQL
	// Server. "dbname" defaults to "master".
	SQLServer
	// Oracle: RDS for Oracle (every edition, CDB or not) and self-managed
	// Oracle. "dbname" is the service name and is required.
	Oracle
	// Redshift: Amazon Redshift provisioned clusters and Serverless
	// workgroups (the PostgreSQL wire protocol, Redshift's own SQL).
	Redshift
	// DocumentDB: Amazon DocumentDB and MongoDB (the MongoDB wire
	// protocol); AWS's templates write "engine": "mongo".
	DocumentDB
)

// families lists every Family, for the check that names the family an
// engine belongs to.
var families = []Family{PostgreSQL, MySQL, SQLServer, Oracle, Redshift, DocumentDB}

// String returns the family's name.
func (f Family) String() string {
	switch f {
	case PostgreSQL:
		return "PostgreSQL"
	case MySQL:
		return "MySQL/MariaDB"
	case SQLServer:
		return "SQL Server"
	case Oracle:
		return "Oracle"
	case Redshift:
		return "Redshift"
	case DocumentDB:
		return "DocumentDB/MongoDB"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

// Engines returns the values of the "engine" field the family accepts. The
// first is the canonical one.
func (f Family) Engines() []string {
	switch f {
	case PostgreSQL:
		return []string{"postgres", "postgresql", "aurora-postgresql"}
	case MySQL:
		return []string{"mysql", "mariadb", "aurora-mysql", "aurora"}
	case SQLServer:
		return []string{"sqlserver", "sqlserver-ee", "sqlserver-se", "sqlserver-ex", "sqlserver-web"}
	case Oracle:
		return []string{"oracle", "oracle-ee", "oracle-se2", "oracle-ee-cdb", "oracle-se2-cdb"}
	case Redshift:
		return []string{"redshift"}
	case DocumentDB:
		return []string{"mongo", "docdb", "documentdb", "mongodb"}
	}
	return nil
}

// DefaultPort returns the family's default port: 5432, 3306, 1433 or
// 1521.
func (f Family) DefaultPort() int {
	switch f {
	case PostgreSQL:
		return 5432
	case MySQL:
		return 3306
	case SQLServer:
		return 1433
	case Oracle:
		return 1521
	case Redshift:
		return 5439
	case DocumentDB:
		return 27017
	}
	return 0
}

// TLSMode says how a connection uses TLS. The values are libpq's sslmode
// names; Parse also accepts MySQL's ssl-mode names (DISABLED, REQUIRED,
// VERIFY_CA, VERIFY_IDENTITY) in any case.
type TLSMode string

const (
	// TLSDisable connects in plaintext. Only an explicit "ssl": false or
	// "sslmode": "disable" selects it.
	TLSDisable TLSMode = "disable"
	// TLSRequire encrypts but does not verify the server certificate:
	// protects against passive eavesdropping only. Explicit opt-in.
	TLSRequire TLSMode = "require"
	// TLSVerifyCA verifies that the certificate chains to a trusted CA
	// but not that it names the host (for connecting through an IP or a
	// tunnel).
	TLSVerifyCA TLSMode = "verify-ca"
	// TLSVerifyFull verifies the chain and the host name: the default.
	TLSVerifyFull TLSMode = "verify-full"
)

// Secret is a parsed, validated database secret. It formats with the
// password redacted (fmt, %#v, slog, encoding/json), like
// url.URL.Redacted, whether it is formatted through a pointer or as a
// copied value.
type Secret struct {
	// Engine is the "engine" field, lower-cased; one of Family.Engines.
	Engine string
	// Host and Port locate the server; Port is the family default when
	// the field is absent.
	Host string
	Port int
	// Username and Password are the credential. Password is secret.
	Username string
	Password string
	// DBName is the database to connect to: the "dbname" field, or
	// "postgres" for PostgreSQL and "master" for SQL Server when absent,
	// or "" for MySQL; for Oracle, the service name (required).
	DBName string
	// MasterARN names the admin secret (an ARN or a name), or "".
	MasterARN string
	// TLS is how to connect: TLSVerifyFull unless the secret says
	// otherwise.
	TLS TLSMode
	// SSLRootCert is the "sslrootcert" field: a CA bundle path that
	// replaces the default bundles, or "".
	SSLRootCert string
}

func fieldErr(name, format string, args ...any) error {
	return fmt.Errorf("%w: field %q %s", rotation.ErrInvalidSecret, name, fmt.Sprintf(format, args...))
}

// Parse reads and validates s as a secret of family f. It checks every
// field before returning, so one call says whether the secret is usable;
// the first problem found is returned, naming the field.
func Parse(s *rotation.Secret, f Family) (*Secret, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: no secret", rotation.ErrInvalidSecret)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	engines := f.Engines()
	if engines == nil {
		return nil, fmt.Errorf("dbsecret: unknown family %v", f)
	}
	out := &Secret{}

	engine, err := s.Get(FieldEngine)
	if err != nil {
		return nil, fmt.Errorf("%w (want one of %s for the %s rotator)", err, strings.Join(engines, ", "), f)
	}
	out.Engine = strings.ToLower(strings.TrimSpace(engine))
	if !slices.Contains(engines, out.Engine) {
		for _, other := range families {
			if other != f && slices.Contains(other.Engines(), out.Engine) {
				return nil, fieldErr(FieldEngine, "is %q, a %s engine, but this function rotates %s (want one of %s)", out.Engine, other, f, strings.Join(engines, ", "))
			}
		}
		return nil, fieldErr(FieldEngine, "names an engine this function does not rotate (want one of %s for %s)", strings.Join(engines, ", "), f)
	}

	if out.Host, err = s.Get(FieldHost); err != nil {
		return nil, err
	}
	if err := checkHost(out.Host); err != nil {
		return nil, err
	}

	out.Port = f.DefaultPort()
	if _, ok, err := s.Lookup(FieldPort); err != nil {
		return nil, err
	} else if ok {
		if out.Port, err = s.Int(FieldPort); err != nil {
			return nil, err
		}
		if out.Port < 1 || out.Port > 65535 {
			return nil, fieldErr(FieldPort, "is out of range 1..65535")
		}
	}

	if out.Username, err = s.Get(FieldUsername); err != nil {
		return nil, err
	}
	if err := checkText(FieldUsername, out.Username); err != nil {
		return nil, err
	}
	if out.Password, err = s.Get(FieldPassword); err != nil {
		return nil, err
	}
	if err := checkText(FieldPassword, out.Password); err != nil {
		return nil, err
	}

	db, ok, err := s.Lookup(FieldDBName)
	if err != nil {
		return nil, err
	}
	switch {
	case ok && db != "":
		if err := checkText(FieldDBName, db); err != nil {
			return nil, err
		}
		out.DBName = db
	case f == PostgreSQL:
		out.DBName = "postgres" // the AWS template's default
	case f == SQLServer:
		out.DBName = "master" // the AWS template's default
	case f == Oracle:
		return nil, fieldErr(FieldDBName, "is required for Oracle: the service name to connect to (ORCL for an RDS instance created with the default database name)")
	case f == Redshift:
		out.DBName = "dev" // the AWS template's default
	case f == DocumentDB:
		out.DBName = "admin" // the AWS template's default
	}

	if out.MasterARN, _, err = s.Lookup(FieldMasterARN); err != nil {
		return nil, err
	}
	if err := checkText(FieldMasterARN, out.MasterARN); err != nil {
		return nil, err
	}

	if out.TLS, err = parseTLS(s); err != nil {
		return nil, err
	}
	if out.SSLRootCert, _, err = s.Lookup(FieldSSLRootCert); err != nil {
		return nil, err
	}
	if err := checkText(FieldSSLRootCert, out.SSLRootCert); err != nil {
		return nil, err
	}
	return out, nil
}

// checkHost refuses host values no driver should get: whitespace, control
// characters, URL syntax, and Aurora reader endpoints (a password change
// must go to the writer).
func checkHost(h string) error {
	if problem := hostProblem(h); problem != "" {
		return fieldErr(FieldHost, "%s", problem)
	}
	return nil
}

// hostProblem is checkHost's test, returning what is wrong or "".
func hostProblem(h string) string {
	for _, r := range h {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "contains whitespace or a control character"
		}
	}
	if strings.ContainsAny(h, "/@?#") {
		return "must be a host name or IP address, not a URL or a socket path"
	}
	if strings.Contains(strings.ToLower(h), ".cluster-ro-") {
		return "is an Aurora reader endpoint (\".cluster-ro-\"); a password change must go to the cluster (writer) endpoint"
	}
	return ""
}

// checkText refuses control characters (NUL above all: neither protocol
// can carry it).
func checkText(field, v string) error {
	for _, r := range v {
		if unicode.IsControl(r) {
			return fieldErr(field, "contains a control character")
		}
	}
	return nil
}

// parseTLS combines "ssl" and "sslmode"; see the package doc.
func parseTLS(s *rotation.Secret) (TLSMode, error) {
	ssl, sslSet, err := s.Bool(FieldSSL)
	if err != nil {
		return "", err
	}
	raw, modeSet, err := s.Lookup(FieldSSLMode)
	if err != nil {
		return "", err
	}
	if !modeSet || raw == "" {
		if sslSet && !ssl {
			return TLSDisable, nil
		}
		return TLSVerifyFull, nil
	}
	var mode TLSMode
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "disable", "disabled":
		mode = TLSDisable
	case "require", "required":
		mode = TLSRequire
	case "verify-ca", "verify_ca":
		mode = TLSVerifyCA
	case "verify-full", "verify_identity":
		mode = TLSVerifyFull
	case "prefer", "preferred", "allow":
		return "", fieldErr(FieldSSLMode, "would fall back to plaintext silently; use verify-full (default), verify-ca or require, or disable TLS explicitly")
	default:
		return "", fieldErr(FieldSSLMode, "is not one of disable, require, verify-ca, verify-full (or MySQL's DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)")
	}
	if sslSet && ssl == (mode == TLSDisable) {
		return "", fieldErr(FieldSSLMode, "contradicts field %q", FieldSSL)
	}
	return mode, nil
}

// redactedSecret is a copy of a Secret with the password hidden, for
// formatting.
type redactedSecret struct {
	Engine, Host string
	Port         int
	Username     string
	Password     string
	DBName       string
	MasterARN    string
	TLS          TLSMode
	SSLRootCert  string
}

func (s Secret) redacted() redactedSecret {
	r := redactedSecret{s.Engine, s.Host, s.Port, s.Username, "", s.DBName, s.MasterARN, s.TLS, s.SSLRootCert}
	if s.Password != "" {
		r.Password = "[REDACTED]"
	}
	return r
}

// The formatting methods have value receivers, so a copy of a Secret (a
// Secret stored by value in a struct, or *s passed to a logger) redacts as
// the pointer does. A nil *Secret formats as "<nil>" (fmt and
// encoding/json handle nil pointers before calling them).

// String describes s with the password redacted.
func (s Secret) String() string {
	return fmt.Sprintf("dbsecret.Secret%+v", s.redacted())
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format writes String for every verb, so no verb shows the password.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON encodes the fields with the password redacted, so a Secret
// in a logged struct cannot leak it.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.redacted())
}

// LogValue implements slog.LogValuer: the fields without the password.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("engine", s.Engine),
		slog.String("host", s.Host),
		slog.Int("port", s.Port),
		slog.String("username", s.Username),
		slog.String("password", "[REDACTED]"),
		slog.String("dbname", s.DBName),
		slog.String("tls", string(s.TLS)),
	)
}
