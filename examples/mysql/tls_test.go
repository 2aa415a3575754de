package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
)

// tlsServer is the start of a MySQL server, enough to test the client's
// TLS: it sends a protocol-10 handshake offering TLS, reads the client's
// SSLRequest, completes a TLS handshake with a certificate for
// "localhost" only, and hangs up. It records whether the TLS handshake
// succeeded.
type tlsServer struct {
	addr      string
	caFile    string
	handshake chan error
}

func startTLSServer(t *testing.T) *tlsServer {
	t.Helper()
	caPEM, cert := dbsecrettest.NewCA(t, []string{"localhost"}, nil)
	caFile := dbsecrettest.WriteFile(t, caPEM)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &tlsServer{addr: l.Addr().String(), caFile: caFile, handshake: make(chan error, 16)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c, cfg)
		}
	}()
	return s
}

func (s *tlsServer) serve(c net.Conn, cfg *tls.Config) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	const (
		clientLongPassword = 1 << 0
		clientProtocol41   = 1 << 9
		clientSSL          = 1 << 11
		clientTransactions = 1 << 13
		clientSecureConn   = 1 << 15
		clientPluginAuth   = 1 << 19
	)
	caps := uint32(clientLongPassword | clientProtocol41 | clientSSL | clientTransactions | clientSecureConn | clientPluginAuth)
	var p []byte
	p = append(p, 10)
	p = append(p, "8.0.36-tlstest\x00"...)
	p = binary.LittleEndian.AppendUint32(p, 1)
	p = append(p, "abcdefgh"...) // auth data part 1
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps))
	p = append(p, 255) // utf8mb4_0900_ai_ci
	p = binary.LittleEndian.AppendUint16(p, 2)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps>>16))
	p = append(p, 21)
	p = append(p, make([]byte, 10)...)
	p = append(p, "ijklmnopqrst\x00"...) // auth data part 2
	p = append(p, "mysql_native_password\x00"...)
	hdr := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), 0}
	if _, err := c.Write(append(hdr, p...)); err != nil {
		return
	}
	// The SSLRequest: a 32-byte packet.
	req := make([]byte, 4+32)
	if _, err := io.ReadFull(c, req); err != nil {
		s.handshake <- fmt.Errorf("no SSLRequest: %w", err)
		return
	}
	tc := tls.Server(c, cfg)
	s.handshake <- tc.Handshake()
}

// lastHandshake returns what the server saw of the latest TLS handshake.
func (s *tlsServer) lastHandshake() error {
	select {
	case err := <-s.handshake:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("no TLS handshake")
	}
}

// TestTLSVerification: TLS is verified by default, against the secret's
// CA bundle ("sslrootcert"), ROTATION_CA_BUNDLE or the system bundles,
// and the host name must match unless the secret relaxes it.
func TestTLSVerification(t *testing.T) {
	t.Parallel()
	srv := startTLSServer(t)
	_, port, _ := net.SplitHostPort(srv.addr)
	secret := func(host string, extra string) *rotation.Secret {
		return rotation.NewString(fmt.Sprintf(`{"engine":"mysql","host":%q,"port":%s,"username":"app","password":"pw-123456789"%s}`, host, port, extra))
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		caFiles []string
		secret  *rotation.Secret
		// wantVerified: the client completes the TLS handshake (the
		// fake server then hangs up, so the connection still fails).
		wantVerified bool
		wantErr      string
	}{
		{"sslrootcert, matching host", nil, secret("localhost", fmt.Sprintf(`,"sslrootcert":%q`, srv.caFile)), true, ""},
		{"ROTATION_CA_BUNDLE, matching host", []string{srv.caFile}, secret("localhost", ""), true, ""},
		{"ssl true, matching host", []string{srv.caFile}, secret("localhost", `,"ssl":true`), true, ""},
		{"host name mismatch", []string{srv.caFile}, secret("127.0.0.1", ""), false, "certificate"},
		{"verify-ca accepts another name", []string{srv.caFile}, secret("127.0.0.1", `,"sslmode":"verify-ca"`), true, ""},
		{"system bundles do not trust a private CA", nil, secret("localhost", ""), false, "certificate"},
	}
	for _, tt := range tests {
		c := &connector{caFiles: tt.caFiles, timeout: 5 * time.Second}
		err := c.test(ctx, tt.secret)
		if err == nil {
			t.Errorf("%s: the connection succeeded against a server that hangs up", tt.name)
			continue
		}
		if errors.Is(err, dbsecret.ErrNoCABundle) && tt.caFiles == nil {
			t.Logf("%s: no CA bundle on this machine: %v", tt.name, err)
			continue
		}
		serverSide := srv.lastHandshake()
		if tt.wantVerified {
			if serverSide != nil {
				t.Errorf("%s: the TLS handshake failed: %v (client: %v)", tt.name, serverSide, err)
			}
			continue
		}
		if serverSide == nil {
			t.Errorf("%s: the TLS handshake succeeded, want it refused", tt.name)
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error = %v, want it to mention %q", tt.name, err, tt.wantErr)
		}
	}
}
