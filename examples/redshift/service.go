package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
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

// service talks to Redshift for both strategies: strategy.PasswordService
// (single user) and strategy.UserService (alternating users). It holds
// only configuration and is safe for concurrent use; every call opens its
// own connection and closes it.
type service struct {
	base         *pgx.ConnConfig
	caFiles      []string
	admin        dbsecret.AdminPolicy
	allowedUsers []string
	hash         string    // hashMD5 or hashSCRAM
	pair         [2]string // pre-created mode
}

var (
	_ strategy.PasswordService = (*service)(nil)
	_ strategy.UserService     = (*service)(nil)
)

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
		return nil, fmt.Errorf("building the base connection configuration failed (check the PG* environment variables): %s", describe(err))
	}
	base.ConnectTimeout = timeout
	base.TLSConfig = nil
	base.Fallbacks = nil
	base.User, base.Password, base.Database = "", "", ""
	base.RuntimeParams["application_name"] = "rotationkit-redshift"
	// Redshift does not support the extended protocol's statement cache
	// well for catalog queries; simple protocol is what its drivers use.
	base.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return &service{base: base, caFiles: c.caFiles, admin: c.admin, allowedUsers: c.allowedUsers, hash: c.hash, pair: c.users}, nil
}

// connError carries a message built from parts known to hold no secret.
type connError struct {
	msg string
	err error
}

func (e *connError) Error() string { return e.msg }
func (e *connError) Unwrap() error { return e.err }

// describe returns a message for a driver error that holds no password.
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

// connect opens a connection as s: TLS from s (verify-full unless s
// relaxes it explicitly; never a plaintext fallback), and only md5 or
// SCRAM-SHA-256 authentication (Redshift uses md5 salted challenges): a
// server that asks for the password in cleartext, or for none, is refused
// before the password is sent.
func (sv *service) connect(ctx context.Context, s *dbsecret.Secret) (*pgx.Conn, error) {
	if sv.base == nil {
		return nil, errors.New("internal error: the service was not built with newService")
	}
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	tlsCfg, err := s.TLSConfig(sv.caFiles...)
	if err != nil {
		return nil, fmt.Errorf("TLS for Redshift at %s: %w", addr, err)
	}
	cfg := sv.base.Copy()
	cfg.Host = s.Host
	cfg.Port = uint16(s.Port)
	cfg.TLSConfig = tlsCfg
	cfg.Fallbacks = nil
	cfg.User = s.Username
	cfg.Password = s.Password
	cfg.Database = s.DBName
	cfg.RequireAuth = "md5,scram-sha-256"
	cfg.ChannelBinding = "disable"
	if tlsCfg != nil {
		cfg.ChannelBinding = "prefer"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		mode := "plaintext, as the secret's \"ssl\": false asks"
		if tlsCfg != nil {
			mode = "TLS, " + string(s.TLS)
		}
		werr := wrap("connecting to Redshift at %s as %q (%s)", err, addr, s.Username, mode)
		if hint := tlsHint(tlsCfg != nil, err); hint != "" {
			werr = &connError{msg: werr.Error() + "; " + hint, err: err}
		} else if strings.Contains(describe(err), "authentication method requirement") {
			werr = &connError{msg: werr.Error() + "; the server asked for a cleartext password or none: refused, so the password is never sent where it could be read", err: err}
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
		return `TLS was required and the server certificate did not verify: trust its CA with the secret's "sslrootcert" or the function's CA_BUNDLE (Redshift's certificates chain to Amazon's public CAs, in the system bundle; older clusters need the Redshift CA bundle), connect to the endpoint name the certificate holds, or relax verification explicitly with "sslmode"`
	case strings.Contains(describe(err), "refused TLS"):
		return `the server does not offer TLS, and TLS was required (the secret's "ssl" is absent or true): it is never downgraded to plaintext; set "ssl": false in the secret to allow plaintext knowingly`
	case strings.Contains(strings.ToLower(describe(err)), "tls"):
		return `TLS was required (the secret's "ssl" is absent or true) and the TLS handshake failed`
	}
	return ""
}

// Test connects with secret and runs SELECT 1.
func (sv *service) Test(ctx context.Context, secret *rotation.Secret) error {
	s, err := dbsecret.Parse(secret, dbsecret.Redshift)
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
	return nil
}

// Change sets the password of req.New's user (single user), logged in as
// that user with its old password or as the admin.
func (sv *service) Change(ctx context.Context, req *strategy.ChangeRequest) error {
	pending, err := sv.parsePending(req.New)
	if err != nil {
		return err
	}
	var login *dbsecret.Secret
	if req.LoginIsAdmin {
		if !slices.Contains(sv.allowedUsers, pending.Username) {
			return fmt.Errorf("%w: field %q names a user that is not in %s; the admin credential changes only the users listed there", strategy.ErrUserMismatch, dbsecret.FieldUsername, envAllowedUsers)
		}
		login, err = sv.admin.ParseAdmin(req.Login, pending, dbsecret.Redshift)
	} else {
		login, err = dbsecret.Parse(req.Login, dbsecret.Redshift)
		if err == nil && login.Username != pending.Username {
			err = fmt.Errorf("%w: field %q differs between the current and pending values; single-user rotation changes one user's password", rotation.ErrInvalidSecret, dbsecret.FieldUsername)
		}
	}
	if err != nil {
		return err
	}
	hashed, err := hashFor(sv.hash, pending.Username, pending.Password)
	if err != nil {
		return err
	}
	stmt, err := alterPasswordSQL(pending.Username, hashed)
	if err != nil {
		return err
	}
	conn, err := sv.connect(ctx, login)
	if err != nil {
		// An overlapping invocation may have changed the password already.
		if terr := sv.Test(ctx, req.New); terr == nil {
			return nil
		}
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if req.LoginIsAdmin {
		super, _, ok, err := readUser(ctx, conn, pending.Username)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("user %q (field %q) does not exist", pending.Username, dbsecret.FieldUsername)
		}
		if super {
			return fmt.Errorf("refusing to change the password of user %q as the admin: it is a superuser (CREATEUSER); rotate it with its own password: a secret without %q", pending.Username, dbsecret.FieldMasterARN)
		}
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return wrap("setting the password of user %q", err, pending.Username)
	}
	return nil
}

// parsePending parses a pending value and applies Redshift's rules to its
// user name and password.
func (sv *service) parsePending(v *rotation.Secret) (*dbsecret.Secret, error) {
	s, err := dbsecret.Parse(v, dbsecret.Redshift)
	if err != nil {
		return nil, err
	}
	if err := checkUser(dbsecret.FieldUsername, s.Username); err != nil {
		return nil, err
	}
	if err := checkPassword(s.Password); err != nil {
		return nil, err
	}
	return s, nil
}

// readUser reads whether user exists, is a superuser and may create
// databases.
func readUser(ctx context.Context, conn *pgx.Conn, user string) (super, createDB, ok bool, err error) {
	err = conn.QueryRow(ctx, userQuery, user).Scan(&super, &createDB)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, false, nil
	}
	if err != nil {
		return false, false, false, wrap("reading user %q", err, user)
	}
	return super, createDB, true, nil
}

