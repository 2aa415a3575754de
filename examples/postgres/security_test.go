package main

// Regression tests for the security review: where the admin credential
// may go and how (TLS), whose password the admin may change, which
// authentication methods a login accepts, what an existing clone role may
// be, and what is built once per process.

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
	"github.com/rotationkit/rotation/examples/internal/testenv"
)

// fakeEvent is what a fake server saw on one connection.
type fakeEvent struct {
	user string // the startup message's user
	tls  bool   // the startup message came over TLS
	what string // "startup", "password:<data>" or "sasl:<mechanism>"
}

// fakeOpts configures a fake PostgreSQL server.
type fakeOpts struct {
	// cert, if set, makes the server accept TLS with it; otherwise it
	// answers the SSLRequest with 'N'.
	cert *tls.Certificate
	// auth is the authentication request sent after the startup message:
	// "cleartext", "md5", "ok" (none) or "sasl" (with mechanisms).
	auth       string
	mechanisms []string
	// relayUser's plaintext connections are relayed to upstream (the
	// real server), so that user's credential works through the fake.
	relayUser, upstream string
}

// pgFake is a server that records the startup messages and any password
// or SASL message a client sends it, then fails the login.
type pgFake struct {
	addr   string
	mu     sync.Mutex
	events []fakeEvent
}

func startFake(t *testing.T, o fakeOpts) *pgFake {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &pgFake{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.serve(c, o)
		}
	}()
	return f
}

func (f *pgFake) record(e fakeEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
}

func (f *pgFake) seen() []fakeEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeEvent(nil), f.events...)
}

func (f *pgFake) hostPort() (string, int) {
	h, p, _ := net.SplitHostPort(f.addr)
	n, _ := strconv.Atoi(p)
	return h, n
}

func (f *pgFake) serve(c net.Conn, o fakeOpts) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	conn := c
	be := pgproto3.NewBackend(conn, conn)
	msg, err := be.ReceiveStartupMessage()
	if err != nil {
		return
	}
	overTLS := false
	if _, ok := msg.(*pgproto3.SSLRequest); ok {
		if o.cert == nil {
			_, _ = conn.Write([]byte{'N'})
		} else {
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return
			}
			tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{*o.cert}})
			if tc.Handshake() != nil {
				return
			}
			conn, overTLS = tc, true
		}
		be = pgproto3.NewBackend(conn, conn)
		if msg, err = be.ReceiveStartupMessage(); err != nil {
			return
		}
	}
	sm, ok := msg.(*pgproto3.StartupMessage)
	if !ok {
		return
	}
	user := sm.Parameters["user"]
	f.record(fakeEvent{user: user, tls: overTLS, what: "startup"})
	if o.relayUser != "" && user == o.relayUser && !overTLS {
		up, err := net.Dial("tcp", o.upstream)
		if err != nil {
			return
		}
		defer up.Close()
		_ = c.SetDeadline(time.Time{})
		buf, err := sm.Encode(nil)
		if err != nil {
			return
		}
		if _, err := up.Write(buf); err != nil {
			return
		}
		go func() { _, _ = io.Copy(up, conn) }()
		_, _ = io.Copy(conn, up)
		return
	}
	switch o.auth {
	case "cleartext":
		be.Send(&pgproto3.AuthenticationCleartextPassword{})
		_ = be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
	case "md5":
		be.Send(&pgproto3.AuthenticationMD5Password{Salt: [4]byte{1, 2, 3, 4}})
		_ = be.SetAuthType(pgproto3.AuthTypeMD5Password)
	case "ok":
		be.Send(&pgproto3.AuthenticationOk{})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	case "sasl":
		be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: o.mechanisms})
		_ = be.SetAuthType(pgproto3.AuthTypeSASL)
	default:
		return
	}
	if be.Flush() != nil {
		return
	}
	m, err := be.Receive()
	if err != nil {
		return
	}
	switch m := m.(type) {
	case *pgproto3.PasswordMessage:
		f.record(fakeEvent{user: user, tls: overTLS, what: "password:" + m.Password})
	case *pgproto3.SASLInitialResponse:
		f.record(fakeEvent{user: user, tls: overTLS, what: "sasl:" + m.AuthMechanism})
	}
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: "fake server"})
	_ = be.Flush()
}

