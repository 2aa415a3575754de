package main

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

// connector opens MySQL sessions from parsed secrets. It holds only
// configuration and is safe for concurrent use.
type connector struct {
	// caFiles replace dbsecret.DefaultCAFiles when set
	// (ROTATION_CA_BUNDLE); a secret's "sslrootcert" overrides both.
	caFiles []string
	// timeout bounds the dial and the TLS and MySQL handshakes.
	timeout time.Duration
	// params are session variables set on every connection; tests use it
	// to run under another sql_mode.
	params map[string]string
	// admin pins the admin connection (see connector.adminSecret).
	admin dbsecret.AdminPolicy
}

// serverInfo is what the rotator needs to know about the server.
type serverInfo struct {
	mariaDB bool
	version [3]int // major, minor, patch as far as VERSION() gives them
}

// atLeast reports whether the version is at least v.
func (s serverInfo) atLeast(v ...int) bool {
	for i := range s.version {
		want := 0
		if i < len(v) {
			want = v[i]
		}
		if s.version[i] != want {
			return s.version[i] > want
		}
	}
	return true
}

func (s serverInfo) String() string {
	name := "MySQL"
	if s.mariaDB {
		name = "MariaDB"
	}
	return fmt.Sprintf("%s %d.%d.%d", name, s.version[0], s.version[1], s.version[2])
}

// parseVersion reads VERSION(): "8.0.36", "10.11.6-MariaDB-log",
// "8.0.mysql_aurora.3.05.2".
func parseVersion(v string) serverInfo {
	info := serverInfo{mariaDB: strings.Contains(strings.ToLower(v), "mariadb")}
	for i, part := range strings.SplitN(v, ".", 3) {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		info.version[i] = n
		if end < len(part) {
			break
		}
	}
	return info
}

// session is one connection to the server, with what was learnt about
// it. It is used by one goroutine and closed after the step.
type session struct {
	db     *sql.DB
	conn   *sql.Conn
	mode   sqlMode
	server serverInfo
}

// open connects as sec. With useDB the connection selects sec.DBName, so
// a user without access to the database fails to connect.
func (c *connector) open(ctx context.Context, sec *dbsecret.Secret, useDB bool) (*session, error) {
	tlsConfig, err := sec.TLSConfig(c.caFiles...)
	if err != nil {
		return nil, fmt.Errorf("TLS configuration: %w", err)
	}
	cfg := mysql.NewConfig()
	cfg.User = sec.Username
	cfg.Passwd = sec.Password
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(sec.Host, strconv.Itoa(sec.Port))
	if useDB {
		cfg.DBName = sec.DBName
	}
	// A nil TLS config means the secret said "ssl": false explicitly;
	// otherwise TLS is required and never falls back to plaintext.
	cfg.TLS = tlsConfig
	cfg.AllowFallbackToPlaintext = false
	cfg.AllowCleartextPasswords = false
	cfg.Timeout = c.timeout
	cfg.ReadTimeout = 30 * time.Second
	cfg.WriteTimeout = 30 * time.Second
	// The driver's logger prints to stderr outside slog; its messages
	// are connection noise, and every error is returned anyway.
	cfg.Logger = &mysql.NopLogger{}
	if len(c.params) > 0 {
		cfg.Params = make(map[string]string, len(c.params))
		for k, v := range c.params {
			cfg.Params[k] = v
		}
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, connectError(err, sec, tlsConfig != nil)
	}
	db := sql.OpenDB(conn)
	cn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, connectError(err, sec, tlsConfig != nil)
	}
	s := &session{db: db, conn: cn}
	var version, mode string
	if err := cn.QueryRowContext(ctx, "SELECT VERSION(), @@SESSION.sql_mode").Scan(&version, &mode); err != nil {
		s.close()
		return nil, fmt.Errorf("reading the server version: %w", redact(err, sec.Password))
	}
	s.server = parseVersion(version)
	s.mode = parseSQLMode(mode)
	return s, nil
}

func (s *session) close() {
	s.conn.Close()
	s.db.Close()
}

