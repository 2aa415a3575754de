package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/testenv"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testHost is a real OpenSSH sshd on 127.0.0.1, with its own host key,
// configuration and authorized_keys file in a temporary directory. The
// session's HOME is set to <dir>/home (sshd_config SetEnv), so the default
// authorized_keys_path, ".ssh/authorized_keys", names the file this sshd
// reads: several hosts share one user without sharing a file.
type testHost struct {
	t       testing.TB
	bin     string
	dir     string
	addr    string
	hostKey ssh.Signer
	env     []string // more NAME=VALUE for the sessions' environment

	mu  sync.Mutex
	cmd *exec.Cmd
	log *syncBuffer
}

// sshdBinary finds sshd, skipping (or failing under
// ROTATION_REQUIRE_SERVICES=1) when it is not installed.
func sshdBinary(t testing.TB) string {
	t.Helper()
	bin := testenv.Binary(t, testenv.SSHD, "sshd", "apt-get install openssh-server", "/usr/sbin/sshd")
	if os.Geteuid() == 0 {
		// sshd refuses to start without its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("creating /run/sshd: %v", err)
		}
	}
	return bin
}

// loginUser is the user the tests log in as: whoever runs them.
func loginUser(t testing.TB) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	return u.Username
}

// startHost starts an sshd whose authorized_keys holds authorized.
func startHost(t testing.TB, authorized string) *testHost {
	t.Helper()
	return startHostEnv(t, authorized)
}

