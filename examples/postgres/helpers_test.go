package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/examples/internal/testenv"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

const howToStart = `start PostgreSQL and set ROTATION_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable (a superuser URL)`

// pgServer is the test server, reached as a superuser.
type pgServer struct {
	cfg  *pgx.ConnConfig // superuser, database "postgres"
	host string
	port int

	// tlsCA is the server's certificate file, when the server has TLS on
	// with a certificate for "localhost" that verifies with it as the CA
	// (Debian's snakeoil certificate) and "localhost" is the server's
	// address: the secrets then name "localhost", and the admin
	// connections use real, verified TLS (CA_BUNDLE=tlsCA). Otherwise ""
	// and the fixtures set DB_ADMIN_ALLOW_PLAINTEXT.
	tlsCA string
	// trust is true when the server lets any password in: the function's
	// SCRAM-only logins are then relaxed to accept no authentication.
	trust bool
}

var (
	serverOnce sync.Once
	server     *pgServer
	serverErr  error
)

// testServer returns the server named by ROTATION_TEST_POSTGRES, or skips
// (fails when ROTATION_REQUIRE_SERVICES=1).
func testServer(t *testing.T) *pgServer {
	t.Helper()
	url := testenv.Lookup(t, testenv.Postgres, howToStart)
	serverOnce.Do(func() {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			serverErr = fmt.Errorf("%s is not a valid PostgreSQL URL", testenv.Postgres)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			serverErr = fmt.Errorf("connecting to %s: %v", testenv.Postgres, describe(err))
			return
		}
		defer c.Close(ctx)
		var super bool
		if err := c.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || !super {
			serverErr = fmt.Errorf("%s must name a superuser", testenv.Postgres)
			return
		}
		server = &pgServer{cfg: cfg, host: cfg.Host, port: int(cfg.Port)}
		server.tlsCA = detectTLS(ctx, c, server)
		server.trust = detectTrust(ctx, c, server)
	})
	if serverErr != nil {
		testenv.Missing(t, "PostgreSQL", serverErr.Error()+"; "+howToStart)
	}
	return server
}

// detectTLS returns the server's certificate file if the server offers TLS
// that verify-full accepts for "localhost" with that file as the CA, and
// "localhost" is the server's address; otherwise "".
func detectTLS(ctx context.Context, c *pgx.Conn, s *pgServer) string {
	var ssl, certFile string
	if err := c.QueryRow(ctx, "SELECT current_setting('ssl'), current_setting('ssl_cert_file')").Scan(&ssl, &certFile); err != nil || ssl != "on" {
		return ""
	}
	if s.host != "localhost" && s.host != "127.0.0.1" {
		return ""
	}
	if addrs, err := net.DefaultResolver.LookupHost(ctx, "localhost"); err != nil || len(addrs) == 0 || (s.host == "127.0.0.1" && slices.ContainsFunc(addrs, func(a string) bool { return a != "127.0.0.1" })) {
		return ""
	}
	if _, err := os.ReadFile(certFile); err != nil {
		return ""
	}
	sec := &dbsecret.Secret{Host: "localhost", Port: s.port, TLS: dbsecret.TLSVerifyFull, SSLRootCert: certFile}
	tlsCfg, err := sec.TLSConfig()
	if err != nil {
		return ""
	}
	cfg := s.cfg.Copy()
	cfg.Host, cfg.TLSConfig, cfg.Fallbacks = "localhost", tlsCfg, nil
	tc, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return ""
	}
	defer tc.Close(ctx)
	return certFile
}

// detectTrust reports whether the server lets a wrong password in.
func detectTrust(ctx context.Context, c *pgx.Conn, s *pgServer) bool {
	role := uniqueName("hba")
	if _, err := c.Exec(ctx, "CREATE ROLE "+ident(role)+" LOGIN PASSWORD 'right-password-1'"); err != nil {
		return false
	}
	defer func() { _, _ = c.Exec(ctx, "DROP ROLE "+ident(role)) }()
	cfg := s.cfg.Copy()
	cfg.User, cfg.Password = role, "wrong-password-2"
	tc, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	tc.Close(ctx)
	return true
}

// secretHost is the host the tests' secrets name.
func (s *pgServer) secretHost() string {
	if s.tlsCA != "" {
		return "localhost"
	}
	return s.host
}

