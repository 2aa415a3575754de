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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// maxNameBytes bounds user names (DocumentDB allows 63 characters for
// the master user; MongoDB has no small limit). Longer names are refused.
const maxNameBytes = 63

// privilegedRoles are the built-in roles that make a user more than an
// application user: the admin never changes the password of a user that
// has one (single mode), and never takes over an existing clone that has
// one.
var privilegedRoles = []string{
	"root", "userAdmin", "userAdminAnyDatabase", "dbOwner", "dbAdminAnyDatabase",
	"clusterAdmin", "clusterManager", "hostManager", "restore", "__system",
}

// role is one role a user holds, as usersInfo reports it.
type role struct {
	Role string `bson:"role"`
	DB   string `bson:"db"`
}

// service talks to DocumentDB or MongoDB for both strategies. It holds
// only configuration and is safe for concurrent use; every call opens its
// own client and disconnects it.
type service struct {
	caFiles      []string
	timeout      time.Duration
	admin        dbsecret.AdminPolicy
	allowedUsers []string
	pair         [2]string
}

var (
	_ strategy.PasswordService = (*service)(nil)
	_ strategy.UserService     = (*service)(nil)
)

func newService(c config) (*service, error) {
	t := c.connectTimeout
	if t <= 0 {
		t = 10 * time.Second
	}
	return &service{caFiles: c.caFiles, timeout: t, admin: c.admin, allowedUsers: c.allowedUsers, pair: c.users}, nil
}

// connect opens a client for s and authenticates (SCRAM, negotiated by
// the driver; never PLAIN): a direct connection to s's host only (no
// replica-set discovery, so a credential is sent to no host the secret or
// the admin policy did not name), retryable writes off (DocumentDB does
// not support them), TLS from s (verified by default, no fallback).
func (sv *service) connect(ctx context.Context, s *dbsecret.Secret) (*mongo.Client, error) {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	tlsCfg, err := s.TLSConfig(sv.caFiles...)
	if err != nil {
		return nil, fmt.Errorf("TLS for %s: %w", addr, err)
	}
	opts := options.Client().
		SetHosts([]string{addr}).
		SetDirect(true).
		SetRetryWrites(false).
		SetRetryReads(false).
		SetConnectTimeout(sv.timeout).
		SetServerSelectionTimeout(sv.timeout).
		SetMaxPoolSize(1).
		SetAppName("rotationkit-documentdb").
		SetAuth(options.Credential{Username: s.Username, Password: s.Password, AuthSource: s.DBName})
	if tlsCfg != nil {
		opts.SetTLSConfig(tlsCfg)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s as %q: %s", addr, s.Username, describe(err))
	}
	// Authenticate now: the driver connects lazily.
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		mode := "plaintext, as the secret's \"ssl\": false asks"
		if tlsCfg != nil {
			mode = "TLS, " + string(s.TLS)
		}
		msg := fmt.Sprintf("logging in to %s as %q (%s): %s", addr, s.Username, mode, describe(err))
		if hint := tlsHint(tlsCfg != nil, err); hint != "" {
			msg += "; " + hint
		}
		return nil, &connError{msg: msg, err: err}
	}
	return client, nil
}

type connError struct {
	msg string
	err error
}

func (e *connError) Error() string { return e.msg }
func (e *connError) Unwrap() error { return e.err }

// describe returns a driver error's message with nothing secret: the
// server's error code and message, or the driver's. The Go driver's
// messages hold no credential.
func describe(err error) string {
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return fmt.Sprintf("%s (code %d, %s)", ce.Message, ce.Code, ce.Name)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out: " + err.Error()
	}
	return err.Error()
}

func tlsHint(required bool, err error) string {
	if !required {
		return ""
	}
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	switch {
	case errors.As(err, &cve), errors.As(err, &ua), errors.As(err, &he), strings.Contains(err.Error(), "certificate"):
		return `TLS was required and the server certificate did not verify: trust its CA with the secret's "sslrootcert" or the function's CA_BUNDLE (for DocumentDB, package the RDS bundle global-bundle.pem), connect to the cluster endpoint the certificate names, or relax verification explicitly with "sslmode"`
	case strings.Contains(strings.ToLower(err.Error()), "tls") || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "connection reset"):
		return `TLS was required (the secret's "ssl" is absent or true) and the handshake failed; it is never downgraded to plaintext: enable TLS on the server, or set "ssl": false in the secret to allow plaintext knowingly`
	}
	return ""
}

// checkUser refuses user names the function will not handle.
func checkUser(field, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: field %q is empty", rotation.ErrInvalidSecret, field)
	case len(name) > maxNameBytes:
		return fmt.Errorf("%w: field %q: the user name is %d bytes long, over the limit of %d", rotation.ErrInvalidSecret, field, len(name), maxNameBytes)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: field %q contains a control character", rotation.ErrInvalidSecret, field)
		}
	}
	return nil
}