// TestAdminCredentialNeverFollowsRotatedSecret reproduces the review's
// exfiltration: someone who can write the application's secret points
// "host" at a server of theirs (which relays the application user's own
// logins to the real server, so the current credential "works") with
// "ssl": false, and waits for the admin credential. It must never arrive:
// with an admin secret that names no host the function refuses unless
// DB_ADMIN_ENDPOINT pins the server, the rotated secret must name the
// pinned server, and the admin connection requires verified TLS whatever
// the secret says.
func TestAdminCredentialNeverFollowsRotatedSecret(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	upstream := net.JoinHostPort(srv.host, strconv.Itoa(srv.port))
	caPEM, untrusted := dbsecrettest.NewCA(t, nil, []net.IP{net.ParseIP("127.0.0.1")})
	_ = caPEM // the CA is in no bundle the function trusts
	for _, mode := range []Mode{ModeAlternating, ModeSingle} {
		for _, tc := range []struct {
			name string
			// endpoint returns DB_ADMIN_ENDPOINT's value for the fake's
			// address, or "".
			endpoint func(fake string) string
			cert     *tls.Certificate
			want     string
		}{
			{"admin secret without host, no DB_ADMIN_ENDPOINT", func(string) string { return "" }, nil, "DB_ADMIN_ENDPOINT"},
			{"DB_ADMIN_ENDPOINT names the real server", func(string) string { return upstream }, nil, "DB_ADMIN_ENDPOINT"},
			{"DB_ADMIN_ENDPOINT names this server, which refuses TLS", func(f string) string { return f }, nil, "TLS was required"},
			{"DB_ADMIN_ENDPOINT names this server, whose certificate does not verify", func(f string) string { return f }, &untrusted, "certificate did not verify"},
		} {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) {
				user, pw := uniqueName("app"), newPassword()
				d.role(t, user, pw, "LOGIN")
				admin, apw := uniqueName("admin"), "ADMIN-CANARY-"+randHex(8)
				d.role(t, admin, apw, "LOGIN CREATEROLE")
				d.exec(t, "GRANT "+ident(user)+" TO "+ident(admin)+" WITH ADMIN OPTION")
				d.track(user + "_clone")
				fake := startFake(t, fakeOpts{cert: tc.cert, auth: "cleartext", relayUser: user, upstream: upstream})
				fh, fp := fake.hostPort()
				cfg := srv.configure(config{mode: mode, policy: dbsecret.PostgreSQL.DefaultPolicy(), checkPassword: checkPasswordFor(srv)})
				cfg.admin = dbsecret.AdminPolicy{} // no plaintext opt-out here
				if ep := tc.endpoint(fake.addr); ep != "" {
					h, p, _ := net.SplitHostPort(ep)
					cfg.admin.Host = h
					cfg.admin.Port, _ = strconv.Atoi(p)
				}
				if mode == ModeSingle {
					cfg.allowedUsers = []string{user}
				}
				// An RDS-managed master secret: a user name and a password.
				adminSecret := fmt.Sprintf(`{"username":%q,"password":%q}`, admin, apw)
				secret := d.secretJSON(user, pw, "host", fh, "port", fp, "masterarn", adminName)
				w := newWorld(t, cfg, secret, map[string]string{adminName: adminSecret})
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				err := w.rotate(ctx)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("rotation: %v; want an error saying %q", err, tc.want)
				}
				time.Sleep(50 * time.Millisecond)
				for _, e := range fake.seen() {
					if e.user == admin || strings.Contains(e.what, apw) {
						t.Errorf("the admin credential reached the server the rotated secret names: %+v", e)
					}
				}
				if strings.Contains(w.log(), apw) || (err != nil && strings.Contains(err.Error(), apw)) {
					t.Error("the admin password is in the log or the error")
				}
				if w.current(t) != secret {
					t.Error("AWSCURRENT changed")
				}
			})
		}
	}
}

