package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
	"github.com/rotationkit/rotation/examples/internal/testenv"
)

// connSSL reports whether c is encrypted, as the server sees it.
func connSSL(t *testing.T, c *pgx.Conn) bool {
	t.Helper()
	var ssl bool
	if err := c.QueryRow(context.Background(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	return ssl
}

// TestTLSRequiredByDefault: a secret without "ssl" never connects in
// plaintext. Against the test server the connection fails (it has no TLS,
// or a certificate no default CA trusts) and the error says TLS was
// required; an explicit "ssl": false connects in plaintext.
func TestTLSRequiredByDefault(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	user, pw := uniqueName("tls"), newPassword()
	d.role(t, user, pw, "LOGIN")
	ctx := context.Background()
	sv := testService(t, config{requireAuth: srv.configure(config{}).requireAuth})
	plain := d.secretJSON(user, pw)
	c := asUser(t, plain)
	if connSSL(t, c) {
		t.Error(`"ssl": false connected with TLS`)
	}
	c.Close(ctx)
	for _, tc := range []struct{ name, secret string }{
		{"ssl absent", strings.Replace(plain, `"ssl":false`, `"other":1`, 1)},
		{"ssl true", strings.Replace(plain, `"ssl":false`, `"ssl":true`, 1)},
		{`ssl "true"`, strings.Replace(plain, `"ssl":false`, `"ssl":"true"`, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.secret == plain {
				t.Fatal("secret not modified")
			}
			err := sv.Test(ctx, rotation.NewString(tc.secret))
			if err == nil {
				t.Fatal("connected although TLS could not be verified")
			}
			if msg := err.Error(); !strings.Contains(msg, "TLS was required") {
				t.Errorf("error does not say TLS was required: %v", err)
			}
			if strings.Contains(err.Error(), pw) {
				t.Error("error contains the password")
			}
		})
	}

	// The same through a whole rotation: it fails and changes nothing.
	noSSL := strings.Replace(plain, `"ssl":false`, `"other":1`, 1)
	w := newWorld(t, config{mode: ModeSingle, policy: dbsecret.PostgreSQL.DefaultPolicy(), requireAuth: srv.configure(config{}).requireAuth}, noSSL, nil)
	err := w.rotate(ctx)
	if err == nil || !strings.Contains(err.Error(), "TLS was required") {
		t.Errorf("rotation with TLS required against the test server: %v", err)
	}
	if w.current(t) != noSSL {
		t.Error("AWSCURRENT changed")
	}
	if err := checkPasswordFor(srv)(ctx, &dbsecret.Secret{Username: user, Password: pw}); err != nil {
		t.Errorf("the password changed: %v", err)
	}
}

// TestTLSAgainstServer uses the test server's own certificate (Debian's
// snakeoil one, for "localhost") as the CA, when the server has TLS on
// and its certificate is readable here: verify-full connects to
// "localhost" with TLS and refuses 127.0.0.1 (not in the certificate);
// verify-ca accepts it; require encrypts without verifying.
func TestTLSAgainstServer(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	ctx := context.Background()
	c := srv.super(t, "")
	var ssl, certFile string
	err := c.QueryRow(ctx, "SELECT current_setting('ssl'), current_setting('ssl_cert_file')").Scan(&ssl, &certFile)
	c.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ssl != "on" || srv.host != "127.0.0.1" {
		testenv.Missing(t, "PostgreSQL with TLS on 127.0.0.1", fmt.Sprintf("the test server has ssl=%s at %s; enable ssl and name 127.0.0.1 in %s", ssl, srv.host, testenv.Postgres))
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		testenv.Missing(t, "the PostgreSQL server's certificate", fmt.Sprintf("it is not readable here: %v", err))
	}
	block, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.VerifyHostname("localhost") != nil || cert.VerifyHostname("127.0.0.1") == nil {
		testenv.Missing(t, "a PostgreSQL server certificate for localhost only", "the server's certificate does not name localhost, or also names 127.0.0.1 (Debian's snakeoil certificate names localhost only)")
	}
	d := srv.newDB(t)
	user, pw := uniqueName("tls"), newPassword()
	d.role(t, user, pw, "LOGIN")
	secret := func(host string, kv ...string) string {
		m := map[string]any{"engine": "postgres", "host": host, "port": srv.port, "username": user, "password": pw, "dbname": d.name, "sslrootcert": certFile}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		s, _ := rotation.NewJSON(m)
		v, _ := s.SecretString()
		return v
	}
	// pg_hba of a default Debian install admits 127.0.0.1 only: if
	// "localhost" resolves to ::1 and that is refused, the case skips.
	sv := testService(t, srv.configure(config{}))
	for _, tc := range []struct {
		name, secret string
		ok           bool
	}{
		{"verify-full, localhost", secret("localhost"), true},
		{"verify-full, IP not in the certificate", secret("127.0.0.1"), false},
		{"verify-ca, IP", secret("127.0.0.1", "sslmode", "verify-ca"), true},
		{"require, default CAs", strings.Replace(secret("127.0.0.1", "sslmode", "require"), certFile, "", 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := dbsecret.Parse(rotation.NewString(tc.secret), dbsecret.PostgreSQL)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := sv.connect(ctx, s)
			if !tc.ok {
				if err == nil || !strings.Contains(err.Error(), "certificate did not verify") {
					t.Errorf("connect: %v, want a certificate verification error", err)
				}
				if err == nil {
					conn.Close(ctx)
				}
				return
			}
			if err != nil {
				if strings.Contains(err.Error(), "pg_hba") || strings.Contains(err.Error(), "::1") {
					testenv.Missing(t, "PostgreSQL over IPv6 from localhost", fmt.Sprintf("pg_hba.conf does not admit ::1 here: %v", err))
				}
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if !connSSL(t, conn) {
				t.Error("the connection is not encrypted")
			}
		})
	}
}

// TestTLSRefusedByServer: a server that answers the SSLRequest with 'N'
// (no TLS) is not used in plaintext when TLS is required.
func TestTLSRefusedByServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var plaintext atomic.Bool
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var req [8]byte
				if _, err := io.ReadFull(c, req[:]); err != nil {
					return
				}
				if binary.BigEndian.Uint32(req[4:]) != 80877103 {
					plaintext.Store(true) // a startup message: plaintext
					return
				}
				_, _ = c.Write([]byte{'N'})
				if _, err := io.ReadFull(c, req[:]); err == nil {
					plaintext.Store(true) // the client went on without TLS
				}
			}()
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	s := rotation.NewString(`{"engine":"postgres","host":"` + host + `","port":` + port + `,"username":"u","password":"refused-tls-pw"}`)
	err = testService(t, config{}).Test(context.Background(), s)
	if err == nil {
		t.Fatal("connected")
	}
	if msg := err.Error(); !strings.Contains(msg, "TLS was required") || !strings.Contains(msg, "never downgraded") {
		t.Errorf("error does not say TLS was required and never downgraded: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	if plaintext.Load() {
		t.Error("the client fell back to plaintext")
	}
}

// tlsServer answers PostgreSQL's SSLRequest with 'S' and completes a TLS
// handshake with the given certificate, then hangs up. It counts the
// handshakes that succeeded.
type tlsServer struct {
	addr string
	ok   atomic.Int64
}

func startTLSServer(t *testing.T, cert tls.Certificate) *tlsServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &tlsServer{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				var req [8]byte
				if _, err := io.ReadFull(c, req[:]); err != nil || binary.BigEndian.Uint32(req[4:]) != 80877103 {
					return
				}
				if _, err := c.Write([]byte{'S'}); err != nil {
					return
				}
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				if tc.Handshake() == nil {
					s.ok.Add(1)
				}
			}()
		}
	}()
	return s
}

