// Package connstr keeps the connection strings users store in database
// secrets (a MongoDB or PostgreSQL URI, a JDBC URL, an ODBC string, a libpq
// key=value string, a go-sql-driver DSN) in step with the credential a
// rotator generates, so applications that read a ready-made connection
// string do not keep the old password.
//
// A rotator calls Rewrite on the pending value its strategy built (or
// wraps its strategy in a Rotator, which does that in Create and checks
// the result in Test). Each connection-string field present in the secret
// (DefaultFields, plus any configured with FieldsFromEnv) is parsed in its
// format; its user and password, where it names them, are replaced by the
// new ones, escaped by the format's rules:
//
//   - URL (postgres://, mysql://, mongodb://, mongodb+srv://, redshift://
//     ...): the userinfo is percent-encoded (everything but letters, digits
//     and -._~), and user/password query parameters are percent-encoded;
//   - JDBC (jdbc:<subprotocol>://...): userinfo and ?key=value or
//     ;key=value properties percent-encoded as for URLs (the Redshift
//     driver documents it; pgjdbc and MySQL Connector/J decode them too),
//     except SQL Server's (jdbc:sqlserver:, jdbc:jtds:) ;key=value
//     properties, put in {braces} when needed, with } doubled;
//   - ODBC (Key=Value;...): a value holding ; { } = or edge spaces is put in
//     {braces} with } doubled;
//   - libpq key=value (host=... user=... password=...): a value holding
//     spaces, quotes or backslashes, or empty, is single-quoted with \ and '
//     escaped by a backslash;
//   - MySQL DSN (user:password@tcp(host:port)/db): no escaping exists, the
//     driver splits at the first ':' and the last '@'; a user name with ':'
//     cannot be written and is refused.
//
// Everything else in the string is kept byte for byte.
//
// A field is refused, with an error naming the field but never its value,
// when it cannot be parsed, names no host, names a host (or port) other
// than the secret's, or names a user other than the secret's current or
// new user. A refusal in createSecret stops the rotation before anything
// is written. A string that names no user (or no password) gets none: the
// application supplies it from the secret's other fields.
package connstr

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rotationkit/rotation"
)

// Format is the syntax of a connection string.
type Format int

const (
	// Auto detects the format from the value: jdbc: prefix, a URL scheme,
	// a MySQL DSN, ODBC (';'-separated pairs) or libpq key=value.
	Auto Format = iota
	// URL is a URI such as postgres://, mysql:// or mongodb://.
	URL
	// JDBC is a jdbc: URL.
	JDBC
	// ODBC is a Key=Value; string.
	ODBC
	// KeyValue is a libpq conninfo string (key=value pairs separated by
	// spaces).
	KeyValue
	// MySQLDSN is go-sql-driver/mysql's user:password@net(addr)/db form.
	MySQLDSN
)

var formatNames = []string{"auto", "url", "jdbc", "odbc", "keyvalue", "mysqldsn"}

// String returns the format's name as FieldsFromEnv accepts it.
func (f Format) String() string {
	if int(f) >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat returns the format named s (as String spells it; case does
// not matter; "libpq" is KeyValue and "dsn" is MySQLDSN).
func ParseFormat(s string) (Format, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "libpq":
		return KeyValue, true
	case "dsn":
		return MySQLDSN, true
	}
	i := slices.Index(formatNames, s)
	return Format(i), i >= 0
}

// Field is a secret field that holds a connection string.
type Field struct {
	// Name is the JSON field name, matched exactly.
	Name string
	// Format is the field's syntax; Auto detects it.
	Format Format
}

// DefaultFields returns the field names recognised without configuration:
// names that hold a database connection string in AWS documentation,
// consoles and common tools. A generic name such as "url" is left out on
// purpose: a secret may hold another URL there, which would then stop the
// rotation (configure it with CONNECTION_STRING_FIELDS if it is one).
func DefaultFields() []Field {
	return []Field{
		{"connectionString", Auto},
		{"connection_string", Auto},
		{"uri", URL},
		{"mongoUri", URL},
		{"jdbcUrl", JDBC},
		{"jdbc_url", JDBC},
		{"jdbcConnectionString", JDBC},
		{"odbcConnectionString", ODBC},
		{"odbc", ODBC},
		{"dsn", Auto},
		{"DATABASE_URL", Auto},
	}
}

// EnvFields is the environment variable FieldsFromEnv reads.
const EnvFields = "CONNECTION_STRING_FIELDS"

// FieldsFromEnv returns DefaultFields plus the fields named in
// CONNECTION_STRING_FIELDS, read through lookup (os.LookupEnv in a main):
// a comma-separated list of name or name:format (format one of auto, url,
// jdbc, odbc, keyvalue or libpq, mysqldsn or dsn). A configured name
// replaces a default of the same name. Errors name the variable.
func FieldsFromEnv(lookup func(string) (string, bool)) ([]Field, error) {
	fields := DefaultFields()
	if lookup == nil {
		return fields, nil
	}
	v, ok := lookup(EnvFields)
	if !ok || strings.TrimSpace(v) == "" {
		return fields, nil
	}
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, fs, hasFormat := strings.Cut(item, ":")
		name = strings.TrimSpace(name)
		f := Auto
		if hasFormat {
			var ok bool
			if f, ok = ParseFormat(fs); !ok {
				return nil, fmt.Errorf("%s: field %q has an unknown format (want one of %s)", EnvFields, name, strings.Join(formatNames, ", "))
			}
		}
		if name == "" {
			return nil, fmt.Errorf("%s: an entry has an empty field name", EnvFields)
		}
		fields = slices.DeleteFunc(fields, func(x Field) bool { return x.Name == name })
		fields = append(fields, Field{name, f})
	}
	return fields, nil
}