// isRedshift reports whether conn is to Redshift (not a PostgreSQL server
// standing in for it): only then are roles and object privileges read
// from Redshift's SVV_* views.
func isRedshift(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return false, wrap("SELECT version()", err)
	}
	return strings.Contains(v, "Redshift"), nil
}

// grantsOf reads the groups, roles and (on Redshift) direct schema and
// relation privileges of user.
func grantsOf(ctx context.Context, conn *pgx.Conn, user string, redshift bool) ([]grant, error) {
	var out []grant
	read := func(q string, scan func(pgx.Rows) (grant, error)) error {
		rows, err := conn.Query(ctx, q, user)
		if err != nil {
			return wrap("reading the grants of %q", err, user)
		}
		defer rows.Close()
		for rows.Next() {
			g, err := scan(rows)
			if err != nil {
				return wrap("reading the grants of %q", err, user)
			}
			out = append(out, g)
		}
		if err := rows.Err(); err != nil {
			return wrap("reading the grants of %q", err, user)
		}
		return nil
	}
	if err := read(groupsQuery, func(r pgx.Rows) (grant, error) {
		g := grant{kind: groupGrant}
		return g, r.Scan(&g.name)
	}); err != nil {
		return nil, err
	}
	if !redshift {
		return out, nil
	}
	if err := read(rolesQuery, func(r pgx.Rows) (grant, error) {
		g := grant{kind: roleGrant}
		return g, r.Scan(&g.name)
	}); err != nil {
		return nil, err
	}
	if err := read(schemaPrivilegesQuery, func(r pgx.Rows) (grant, error) {
		g := grant{kind: schemaGrant}
		return g, r.Scan(&g.name, &g.privilege)
	}); err != nil {
		return nil, err
	}
	if err := read(databasePrivilegesQuery, func(r pgx.Rows) (grant, error) {
		g := grant{kind: databaseGrant}
		return g, r.Scan(&g.name, &g.privilege)
	}); err != nil {
		return nil, err
	}
	if err := read(relationPrivilegesQuery, func(r pgx.Rows) (grant, error) {
		g := grant{kind: relationGrant}
		return g, r.Scan(&g.schema, &g.name, &g.privilege)
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// SetPassword sets the password of req.User as the admin (alternating
// users). In the cloning mode it first creates req.User if missing (no
// superuser, no CREATEDB) and converges its groups, roles and direct
// object privileges to req.Base's; in the pre-created mode both users must
// exist and share a group or role. The password is set last.
func (sv *service) SetPassword(ctx context.Context, req *strategy.SetPasswordRequest) error {
	pending, err := sv.parsePending(req.Pending)
	if err != nil {
		return err
	}
	if pending.Username != req.User {
		return fmt.Errorf("%w: field %q of the pending value is not the user to change", strategy.ErrUserMismatch, dbsecret.FieldUsername)
	}
	if err := checkUser(dbsecret.FieldUsername, req.Base); err != nil {
		return err
	}
	admin, err := sv.admin.ParseAdmin(req.Login, pending, dbsecret.Redshift)
	if err != nil {
		return err
	}
	hashed, err := hashFor(sv.hash, pending.Username, pending.Password)
	if err != nil {
		return err
	}
	stmt, err := alterPasswordSQL(req.User, hashed)
	if err != nil {
		return err
	}
	conn, err := sv.connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("as the admin: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if admin.Username == req.User {
		return fmt.Errorf("refusing to change the admin's own password through the secret of user %q", req.Base)
	}
	super, createDB, exists, err := readUser(ctx, conn, req.User)
	if err != nil {
		return err
	}
	redshift, err := isRedshift(ctx, conn)
	if err != nil {
		return err
	}
	precreated := sv.pair[0] != "" && sv.pair[1] != ""
	switch {
	case precreated:
		if !exists {
			return fmt.Errorf("the pre-created user %q does not exist; create both users first (see README)", req.User)
		}
		if super {
			return fmt.Errorf("refusing to change the password of the pre-created user %q: it is a superuser", req.User)
		}
		other := sv.pair[0]
		if req.User == other {
			other = sv.pair[1]
		}
		if err := shareGroupOrRole(ctx, conn, req.User, other, redshift); err != nil {
			return err
		}
	case req.User == req.Base:
		if !exists {
			return fmt.Errorf("the base user %q does not exist", req.User)
		}
		if super {
			return fmt.Errorf("refusing to change the password of user %q as the admin: it is a superuser", req.User)
		}
	default:
		if exists && (super || createDB) {
			return fmt.Errorf("refusing to use the existing user %q as the alternate of %q: it is a superuser or may create databases, which a clone never needs; drop it if it is not yours", req.User, req.Base)
		}
		if err := cloneUser(ctx, conn, sv.hash, req.Base, req.User, exists, redshift); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return wrap("setting the password of user %q", err, req.User)
	}
	return nil
}

// cloneUser creates clone if needed and converges its grants to base's.
func cloneUser(ctx context.Context, conn *pgx.Conn, hash, base, clone string, exists, redshift bool) error {
	if _, _, ok, err := readUser(ctx, conn, base); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("the base user %q does not exist", base)
	}
	if !exists {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		throwaway, err := hashFor(hash, clone, "Aa1"+hex.EncodeToString(b))
		if err != nil {
			return err
		}
		stmt, err := createUserSQL(clone, throwaway)
		if err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			// An overlapping invocation may have created it.
			if _, _, ok, rerr := readUser(ctx, conn, clone); rerr != nil || !ok {
				return wrap("creating user %q", err, clone)
			}
		}
	}
	want, err := grantsOf(ctx, conn, base, redshift)
	if err != nil {
		return err
	}
	have, err := grantsOf(ctx, conn, clone, redshift)
	if err != nil {
		return err
	}
	stmts, err := syncSQL(want, have, clone)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return wrap("copying the privileges of %q to %q", err, base, clone)
		}
	}
	return nil
}

// shareGroupOrRole checks that a and b have a group (or, on Redshift, a
// role) in common, so objects and privileges are managed for both.
func shareGroupOrRole(ctx context.Context, conn *pgx.Conn, a, b string, redshift bool) error {
	ga, err := grantsOf(ctx, conn, a, redshift)
	if err != nil {
		return err
	}
	gb, err := grantsOf(ctx, conn, b, redshift)
	if err != nil {
		return err
	}
	for _, x := range ga {
		if x.kind != groupGrant && x.kind != roleGrant {
			continue
		}
		if slices.Contains(gb, x) {
			return nil
		}
	}
	return fmt.Errorf("the pre-created users %q and %q share no group or role: put both in the group (or role) that holds the application's privileges (see README)", a, b)
}
