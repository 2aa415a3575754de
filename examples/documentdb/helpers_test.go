package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
	"github.com/rotationkit/rotation/examples/internal/testenv"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The tests run against FerretDB v1.24.2, a MongoDB-wire server written in
// Go, with real SCRAM-SHA-256 authentication (its new authentication,
// with createUser/updateUser/usersInfo/dropUser) on SQLite. Each test
// binary starts one server on free loopback ports (plaintext and TLS with
// a throwaway CA for "localhost") and stops it at exit. scripts/ferretdb.sh
// builds the binary (kept out of examples/go.mod).
//
// FerretDB has no authorization and does not implement non-empty roles in
// createUser/updateUser: role copying and the privileged-role refusals are
// unit-tested (commands_test.go), and the users here have no roles.

const (
	envFerretDB = "ROTATION_TEST_FERRETDB"
	howToStart  = "run scripts/ferretdb.sh (it builds FerretDB v1.24.2 into $(go env GOPATH)/bin/ferretdb-v1.24.2) and set ROTATION_TEST_FERRETDB to the path it prints"
)

type ferret struct {
	addr, tlsAddr string
	host          string
	port, tlsPort int
	caFile        string
	adminUser     string
	adminPassword string
	cmd           *exec.Cmd
	dir           string
	log           *strings.Builder
}

var (
	ferretOnce sync.Once
	ferretSrv  *ferret
	ferretErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if ferretSrv != nil {
		ferretSrv.stop()
	}
	os.Exit(code)
}

// freePorts returns n distinct free loopback ports: all are held open
// together, so none is handed out twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// testServer returns the shared FerretDB server, starting it on first use.
func testServer(t testing.TB) *ferret {
	t.Helper()
	bin := testenv.Binary(t, envFerretDB, "ferretdb-v1.24.2", howToStart)
	ferretOnce.Do(func() { ferretSrv, ferretErr = startFerret(t, bin) })
	if ferretErr != nil {
		testenv.Missing(t, "FerretDB", ferretErr.Error()+"; "+howToStart)
	}
	return ferretSrv
}