// connectError explains a failed connection without the password.
func connectError(err error, sec *dbsecret.Secret, tlsOn bool) error {
	if errors.Is(err, mysql.ErrNoTLS) {
		return fmt.Errorf("connecting to the server: TLS is required but the server does not offer it; "+
			"the secret has no %q field set to false, and plaintext is used only when it says so explicitly", dbsecret.FieldSSL)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 3159 && !tlsOn {
		// ER_SECURE_TRANSPORT_REQUIRED: the secret chose plaintext.
		return fmt.Errorf("connecting to the server: the server requires TLS but the secret has %q: false: %w", dbsecret.FieldSSL, redact(err, sec.Password))
	}
	return fmt.Errorf("connecting to the server: %w", redact(err, sec.Password))
}

// redactedError is an error whose text had secrets removed. It does not
// unwrap: the original's text holds them.
type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

// redact returns err, or an error with the same text minus secrets when
// the text holds one of them (raw or in any quoted form the statements
// used). Server syntax errors quote the statement ("near '...'"), so
// their message is cut there.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1064 {
		// ER_PARSE_ERROR quotes the statement, password literal and all.
		return &redactedError{msg: fmt.Sprintf("Error %d (%s): SQL syntax error (statement text withheld: it holds a password)", me.Number, me.SQLState[:])}
	}
	changed := false
	for _, s := range secrets {
		if s == "" {
			continue
		}
		forms := []string{s}
		for _, nbe := range []bool{false, true} {
			if q, err := quoteString(s, nbe); err == nil {
				forms = append(forms, q, q[1:len(q)-1])
			}
		}
		for _, f := range forms {
			if f != "" && strings.Contains(msg, f) {
				msg = strings.ReplaceAll(msg, f, "[REDACTED]")
				changed = true
			}
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg}
}

