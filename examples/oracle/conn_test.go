package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
	goora "github.com/sijms/go-ora/v2"
	"github.com/sijms/go-ora/v2/configurations"
)

// TestDriverConfig checks the go-ora configuration as the driver reads it
// (its own URL parser), with a password full of URL syntax.
func TestDriverConfig(t *testing.T) {
	ca := newTestCA(t)
	pem, err := os.ReadFile(ca.file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &connector{caFiles: []string{ca.file}, timeout: 2500 * time.Millisecond}
	pw := `p@ss/w:rd?#&%+ =x'`
	for _, tc := range []struct {
		name       string
		extra      map[string]any
		ssl        bool
		skipVerify bool
	}{
		{"default: TCPS, verified", nil, true, false},
		{"sslmode require", map[string]any{"sslmode": "require"}, true, true},
		{"ssl false", map[string]any{"ssl": false}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn, tlsCfg, err := c.driverConfig(mustParse(t, secretJSON("app", pw, tc.extra)))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := configurations.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.UserID != "app" || cfg.Password != pw || cfg.ServiceName != "ORCL" || len(cfg.Servers) != 1 || cfg.Servers[0].Addr != modelHost || cfg.Servers[0].Port != 2484 {
				t.Errorf("go-ora reads user %q, service %q, servers %+v, password kept %v", cfg.UserID, cfg.ServiceName, cfg.Servers, cfg.Password == pw)
			}
			if cfg.SSL != tc.ssl {
				t.Errorf("SSL = %v, want %v", cfg.SSL, tc.ssl)
			}
			if cfg.Timeout != 3*time.Second {
				t.Errorf("Timeout = %v, want 3s", cfg.Timeout)
			}
			if !tc.ssl {
				if tlsCfg != nil {
					t.Error("a TLS configuration for plain TCP")
				}
				return
			}
			if !cfg.SSLVerify || tlsCfg == nil || tlsCfg.InsecureSkipVerify != tc.skipVerify || tlsCfg.MinVersion < tls.VersionTLS12 {
				t.Fatalf("SSL VERIFY %v, TLS config %+v", cfg.SSLVerify, tlsCfg)
			}
			if !tc.skipVerify && (tlsCfg.RootCAs == nil || !tlsCfg.RootCAs.Equal(pool) || tlsCfg.ServerName != modelHost) {
				t.Error("RootCAs or ServerName is not the configured CA bundle and host")
			}
		})
	}
}

// TestAdminConnectionAlwaysVerified: whatever the rotated secret says
// about TLS, the admin credential goes over verified TCPS.
func TestAdminConnectionAlwaysVerified(t *testing.T) {
	ca := newTestCA(t)
	c := &connector{caFiles: []string{ca.file}}
	target := mustParse(t, secretJSON("app", "Aa1_aaaaaa", map[string]any{"ssl": false, "masterarn": "x"}))
	a, err := c.adminSecret(rotation.NewString(adminJSON("Aa1_bbbbbb")), target)
	if err != nil {
		t.Fatal(err)
	}
	dsn, tlsCfg, err := c.driverConfig(a)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := configurations.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.SSL || tlsCfg == nil || tlsCfg.InsecureSkipVerify || cfg.ServiceName != "ORCL" {
		t.Errorf("admin connection: SSL %v, TLS %v, service %q", cfg.SSL, tlsCfg != nil && !tlsCfg.InsecureSkipVerify, cfg.ServiceName)
	}
}

// tcpsServer accepts TLS connections with cert and records whether the
// handshake failed and whether the client went on to send anything (the
// TNS CONNECT packet, then the credentials).
type tcpsServer struct {
	ln   net.Listener
	cert tls.Certificate

	mu           sync.Mutex
	handshakeErr error
	gotData      bool
}

func newTCPSServer(t *testing.T, cert tls.Certificate) *tcpsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tcpsServer{ln: ln, cert: cert}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handle(c)
		}
	}()
	return s
}