// TestTLSVerification checks certificate verification against a TLS
// endpoint: the default verifies chain and host name; verify-ca the chain
// only; require neither; sslrootcert names the CA.
func TestTLSVerification(t *testing.T) {
	t.Parallel()
	caPEM, goodCert := dbsecrettest.NewCA(t, nil, []net.IP{net.ParseIP("127.0.0.1")})
	otherCAPEM, otherNameCertOwnCA := dbsecrettest.NewCA(t, []string{"other.example"}, nil)
	caFile := dbsecrettest.WriteFile(t, caPEM)
	otherCAFile := dbsecrettest.WriteFile(t, otherCAPEM)
	good := startTLSServer(t, goodCert)
	wrongName := startTLSServer(t, otherNameCertOwnCA)

	secretFor := func(addr string, kv ...string) *rotation.Secret {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		m := map[string]any{"engine": "postgres", "host": host, "port": p, "username": "u", "password": "tls-test-password"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		s, err := rotation.NewJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name      string
		srv       *tlsServer
		secret    *rotation.Secret
		handshake bool   // the TLS handshake must succeed
		wantErr   string // otherwise, the error must contain this
	}{
		{"default CAs reject an unknown CA", good, secretFor(good.addr), false, "certificate"},
		{"sslrootcert trusts the CA", good, secretFor(good.addr, "sslrootcert", caFile), true, ""},
		{"verify-full checks the host name", wrongName, secretFor(wrongName.addr, "sslrootcert", otherCAFile), false, "certificate"},
		{"verify-ca skips the host name", wrongName, secretFor(wrongName.addr, "sslrootcert", otherCAFile, "sslmode", "verify-ca"), true, ""},
		{"verify-ca still checks the chain", good, secretFor(good.addr, "sslrootcert", otherCAFile, "sslmode", "verify-ca"), false, "certificate"},
		{"require encrypts without verifying", good, secretFor(good.addr, "sslmode", "require"), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.srv.ok.Load()
			err := testService(t, config{connectTimeout: 5 * time.Second}).Test(context.Background(), tc.secret)
			if err == nil {
				t.Fatal("connected to a server that is not PostgreSQL")
			}
			if strings.Contains(err.Error(), "tls-test-password") {
				t.Errorf("error contains the password: %v", err)
			}
			// The server counts the handshake just after the client sees
			// it complete.
			time.Sleep(20 * time.Millisecond)
			shook := tc.srv.ok.Load() > before
			if shook != tc.handshake {
				t.Errorf("handshake succeeded = %v, want %v (error: %v)", shook, tc.handshake, err)
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q lacks %q", err, tc.wantErr)
			}
			var ce *connError
			if !errors.As(err, &ce) {
				t.Errorf("error is %T, want *connError", err)
			}
		})
	}
}
