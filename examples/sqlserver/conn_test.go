package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
)

// TestDriverConfig checks the go-mssqldb configuration as the driver
// receives it, for each TLS setting of the secret.
func TestDriverConfig(t *testing.T) {
	ca := newTestCA(t)
	pem, err := os.ReadFile(ca.file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &connector{caFiles: []string{ca.file}, timeout: 3 * time.Second}
	pw := `p@ss;word={x}'"`
	for _, tc := range []struct {
		name       string
		extra      map[string]any
		encryption msdsn.Encryption
		skipVerify bool
		roots      bool
	}{
		{"default: encrypt=true, verified", nil, msdsn.EncryptionRequired, false, true},
		{"ssl true", map[string]any{"ssl": true}, msdsn.EncryptionRequired, false, true},
		{"sslmode require", map[string]any{"sslmode": "require"}, msdsn.EncryptionRequired, true, false},
		{"sslmode verify-ca", map[string]any{"sslmode": "verify-ca"}, msdsn.EncryptionRequired, true, true}, // chain checked in VerifyConnection
		{"ssl false", map[string]any{"ssl": false}, msdsn.EncryptionOff, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := c.driverConfig(mustParse(t, secretJSON("app", pw, "appdb", tc.extra)))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != modelHost || cfg.Port != 1433 || cfg.Database != "appdb" || cfg.User != "app" || cfg.Password != pw {
				t.Errorf("endpoint or credential: host %q port %d db %q user %q, password kept: %v", cfg.Host, cfg.Port, cfg.Database, cfg.User, cfg.Password == pw)
			}
			if cfg.Encryption != tc.encryption {
				t.Errorf("Encryption = %d, want %d", cfg.Encryption, tc.encryption)
			}
			if cfg.TrustServerCertificate {
				t.Error("TrustServerCertificate is set")
			}
			if !cfg.DisableRetry || cfg.DialTimeout != 3*time.Second {
				t.Errorf("DisableRetry %v, DialTimeout %v", cfg.DisableRetry, cfg.DialTimeout)
			}
			if cfg.TLSConfig == nil {
				t.Fatal("no TLS configuration")
			}
			if cfg.TLSConfig.InsecureSkipVerify != tc.skipVerify {
				t.Errorf("InsecureSkipVerify = %v, want %v", cfg.TLSConfig.InsecureSkipVerify, tc.skipVerify)
			}
			if tc.name == "sslmode verify-ca" && cfg.TLSConfig.VerifyConnection == nil {
				t.Error("verify-ca without VerifyConnection verifies nothing")
			}
			if tc.roots && (cfg.TLSConfig.RootCAs == nil || !cfg.TLSConfig.RootCAs.Equal(pool)) {
				t.Error("RootCAs is not the configured CA bundle")
			}
			if cfg.TLSConfig.ServerName != modelHost || cfg.TLSConfig.MinVersion < tls.VersionTLS12 {
				t.Errorf("ServerName %q, MinVersion %x", cfg.TLSConfig.ServerName, cfg.TLSConfig.MinVersion)
			}
			for k, v := range cfg.Parameters {
				if strings.Contains(v, "p@ss") {
					t.Errorf("the password is in DSN parameter %q: it went through a connection string", k)
				}
			}
		})
	}
}

// TestAdminConnectionAlwaysVerified: whatever the rotated secret says
// about TLS, the admin credential goes over verified TLS.
func TestAdminConnectionAlwaysVerified(t *testing.T) {
	ca := newTestCA(t)
	c := &connector{caFiles: []string{ca.file}}
	target := mustParse(t, secretJSON("app", "Aa1!aaaaaa", "appdb", map[string]any{"ssl": false, "masterarn": "x"}))
	a, err := c.adminSecret(rotation.NewString(adminJSON("Aa1!bbbbbb")), target)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.driverConfig(a)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Encryption != msdsn.EncryptionRequired || cfg.TLSConfig.InsecureSkipVerify || cfg.Database != "appdb" {
		t.Errorf("admin connection: encryption %d, skip verify %v, database %q", cfg.Encryption, cfg.TLSConfig.InsecureSkipVerify, cfg.Database)
	}
}

// tdsServer is a listener that speaks just enough TDS to answer a
// PRELOGIN with "encryption on" and run the TLS handshake the way SQL
// Server does: TLS records wrapped in PRELOGIN packets, then raw TLS. It
// records whether a LOGIN7 packet (type 0x10, the one that carries the
// password) arrived.
type tdsServer struct {
	ln   net.Listener
	cert tls.Certificate

	mu           sync.Mutex
	handshakeErr error
	gotLogin     bool
}

func newTDSServer(t *testing.T, cert tls.Certificate) *tdsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tdsServer{ln: ln, cert: cert}
	t.Cleanup(func() { _ = ln.Close() })
	go s.serve()
	return s
}

func (s *tdsServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func readPacket(r io.Reader) (typ byte, payload []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(h[2:4]))
	if n < 8 {
		return 0, nil, errors.New("short packet")
	}
	payload = make([]byte, n-8)
	_, err = io.ReadFull(r, payload)
	return h[0], payload, err
}

