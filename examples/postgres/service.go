package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
)

// maxIdentifierBytes is PostgreSQL's identifier limit (NAMEDATALEN-1).
// Longer names are silently truncated by the server, which could make a
// statement act on another role: they are refused instead.
const maxIdentifierBytes = 63

// service talks to PostgreSQL for both strategies: it implements
// strategy.PasswordService (single user) and strategy.UserService
// (alternating users). It holds only configuration and is safe for
// concurrent use; every call opens its own connection and closes it.
type service struct {
	// caFiles override dbsecret.DefaultCAFiles when set.
	caFiles []string
	// connectTimeout bounds each connection attempt.
	connectTimeout time.Duration
	// pair, in the pre-created mode, names the two users; they must share
	// a role (the owner of the application's objects). Empty in the
	// cloning mode.
	pair [2]string
	// checkPassword, if set, is called after a successful login in Test.
	// Tests set it to check the password against the stored SCRAM
	// verifier, because a test server with "trust" authentication lets
	// any password in. Nil in production.
	checkPassword func(ctx context.Context, s *dbsecret.Secret) error
}

var (
	_ strategy.PasswordService = (*service)(nil)
	_ strategy.UserService     = (*service)(nil)
)

// connError is an error from the server or the driver, with a message
// built here: pgx's own messages can carry connection details, so only
// the parts known to be safe (the server's message and SQLSTATE, or the
// network error) are shown. Unwrap still gives the driver's error for
// errors.As (for example *pgconn.PgError).
type connError struct {
	msg string
	err error
}

func (e *connError) Error() string { return e.msg }
func (e *connError) Unwrap() error { return e.err }

// describe returns a message for a driver error that holds no connection
// string or password.
func describe(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s: %s (SQLSTATE %s)", pgErr.Severity, pgErr.Message, pgErr.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out: " + context.DeadlineExceeded.Error()
	}
	if errors.Is(err, context.Canceled) {
		return context.Canceled.Error()
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		// ConnectError's text repeats the user and database; the cause
		// names the address and what failed.
		if inner := errors.Unwrap(ce); inner != nil {
			return inner.Error()
		}
		return "connection failed"
	}
	return err.Error()
}

func wrap(format string, err error, args ...any) error {
	return &connError{msg: fmt.Sprintf(format, args...) + ": " + describe(err), err: err}
}

// connect opens a connection as s. The configuration is parsed from a URL
// built here that holds no credential (user and password are set on the
// parsed config), TLS is set from the secret (verify-full unless the
// secret relaxes it explicitly) and the driver's plaintext fallbacks are
// removed: TLS is never downgraded silently.
func (sv *service) connect(ctx context.Context, s *dbsecret.Secret) (*pgx.Conn, error) {
	timeout := sv.connectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	u := url.URL{
		Scheme:   "postgres",
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/",
		RawQuery: url.Values{"sslmode": {"disable"}, "connect_timeout": {strconv.Itoa(max(1, int(timeout/time.Second)))}}.Encode(),
	}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		// The URL holds no credential, but say only what was wrong.
		return nil, errors.New("building the connection configuration from the secret's host and port failed")
	}
	tlsCfg, err := s.TLSConfig(sv.caFiles...)
	if err != nil {
		return nil, fmt.Errorf("TLS for PostgreSQL at %s: %w", u.Host, err)
	}
	cfg.TLSConfig = tlsCfg
	cfg.Fallbacks = nil
	cfg.User = s.Username
	cfg.Password = s.Password
	cfg.Database = s.DBName
	cfg.RuntimeParams["application_name"] = "rotationkit-postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		mode := "plaintext, as the secret's \"ssl\": false asks"
		if tlsCfg != nil {
			mode = "TLS, " + string(s.TLS)
		}
		werr := wrap("connecting to PostgreSQL at %s as %q (%s)", err, u.Host, s.Username, mode)
		if hint := tlsHint(tlsCfg != nil, err); hint != "" {
			werr = &connError{msg: werr.Error() + "; " + hint, err: err}
		}
		return nil, werr
	}
	return conn, nil
}