func (s *tcpsServer) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	srv := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12})
	err := srv.Handshake()
	s.mu.Lock()
	s.handshakeErr = err
	s.mu.Unlock()
	if err != nil {
		return
	}
	var b [1]byte
	if _, err := io.ReadFull(srv, b[:]); err == nil {
		s.mu.Lock()
		s.gotData = true
		s.mu.Unlock()
	}
}

func (s *tcpsServer) result() (error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakeErr, s.gotData
}

type loopbackDialer struct{}

func (loopbackDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

// TestTLSRefusesUnverifiedCertificate runs the real go-ora driver, with
// the URL and TLS configuration the function builds, against a local TLS
// listener: a certificate from an untrusted CA, or for another host name,
// is refused in the handshake and nothing (no TNS packet, no credential)
// follows; the configured CA's certificate for the right name is accepted.
func TestTLSRefusesUnverifiedCertificate(t *testing.T) {
	ca := newTestCA(t)
	_, untrusted := dbsecrettest.NewCA(t, []string{modelHost}, nil)
	otherPEM, otherName := dbsecrettest.NewCA(t, []string{"other.rotation.test"}, nil)
	otherCAFile := dbsecrettest.WriteFile(t, otherPEM)
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
			srv := newTCPSServer(t, tc.cert)
			c := &connector{caFiles: []string{tc.caFile}, timeout: 5 * time.Second}
			sec := mustParse(t, secretJSON("app", "Aa1_secret-value", map[string]any{"port": srv.ln.Addr().(*net.TCPAddr).Port}))
			dsn, tlsCfg, err := c.driverConfig(sec)
			if err != nil {
				t.Fatal(err)
			}
			conn := goora.NewConnector(dsn).(*goora.OracleConnector)
			conn.WithTLSConfig(tlsCfg)
			conn.Dialer(loopbackDialer{})
			db := sql.OpenDB(conn)
			defer db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = db.PingContext(ctx)
			if err == nil {
				t.Fatal("the connection succeeded against a server that never answers")
			}
			deadline := time.Now().Add(5 * time.Second)
			var herr error
			var data bool
			for time.Now().Before(deadline) {
				if herr, data = srv.result(); herr != nil || data {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if tc.refused {
				if herr == nil || data {
					t.Errorf("handshake error %v, data sent %v: want the handshake refused and nothing sent", herr, data)
				}
				if werr := connectError(sec, err); !strings.Contains(werr.Error(), "did not verify") {
					t.Errorf("the error does not explain the refusal: %v", werr)
				}
			} else if !data {
				t.Errorf("the verified handshake did not go on (handshake error %v; client error %v)", herr, err)
			}
			if strings.Contains(err.Error(), "Aa1_secret-value") {
				t.Error("the driver's error holds the password")
			}
		})
	}
}

// TestPlainPortHint: TCPS against a port that answers in plain TCP gets
// an error that points at RDS's SSL option port.
func TestPlainPortHint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("\x00\x08\x00\x00\x04\x00\x00\x00 not TLS at all, a TNS refuse packet........."))
		time.Sleep(200 * time.Millisecond)
	}()
	ca := newTestCA(t)
	c := &connector{caFiles: []string{ca.file}, timeout: 5 * time.Second}
	sec := mustParse(t, secretJSON("app", "Aa1_secret", map[string]any{"port": ln.Addr().(*net.TCPAddr).Port}))
	dsn, tlsCfg, _ := c.driverConfig(sec)
	conn := goora.NewConnector(dsn).(*goora.OracleConnector)
	conn.WithTLSConfig(tlsCfg)
	conn.Dialer(loopbackDialer{})
	db := sql.OpenDB(conn)
	defer db.Close()
	err = db.Ping()
	if err == nil {
		t.Fatal("connected")
	}
	if werr := connectError(sec, err); !strings.Contains(werr.Error(), "2484") {
		t.Errorf("no hint about the TCPS port: %v", werr)
	}
}