// startHostEnv is startHost with more environment variables (NAME=VALUE,
// no spaces) for the sessions, set with sshd_config SetEnv, which
// overrides sshd's defaults: PATH, for instance.
func startHostEnv(t testing.TB, authorized string, env ...string) *testHost {
	t.Helper()
	h := &testHost{t: t, bin: sshdBinary(t), dir: t.TempDir(), env: env}
	if err := os.MkdirAll(filepath.Join(h.dir, "home", ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	h.setAuthorized(authorized)
	h.newHostKey()
	for attempt := 0; ; attempt++ {
		h.addr = freeAddr(t)
		h.writeConfig()
		err := h.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatal(err)
		}
	}
	t.Cleanup(h.stop)
	return h
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (h *testHost) authorizedPath() string {
	return filepath.Join(h.dir, "home", ".ssh", "authorized_keys")
}

func (h *testHost) setAuthorized(s string) {
	h.t.Helper()
	if err := os.WriteFile(h.authorizedPath(), []byte(s), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *testHost) authorized() string {
	h.t.Helper()
	b, err := os.ReadFile(h.authorizedPath())
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// newHostKey generates and writes a new ed25519 host key (in Go: no
// ssh-keygen needed). It takes effect at the next start.
func (h *testHost) newHostKey() {
	h.t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test host key")
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, "host_ed25519_key"), pem.EncodeToMemory(block), 0o600); err != nil {
		h.t.Fatal(err)
	}
	if h.hostKey, err = ssh.NewSignerFromKey(priv); err != nil {
		h.t.Fatal(err)
	}
}

// knownHostsLine is the known_hosts line for this host.
func (h *testHost) knownHostsLine() string {
	return knownhosts.Line([]string{h.addr}, h.hostKey.PublicKey())
}

var penalties struct {
	once sync.Once
	ok   bool
}

func (h *testHost) writeConfig() {
	h.t.Helper()
	_, port, _ := net.SplitHostPort(h.addr)
	cfg := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowUsers %s
SetEnv HOME=%s
MaxStartups 200
MaxSessions 50
MaxAuthTries 10
PrintMotd no
LogLevel VERBOSE
`, port, filepath.Join(h.dir, "host_ed25519_key"), filepath.Join(h.dir, "sshd.pid"),
		h.authorizedPath(), loginUser(h.t), strings.Join(append([]string{filepath.Join(h.dir, "home")}, h.env...), " "))
	path := filepath.Join(h.dir, "sshd_config")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		h.t.Fatal(err)
	}
	// OpenSSH 9.8 and later penalise addresses whose connections fail
	// authentication, which the tests do on purpose; older versions do not
	// know the option.
	penalties.once.Do(func() {
		penalties.ok = exec.Command(h.bin, "-t", "-f", path, "-o", "PerSourcePenalties=no").Run() == nil
	})
	if penalties.ok {
		if err := os.WriteFile(path, []byte(cfg+"PerSourcePenalties no\n"), 0o600); err != nil {
			h.t.Fatal(err)
		}
	}
}

// start runs sshd and waits until it answers with its banner.
func (h *testHost) start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd != nil {
		return nil
	}
	h.log = &syncBuffer{}
	cmd := exec.Command(h.bin, "-D", "-e", "-f", filepath.Join(h.dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = h.log, h.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("sshd exited at start:\n%s", h.log.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", h.addr, 200*time.Millisecond); err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 8)
			n, _ := c.Read(buf)
			c.Close()
			if bytes.HasPrefix(buf[:n], []byte("SSH-")) {
				h.cmd = cmd
				go func() {
					<-exited
					h.mu.Lock()
					defer h.mu.Unlock()
					if h.cmd == cmd {
						h.cmd = nil
					}
				}()
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("sshd did not answer on %s:\n%s", h.addr, h.log.String())
}

// stop terminates sshd (the listener closes; the port stays ours for a
// restart with the same address).
func (h *testHost) stop() {
	h.mu.Lock()
	cmd := h.cmd
	h.cmd = nil
	h.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", h.addr, 100*time.Millisecond); err != nil {
			return
		} else {
			c.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
}

// restart stops and starts sshd on the same address.
func (h *testHost) restart() {
	h.t.Helper()
	h.stop()
	if err := h.start(); err != nil {
		h.t.Fatal(err)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// clientKey is a key pair as the secret stores it.
type clientKey struct {
	private string // OpenSSH PEM
	signer  ssh.Signer
}

func newClientKey(t testing.TB) clientKey {
	t.Helper()
	k, err := genClientKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func genClientKey() (clientKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return clientKey{}, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return clientKey{}, err
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return clientKey{}, err
	}
	return clientKey{private: string(pem.EncodeToMemory(block)), signer: s}, nil
}

// line is the key's authorized_keys line with comment.
func (k clientKey) line(comment string) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.signer.PublicKey()))) + " " + comment
}

// secretJSON is the SecretString for key on hosts.
func secretJSON(t testing.TB, key clientKey, comment string, hosts ...*testHost) string {
	t.Helper()
	v, err := makeSecretJSON(key, comment, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func makeSecretJSON(key clientKey, comment string, hosts ...*testHost) (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", err
	}
	var addrs, known []string
	for _, h := range hosts {
		addrs = append(addrs, h.addr)
		known = append(known, h.knownHostsLine())
	}
	b, err := json.Marshal(map[string]any{
		"username":    u.Username,
		"hosts":       addrs,
		"private_key": key.private,
		"public_key":  key.line(comment),
		"known_hosts": strings.Join(known, "\n") + "\n",
	})
	return string(b), err
}

// login logs in to addr with the private key of secret s and runs a
// command, verifying the host key against hostKey. It is the tests' own
// client, independent of the rotator's code.
func login(ctx context.Context, s *rotation.Secret, addr string, hostKey ssh.PublicKey) error {
	return loginDial(ctx, s, addr, hostKey, quickDial)
}

// loginDial is login with dial making the TCP connection.
func loginDial(ctx context.Context, s *rotation.Secret, addr string, hostKey ssh.PublicKey, dial func(ctx context.Context, network, addr string) (net.Conn, error)) error {
	str, _ := s.SecretString()
	var v struct {
		Username   string `json:"username"`
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal([]byte(str), &v); err != nil {
		return errors.New("the secret is not JSON")
	}
	signer, err := ssh.ParsePrivateKey([]byte(v.PrivateKey))
	if err != nil {
		return errors.New("the secret's private key does not parse")
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	raw, err := dial(dctx, "tcp", addr)
	if err != nil {
		return err
	}
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(raw, addr, &ssh.ClientConfig{
		User:            v.Username,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
	})
	if err != nil {
		raw.Close()
		return fmt.Errorf("%s: %w", addr, err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	if out, err := sess.Output("true"); err != nil {
		return fmt.Errorf("%s: running a command: %v %s", addr, err, out)
	}
	return nil
}

// loginAll logs in with s on every host, in parallel.
func loginAll(ctx context.Context, s *rotation.Secret, hosts ...*testHost) error {
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = login(ctx, s, h.addr, h.hostKey.PublicKey())
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