// recordingProxy relays TCP connections to upstream and records how each
// one started: "tls" for an SSLRequest, or "startup:<user>" for a
// plaintext startup message.
type recordingProxy struct {
	addr  string
	mu    sync.Mutex
	first []string
}

func startRecordingProxy(t *testing.T, upstream string) *recordingProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p := &recordingProxy{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.relay(c, upstream)
		}
	}()
	return p
}

func (p *recordingProxy) relay(c net.Conn, upstream string) {
	defer c.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	code := binary.BigEndian.Uint32(hdr[4:])
	pre := hdr[:]
	what := "other"
	switch {
	case n == 8 && code == 80877103:
		what = "tls"
	case code == 196608 && n > 8 && n < 10000:
		body := make([]byte, n-8)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		pre = append(pre, body...)
		parts := strings.Split(string(body), "\x00")
		for i := 0; i+1 < len(parts); i += 2 {
			if parts[i] == "user" {
				what = "startup:" + parts[i+1]
			}
		}
	}
	p.mu.Lock()
	p.first = append(p.first, what)
	p.mu.Unlock()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	if _, err := up.Write(pre); err != nil {
		return
	}
	go func() { _, _ = io.Copy(up, c) }()
	_, _ = io.Copy(c, up)
}

func (p *recordingProxy) starts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.first...)
}