// tlsHint explains a failed TLS connection, or returns "".
func tlsHint(required bool, err error) string {
	if !required {
		return ""
	}
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &cve), errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci):
		return `TLS was required and the server certificate did not verify: trust its CA with the secret's "sslrootcert" or the function's CA_BUNDLE (for RDS, package global-bundle.pem), connect to a host name the certificate names, or relax verification explicitly with "sslmode"`
	case strings.Contains(describe(err), "refused TLS"):
		return `the server does not offer TLS, and TLS was required (the secret's "ssl" is absent or true): it is never downgraded to plaintext; enable TLS on the server, or set "ssl": false in the secret to allow plaintext`
	case strings.Contains(strings.ToLower(describe(err)), "tls"):
		return `TLS was required (the secret's "ssl" is absent or true) and the TLS handshake failed`
	}
	return ""
}

// Test connects with secret and runs SELECT 1.
func (sv *service) Test(ctx context.Context, secret *rotation.Secret) error {
	s, err := dbsecret.Parse(secret, dbsecret.PostgreSQL)
	if err != nil {
		return err
	}
	conn, err := sv.connect(ctx, s)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return wrap("SELECT 1 as %q", err, s.Username)
	}
	if sv.checkPassword != nil {
		return sv.checkPassword(ctx, s)
	}
	return nil
}

// checkRole refuses role names PostgreSQL would truncate.
func checkRole(name string) error {
	if len(name) > maxIdentifierBytes {
		return fmt.Errorf("%w: field %q: the user name is %d bytes long, over PostgreSQL's limit of %d (the server would truncate it and act on another role)", rotation.ErrInvalidSecret, dbsecret.FieldUsername, len(name), maxIdentifierBytes)
	}
	return nil
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// Change sets the password of req.New's user (single-user strategy),
// logged in as that user with its old password or as the admin.
func (sv *service) Change(ctx context.Context, req *strategy.ChangeRequest) error {
	pending, err := dbsecret.Parse(req.New, dbsecret.PostgreSQL)
	if err != nil {
		return err
	}
	if err := checkRole(pending.Username); err != nil {
		return err
	}
	var login *dbsecret.Secret
	if req.Admin {
		login, err = dbsecret.ParseAdmin(req.Login, pending, dbsecret.PostgreSQL)
	} else {
		login, err = dbsecret.Parse(req.Login, dbsecret.PostgreSQL)
		if err == nil && login.Username != pending.Username {
			err = fmt.Errorf("%w: field %q differs between the current and pending values; single-user rotation changes one user's password", rotation.ErrInvalidSecret, dbsecret.FieldUsername)
		}
	}
	if err != nil {
		return err
	}
	verifier, err := scramVerifier(pending.Password)
	if err != nil {
		return err
	}
	conn, err := sv.connect(ctx, login)
	if err != nil {
		// An overlapping invocation may have changed the password between
		// the strategy's test of the old one and this login: done if the
		// new one works.
		if terr := sv.Test(ctx, req.New); terr == nil {
			return nil
		}
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return inTx(ctx, conn, pending.Username, func(tx pgx.Tx) error {
		return alterPassword(ctx, tx, pending.Username, verifier)
	})
}

// inTx runs fn in a transaction holding an advisory lock on role, so two
// overlapping invocations do not update the same pg_authid row at once
// ("tuple concurrently updated").
func inTx(ctx context.Context, conn *pgx.Conn, role string, fn func(pgx.Tx) error) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return wrap("BEGIN", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "rotationkit/role/"+role); err != nil {
		return wrap("taking the advisory lock for role %q", err, role)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("COMMIT", err)
	}
	return nil
}

// alterPassword installs a SCRAM verifier. ALTER ROLE takes no bind
// parameters, so the verifier (base64, digits, '$' and ':') is quoted as
// a literal; the password itself is never sent.
func alterPassword(ctx context.Context, tx pgx.Tx, role, verifier string) error {
	lit, err := quoteLiteral(verifier)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "ALTER ROLE "+ident(role)+" PASSWORD "+lit); err != nil {
		return wrap("setting the password of role %q", err, role)
	}
	return nil
}

func roleExists(ctx context.Context, tx pgx.Tx, role string) (bool, error) {
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = $1", role).Scan(&n); err != nil {
		return false, wrap("looking up role %q", err, role)
	}
	return n > 0, nil
}