// Test logs in with secret and checks, with connectionStatus, that the
// server authenticated exactly that user.
func (sv *service) Test(ctx context.Context, secret *rotation.Secret) error {
	s, err := dbsecret.Parse(secret, dbsecret.DocumentDB)
	if err != nil {
		return err
	}
	c, err := sv.connect(ctx, s)
	if err != nil {
		return err
	}
	defer func() { _ = c.Disconnect(context.WithoutCancel(ctx)) }()
	var st struct {
		AuthInfo struct {
			Users []struct {
				User string `bson:"user"`
				DB   string `bson:"db"`
			} `bson:"authenticatedUsers"`
		} `bson:"authInfo"`
	}
	if err := c.Database(s.DBName).RunCommand(ctx, bson.D{{Key: "connectionStatus", Value: 1}}).Decode(&st); err != nil {
		return fmt.Errorf("connectionStatus as %q: %s", s.Username, describe(err))
	}
	for _, u := range st.AuthInfo.Users {
		if u.User == s.Username {
			return nil
		}
	}
	return fmt.Errorf("the server did not report %q as authenticated", s.Username)
}

// usersInfo returns user's roles; ok is false if it does not exist.
func usersInfo(ctx context.Context, db *mongo.Database, user string) (roles []role, ok bool, err error) {
	var out struct {
		Users []struct {
			User  string `bson:"user"`
			Roles []role `bson:"roles"`
		} `bson:"users"`
	}
	if err := db.RunCommand(ctx, bson.D{{Key: "usersInfo", Value: bson.D{{Key: "user", Value: user}, {Key: "db", Value: db.Name()}}}}).Decode(&out); err != nil {
		return nil, false, fmt.Errorf("usersInfo for %q: %s", user, describe(err))
	}
	for _, u := range out.Users {
		if u.User == user {
			return u.Roles, true, nil
		}
	}
	return nil, false, nil
}

func privileged(roles []role) []string {
	var out []string
	for _, r := range roles {
		if slices.Contains(privilegedRoles, r.Role) {
			out = append(out, r.Role+"@"+r.DB)
		}
	}
	return out
}

// updatePasswordCmd is updateUser with a new password. The server hashes
// it (SCRAM); the wire protocol carries it inside TLS.
func updatePasswordCmd(user, password string) bson.D {
	return bson.D{{Key: "updateUser", Value: user}, {Key: "pwd", Value: password}}
}

// rolesArray is roles as the createUser and updateUser commands take them.
func rolesArray(roles []role) bson.A {
	a := bson.A{}
	for _, r := range roles {
		a = append(a, bson.D{{Key: "role", Value: r.Role}, {Key: "db", Value: r.DB}})
	}
	return a
}

// createCloneCmd creates the clone with base's roles and a throwaway
// password nobody knows; the real one is set last, after the roles.
func createCloneCmd(clone, throwaway string, roles []role) bson.D {
	return bson.D{{Key: "createUser", Value: clone}, {Key: "pwd", Value: throwaway}, {Key: "roles", Value: rolesArray(roles)}}
}

// setRolesCmd converges an existing clone's roles to base's.
func setRolesCmd(clone string, roles []role) bson.D {
	return bson.D{{Key: "updateUser", Value: clone}, {Key: "roles", Value: rolesArray(roles)}}
}

func sameRoles(a, b []role) bool {
	key := func(rs []role) []string {
		var k []string
		for _, r := range rs {
			k = append(k, r.DB+"\x00"+r.Role)
		}
		slices.Sort(k)
		return k
	}
	return slices.Equal(key(a), key(b))
}