// configure returns c set up for the test server: the admin connection
// verified with the server's certificate as the CA bundle (or, on a server
// without usable TLS, DB_ADMIN_ALLOW_PLAINTEXT), and on a "trust" server
// logins that accept no authentication.
func (s *pgServer) configure(c config) config {
	if s.tlsCA != "" {
		c.caFiles = []string{s.tlsCA}
	} else {
		c.admin.AllowPlaintext = true
	}
	if s.trust {
		c.requireAuth = "scram-sha-256,none"
	}
	return c
}

// env is configure for the built function: its environment variables.
func (s *pgServer) env() []string {
	if s.tlsCA != "" {
		return []string{"CA_BUNDLE=" + s.tlsCA}
	}
	return []string{"DB_ADMIN_ALLOW_PLAINTEXT=true"}
}

// testService builds the service for c as newRotator does.
func testService(t testing.TB, c config) *service {
	t.Helper()
	sv, err := newService(c)
	if err != nil {
		t.Fatal(err)
	}
	return sv
}

// connect connects as the superuser to database db ("" means postgres).
func (s *pgServer) connect(db string) (*pgx.Conn, error) {
	cfg := s.cfg.Copy()
	if db != "" {
		cfg.Database = db
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting as the superuser: %s", describe(err))
	}
	return c, nil
}

// super is connect for the test goroutine.
func (s *pgServer) super(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	c, err := s.connect(db)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// uniqueName returns a fresh lower-case identifier with prefix.
func uniqueName(prefix string) string { return "rk_" + prefix + "_" + randHex(4) }

// newDB creates a database for the test, with the public schema open to
// everyone (the tests' roles create tables there), and drops it, and
// every role registered with dropRole, when the test ends.
func (s *pgServer) newDB(t *testing.T) *testDB {
	t.Helper()
	name := uniqueName("db")
	c := s.super(t, "")
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), "CREATE DATABASE "+ident(name)); err != nil {
		t.Fatalf("CREATE DATABASE: %v", describe(err))
	}
	d := &testDB{srv: s, name: name}
	t.Cleanup(func() { d.drop(t) })
	dc := s.super(t, name)
	defer dc.Close(context.Background())
	if _, err := dc.Exec(context.Background(), "GRANT ALL ON SCHEMA public TO PUBLIC"); err != nil {
		t.Fatalf("GRANT: %v", describe(err))
	}
	return d
}

type testDB struct {
	srv  *pgServer
	name string

	mu    sync.Mutex
	roles []string
}

// createRole creates a role with the given password and attributes and
// registers it to be dropped. Safe to call from any goroutine.
func (d *testDB) createRole(name, password, attrs string) error {
	d.track(name)
	sql := "CREATE ROLE " + ident(name) + " " + attrs
	if password != "" {
		lit, err := quoteLiteral(password)
		if err != nil {
			return err
		}
		sql += " PASSWORD " + lit
	}
	return d.execErr(sql)
}

// role is createRole for the test goroutine.
func (d *testDB) role(t testing.TB, name, password, attrs string) {
	t.Helper()
	if err := d.createRole(name, password, attrs); err != nil {
		t.Fatal(err)
	}
}

// track registers a role (created by the rotator, such as a clone) to be
// dropped.
func (d *testDB) track(names ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.roles = append(d.roles, names...)
}

// execErr runs statements as the superuser in the test database.
func (d *testDB) execErr(sqls ...string) error {
	c, err := d.srv.connect(d.name)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	for _, s := range sqls {
		if _, err := c.Exec(context.Background(), s); err != nil {
			return fmt.Errorf("%s: %s", s, describe(err))
		}
	}
	return nil
}

// exec is execErr for the test goroutine.
func (d *testDB) exec(t testing.TB, sqls ...string) {
	t.Helper()
	if err := d.execErr(sqls...); err != nil {
		t.Fatal(err)
	}
}

// dropRoles drops the given roles (all registered ones if none are
// given) and what they own in the test database, and forgets them.
func (d *testDB) dropRoles(only ...string) error {
	d.mu.Lock()
	var roles, keep []string
	for _, r := range d.roles {
		if len(only) == 0 || slices.Contains(only, r) {
			roles = append(roles, r)
		} else {
			keep = append(keep, r)
		}
	}
	d.roles = keep
	d.mu.Unlock()
	if len(roles) == 0 {
		return nil
	}
	ctx := context.Background()
	c, err := d.srv.connect(d.name)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var errs []error
	// Members first (clones), then the roles they belong to.
	slices.Reverse(roles)
	for _, r := range roles {
		var n int
		_ = c.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", r).Scan(&n)
		if n == 0 {
			continue
		}
		if _, err := c.Exec(ctx, "DROP OWNED BY "+ident(r)); err != nil {
			errs = append(errs, fmt.Errorf("DROP OWNED BY %q: %s", r, describe(err)))
		}
		if _, err := c.Exec(ctx, "DROP ROLE "+ident(r)); err != nil {
			errs = append(errs, fmt.Errorf("DROP ROLE %q: %s", r, describe(err)))
		}
	}
	return errors.Join(errs...)
}

