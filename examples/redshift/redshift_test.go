package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/connstr"
	"github.com/rotationkit/rotation/strategy"
)

// storedMatches reports whether user's stored password is exactly
// 'md5' || md5(pw || user), computed by the server's own md5().
func storedMatches(t *testing.T, srv *pgServer, user, pw string) bool {
	t.Helper()
	c := srv.super(t, "")
	defer c.Close(context.Background())
	var stored string
	var ok bool
	if err := c.QueryRow(context.Background(), `SELECT rolpassword, rolpassword = 'md5' || md5($2 || rolname) FROM pg_authid WHERE rolname = $1`, user, pw).Scan(&stored, &ok); err != nil {
		t.Fatalf("reading the stored password of %q: %v", user, describe(err))
	}
	if !strings.HasPrefix(stored, "md5") {
		t.Errorf("the stored password of %q is not an md5 hash", user)
	}
	return ok
}

// TestMD5PasswordAccepted: the md5 form Redshift gets (ALTER USER and
// CREATE USER ... PASSWORD 'md5...') is accepted by the PostgreSQL server,
// which stores exactly md5(password || user) as its own md5() computes
// it; where the server lets md5-stored roles log in, the new password
// logs in.
func TestMD5PasswordAccepted(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	ctx := context.Background()

	// Single user, logged in as itself.
	st, err := makeSetup(d, ModeSingle, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.cfg
	cfg.hash = hashMD5
	svc, err := newService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cur := rotation.NewString(st.secret)
	newPW := newPassword()
	pending, _ := cur.With(map[string]any{"password": newPW})
	if err := svc.Change(ctx, &strategy.ChangeRequest{Login: cur, Old: cur, New: pending}); err != nil {
		t.Fatalf("Change: %v", err)
	}
	if !storedMatches(t, srv, st.base, newPW) {
		t.Errorf("after ALTER USER with the md5 form, the stored hash is not md5(password || user)")
	}
	if srv.md5Login || srv.trust {
		if err := probeWith(srv)(ctx, pending); err != nil {
			t.Errorf("logging in with the new password: %v", err)
		}
	} else {
		t.Logf("this server refuses logins of md5-stored roles (pg_hba.conf scram-sha-256); the md5 login itself was not exercised")
	}

	// Alternating: the admin creates the clone and sets its password.
	st, err = makeSetup(d, ModeAlternating, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg = st.cfg
	cfg.hash = hashMD5
	svc, err = newService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cur = rotation.NewString(st.secret)
	clone := st.base + "_clone"
	clonePW := newPassword()
	pending, _ = cur.With(map[string]any{"username": clone, "password": clonePW})
	if err := svc.SetPassword(ctx, &strategy.SetPasswordRequest{Login: rotation.NewString(st.others[adminName]), Base: st.base, User: clone, Pending: pending, Current: cur}); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	if !storedMatches(t, srv, clone, clonePW) {
		t.Errorf("the clone's stored hash is not md5(password || user)")
	}
}

// TestCloneGroupsFollowBase: the clone gets the base user's groups, and a
// group the base user leaves is taken from the clone at its next
// rotation.
func TestCloneGroupsFollowBase(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	st, err := makeSetup(d, ModeAlternating, true)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, st.cfg, st.secret, st.others)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	groupsOf := func(user string) []string {
		c := srv.super(t, d.name)
		defer c.Close(ctx)
		rows, err := c.Query(ctx, groupsQuery, user)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	clone := st.base + "_clone"
	if err := w.rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := groupsOf(clone); len(got) != 1 || got[0] != st.group {
		t.Errorf("clone's groups after the first rotation = %q, want [%s]", got, st.group)
	}
	g2 := uniqueName("grp")
	if err := d.createGroup(g2); err != nil {
		t.Fatal(err)
	}
	if err := d.execErr("GRANT "+ident(g2)+" TO "+ident(st.admin)+" WITH ADMIN OPTION",
		"ALTER GROUP "+ident(g2)+" ADD USER "+ident(st.base),
		"ALTER GROUP "+ident(st.group)+" DROP USER "+ident(st.base)); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the base user's turn, then the clone's
		if err := w.rotate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := groupsOf(clone); len(got) != 1 || got[0] != g2 {
		t.Errorf("clone's groups after the base user changed groups = %q, want [%s]", got, g2)
	}
}

// TestHostileNames: user names with quotes, semicolons and spaces are
// quoted, never interpreted, in every statement.
func TestHostileNames(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	for _, name := range []string{`rk_rs_q"uote_` + randHex(3), `rk_rs_semi; drop user postgres; --` + randHex(3), `rk_rs_sp ace'` + randHex(3)} {
		st, err := makeSetup(d, ModeAlternating, true)
		if err != nil {
			t.Fatal(err)
		}
		// Rename the base user to the hostile name (and rehash its
		// password: md5 hashes are salted with the name).
		pw := newPassword()
		h, _ := hashFor(srv.hash(), name, pw)
		d.track(name, name+"_clone")
		if err := d.execErr("ALTER USER "+ident(st.base)+" RENAME TO "+ident(name), "ALTER USER "+ident(name)+" PASSWORD '"+h+"'"); err != nil {
			t.Fatal(err)
		}
		secret := d.secretJSON(name, pw, "masterarn", adminName)
		w := newWorld(t, st.cfg, secret, st.others)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for i := range 3 {
			if err := w.rotate(ctx); err != nil {
				t.Fatalf("%q: rotation %d: %v", name, i+1, err)
			}
			if err := probeWith(srv)(ctx, rotation.NewString(w.current(t))); err != nil {
				t.Errorf("%q: after rotation %d: %v", name, i+1, err)
			}
		}
		cancel()
	}
	var n int
	c := srv.super(t, "")
	defer c.Close(context.Background())
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'").Scan(&n); err != nil || n != 1 {
		t.Errorf("the postgres role is gone")
	}
}

// TestTLSRequiredByDefault: a secret without "ssl" gets verified TLS and
// no plaintext fallback: the rotation fails (this server's certificate is
// not for its IP address, or it has no TLS) and nothing changes; "sslmode"
// values that would fall back are refused up front.
func TestTLSRequiredByDefault(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	st, err := makeSetup(d, ModeSingle, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		extra []any
		want  string
	}{
		{[]any{"ssl", nil}, "TLS"},
		{[]any{"ssl", true}, "TLS"},
		{[]any{"ssl", nil, "sslmode", "prefer"}, `"sslmode"`},
	} {
		secret := d.secretJSON(st.base, "irrelevant-Pw1", tc.extra...)
		w := newWorld(t, st.cfg, secret, st.others)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := w.rotate(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: rotation error %v, want one mentioning %s", tc.extra, err, tc.want)
		}
		if w.current(t) != secret {
			t.Errorf("%v: AWSCURRENT changed", tc.extra)
		}
		if strings.Contains(w.log(), "irrelevant-Pw1") {
			t.Errorf("%v: the logs show the password", tc.extra)
		}
	}
}

// TestCleartextAuthRefused: a server (or anything posing as one) that
// asks for the password in cleartext never gets it.
func TestCleartextAuthRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var gotPassword atomic.Bool
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				be := pgproto3.NewBackend(conn, conn)
				for {
					msg, err := be.ReceiveStartupMessage()
					if err != nil {
						return
					}
					if _, ok := msg.(*pgproto3.SSLRequest); ok {
						_, _ = conn.Write([]byte("N"))
						continue
					}
					break
				}
				be.Send(&pgproto3.AuthenticationCleartextPassword{})
				if err := be.Flush(); err != nil {
					return
				}
				be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				if msg, err := be.Receive(); err == nil {
					if _, ok := msg.(*pgproto3.PasswordMessage); ok {
						gotPassword.Store(true)
					}
				}
			}()
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	svc, err := newService(config{hash: hashMD5})
	if err != nil {
		t.Fatal(err)
	}
	secret := fmt.Sprintf(`{"engine":"redshift","host":%q,"port":%s,"username":"app","password":"Sup3r-secret","ssl":false}`, host, port)
	err = svc.Test(context.Background(), rotation.NewString(secret))
	if err == nil {
		t.Fatal("Test succeeded against a server asking for a cleartext password")
	}
	if gotPassword.Load() {
		t.Error("the password was sent in cleartext")
	}
	if strings.Contains(err.Error(), "Sup3r-secret") {
		t.Errorf("the error shows the password: %v", err)
	}
	var ce *connError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "cleartext") {
		t.Errorf("error %v does not explain the refusal", err)
	}
}

