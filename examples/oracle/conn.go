package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	goora "github.com/sijms/go-ora/v2"
)

// connector opens connections to Oracle. It holds only configuration and
// is safe for concurrent use; every session is opened and closed within
// one call.
type connector struct {
	caFiles      []string // replace dbsecret.DefaultCAFiles when set
	timeout      time.Duration
	admin        dbsecret.AdminPolicy
	newConnector func(dsn string, tlsCfg *tls.Config) driver.Connector
}

// driverConfig returns the go-ora URL and TLS configuration for s:
//
//   - TLS: TCPS ("SSL": "true"), TLS from the first byte, with the server
//     certificate verified against s.Host and the CA bundles
//     (dbsecret.Secret.TLSConfig); go-ora uses the tls.Config given and
//     ignores its wallet settings. "sslmode" may relax verification
//     explicitly; an explicit "ssl": false selects plain TCP;
//   - the URL is built by goora.BuildUrl, which escapes every character of
//     the user name and password (the password is in the URL because
//     go-ora takes it nowhere else; the URL never leaves this process);
//   - TIMEOUT bounds each network operation, the connection included.
func (c *connector) driverConfig(s *dbsecret.Secret) (string, *tls.Config, error) {
	tlsCfg, err := s.TLSConfig(c.caFiles...)
	if err != nil {
		return "", nil, fmt.Errorf("TLS for Oracle at %s: %w", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), err)
	}
	opts := map[string]string{"SSL": "false", "PROGRAM": "rotationkit"}
	if tlsCfg != nil {
		opts["SSL"] = "true"
		opts["SSL VERIFY"] = "true"
	}
	if c.timeout > 0 {
		opts["TIMEOUT"] = strconv.Itoa(int(math.Ceil(c.timeout.Seconds())))
	}
	return goora.BuildUrl(s.Host, s.Port, s.DBName, s.Username, s.Password, opts), tlsCfg, nil
}

// session is one connection, as one user.
type session struct {
	db      *sql.DB
	conn    *sql.Conn
	secrets []string // values that must never appear in an error
}

// open connects with s.
func (c *connector) open(ctx context.Context, s *dbsecret.Secret) (*session, error) {
	dsn, tlsCfg, err := c.driverConfig(s)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c.newConnector(dsn, tlsCfg))
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, connectError(s, err)
	}
	return &session{db: db, conn: conn, secrets: []string{s.Password}}, nil
}

func (s *session) close() {
	_ = s.conn.Close()
	_ = s.db.Close()
}

// connectError describes a failed connection without the password,
// adding a hint for TLS failures.
func connectError(s *dbsecret.Secret, err error) error {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	mode := "TCPS, " + string(s.TLS)
	if s.TLS == dbsecret.TLSDisable {
		mode = `plain TCP, as the secret's "ssl": false asks`
	}
	err = redact(fmt.Sprintf("connecting to Oracle at %s as %q (%s)", addr, s.Username, mode), err, s.Password)
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) || strings.Contains(err.Error(), "certificate"):
		return fmt.Errorf(`%w; the server certificate did not verify: package the RDS CA bundle (global-bundle.pem) with the function or name it in %s or the secret's "sslrootcert", and connect to the host name the certificate names`, err, envCABundle)
	case s.TLS != dbsecret.TLSDisable && (errors.As(err, &rh) || strings.Contains(err.Error(), "first record does not look like a TLS handshake")):
		return fmt.Errorf(`%w; the port does not speak TCPS: on RDS, TCPS is served by the SSL option of the option group, on its own port (2484 by default); set "port" to it, or "ssl": false to connect in plain TCP`, err)
	}
	return err
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

// dbError is a failed operation: what was being done and the server's
// message, with secrets removed.
type dbError struct {
	what, msg string
	err       error
}

func (e *dbError) Error() string { return e.what + ": " + e.msg }
func (e *dbError) Unwrap() error { return e.err }

func (s *session) wrap(what string, err error) error { return redact(what, err, s.secrets...) }

// exec runs a statement; its text may hold passwords, so it never
// appears in an error, and neither do the session's secrets.
func (s *session) exec(ctx context.Context, what, stmt string) error {
	if _, err := s.conn.ExecContext(ctx, stmt); err != nil {
		return s.wrap(what, err)
	}
	return nil
}

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

// test connects with secret and runs SELECT 1 FROM DUAL.
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
		return sess.wrap("SELECT 1 FROM DUAL", err)
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 FROM DUAL returned %d", one)
	}
	return nil
}

// adminSecret parses the admin credential for the server of target with
// the function's admin policy (dbsecret.AdminPolicy). The admin connects
// to target's service, whatever service the admin secret names.
func (c *connector) adminSecret(admin *rotation.Secret, target *dbsecret.Secret) (*dbsecret.Secret, error) {
	a, err := c.admin.ParseAdmin(admin, target, dbsecret.Oracle)
	if err != nil {
		return nil, err
	}
	a.DBName = target.DBName
	return a, nil
}
