package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
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
// (alternating users). Build it with newService, once per process. It
// holds only configuration and is safe for concurrent use; every call
// opens its own connection (from a copy of base) and closes it.
type service struct {
	// base is the connection configuration every connection copies:
	// parsed once, at cold start (pgx.ParseConfig reads the PG*
	// environment variables and the password file), without a host or a
	// credential, with the driver's plaintext fallbacks removed.
	base *pgx.ConnConfig
	// caFiles override dbsecret.DefaultCAFiles when set.
	caFiles []string
	// admin says where and how the admin credential is used.
	admin dbsecret.AdminPolicy
	// allowedUsers are the users whose password the admin may change in
	// single-user rotation (ALLOWED_USERS); the strategy checks them too.
	allowedUsers []string
	// requireAuth is pgconn's RequireAuth for every connection: the
	// password methods accepted ("scram-sha-256", plus "md5" by opt-in).
	requireAuth string
	// channelBinding is pgconn's ChannelBinding for TLS connections:
	// "require", or "prefer" when md5 is accepted.
	channelBinding string
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

// newService builds the service for c. The base connection configuration
// is parsed here, once: from a URL that names no host and no credential
// (they are set per connection on a copy), with TLS off at this level
// (each connection sets its own TLS configuration) and the connection
// timeout.
func newService(c config) (*service, error) {
	timeout := c.connectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	u := url.URL{
		Scheme:   "postgres",
		Host:     "localhost",
		Path:     "/",
		RawQuery: url.Values{"sslmode": {"disable"}, "connect_timeout": {strconv.Itoa(max(1, int(timeout/time.Second)))}}.Encode(),
	}
	base, err := pgx.ParseConfig(u.String())
	if err != nil {
		// The URL holds no credential; the environment (PG* variables)
		// may be what is wrong.
		return nil, fmt.Errorf("building the base connection configuration failed (check the PG* environment variables): %s", describe(err))
	}
	base.ConnectTimeout = timeout
	base.TLSConfig = nil
	base.Fallbacks = nil
	base.User, base.Password, base.Database = "", "", ""
	base.RuntimeParams["application_name"] = "rotationkit-postgres"
	sv := &service{
		base:           base,
		caFiles:        c.caFiles,
		admin:          c.admin,
		allowedUsers:   c.allowedUsers,
		requireAuth:    "scram-sha-256",
		channelBinding: "require",
		checkPassword:  c.checkPassword,
	}
	if c.allowMD5 {
		// md5 cannot be channel-bound: requiring binding would refuse it.
		sv.requireAuth, sv.channelBinding = "scram-sha-256,md5", "prefer"
	}
	if c.requireAuth != "" {
		sv.requireAuth = c.requireAuth
	}
	return sv, nil
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

// connect opens a connection as s, on a copy of the base configuration:
// TLS is set from s (verify-full unless s relaxes it explicitly; for the
// admin, AdminPolicy.ParseAdmin has set it from the function's
// configuration), the driver's plaintext fallbacks are gone (TLS is never
// downgraded silently), only SCRAM-SHA-256 authentication is accepted (md5
// by opt-in; never a cleartext password, nor none), and over TLS the
// SCRAM exchange must be bound to the channel (SCRAM-SHA-256-PLUS), so a
// server in the middle cannot relay it.
func (sv *service) connect(ctx context.Context, s *dbsecret.Secret) (*pgx.Conn, error) {
	if sv.base == nil {
		return nil, errors.New("internal error: the service was not built with newService")
	}
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	tlsCfg, err := s.TLSConfig(sv.caFiles...)
	if err != nil {
		return nil, fmt.Errorf("TLS for PostgreSQL at %s: %w", addr, err)
	}
	cfg := sv.base.Copy()
	cfg.Host = s.Host
	cfg.Port = uint16(s.Port)
	cfg.TLSConfig = tlsCfg
	cfg.Fallbacks = nil
	cfg.User = s.Username
	cfg.Password = s.Password
	cfg.Database = s.DBName
	cfg.RequireAuth = sv.requireAuth
	cfg.ChannelBinding = "disable" // nothing to bind to in plaintext
	if tlsCfg != nil {
		cfg.ChannelBinding = sv.channelBinding
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		mode := "plaintext, as the secret's \"ssl\": false asks"
		if tlsCfg != nil {
			mode = "TLS, " + string(s.TLS)
		}
		werr := wrap("connecting to PostgreSQL at %s as %q (%s)", err, addr, s.Username, mode)
		if hint := tlsHint(tlsCfg != nil, err); hint != "" {
			werr = &connError{msg: werr.Error() + "; " + hint, err: err}
		} else if hint := authHint(err); hint != "" {
			werr = &connError{msg: werr.Error() + "; " + hint, err: err}
		}
		return nil, werr
	}
	return conn, nil
}

// authHint explains a refused authentication method, or returns "".
func authHint(err error) string {
	msg := describe(err)
	switch {
	case strings.Contains(msg, "authentication method requirement"):
		return "the server asked for another password method than SCRAM-SHA-256 (a cleartext password, md5, or none at all): refused, so the password is never sent where it could be read; use password_encryption = scram-sha-256 and scram-sha-256 in pg_hba.conf (set " + envAllowMD5 + "=true to accept md5)"
	case strings.Contains(msg, "channel binding"):
		return "over TLS the SCRAM exchange must be bound to the connection (SCRAM-SHA-256-PLUS, PostgreSQL 11 and later), so that no server in the middle can relay it; this server (or a proxy in front of it) did not offer it"
	}
	return ""
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
	if req.LoginIsAdmin {
		// The strategy checked AllowedUsers; so does the service, in case
		// it is ever used without it.
		if !slices.Contains(sv.allowedUsers, pending.Username) {
			return fmt.Errorf("%w: field %q names a user that is not in %s; the admin credential changes only the users listed there", strategy.ErrUserMismatch, dbsecret.FieldUsername, envAllowedUsers)
		}
		login, err = sv.adminLogin(req.Login, pending)
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
		if req.LoginIsAdmin {
			if err := checkAdminMayChange(ctx, tx, pending.Username); err != nil {
				return err
			}
		}
		return alterPassword(ctx, tx, pending.Username, verifier)
	})
}

// adminLogin parses the admin credential for target's server with the
// function's AdminPolicy: the server is the admin secret's or the one
// DB_ADMIN_ENDPOINT pins (the rotated secret must name the same), and the
// connection uses TLS verified against the function's CA bundles, whatever
// the secrets' "ssl", "sslmode" and "sslrootcert" say (unless
// DB_ADMIN_ALLOW_PLAINTEXT, for tests).
func (sv *service) adminLogin(admin *rotation.Secret, target *dbsecret.Secret) (*dbsecret.Secret, error) {
	return sv.admin.ParseAdmin(admin, target, dbsecret.PostgreSQL)
}

// roleAttrs are the attributes of a role that make it more than an
// application user, as pg_roles names them.
type roleAttrs struct {
	super, createRole, createDB, bypassRLS, replication bool
}

// readRoleAttrs reads role's attributes; ok is false if it does not exist.
func readRoleAttrs(ctx context.Context, tx pgx.Tx, role string) (a roleAttrs, ok bool, err error) {
	err = tx.QueryRow(ctx, "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication FROM pg_catalog.pg_roles WHERE rolname = $1", role).
		Scan(&a.super, &a.createRole, &a.createDB, &a.bypassRLS, &a.replication)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, wrap("reading the attributes of role %q", err, role)
	}
	return a, true, nil
}