// Credential is what a connection string is rewritten to and checked
// against.
type Credential struct {
	// Host is the secret's host; every host a string names must be it
	// (compared without case and a trailing dot).
	Host string
	// Port, if non-zero, is the secret's port; a port a string names must
	// be it.
	Port int
	// OldUsername is the current value's user: a string may name it or
	// Username, no other user.
	OldUsername string
	// Username and Password are written into the string.
	Username, Password string
}

// ErrInvalid is wrapped by every error about a connection string. It is
// also rotation.ErrInvalidSecret (errors.Is matches both).
var ErrInvalid = fmt.Errorf("%w: connection string", rotation.ErrInvalidSecret)

// fieldError names the field and the problem, never the value.
type fieldError struct {
	field, problem string
}

func (e *fieldError) Error() string {
	return fmt.Sprintf("%v: field %q %s", ErrInvalid, e.field, e.problem)
}

func (e *fieldError) Unwrap() error { return ErrInvalid }

// problem is an error about a string, before it is tied to a field.
type problem string

func (p problem) Error() string { return string(p) }

func problemf(format string, args ...any) error { return problem(fmt.Sprintf(format, args...)) }

// Rewrite returns v with every connection-string field of fields present
// in v rewritten for c; v itself is returned when there is none. Fields
// holding non-string JSON are refused. The first problem found is returned
// (naming the field) and nothing is rewritten.
func Rewrite(v *rotation.Secret, fields []Field, c Credential) (*rotation.Secret, error) {
	changes := map[string]any{}
	for _, f := range fields {
		raw, ok, err := v.Lookup(f.Name)
		if err != nil {
			return nil, &fieldError{f.Name, "is not a string"}
		}
		if !ok || raw == "" {
			continue
		}
		out, err := RewriteString(f.Format, raw, c)
		if err != nil {
			return nil, &fieldError{f.Name, err.Error()}
		}
		if out != raw {
			changes[f.Name] = out
		}
	}
	if len(changes) == 0 {
		return v, nil
	}
	return v.With(changes)
}

// Check reports the first connection-string field of v that does not
// carry c exactly: unparsable, another host or port, or a user or
// password other than c's. A string that names no user (or no password)
// passes on that count. Test steps use it to refuse a pending value whose
// connection strings were not rewritten.
func Check(v *rotation.Secret, fields []Field, c Credential) error {
	for _, f := range fields {
		raw, ok, err := v.Lookup(f.Name)
		if err != nil {
			return &fieldError{f.Name, "is not a string"}
		}
		if !ok || raw == "" {
			continue
		}
		p, err := parse(f.Format, raw)
		if err != nil {
			return &fieldError{f.Name, err.Error()}
		}
		if err := checkEndpoints(p.endpoints(), c); err != nil {
			return &fieldError{f.Name, err.Error()}
		}
		if u, ok := p.user(); ok && u != c.Username {
			return &fieldError{f.Name, "does not name the secret's user"}
		}
		if pw, ok := p.password(); ok && pw != c.Password {
			return &fieldError{f.Name, "does not hold the secret's password"}
		}
	}
	return nil
}

// RewriteString rewrites one connection string of format f for c. Errors
// describe the problem without the string's content.
func RewriteString(f Format, s string, c Credential) (string, error) {
	if c.Username == "" {
		return "", errors.New("connstr: no user name to write")
	}
	p, err := parse(f, s)
	if err != nil {
		return "", err
	}
	if err := checkEndpoints(p.endpoints(), c); err != nil {
		return "", err
	}
	if u, ok := p.user(); ok && u != c.OldUsername && u != c.Username {
		return "", problem("names a user other than the secret's")
	}
	out, err := p.rewrite(c.Username, c.Password)
	if err != nil {
		return "", err
	}
	// The result must read back as what was meant, in the same format.
	if f == Auto && detect(out) != p.format() {
		return "", problem("cannot carry the new credential without reading as another format; configure the field's format")
	}
	q, err := parse(p.format(), out)
	if err != nil {
		return "", problemf("cannot be rewritten: %v", err)
	}
	if u, ok := q.user(); ok && u != c.Username {
		return "", problem("cannot carry the new user name in its format")
	}
	if pw, ok := q.password(); ok && pw != c.Password {
		return "", problem("cannot carry the new password in its format")
	}
	return out, nil
}