// startFerret starts FerretDB, trying again on other ports when a port
// was taken between choosing it and FerretDB binding it (other test
// packages run at the same time).
func startFerret(t testing.TB, bin string) (*ferret, error) {
	var errs []error
	for range 3 {
		f, err := startFerretOnce(t, bin)
		if err == nil {
			return f, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func startFerretOnce(t testing.TB, bin string) (*ferret, error) {
	dir, err := os.MkdirTemp("", "rotationkit-ferretdb-")
	if err != nil {
		return nil, err
	}
	f := &ferret{dir: dir, host: "127.0.0.1", adminUser: "rk_admin", adminPassword: "Adm1n-" + randHex(8), log: &strings.Builder{}}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	f.port, f.tlsPort = ports[0], ports[1]
	debugPort := ports[2]
	f.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(f.port))
	f.tlsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(f.tlsPort))
	caPEM, cert := dbsecrettest.NewCA(t, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	f.caFile = filepath.Join(dir, "ca.pem")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(
		os.WriteFile(f.caFile, caPEM, 0o600),
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600),
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600),
		os.MkdirAll(filepath.Join(dir, "data"), 0o700),
	); err != nil {
		return nil, err
	}
	f.cmd = exec.Command(bin,
		"--listen-addr="+f.addr,
		"--listen-tls="+f.tlsAddr,
		"--listen-tls-cert-file="+certFile,
		"--listen-tls-key-file="+keyFile,
		"--handler=sqlite",
		"--sqlite-url=file:"+filepath.Join(dir, "data")+"/",
		"--state-dir="+dir,
		"--telemetry=disable",
		"--debug-addr="+net.JoinHostPort("127.0.0.1", strconv.Itoa(debugPort)),
		"--log-level=warn",
		"--test-enable-new-auth",
		"--setup-database=admin",
		"--setup-username="+f.adminUser,
		"--setup-password="+f.adminPassword,
	)
	f.cmd.Stdout, f.cmd.Stderr = lockedBuilder{f.log}, lockedBuilder{f.log}
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		// Process.Wait, not Cmd.Wait: stop calls Cmd.Wait.
		_, _ = f.cmd.Process.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := f.login(ctx, f.adminUser, f.adminPassword, "admin")
		cancel()
		if err == nil {
			return f, nil
		}
		select {
		case <-exited:
			_ = os.RemoveAll(f.dir)
			return nil, fmt.Errorf("FerretDB exited before accepting a login (a port taken?); its log:\n%s", f.log.String())
		default:
		}
		if time.Now().After(deadline) {
			f.stop()
			return nil, fmt.Errorf("FerretDB did not accept the admin login within 60s: %v; its log:\n%s", err, f.log.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

var logMu sync.Mutex

type lockedBuilder struct{ b *strings.Builder }

func (l lockedBuilder) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return l.b.Write(p)
}

func (f *ferret) stop() {
	if f.cmd != nil && f.cmd.Process != nil {
		_ = f.cmd.Process.Kill()
		_ = f.cmd.Wait()
	}
	_ = os.RemoveAll(f.dir)
}

// login is the tests' own SCRAM login, written independently of the
// function: a direct client with the credential, then connectionStatus,
// which must name the user.
func (f *ferret) login(ctx context.Context, user, password, db string) error {
	c, err := mongo.Connect(options.Client().SetHosts([]string{f.addr}).SetDirect(true).
		SetServerSelectionTimeout(5 * time.Second).SetRetryWrites(false).
		SetAuth(options.Credential{Username: user, Password: password, AuthSource: db, AuthMechanism: "SCRAM-SHA-256"}))
	if err != nil {
		return err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	var out bson.M
	if err := c.Database(db).RunCommand(ctx, bson.D{{Key: "connectionStatus", Value: 1}}).Decode(&out); err != nil {
		return err
	}
	b, _ := json.Marshal(out)
	if !strings.Contains(string(b), strconv.Quote(user)) {
		return fmt.Errorf("connectionStatus does not name the user")
	}
	return nil
}

// admin returns a client logged in as the server's admin.
func (f *ferret) admin(t testing.TB) *mongo.Database {
	t.Helper()
	c, err := mongo.Connect(options.Client().SetHosts([]string{f.addr}).SetDirect(true).SetRetryWrites(false).
		SetAuth(options.Credential{Username: f.adminUser, Password: f.adminPassword, AuthSource: "admin"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database("admin")
}

// createUser creates a user with no roles and drops it (and its clone)
// when the test ends.
func (f *ferret) createUser(t testing.TB, name, password string) {
	t.Helper()
	db := f.admin(t)
	if err := db.RunCommand(context.Background(), bson.D{{Key: "createUser", Value: name}, {Key: "pwd", Value: password}, {Key: "roles", Value: bson.A{}}}).Err(); err != nil {
		t.Fatalf("createUser: %v", err)
	}
	t.Cleanup(func() {
		for _, u := range []string{name, name + "_clone"} {
			_ = db.RunCommand(context.Background(), bson.D{{Key: "dropUser", Value: u}}).Err()
		}
	})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func uniqueName(prefix string) string { return "rk_doc_" + prefix + "_" + randHex(4) }

func newPassword() string { return "Pw1-" + randHex(10) }

// secretJSON is AWS's DocumentDB secret for user on the plaintext port.
func (f *ferret) secretJSON(user, password string, extra ...any) string {
	m := map[string]any{"engine": "mongo", "host": f.host, "port": f.port, "username": user, "password": password, "dbname": "admin", "ssl": false}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(m, extra[i].(string))
			continue
		}
		m[extra[i].(string)] = extra[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (f *ferret) adminSecret() string { return f.secretJSON(f.adminUser, f.adminPassword) }

// probe logs in with the secret's credential (the tests' own code).
func (f *ferret) probe(ctx context.Context, s *rotation.Secret) error {
	u, err := s.Get("username")
	if err != nil {
		return err
	}
	p, err := s.Get("password")
	if err != nil {
		return err
	}
	return f.login(ctx, u, p, "admin")
}

const adminName = "admin/documentdb"

type setup struct {
	cfg    config
	secret string
	others map[string]string
	base   string
}

func makeSetup(t testing.TB, f *ferret, mode Mode, withAdmin bool) *setup {
	st := &setup{cfg: config{mode: mode, policy: dbsecret.DocumentDB.DefaultPolicy()}}
	st.cfg.admin.AllowPlaintext = true
	user, pw := uniqueName("app"), newPassword()
	st.base = user
	f.createUser(t, user, pw)
	var extra []any
	if withAdmin || mode != ModeSingle {
		st.others = map[string]string{adminName: f.adminSecret()}
		extra = []any{"masterarn", adminName}
	}
	if mode == ModeSingle && withAdmin {
		st.cfg.allowedUsers = []string{user}
	}
	if mode == ModeAlternatingPrecreated {
		other := uniqueName("app")
		f.createUser(t, other, newPassword())
		st.cfg.users = [2]string{user, other}
	}
	st.secret = f.secretJSON(user, pw, extra...)
	return st
}

type world struct {
	fake   *localsm.Fake
	client *rotationtest.FaultClient
	arn    string
}

func newWorld(t *testing.T, c config, secret string, others map[string]string) *world {
	t.Helper()
	w := &world{}
	w.fake = localsm.New(localsm.Options{StrictRotationToken: true})
	ctx := context.Background()
	for name, v := range others {
		if _, err := w.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := w.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/documentdb"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	w.arn = aws.ToString(out.ARN)
	w.client = rotationtest.NewFaultClient(w.fake)
	r, err := newRotator(c, w.client)
	if err != nil {
		t.Fatal(err)
	}
	h, err := rotation.New(w.client, r, func(o *rotation.Options) { o.Logger = slog.New(slog.DiscardHandler) })
	if err != nil {
		t.Fatal(err)
	}
	w.fake.SetInvoker(localsm.HandlerInvoker(h.Handle))
	return w
}

func (w *world) rotate(ctx context.Context) error {
	_, err := w.fake.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(w.arn), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:documentdb-rotation")})
	return err
}

func (w *world) current(t testing.TB) string {
	t.Helper()
	out, err := w.fake.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(w.arn)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.SecretString)
}

func adminPlain() dbsecret.AdminPolicy { return dbsecret.AdminPolicy{AllowPlaintext: true} }