// TestConnectionStrings: JDBC and ODBC strings as the Redshift console
// shows them follow the rotation.
func TestConnectionStrings(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	st, err := makeSetup(d, ModeAlternating, true)
	if err != nil {
		t.Fatal(err)
	}
	cur := rotation.NewString(st.secret)
	pw, _ := cur.Get("password")
	withStrings, _ := cur.With(map[string]any{
		"jdbcUrl":              fmt.Sprintf("jdbc:redshift://%s:%d/%s?ssl=true&UID=%s&PWD=%s", srv.host, srv.port, d.name, st.base, pw),
		"odbcConnectionString": fmt.Sprintf("Driver={Amazon Redshift (x64)}; Server=%s; Database=%s; UID=%s; PWD=%s; Port=%d", srv.host, d.name, st.base, pw, srv.port),
	})
	s, _ := withStrings.SecretString()
	w := newWorld(t, st.cfg, s, st.others)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 2 {
		if err := w.rotate(ctx); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
		after := rotation.NewString(w.current(t))
		u, _ := after.Get("username")
		p, _ := after.Get("password")
		if err := connstr.Check(after, connstr.DefaultFields(), connstr.Credential{Host: srv.host, Port: srv.port, Username: u, Password: p}); err != nil {
			t.Errorf("rotation %d: %v", i+1, err)
		}
		odbc, _ := after.Get("odbcConnectionString")
		if !strings.Contains(odbc, "UID="+u+";") || !strings.HasPrefix(odbc, "Driver={Amazon Redshift (x64)}; Server=") {
			t.Errorf("rotation %d: the ODBC string lost its shape or user", i+1)
		}
	}
}