// TestAdminConnectionUsesVerifiedTLS rotates, with an RDS-managed master
// secret (no host) and DB_ADMIN_ENDPOINT, secrets that say "ssl": false
// and name a CA bundle that does not exist: the admin connection still
// uses TLS, verified against the function's CA bundle (the server's own
// certificate, for "localhost"), as a proxy in front of the server sees;
// no plaintext login as the admin crosses it. With
// DB_ADMIN_ALLOW_PLAINTEXT the admin follows the secret, in plaintext.
func TestAdminConnectionUsesVerifiedTLS(t *testing.T) {
	srv := testServer(t)
	if srv.tlsCA == "" {
		testenv.Missing(t, "PostgreSQL with TLS", "the test server has no TLS certificate that verifies for localhost (Debian's snakeoil certificate, readable here); enable ssl with such a certificate")
	}
	t.Parallel()
	d := srv.newDB(t)
	proxy := startRecordingProxy(t, net.JoinHostPort(srv.host, strconv.Itoa(srv.port)))
	_, pport, _ := net.SplitHostPort(proxy.addr)
	port, _ := strconv.Atoi(pport)
	for _, mode := range []Mode{ModeAlternating, ModeSingle} {
		for _, plaintext := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/allow-plaintext=%v", mode, plaintext), func(t *testing.T) {
				user, pw := uniqueName("app"), newPassword()
				d.role(t, user, pw, "LOGIN")
				admin, apw := uniqueName("admin"), newPassword()
				d.role(t, admin, apw, "LOGIN CREATEROLE")
				d.exec(t, "GRANT "+ident(user)+" TO "+ident(admin)+" WITH ADMIN OPTION")
				d.track(user + "_clone")
				cfg := srv.configure(config{mode: mode, policy: dbsecret.PostgreSQL.DefaultPolicy(), checkPassword: checkPasswordFor(srv)})
				cfg.admin = dbsecret.AdminPolicy{Host: "localhost", Port: port, AllowPlaintext: plaintext}
				if mode == ModeSingle {
					cfg.allowedUsers = []string{user}
				}
				adminSecret := fmt.Sprintf(`{"username":%q,"password":%q}`, admin, apw)
				secret := d.secretJSON(user, pw, "host", "localhost", "port", port, "sslrootcert", "/nonexistent/ca.pem", "sslmode", "disable", "masterarn", adminName)
				w := newWorld(t, cfg, secret, map[string]string{adminName: adminSecret})
				before := len(proxy.starts())
				if err := w.rotate(context.Background()); err != nil {
					t.Fatalf("rotation: %v", err)
				}
				// Through the proxy, which relays plaintext too.
				if err := probeWith(srv)(context.Background(), rotationSecret(w.current(t))); err != nil {
					t.Errorf("AWSCURRENT does not authenticate: %v", err)
				}
				starts := proxy.starts()[before:]
				var tlsConns int
				var adminPlain bool
				for _, s := range starts {
					switch s {
					case "tls":
						tlsConns++
					case "startup:" + admin:
						adminPlain = true
					}
				}
				if plaintext {
					if !adminPlain {
						t.Errorf("with DB_ADMIN_ALLOW_PLAINTEXT and \"ssl\": false, the admin did not log in in plaintext (connections: %q)", starts)
					}
					return
				}
				if adminPlain {
					t.Errorf("the admin logged in in plaintext (connections: %q)", starts)
				}
				if tlsConns == 0 {
					t.Errorf("no connection used TLS (connections: %q)", starts)
				}
			})
		}
	}

	// The same, connection by connection: the admin login is encrypted as
	// the server sees it, and the secret's relaxed settings are ignored.
	t.Run("connection", func(t *testing.T) {
		user, admin, apw := uniqueName("app"), uniqueName("admin"), newPassword()
		d.role(t, user, "pw-"+randHex(8), "LOGIN")
		d.role(t, admin, apw, "LOGIN CREATEROLE")
		sv := testService(t, srv.configure(config{admin: dbsecret.AdminPolicy{Host: "localhost", Port: srv.port}}))
		sv.admin.AllowPlaintext = false
		target, err := dbsecret.Parse(rotationSecret(d.secretJSON(user, "x", "sslmode", "disable", "sslrootcert", "/nonexistent/ca.pem")), dbsecret.PostgreSQL)
		if err != nil {
			t.Fatal(err)
		}
		login, err := sv.adminLogin(rotationSecret(fmt.Sprintf(`{"username":%q,"password":%q,"ssl":false}`, admin, apw)), target)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := sv.connect(context.Background(), login)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if !connSSL(t, conn) {
			t.Error("the admin connection is not encrypted")
		}
		// Without the server's certificate in the function's bundles, the
		// admin does not connect: verification is not optional.
		strict := testService(t, config{admin: dbsecret.AdminPolicy{Host: "localhost", Port: srv.port}, requireAuth: sv.requireAuth})
		login, err = strict.adminLogin(rotationSecret(fmt.Sprintf(`{"username":%q,"password":%q}`, admin, apw)), target)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := strict.connect(context.Background(), login); err == nil {
			c.Close(context.Background())
			t.Error("the admin connected without the server's CA in the function's bundles")
		} else if !strings.Contains(err.Error(), "certificate did not verify") {
			t.Errorf("admin connection without the CA: %v, want a certificate verification error", err)
		}
	})
}

// rolpassword returns role's stored verifier ("" for none).
func rolpassword(t *testing.T, srv *pgServer, role string) string {
	t.Helper()
	c := srv.super(t, "")
	defer c.Close(context.Background())
	var v *string
	if err := c.QueryRow(context.Background(), "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		return ""
	}
	return *v
}