// Change sets the password of req.New's user (single user), logged in as
// that user or as the admin.
func (sv *service) Change(ctx context.Context, req *strategy.ChangeRequest) error {
	pending, err := dbsecret.Parse(req.New, dbsecret.DocumentDB)
	if err != nil {
		return err
	}
	if err := checkUser(dbsecret.FieldUsername, pending.Username); err != nil {
		return err
	}
	var login *dbsecret.Secret
	if req.LoginIsAdmin {
		if !slices.Contains(sv.allowedUsers, pending.Username) {
			return fmt.Errorf("%w: field %q names a user that is not in %s; the admin credential changes only the users listed there", strategy.ErrUserMismatch, dbsecret.FieldUsername, envAllowedUsers)
		}
		login, err = sv.admin.ParseAdmin(req.Login, pending, dbsecret.DocumentDB)
	} else {
		login, err = dbsecret.Parse(req.Login, dbsecret.DocumentDB)
		if err == nil && login.Username != pending.Username {
			err = fmt.Errorf("%w: field %q differs between the current and pending values; single-user rotation changes one user's password", rotation.ErrInvalidSecret, dbsecret.FieldUsername)
		}
	}
	if err != nil {
		return err
	}
	c, err := sv.connect(ctx, login)
	if err != nil {
		if terr := sv.Test(ctx, req.New); terr == nil {
			return nil
		}
		return err
	}
	defer func() { _ = c.Disconnect(context.WithoutCancel(ctx)) }()
	db := c.Database(pending.DBName)
	if req.LoginIsAdmin {
		if login.Username == pending.Username {
			return fmt.Errorf("refusing to change the admin's own password through the rotated secret")
		}
		roles, ok, err := usersInfo(ctx, db, pending.Username)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("user %q (field %q) does not exist in database %q", pending.Username, dbsecret.FieldUsername, pending.DBName)
		}
		if bad := privileged(roles); len(bad) > 0 {
			return fmt.Errorf("refusing to change the password of user %q as the admin: it has %s; rotate it with its own password (a secret without %q)", pending.Username, strings.Join(bad, ", "), dbsecret.FieldMasterARN)
		}
	}
	if err := db.RunCommand(ctx, updatePasswordCmd(pending.Username, pending.Password)).Err(); err != nil {
		return fmt.Errorf("updateUser %q: %s", pending.Username, describe(err))
	}
	return nil
}

// SetPassword sets req.User's password as the admin (alternating users).
// In the cloning mode the clone is created with the base user's roles if
// missing, or has its roles converged to the base user's; the password is
// set last.
func (sv *service) SetPassword(ctx context.Context, req *strategy.SetPasswordRequest) error {
	pending, err := dbsecret.Parse(req.Pending, dbsecret.DocumentDB)
	if err != nil {
		return err
	}
	if pending.Username != req.User {
		return fmt.Errorf("%w: field %q of the pending value is not the user to change", strategy.ErrUserMismatch, dbsecret.FieldUsername)
	}
	for _, u := range []string{req.User, req.Base} {
		if err := checkUser(dbsecret.FieldUsername, u); err != nil {
			return err
		}
	}
	admin, err := sv.admin.ParseAdmin(req.Login, pending, dbsecret.DocumentDB)
	if err != nil {
		return err
	}
	if admin.Username == req.User || admin.Username == req.Base {
		return fmt.Errorf("refusing to rotate the admin's own user through the rotated secret")
	}
	c, err := sv.connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("as the admin: %w", err)
	}
	defer func() { _ = c.Disconnect(context.WithoutCancel(ctx)) }()
	db := c.Database(pending.DBName)
	roles, exists, err := usersInfo(ctx, db, req.User)
	if err != nil {
		return err
	}
	precreated := sv.pair[0] != "" && sv.pair[1] != ""
	switch {
	case precreated || req.User == req.Base:
		if !exists {
			return fmt.Errorf("the user %q does not exist in database %q; create it first (see README)", req.User, pending.DBName)
		}
		if bad := privileged(roles); len(bad) > 0 {
			return fmt.Errorf("refusing to change the password of user %q as the admin: it has %s", req.User, strings.Join(bad, ", "))
		}
	default:
		baseRoles, ok, err := usersInfo(ctx, db, req.Base)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("the base user %q does not exist in database %q", req.Base, pending.DBName)
		}
		if bad := privileged(baseRoles); len(bad) > 0 {
			return fmt.Errorf("refusing to clone user %q: it has %s, which the clone would get too", req.Base, strings.Join(bad, ", "))
		}
		if !exists {
			b := make([]byte, 24)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			if err := db.RunCommand(ctx, createCloneCmd(req.User, hex.EncodeToString(b), baseRoles)).Err(); err != nil {
				// An overlapping invocation may have created it.
				if _, ok, rerr := usersInfo(ctx, db, req.User); rerr != nil || !ok {
					return fmt.Errorf("createUser %q: %s", req.User, describe(err))
				}
			}
		} else {
			if bad := privileged(roles); len(bad) > 0 {
				return fmt.Errorf("refusing to use the existing user %q as the alternate of %q: it has %s; drop it if it is not yours", req.User, req.Base, strings.Join(bad, ", "))
			}
			if !sameRoles(roles, baseRoles) {
				if err := db.RunCommand(ctx, setRolesCmd(req.User, baseRoles)).Err(); err != nil {
					return fmt.Errorf("updateUser %q (roles): %s", req.User, describe(err))
				}
			}
		}
	}
	if err := db.RunCommand(ctx, updatePasswordCmd(req.User, pending.Password)).Err(); err != nil {
		return fmt.Errorf("updateUser %q: %s", req.User, describe(err))
	}
	return nil
}
