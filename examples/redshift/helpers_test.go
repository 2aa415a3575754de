package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// The tests use the PostgreSQL server named by ROTATION_TEST_POSTGRES as
// a stand-in for Redshift: same wire protocol, and it accepts the
// statements the function sends (ALTER USER ... PASSWORD 'md5...', CREATE
// USER, ALTER GROUP ... ADD/DROP USER, pg_group, pg_user). Redshift-only
// statements (roles, SVV_* privilege views) are unit-tested in sql_test.go.
//
// A PostgreSQL role whose password is stored as an md5 hash can log in
// only where pg_hba.conf says md5 (or trust); under scram-sha-256 (as in
// CI) the login is refused. So the tests pick the hash form per server:
// md5 (what Redshift gets) when md5-stored roles can log in or the server
// trusts everyone, else SCRAM-SHA-256 (PASSWORD_HASH=scram-sha-256). The
// md5 form itself is always checked by TestMD5PasswordAccepted: the
// server stores exactly 'md5' || md5(password || user) computed by its
// own md5().

const howToStart = `start PostgreSQL and set ROTATION_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable (a superuser URL)`

type pgServer struct {
	cfg  *pgx.ConnConfig
	host string
	port int
	// trust: the server lets a wrong password in.
	trust bool
	// md5Login: a role with an md5-hashed password can log in.
	md5Login bool
}

// hash is the PASSWORD_HASH the tests use on this server.
func (s *pgServer) hash() string {
	if s.trust || s.md5Login {
		return hashMD5
	}
	return hashSCRAM
}

var (
	serverOnce sync.Once
	server     *pgServer
	serverErr  error
)

func testServer(t testing.TB) *pgServer {
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
		server.trust = server.canLogin(ctx, c, "right-Password-1", "wrong-Password-2", false)
		server.md5Login = !server.trust && server.canLogin(ctx, c, "right-Password-1", "right-Password-1", true)
	})
	if serverErr != nil {
		testenv.Missing(t, "PostgreSQL", serverErr.Error()+"; "+howToStart)
	}
	return server
}

// canLogin creates a throwaway role with password pw (md5-hashed if md5)
// and reports whether logging in with try succeeds.
func (s *pgServer) canLogin(ctx context.Context, c *pgx.Conn, pw, try string, md5 bool) bool {
	role := uniqueName("hba")
	lit := "'" + pw + "'"
	if md5 {
		lit = "'" + md5Password(role, pw) + "'"
	}
	if _, err := c.Exec(ctx, "CREATE ROLE "+ident(role)+" LOGIN PASSWORD "+lit); err != nil {
		return false
	}
	defer func() { _, _ = c.Exec(ctx, "DROP ROLE "+ident(role)) }()
	cfg := s.cfg.Copy()
	cfg.User, cfg.Password = role, try
	tc, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	tc.Close(ctx)
	return true
}

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