// SetPassword sets the password of req.User as the admin (alternating
// users). In the cloning mode it first makes req.User (the clone) act as
// req.Base: it is created if missing, made a member of the base role
// (GRANT base TO clone: it inherits every privilege the base role has now
// or is granted later) and given "SET role = base", so its sessions run
// as the base role and objects it creates are owned by the base role and
// usable by both. Every statement is safe to repeat. In the pre-created
// mode the two users must exist and share a role.
func (sv *service) SetPassword(ctx context.Context, req *strategy.SetPasswordRequest) error {
	pending, err := dbsecret.Parse(req.Pending, dbsecret.PostgreSQL)
	if err != nil {
		return err
	}
	if pending.Username != req.User {
		return fmt.Errorf("%w: field %q of the pending value is not the user to change", strategy.ErrUserMismatch, dbsecret.FieldUsername)
	}
	for _, r := range []string{req.User, req.Base} {
		if err := checkRole(r); err != nil {
			return err
		}
	}
	admin, err := dbsecret.ParseAdmin(req.Admin, pending, dbsecret.PostgreSQL)
	if err != nil {
		return err
	}
	verifier, err := scramVerifier(pending.Password)
	if err != nil {
		return err
	}
	conn, err := sv.connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("as the admin: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return inTx(ctx, conn, req.User, func(tx pgx.Tx) error {
		exists, err := roleExists(ctx, tx, req.User)
		if err != nil {
			return err
		}
		precreated := sv.pair[0] != "" && sv.pair[1] != ""
		switch {
		case precreated:
			if !exists {
				return fmt.Errorf("the pre-created user %q does not exist; create both users first (see README)", req.User)
			}
			other := sv.pair[0]
			if req.User == other {
				other = sv.pair[1]
			}
			if err := shareRole(ctx, tx, req.User, other); err != nil {
				return err
			}
		case req.User == req.Base:
			if !exists {
				return fmt.Errorf("the base user %q does not exist", req.User)
			}
		default:
			if err := cloneRole(ctx, tx, req.Base, req.User, exists); err != nil {
				return err
			}
		}
		return alterPassword(ctx, tx, req.User, verifier)
	})
}

// cloneRole makes clone act as base. It is idempotent: it converges the
// clone's membership and settings on every rotation.
func cloneRole(ctx context.Context, tx pgx.Tx, base, clone string, exists bool) error {
	if ok, err := roleExists(ctx, tx, base); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("the base user %q does not exist", base)
	}
	if !exists {
		// Created without a password; alterPassword sets it in the same
		// transaction, so no one sees a clone without one.
		if _, err := tx.Exec(ctx, "CREATE ROLE "+ident(clone)+" LOGIN INHERIT"); err != nil {
			return wrap("creating role %q", err, clone)
		}
	}
	baseLit, err := quoteLiteral(base)
	if err != nil {
		return err
	}
	stmts := []struct{ sql, what string }{
		{"ALTER ROLE " + ident(clone) + " LOGIN INHERIT", "making role %q a login role that inherits"},
		{"GRANT " + ident(base) + " TO " + ident(clone), "granting the base role to %q"},
		{"ALTER ROLE " + ident(clone) + " SET role = " + baseLit, "setting role %q to act as the base role"},
	}
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st.sql); err != nil {
			return wrap(st.what, err, clone)
		}
	}
	return nil
}

// shareRole checks that a and b are members of a common role.
func shareRole(ctx context.Context, tx pgx.Tx, a, b string) error {
	const q = `SELECT count(*) FROM pg_catalog.pg_auth_members ma
		JOIN pg_catalog.pg_auth_members mb ON ma.roleid = mb.roleid
		WHERE ma.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
		  AND mb.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2)`
	var n int
	if err := tx.QueryRow(ctx, q, a, b).Scan(&n); err != nil {
		return wrap("checking the roles of %q", err, a)
	}
	if n == 0 {
		return fmt.Errorf("the pre-created users %q and %q share no role: grant them a common owner role (GRANT app_owner TO both) so objects either creates stay usable by the other (see README)", a, b)
	}
	return nil
}