// TestSingleAdminChangesOnlyAllowedUsers reproduces the review's privilege
// escalation: in single-user mode with "masterarn", the rotated secret's
// "username" chose whose password the admin reset, and the new password
// was then readable from the secret. The admin here is a superuser, so
// the server itself refuses nothing: every refusal is the function's.
func TestSingleAdminChangesOnlyAllowedUsers(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	admin, apw := uniqueName("super"), newPassword()
	d.role(t, admin, apw, "LOGIN SUPERUSER")
	others := map[string]string{adminName: d.secretJSON(admin, apw)}
	base := srv.configure(config{mode: ModeSingle, policy: dbsecret.PostgreSQL.DefaultPolicy(), checkPassword: checkPasswordFor(srv)})
	ctx := context.Background()

	// rotate runs one rotation of a secret naming victim with a password
	// the writer does not know, and checks that it fails with want and
	// leaves victim's password alone.
	rotate := func(t *testing.T, cfg config, victim, want string) {
		t.Helper()
		before := rolpassword(t, srv, victim)
		w := newWorld(t, cfg, d.secretJSON(victim, "guess-"+randHex(4), "masterarn", adminName), others)
		err := w.rotate(ctx)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("rotation naming %q: %v; want an error saying %q", victim, err, want)
		}
		if rolpassword(t, srv, victim) != before {
			t.Errorf("the password of %q changed", victim)
		}
	}

	t.Run("ALLOWED_USERS unset", func(t *testing.T) {
		victim := uniqueName("victim")
		d.role(t, victim, newPassword(), "LOGIN")
		rotate(t, base, victim, "ALLOWED_USERS is not set")
	})
	t.Run("user not listed", func(t *testing.T) {
		victim, app := uniqueName("victim"), uniqueName("app")
		d.role(t, victim, newPassword(), "LOGIN CREATEDB")
		cfg := base
		cfg.allowedUsers = []string{app}
		rotate(t, cfg, victim, "not in AllowedUsers")
	})
	t.Run("the admin's own user", func(t *testing.T) {
		cfg := base
		cfg.allowedUsers = []string{admin}
		rotate(t, cfg, admin, "admin secret's own user")
	})
	for _, attr := range []string{"SUPERUSER", "CREATEROLE", "BYPASSRLS", "REPLICATION"} {
		t.Run("listed but "+attr, func(t *testing.T) {
			victim := uniqueName("victim")
			d.role(t, victim, newPassword(), "LOGIN "+attr)
			cfg := base
			cfg.allowedUsers = []string{victim}
			rotate(t, cfg, victim, "it has "+attr)
		})
	}
	t.Run("listed and unprivileged", func(t *testing.T) {
		// The password is lost (the secret's does not work): the admin
		// resets it, as intended. CREATEDB is not a reason to refuse.
		user := uniqueName("app")
		d.role(t, user, newPassword(), "LOGIN CREATEDB")
		cfg := base
		cfg.allowedUsers = []string{"someone_else", user}
		w := newWorld(t, cfg, d.secretJSON(user, "lost-"+randHex(4), "masterarn", adminName), others)
		if err := w.rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := probeWith(srv)(ctx, rotationSecret(w.current(t))); err != nil {
			t.Errorf("AWSCURRENT does not authenticate: %v", err)
		}
	})
}