func (s *pgServer) super(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	c, err := s.connect(db)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// configure returns c set up for the test server.
func (s *pgServer) configure(c config) config {
	c.admin.AllowPlaintext = true
	c.hash = s.hash()
	if c.policy.Length == 0 {
		c.policy = dbsecret.Redshift.DefaultPolicy()
	}
	return c
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func uniqueName(prefix string) string { return "rk_rs_" + prefix + "_" + randHex(4) }

// newPassword returns a password Redshift's rules accept.
func newPassword() string { return "Aa1-" + randHex(8) }

type testDB struct {
	srv  *pgServer
	name string

	mu    sync.Mutex
	roles []string
}

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
	return d
}

func (d *testDB) track(names ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.roles = append(d.roles, names...)
}

// createUser creates a login user with an md5-hashed or SCRAM password
// (as the server needs) and registers it.
func (d *testDB) createUser(name, password, attrs string) error {
	d.track(name)
	h, err := hashFor(d.srv.hash(), name, password)
	if err != nil {
		return err
	}
	lit, err := quoteLiteral(h)
	if err != nil {
		return err
	}
	return d.execErr("CREATE USER " + ident(name) + " PASSWORD " + lit + " " + attrs)
}

func (d *testDB) createGroup(name string) error {
	d.track(name)
	return d.execErr("CREATE GROUP " + ident(name))
}

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
	ctx := context.Background()
	c, err := d.srv.connect(d.name)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var errs []error
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

// secretJSON returns AWS's Redshift secret for user on the test server,
// in plaintext ("ssl": false: the server's certificate is in no default
// bundle), with extra fields (a nil value removes a field).
func (d *testDB) secretJSON(user, password string, extra ...any) string {
	m := map[string]any{
		"engine": "redshift", "host": d.srv.host, "port": d.srv.port,
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

// probeWith is the tests' login, written independently of the function:
// a pgx connection with the secret's user and password and SELECT 1, and,
// when the stored password is an md5 hash, the server's own check that it
// is md5(password || user) (so that a "trust" server, which lets any
// password in, cannot make the probe pass vacuously).
func probeWith(srv *pgServer) func(context.Context, *rotation.Secret) error {
	return func(ctx context.Context, secret *rotation.Secret) error {
		user, err := secret.Get("username")
		if err != nil {
			return err
		}
		pw, err := secret.Get("password")
		if err != nil {
			return err
		}
		db, err := secret.Get("dbname")
		if err != nil {
			return err
		}
		cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s:%d/?sslmode=disable&connect_timeout=5", srv.host, srv.port))
		if err != nil {
			return errors.New("bad probe configuration")
		}
		cfg.User, cfg.Password, cfg.Database = user, pw, db
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
		sc, err := srv.connect("")
		if err != nil {
			return err
		}
		defer sc.Close(context.Background())
		var ok bool
		if err := sc.QueryRow(ctx, `SELECT CASE WHEN rolpassword LIKE 'md5%' THEN rolpassword = 'md5' || md5($2 || rolname) ELSE $3 END FROM pg_authid WHERE rolname = $1`, user, pw, !srv.trust).Scan(&ok); err != nil {
			return fmt.Errorf("reading the stored password of %q: %s", user, describe(err))
		}
		if !ok {
			return fmt.Errorf("password authentication failed for %q (checked against the stored hash)", user)
		}
		return nil
	}
}

// world is a fake Secrets Manager with the function installed.
type world struct {
	fake   *localsm.Fake
	client *rotationtest.FaultClient
	arn    string
	logs   *strings.Builder
	mu     sync.Mutex
}

const testFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:redshift-rotation"

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
	out, err := w.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/redshift"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	w.arn = aws.ToString(out.ARN)
	w.client = rotationtest.NewFaultClient(w.fake)
	r, err := newRotator(c, w.client)
	if err != nil {
		t.Fatal(err)
	}
	h, err := rotation.New(w.client, r, func(o *rotation.Options) { o.Logger = slog.New(slog.NewTextHandler(lockedWriter{w}, nil)) })
	if err != nil {
		t.Fatal(err)
	}
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

func (w *world) current(t testing.TB) string {
	t.Helper()
	out, err := w.fake.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(w.arn)})
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

const adminName = "admin/redshift"

// setup is a secret and its users on the test server for a mode.
type setup struct {
	cfg    config
	secret string
	others map[string]string
	base   string
	admin  string
	group  string
	roles  []string
}

// makeSetup creates the users for mode: the base user in a group that
// holds its privileges, an admin (CREATEROLE: PostgreSQL's stand-in for
// Redshift's superuser or CREATE USER privilege) when needed, and for the
// pre-created mode a second user in the same group.
func makeSetup(d *testDB, mode Mode, withAdmin bool) (*setup, error) {
	st := &setup{cfg: d.srv.configure(config{mode: mode})}
	user, pw := uniqueName("app"), newPassword()
	st.base = user
	if mode == ModeSingle && withAdmin {
		st.cfg.allowedUsers = []string{user}
	}
	var extra []any
	if withAdmin || mode != ModeSingle {
		admin, apw := uniqueName("admin"), newPassword()
		if err := d.createUser(admin, apw, "CREATEROLE"); err != nil {
			return nil, err
		}
		st.roles = append(st.roles, admin)
		st.others = map[string]string{adminName: d.secretJSON(admin, apw)}
		extra = []any{"masterarn", adminName}
		st.admin = admin
	}
	st.group = uniqueName("grp")
	if err := d.createGroup(st.group); err != nil {
		return nil, err
	}
	if err := d.createUser(user, pw, "IN GROUP "+ident(st.group)); err != nil {
		return nil, err
	}
	st.roles = append(st.roles, st.group, user)
	switch mode {
	case ModeAlternating:
		d.track(user + "_clone")
		st.roles = append(st.roles, user+"_clone")
	case ModeAlternatingPrecreated:
		other := uniqueName("app")
		if err := d.createUser(other, newPassword(), "IN GROUP "+ident(st.group)); err != nil {
			return nil, err
		}
		st.roles = append(st.roles, other)
		st.cfg.users = [2]string{user, other}
	}
	if st.admin != "" {
		// PostgreSQL 16+: the admin needs ADMIN OPTION on the roles it
		// manages (Redshift's superuser needs nothing).
		for _, r := range st.roles[1:] {
			if r == user+"_clone" {
				continue
			}
			if err := d.execErr("GRANT " + ident(r) + " TO " + ident(st.admin) + " WITH ADMIN OPTION"); err != nil {
				return nil, err
			}
		}
	}
	st.secret = d.secretJSON(user, pw, extra...)
	return st, nil
}