// parsed is a connection string split into its parts.
type parsed interface {
	format() Format
	// hosts returns the host[:port] endpoints named; port 0 when absent.
	endpoints() []endpoint
	user() (string, bool)
	password() (string, bool)
	rewrite(user, password string) (string, error)
}

type endpoint struct {
	host string
	port int
}

func parse(f Format, s string) (parsed, error) {
	if f == Auto {
		f = detect(s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return nil, problem("contains a control character")
		}
	}
	switch f {
	case URL:
		return parseURL(s)
	case JDBC:
		return parseJDBC(s)
	case ODBC:
		return parseODBC(s)
	case KeyValue:
		return parseKeyValue(s)
	case MySQLDSN:
		return parseMySQLDSN(s)
	}
	return nil, problemf("has an unknown format %v", f)
}

// detect guesses the format of s from its structure: a jdbc: prefix; a
// leading key= (libpq key=value when every key is a libpq keyword, else
// ODBC); a well-known URL scheme; a go-sql-driver DSN with a TCP address;
// any other URL scheme; else a DSN.
func detect(s string) Format {
	t := strings.TrimSpace(s)
	lower := strings.ToLower(t)
	if strings.HasPrefix(lower, "jdbc:") {
		return JDBC
	}
	if startsWithKey(t) {
		if p, err := parseKeyValue(t); err == nil && p.(*str).allLibpqKeys {
			return KeyValue
		}
		return ODBC
	}
	i := strings.Index(t, "://")
	if i > 0 && slices.Contains(knownSchemes, strings.ToLower(t[:i])) {
		return URL
	}
	if strings.Contains(t, "@tcp(") || strings.Contains(t, "@tcp6(") || strings.Contains(t, "@unix(") {
		return MySQLDSN
	}
	if i > 0 && isScheme(t[:i]) {
		return URL
	}
	return MySQLDSN
}

var knownSchemes = []string{"postgres", "postgresql", "mysql", "mariadb", "mongodb", "mongodb+srv", "redshift", "sqlserver", "mssql", "oracle"}

// startsWithKey reports whether s begins with an identifier (letters,
// digits, '_' and inner spaces) followed by '='.
func startsWithKey(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			return i > 0
		case isAlpha(c) || c == '_' || (i > 0 && (c >= '0' && c <= '9' || c == ' ')):
		default:
			return false
		}
	}
	return false
}

func isScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// sameHost compares host names the way DNS does (no case, no trailing
// dot) and IPv6 literals without brackets.
func sameHost(a, b string) bool {
	norm := func(h string) string {
		h = strings.TrimSpace(h)
		h = strings.TrimPrefix(h, "[")
		h = strings.TrimSuffix(h, "]")
		h = strings.TrimSuffix(h, ".")
		return strings.ToLower(h)
	}
	return a != "" && norm(a) == norm(b)
}

// checkEndpoints checks that eps is not empty and that each names c's
// host (and port, when both are known).
func checkEndpoints(eps []endpoint, c Credential) error {
	if len(eps) == 0 {
		return problem("names no host, so it cannot be checked against the secret's host")
	}
	for _, e := range eps {
		if !sameHost(e.host, c.Host) {
			return problem("points at a host other than the secret's \"host\"")
		}
		if e.port != 0 && c.Port != 0 && e.port != c.Port {
			return problem("points at a port other than the secret's \"port\"")
		}
	}
	return nil
}

// splitHostPort splits host[:port] or [v6]:port. Port 0 when absent.
func splitHostPort(s string) (endpoint, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return endpoint{}, problem("has an unterminated IPv6 address")
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return endpoint{host: host}, nil
		}
		if rest[0] != ':' {
			return endpoint{}, problem("has text after an IPv6 address")
		}
		p, err := parsePort(rest[1:])
		return endpoint{host, p}, err
	}
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return endpoint{host: s}, nil
	}
	if strings.Contains(port, ":") {
		return endpoint{}, problem("has an IPv6 address without brackets")
	}
	p, err := parsePort(port)
	return endpoint{host, p}, err
}

func parsePort(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || s[0] == '+' || s[0] == '-' {
		return 0, problem("has an invalid port")
	}
	return p, nil
}