// TestAuthMethods checks what a login accepts: SCRAM-SHA-256 only, bound
// to the channel over TLS; never a cleartext password, md5 (unless
// DB_ALLOW_MD5) or no authentication. Fake servers record what the client
// sends them.
func TestAuthMethods(t *testing.T) {
	t.Parallel()
	caPEM, cert := dbsecrettest.NewCA(t, nil, []net.IP{net.ParseIP("127.0.0.1")})
	caFile := dbsecrettest.WriteFile(t, caPEM)
	const pw = "AUTH-CANARY-password"
	for _, tc := range []struct {
		name   string
		tls    bool
		auth   string
		mechs  []string
		md5    bool
		sent   string // the prefix of the event the client must send, or "" for none
		errSub string
	}{
		{"plaintext, cleartext password", false, "cleartext", nil, false, "", "SCRAM-SHA-256"},
		{"plaintext, md5", false, "md5", nil, false, "", "SCRAM-SHA-256"},
		{"plaintext, no authentication", false, "ok", nil, false, "", "SCRAM-SHA-256"},
		{"plaintext, md5 allowed", false, "md5", nil, true, "password:md5", ""},
		{"plaintext, cleartext with md5 allowed", false, "cleartext", nil, true, "", "SCRAM-SHA-256"},
		{"plaintext, SCRAM", false, "sasl", []string{"SCRAM-SHA-256"}, false, "sasl:SCRAM-SHA-256", ""},
		{"TLS, cleartext password", true, "cleartext", nil, false, "", ""},
		{"TLS, no authentication", true, "ok", nil, false, "", ""},
		{"TLS, SCRAM without channel binding", true, "sasl", []string{"SCRAM-SHA-256"}, false, "", "channel"},
		{"TLS, SCRAM with channel binding", true, "sasl", []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, false, "sasl:SCRAM-SHA-256-PLUS", ""},
		{"TLS, md5 allowed", true, "md5", nil, true, "password:md5", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fakeOpts{auth: tc.auth, mechanisms: tc.mechs}
			if tc.tls {
				o.cert = &cert
			}
			fake := startFake(t, o)
			h, p := fake.hostPort()
			m := map[string]any{"engine": "postgres", "host": h, "port": p, "username": "u", "password": pw}
			if tc.tls {
				m["sslrootcert"] = caFile
			} else {
				m["ssl"] = false
			}
			s, err := rotation.NewJSON(m)
			if err != nil {
				t.Fatal(err)
			}
			err = testService(t, config{allowMD5: tc.md5, connectTimeout: 5 * time.Second}).Test(context.Background(), s)
			if err == nil {
				t.Fatal("logged in to a fake server")
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("the error contains the password: %v", err)
			}
			if tc.errSub != "" && !strings.Contains(err.Error(), tc.errSub) {
				t.Errorf("error %q lacks %q", err, tc.errSub)
			}
			time.Sleep(20 * time.Millisecond)
			var sent []string
			for _, e := range fake.seen() {
				if e.what == "startup" {
					if e.tls != tc.tls {
						t.Errorf("startup over TLS = %v, want %v", e.tls, tc.tls)
					}
					continue
				}
				sent = append(sent, e.what)
				if strings.Contains(e.what, pw) {
					t.Errorf("the client sent the password in cleartext: %q", e.what)
				}
			}
			switch {
			case tc.sent == "" && len(sent) > 0:
				t.Errorf("the client answered the server's request: %q", sent)
			case tc.sent != "" && (len(sent) != 1 || !strings.HasPrefix(sent[0], tc.sent)):
				t.Errorf("the client sent %q, want one message starting with %q", sent, tc.sent)
			}
		})
	}
}