// names returns the attributes that are set among those asked for, in
// CREATE ROLE's spelling.
func (a roleAttrs) names(createDB bool) []string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{a.super, "SUPERUSER"}, {a.createRole, "CREATEROLE"}, {a.createDB && createDB, "CREATEDB"}, {a.bypassRLS, "BYPASSRLS"}, {a.replication, "REPLICATION"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	return out
}

// checkAdminMayChange refuses to have the admin reset the password of a
// privileged role (SUPERUSER, CREATEROLE, BYPASSRLS or REPLICATION): in
// single-user rotation the rotated secret names the user, and ALLOWED_USERS
// is the only other guard, so a privileged role listed there by mistake
// must not become reachable through the application's secret.
func checkAdminMayChange(ctx context.Context, tx pgx.Tx, role string) error {
	a, ok, err := readRoleAttrs(ctx, tx, role)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("role %q (field %q) does not exist", role, dbsecret.FieldUsername)
	}
	if bad := a.names(false); len(bad) > 0 {
		return fmt.Errorf("refusing to change the password of role %q as the admin: it has %s; the admin credential changes only unprivileged roles (rotate a privileged role with its own password: a secret without %q)", role, strings.Join(bad, ", "), dbsecret.FieldMasterARN)
	}
	return nil
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
	admin, err := sv.adminLogin(req.Login, pending)
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
// clone's membership and settings on every rotation. A clone it creates
// has none of the attributes that make a role more than an application
// user (NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS NOREPLICATION; it
// uses the base role's through "SET role"); an existing role of that name
// that has any of them is refused, not taken over: someone made it, and
// the admin would otherwise hand its password to whoever reads the secret.
func cloneRole(ctx context.Context, tx pgx.Tx, base, clone string, exists bool) error {
	if ok, err := roleExists(ctx, tx, base); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("the base user %q does not exist", base)
	}
	if exists {
		a, ok, err := readRoleAttrs(ctx, tx, clone)
		if err != nil {
			return err
		}
		if bad := a.names(true); ok && len(bad) > 0 {
			return fmt.Errorf("refusing to use the existing role %q as the alternate of %q: it has %s, which a clone never needs (it acts as the base role through SET role); drop it, or remove the attributes (ALTER ROLE %s NO...), if it is the clone", clone, base, strings.Join(bad, ", "), ident(clone))
		}
	} else {
		// Created without a password; alterPassword sets it in the same
		// transaction, so no one sees a clone without one.
		if _, err := tx.Exec(ctx, "CREATE ROLE "+ident(clone)+" LOGIN INHERIT NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS NOREPLICATION"); err != nil {
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
