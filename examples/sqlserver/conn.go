package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/microsoft/go-mssqldb/msdsn"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

// connector opens connections to SQL Server. It holds only configuration
// and is safe for concurrent use; every session is opened and closed
// within one call.
type connector struct {
	caFiles      []string // replace dbsecret.DefaultCAFiles when set
	timeout      time.Duration
	admin        dbsecret.AdminPolicy
	newConnector func(msdsn.Config) driver.Connector
}

// driverConfig returns the go-mssqldb configuration for s:
//
//   - encryption: encrypt=true (the whole session over TLS) with the
//     server certificate verified against s.Host and the CA bundles
//     (dbsecret.Secret.TLSConfig), never TrustServerCertificate; "sslmode"
//     may relax verification explicitly ("require", "verify-ca"); an
//     explicit "ssl": false selects the driver's encrypt=false, where only
//     the login packet is encrypted, without verification;
//   - the credential is set on the struct, never written into a DSN
//     string, so it cannot be misparsed;
//   - database/sql's retry on a bad connection is off, so a statement is
//     never sent twice behind the function's back.
func (c *connector) driverConfig(s *dbsecret.Secret) (msdsn.Config, error) {
	tlsCfg, err := s.TLSConfig(c.caFiles...)
	if err != nil {
		return msdsn.Config{}, fmt.Errorf("TLS for SQL Server at %s: %w", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), err)
	}
	q := url.Values{}
	q.Set("database", s.DBName)
	q.Set("app name", "rotationkit")
	q.Set("trustservercertificate", "false")
	if tlsCfg != nil {
		q.Set("encrypt", "true")
	} else {
		q.Set("encrypt", "false")
	}
	u := url.URL{Scheme: "sqlserver", Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), RawQuery: q.Encode()}
	cfg, err := msdsn.Parse(u.String())
	if err != nil {
		return msdsn.Config{}, fmt.Errorf("building the SQL Server connection configuration: %w", err)
	}
	cfg.User = s.Username
	cfg.Password = s.Password
	cfg.DisableRetry = true
	cfg.TrustServerCertificate = false
	if c.timeout > 0 {
		cfg.DialTimeout = c.timeout
	}
	if tlsCfg != nil {
		cfg.Encryption = msdsn.EncryptionRequired
		cfg.TLSConfig = tlsCfg
	} else {
		// encrypt=false: the driver encrypts the login packet with a
		// certificate it does not verify; the secret asked for this.
		cfg.Encryption = msdsn.EncryptionOff
		cfg.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true, ServerName: s.Host} //nolint:gosec // explicit "ssl": false
	}
	return cfg, nil
}

// session is one connection, as one principal.
type session struct {
	db   *sql.DB
	conn *sql.Conn
	user string
	// secrets are the values that must never appear in an error.
	secrets []string
}

// open connects with s. The context bounds the connection; c.timeout
// bounds the dial.
func (c *connector) open(ctx context.Context, s *dbsecret.Secret) (*session, error) {
	cfg, err := c.driverConfig(s)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c.newConnector(cfg))
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, connectError(s, err)
	}
	return &session{db: db, conn: conn, user: s.Username, secrets: []string{s.Password}}, nil
}

func (s *session) close() {
	_ = s.conn.Close()
	_ = s.db.Close()
}

// connectError describes a failed connection without the password,
// adding a hint for TLS failures.
func connectError(s *dbsecret.Secret, err error) error {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	mode := "encrypt=true, " + string(s.TLS)
	if s.TLS == dbsecret.TLSDisable {
		mode = `encrypt=false, as the secret's "ssl": false asks`
	}
	err = redact(fmt.Sprintf("connecting to SQL Server at %s as %q (%s)", addr, s.Username, mode), err, s.Password)
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	if errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) || strings.Contains(err.Error(), "certificate") {
		return fmt.Errorf(`%w; the server certificate did not verify: package the RDS CA bundle (global-bundle.pem) with the function or name it in %s or the secret's "sslrootcert", and connect to the host name the certificate names (the RDS endpoint, not an IP or a CNAME); TrustServerCertificate is never set`, err, envCABundle)
	}
	return err
}

// exec runs a statement; errors never hold the statement's arguments.
func (s *session) exec(ctx context.Context, what, stmt string, args ...any) error {
	if _, err := s.conn.ExecContext(ctx, stmt, args...); err != nil {
		return s.wrap(what, err)
	}
	return nil
}

// wrap describes err from what without any of the session's secrets or
// the arguments the caller passes in extra.
func (s *session) wrap(what string, err error, extra ...string) error {
	return redact(what, err, append(append([]string(nil), s.secrets...), extra...)...)
}

// redact returns err described as what, with every secret removed from
// its text.
func redact(what string, err error, secrets ...string) error {
	// rotation.Scrub cuts every encoded form of each value (a driver may
	// echo a password URL-escaped inside a connection string); values too
	// short for it are cut raw.
	vals := make([]*rotation.Secret, 0, len(secrets))
	for _, v := range secrets {
		if v != "" {
			vals = append(vals, rotation.NewString(v))
		}
	}
	msg := rotation.Scrub(errors.New(err.Error()), vals...).Error()
	for _, v := range secrets {
		if v != "" {
			msg = strings.ReplaceAll(msg, v, "[REDACTED]")
		}
	}
	return &dbError{what: what, msg: msg, err: err}
}

// dbError is a failed statement: what was being done and the server's
// message, with secrets removed. Unwrap gives the driver's error for
// errors.As; its text is not repeated.
type dbError struct {
	what, msg string
	err       error
}

func (e *dbError) Error() string { return e.what + ": " + e.msg }
func (e *dbError) Unwrap() error { return e.err }

// query runs a query and scans every row with scan.
func (s *session) query(ctx context.Context, what, q string, scan func(*sql.Rows) error, args ...any) error {
	rows, err := s.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return s.wrap(what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return s.wrap(what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap(what, err)
	}
	return nil
}

// test connects with secret and runs SELECT 1.
func (c *connector) test(ctx context.Context, secret *rotation.Secret) error {
	s, err := parseSecret(secret)
	if err != nil {
		return err
	}
	sess, err := c.open(ctx, s)
	if err != nil {
		return err
	}
	defer sess.close()
	var one int
	if err := sess.conn.QueryRowContext(ctx, sqlSelectOne).Scan(&one); err != nil {
		return sess.wrap("SELECT 1", err)
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

// adminSecret parses the admin credential for the server of target with
// the function's admin policy (dbsecret.AdminPolicy): the rotated secret
// never decides where the admin password goes nor whether TLS is
// verified. The admin works in target's database (where the users to
// change are), whatever database the admin secret names.
func (c *connector) adminSecret(admin *rotation.Secret, target *dbsecret.Secret) (*dbsecret.Secret, error) {
	a, err := c.admin.ParseAdmin(admin, target, dbsecret.SQLServer)
	if err != nil {
		return nil, err
	}
	a.DBName = target.DBName
	return a, nil
}