// TestCloneAttributes: a clone the function creates has none of SUPERUSER,
// CREATEROLE, CREATEDB, BYPASSRLS, REPLICATION; an existing role of the
// clone's name with any of them is refused, not taken over (its password
// is left alone).
func TestCloneAttributes(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	ctx := context.Background()
	attrs := func(role string) string {
		c := srv.super(t, d.name)
		defer c.Close(ctx)
		var a string
		if err := c.QueryRow(ctx, `SELECT concat_ws(',', CASE WHEN rolsuper THEN 'SUPERUSER' END, CASE WHEN rolcreaterole THEN 'CREATEROLE' END,
			CASE WHEN rolcreatedb THEN 'CREATEDB' END, CASE WHEN rolbypassrls THEN 'BYPASSRLS' END, CASE WHEN rolreplication THEN 'REPLICATION' END)
			FROM pg_roles WHERE rolname = $1`, role).Scan(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	t.Run("created", func(t *testing.T) {
		st, err := makeSetup(d, ModeAlternating, true)
		if err != nil {
			t.Fatal(err)
		}
		// The base user's own attributes are not copied to the clone.
		d.exec(t, "ALTER ROLE "+ident(st.base)+" CREATEDB")
		w := newWorld(t, st.cfg, st.secret, st.others)
		if err := w.rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if a := attrs(st.base + "_clone"); a != "" {
			t.Errorf("the clone has %s", a)
		}
	})
	for _, attr := range []string{"SUPERUSER", "CREATEROLE", "CREATEDB", "BYPASSRLS", "REPLICATION"} {
		t.Run("existing "+attr, func(t *testing.T) {
			st, err := makeSetup(d, ModeAlternating, true)
			if err != nil {
				t.Fatal(err)
			}
			clone := st.base + "_clone"
			d.exec(t, "CREATE ROLE "+ident(clone)+" LOGIN "+attr)
			w := newWorld(t, st.cfg, st.secret, st.others)
			err = w.rotate(ctx)
			if err == nil || !strings.Contains(err.Error(), "refusing to use the existing role") || !strings.Contains(err.Error(), attr) {
				t.Errorf("rotation with an existing %s clone: %v; want a refusal naming %s", attr, err, attr)
			}
			if v := rolpassword(t, srv, clone); v != "" {
				t.Error("the existing clone got a password")
			}
			if a := attrs(clone); a != attr {
				t.Errorf("the existing clone's attributes changed to %q", a)
			}
		})
	}
	t.Run("existing, unprivileged", func(t *testing.T) {
		// A plain role of the clone's name (say, from an earlier install)
		// is converged as before.
		st, err := makeSetup(d, ModeAlternating, true)
		if err != nil {
			t.Fatal(err)
		}
		d.exec(t, "CREATE ROLE "+ident(st.base+"_clone")+" NOLOGIN", "GRANT "+ident(st.base+"_clone")+" TO "+ident(st.admin)+" WITH ADMIN OPTION")
		w := newWorld(t, st.cfg, st.secret, st.others)
		if err := w.rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := probeWith(srv)(ctx, rotationSecret(w.current(t))); err != nil {
			t.Errorf("AWSCURRENT does not authenticate: %v", err)
		}
	})
}

// TestBaseConfigBuiltOnce: the service parses its connection
// configuration once, when it is built (at cold start), not per
// connection: PG* environment variables set afterwards change nothing. It
// also checks that connections from many goroutines do not disturb the
// shared base (run with -race). Not parallel: it sets the environment.
func TestBaseConfigBuiltOnce(t *testing.T) {
	srv := testServer(t)
	d := srv.newDB(t)
	user, pw := uniqueName("app"), newPassword()
	d.role(t, user, pw, "LOGIN")
	s, err := dbsecret.Parse(rotationSecret(d.secretJSON(user, pw)), dbsecret.PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	searchPath := func(sv *service) string {
		t.Helper()
		c, err := sv.connect(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var v string
		if err := c.QueryRow(ctx, "SHOW search_path").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	sv := testService(t, srv.configure(config{}))
	params := fmt.Sprint(sv.base.RuntimeParams)
	t.Setenv("PGOPTIONS", "-c search_path=rk_from_env")
	if got := searchPath(sv); got == "rk_from_env" {
		t.Error("a connection read PGOPTIONS set after the service was built: the configuration is parsed per connection")
	}
	// The test can tell: a service built now does read it.
	if got := searchPath(testService(t, srv.configure(config{}))); got != "rk_from_env" {
		t.Fatalf("a service built with PGOPTIONS set has search_path %q; the test cannot tell", got)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := sv.connect(ctx, s)
			if err != nil {
				errs <- err
				return
			}
			c.Close(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := fmt.Sprint(sv.base.RuntimeParams); got != params || sv.base.Host != "localhost" || sv.base.User != "" || sv.base.Password != "" || sv.base.TLSConfig != nil {
		t.Errorf("connections changed the base configuration: %s %q %q", got, sv.base.Host, sv.base.User)
	}
	if _, err := newService(config{}); err != nil {
		t.Fatal(err)
	}
	var zero service
	if _, err := zero.connect(ctx, s); err == nil || !strings.Contains(err.Error(), "newService") {
		t.Errorf("a service not built with newService: %v", err)
	}
}