func (d *testDB) drop(t testing.TB) {
	if err := d.dropRoles(); err != nil {
		t.Error(err)
	}
	c := d.srv.super(t, "")
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident(d.name)+" WITH (FORCE)"); err != nil {
		t.Errorf("DROP DATABASE: %v", describe(err))
	}
}

// secretJSON returns the AWS template's secret for user on the test
// server, in plaintext ("ssl" is false explicitly: the server's
// certificate is in no default CA bundle), with extra fields. An extra
// field with a nil value is removed.
func (d *testDB) secretJSON(user, password string, extra ...any) string {
	m := map[string]any{
		"engine": "postgres", "host": d.srv.secretHost(), "port": d.srv.port,
		"username": user, "password": password, "dbname": d.name, "ssl": false,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(m, extra[i].(string))
			continue
		}
		m[extra[i].(string)] = extra[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// probe connects with the secret's credentials, independently of the
// rotator's code, and runs SELECT 1.
func probe(ctx context.Context, secret *rotation.Secret) error {
	s, err := dbsecret.Parse(secret, dbsecret.PostgreSQL)
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s:%d/?sslmode=disable&connect_timeout=5", s.Host, s.Port))
	if err != nil {
		return errors.New("bad probe configuration")
	}
	cfg.User, cfg.Password, cfg.Database = s.Username, s.Password, s.DBName
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return errors.New(describe(err))
	}
	defer c.Close(context.Background())
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return errors.New(describe(err))
	}
	return nil
}

// asUser connects with the secret's credentials for checks that run SQL.
func asUser(t testing.TB, secret string) *pgx.Conn {
	t.Helper()
	s, err := dbsecret.Parse(rotation.NewString(secret), dbsecret.PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := testService(t, server.configure(config{})).connect(context.Background(), s)
	if err != nil {
		t.Fatalf("connecting as %q: %v", s.Username, err)
	}
	return c
}

// handlerFor builds the function as main does, for mode, around client.
func handlerFor(t testing.TB, c config, client rotation.Client, logger *slog.Logger) *rotation.Handler {
	t.Helper()
	r, err := newRotator(c, client)
	if err != nil {
		t.Fatal(err)
	}
	h, err := rotation.New(client, r, func(o *rotation.Options) { o.Logger = logger })
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// world is a fake Secrets Manager with the function installed in
// process, for tests outside the conformance suite.
type world struct {
	fake   *localsm.Fake
	client *rotationtest.FaultClient
	arn    string
	logs   *strings.Builder
	mu     sync.Mutex
}

const testFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:postgres-rotation"

// newWorld seeds the fake with others (by name) and the main secret, and
// installs the function built for c.
func newWorld(t *testing.T, c config, secret string, others map[string]string) *world {
	t.Helper()
	w := &world{logs: &strings.Builder{}}
	w.fake = localsm.New(localsm.Options{StrictRotationToken: true})
	ctx := context.Background()
	for name, v := range others {
		if _, err := w.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := w.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/postgres"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	w.arn = aws.ToString(out.ARN)
	w.client = rotationtest.NewFaultClient(w.fake)
	h := handlerFor(t, c, w.client, slog.New(slog.NewTextHandler(lockedWriter{w}, nil)))
	w.fake.SetInvoker(localsm.HandlerInvoker(h.Handle))
	return w
}

type lockedWriter struct{ w *world }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	return l.w.logs.Write(p)
}

func (w *world) rotate(ctx context.Context) error {
	_, err := w.fake.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(w.arn), RotationLambdaARN: aws.String(testFunctionARN)})
	return err
}

// current returns the AWSCURRENT SecretString.
func (w *world) current(t testing.TB) string {
	t.Helper()
	return w.staged(t, "AWSCURRENT")
}

// staged returns the SecretString labelled stage.
func (w *world) staged(t testing.TB, stage string) string {
	t.Helper()
	out, err := w.fake.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(w.arn), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.SecretString)
}

func (w *world) log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs.String()
}

// field returns a string field of a JSON secret.
func field(t testing.TB, secret, name string) string {
	t.Helper()
	v, err := rotation.NewString(secret).Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rotationSecret(s string) *rotation.Secret { return rotation.NewString(s) }