func writePacket(w io.Writer, typ byte, payload []byte) error {
	h := []byte{typ, 0x01, 0, 0, 0, 0, 1, 0}
	binary.BigEndian.PutUint16(h[2:4], uint16(len(payload)+8))
	_, err := w.Write(append(h, payload...))
	return err
}

// wrapped carries TLS records in PRELOGIN packets until raw is set.
type wrapped struct {
	net.Conn
	raw  bool
	rbuf []byte
}

func (w *wrapped) Read(b []byte) (int, error) {
	if w.raw {
		return w.Conn.Read(b)
	}
	for len(w.rbuf) == 0 {
		_, p, err := readPacket(w.Conn)
		if err != nil {
			return 0, err
		}
		w.rbuf = p
	}
	n := copy(b, w.rbuf)
	w.rbuf = w.rbuf[n:]
	return n, nil
}

func (w *wrapped) Write(b []byte) (int, error) {
	if w.raw {
		return w.Conn.Write(b)
	}
	if err := writePacket(w.Conn, 0x12, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (s *tdsServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

func (s *tdsServer) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if typ, _, err := readPacket(c); err != nil || typ != 0x12 {
		return
	}
	// PRELOGIN response: VERSION (6 bytes) and ENCRYPTION = ON (1).
	opts := []byte{0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xFF}
	data := append(opts, 16, 0, 0, 0, 0, 0, 0x01)
	if err := writePacket(c, 0x04, data); err != nil {
		return
	}
	w := &wrapped{Conn: c}
	srv := tls.Server(w, &tls.Config{Certificates: []tls.Certificate{s.cert}, SessionTicketsDisabled: true, MinVersion: tls.VersionTLS12})
	err := srv.Handshake()
	s.mu.Lock()
	s.handshakeErr = err
	s.mu.Unlock()
	if err != nil {
		return
	}
	w.raw = true
	var h [8]byte
	if _, err := io.ReadFull(srv, h[:]); err == nil && h[0] == 0x10 {
		s.mu.Lock()
		s.gotLogin = true
		s.mu.Unlock()
	}
}

func (s *tdsServer) result() (error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakeErr, s.gotLogin
}

// TestTLSRefusesUnverifiedCertificate runs the real go-mssqldb driver,
// with the configuration the function builds, against a local listener:
// a certificate from an untrusted CA, or for another host name, is
// refused during the handshake and the login packet (with the password)
// is never sent; the certificate of the configured CA for the right name
// is accepted and the login follows.
func TestTLSRefusesUnverifiedCertificate(t *testing.T) {
	ca := newTestCA(t) // trusted, for modelHost
	_, untrusted := dbsecrettest.NewCA(t, []string{modelHost}, nil)
	trustedCAPEM, otherName := dbsecrettest.NewCA(t, []string{"other.rotation.test"}, nil)
	otherCAFile := dbsecrettest.WriteFile(t, trustedCAPEM)
	for _, tc := range []struct {
		name    string
		cert    tls.Certificate
		caFile  string
		refused bool
	}{
		{"untrusted CA", untrusted, ca.file, true},
		{"wrong host name", otherName, otherCAFile, true},
		{"trusted", ca.cert, ca.file, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTDSServer(t, tc.cert)
			c := &connector{caFiles: []string{tc.caFile}, timeout: 5 * time.Second}
			sec := mustParse(t, secretJSON("app", "Aa1!secret-value", "appdb", map[string]any{"port": srv.port()}))
			// Reach the loopback listener under the certificate's host
			// name: the dialer resolves the name to 127.0.0.1.
			cfg, err := c.driverConfig(sec)
			if err != nil {
				t.Fatal(err)
			}
			conn := mssql.NewConnectorConfig(cfg)
			conn.Dialer = loopbackDialer{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			db := sql.OpenDB(conn)
			defer db.Close()
			err = db.PingContext(ctx)
			if err == nil {
				t.Fatal("the connection succeeded against a server that never logs in")
			}
			if strings.Contains(err.Error(), "Aa1!secret-value") {
				t.Error("the driver's error holds the password")
			}
			deadline := time.Now().Add(5 * time.Second)
			var herr error
			var login bool
			for time.Now().Before(deadline) {
				if herr, login = srv.result(); herr != nil || login {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if tc.refused {
				if herr == nil || login {
					t.Errorf("handshake error %v, login packet sent %v: want the handshake refused and no login", herr, login)
				}
				if werr := connectError(sec, err); !strings.Contains(werr.Error(), "did not verify") {
					t.Errorf("the error does not explain the refusal: %v", werr)
				}
			} else if !login {
				t.Errorf("the verified handshake did not go on to the login (handshake error %v; client error %v)", herr, err)
			}
		})
	}
}

// loopbackDialer dials 127.0.0.1 whatever the host name. It is a
// mssql.HostDialer, so the driver does not resolve the name itself: no
// DNS query leaves the machine.
type loopbackDialer struct{}

func (loopbackDialer) HostName() string { return modelHost }

func (loopbackDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}