// exec runs a statement that holds no secret.
func (s *session) exec(ctx context.Context, what, query string, args ...any) error {
	if _, err := s.conn.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// execSecret runs a statement that holds the given secrets as literals;
// errors never show them.
func (s *session) execSecret(ctx context.Context, what, query string, secrets ...string) error {
	if _, err := s.conn.ExecContext(ctx, query); err != nil {
		return fmt.Errorf("%s: %w", what, redact(err, secrets...))
	}
	return nil
}

// literal quotes a string for this session's sql_mode.
func (s *session) literal(v string) (string, error) {
	return quoteString(v, s.mode.noBackslashEscapes)
}

// hosts returns the hosts the user has an account for, sorted. Names
// are compared with '=', never LIKE, so '%' and '_' in them are plain
// characters. MariaDB roles (also in mysql.user) are left out.
func (s *session) hosts(ctx context.Context, user string) ([]string, error) {
	q := "SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host"
	if s.server.mariaDB {
		q = "SELECT Host FROM mysql.user WHERE User = ? AND is_role = 'N' ORDER BY Host"
	}
	rows, err := s.conn.QueryContext(ctx, q, user)
	if err != nil {
		return nil, fmt.Errorf("listing accounts in mysql.user (the admin needs SELECT on it): %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("listing accounts in mysql.user: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing accounts in mysql.user: %w", err)
	}
	return out, nil
}

// userNameLimit returns the longest user name the server accepts, in
// characters: the width of mysql.user.User as the server reports it, or,
// if that cannot be read, the documented limit of its version (MySQL 16
// before 5.7.8 and 32 since; MariaDB 80, the limit of every 10.x release
// (MariaDB 10.11 reports 128)).
func (s *session) userNameLimit(ctx context.Context) int {
	var n sql.NullInt64
	err := s.conn.QueryRowContext(ctx, "SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS"+
		" WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'user' AND COLUMN_NAME = 'User'").Scan(&n)
	if err == nil && n.Valid && n.Int64 > 0 {
		return int(n.Int64)
	}
	switch {
	case s.server.mariaDB:
		return 80
	case s.server.atLeast(5, 7, 8):
		return 32
	default:
		return 16
	}
}

// nativePasswordHash returns pw's mysql_native_password hash as the
// server stores it and as PASSWORD() computes it: '*' and the upper-case
// hex of SHA1(SHA1(pw)), over the password's UTF-8 bytes (what the
// driver sends at login).
func nativePasswordHash(pw string) string {
	h1 := sha1.Sum([]byte(pw))
	h2 := sha1.Sum(h1[:])
	return "*" + strings.ToUpper(hex.EncodeToString(h2[:]))
}

// identifiedBy returns the clause of ALTER USER and CREATE USER that sets
// the password pw.
//
// On MariaDB it is IDENTIFIED BY PASSWORD '<hash>' (mysql_native_password,
// the plugin IDENTIFIED BY '<password>' sets too): MariaDB writes
// statements to its general and slow query logs and binary log as they
// were sent, so the plaintext password never reaches the server, only the
// hash it stores anyway. On MySQL it is IDENTIFIED BY '<password>', which
// keeps the account's authentication plugin (caching_sha2_password by
// default on 8.0, whose hash is salted and cannot be computed here); MySQL
// rewrites the password as <secret> in those logs (since 5.6.3).
func (s *session) identifiedBy(pw string) (string, error) {
	if s.server.mariaDB {
		lit, err := s.literal(nativePasswordHash(pw))
		if err != nil {
			return "", err
		}
		return "IDENTIFIED BY PASSWORD " + lit, nil
	}
	lit, err := s.literal(pw)
	if err != nil {
		return "", fmt.Errorf("field %q: %w", dbsecret.FieldPassword, err)
	}
	return "IDENTIFIED BY " + lit, nil
}

// setPassword gives every account of user on hosts the password pw, in
// one statement (see identifiedBy for what is sent).
func (s *session) setPassword(ctx context.Context, user string, hosts []string, pw string) error {
	clause, err := s.identifiedBy(pw)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("ALTER USER ")
	for i, h := range hosts {
		acct, err := account(user, h)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(acct + " " + clause)
	}
	return s.execSecret(ctx, "ALTER USER ... IDENTIFIED BY", b.String(), pw, nativePasswordHash(pw))
}

// showGrants returns SHOW GRANTS for acct, one statement per line.
func (s *session) showGrants(ctx context.Context, acct string) ([]string, error) {
	rows, err := s.conn.QueryContext(ctx, "SHOW GRANTS FOR "+acct)
	if err != nil {
		return nil, fmt.Errorf("SHOW GRANTS: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("SHOW GRANTS: %w", err)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("SHOW GRANTS: %w", err)
	}
	return out, nil
}

// copyGrants gives user@host exactly the privileges base@host has: it
// executes base's SHOW GRANTS rewritten for the alternate, then revokes
// what the alternate has beyond them (privileges revoked from base since
// the last rotation) and grants base's again, since a revoke may remove
// a privilege base also holds on the same object. In the steady state
// nothing is revoked.
func (s *session) copyGrants(ctx context.Context, base, user, host string) error {
	baseAcct, err := account(base, host)
	if err != nil {
		return err
	}
	altAcct, err := account(user, host)
	if err != nil {
		return err
	}
	lines, err := s.showGrants(ctx, baseAcct)
	if err != nil {
		return fmt.Errorf("reading the base user's grants: %w", err)
	}
	var want []string
	wanted := map[string]bool{}
	var parsed []*grantLine
	granted := map[string]bool{} // roles granted to base
	for i, l := range lines {
		g, err := parseGrant(l, s.mode, base, host)
		if err != nil {
			return fmt.Errorf("grant %d of %d of the base user: %w", i+1, len(lines), err)
		}
		parsed = append(parsed, g)
		if g.verb == "GRANT" && g.on < 0 {
			granted[g.roles()] = true
		}
	}
	for _, g := range parsed {
		// MariaDB keeps showing a default role after the role itself was
		// revoked; setting it for the alternate would fail.
		if g.verb == "SET DEFAULT ROLE" && !granted[g.roles()] {
			continue
		}
		want = append(want, g.text(altAcct))
		wanted[g.normalized()] = true
	}
	apply := func() error {
		for i, stmt := range want {
			if err := s.exec(ctx, fmt.Sprintf("copying grant %d of %d of the base user to the alternate user", i+1, len(want)), stmt); err != nil {
				return err
			}
		}
		return nil
	}
	if err := apply(); err != nil {
		return err
	}
	have, err := s.showGrants(ctx, altAcct)
	if err != nil {
		return fmt.Errorf("reading the alternate user's grants: %w", err)
	}
	revoked := false
	for i, l := range have {
		g, err := parseGrant(l, s.mode, user, host)
		if err != nil {
			return fmt.Errorf("grant %d of %d of the alternate user: %w", i+1, len(have), err)
		}
		if wanted[g.normalized()] {
			continue
		}
		stmt := g.revoke(altAcct)
		if stmt == "" {
			continue
		}
		if err := s.exec(ctx, fmt.Sprintf("revoking grant %d of %d of the alternate user, which the base user no longer has", i+1, len(have)), stmt); err != nil {
			return err
		}
		revoked = true
	}
	if revoked {
		return apply()
	}
	return nil
}

// test connects as secret, selecting its database, and runs SELECT 1.
func (c *connector) test(ctx context.Context, secret *rotation.Secret) error {
	sec, err := parseSecret(secret)
	if err != nil {
		return err
	}
	s, err := c.open(ctx, sec, true)
	if err != nil {
		return err
	}
	defer s.close()
	var one int
	if err := s.conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("SELECT 1: %w", redact(err, sec.Password))
	}
	return nil
}
