package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/examples/internal/testenv"
)

// server is the real MySQL or MariaDB server of ROTATION_TEST_MYSQL. The
// test setup talks to it through the driver's own client-side
// interpolation (interpolateParams=true), an escaper independent of the
// one under test, so hostile names are created the way a DBA would.
type server struct {
	root   *sql.DB
	host   string
	port   int
	engine string // the secrets' "engine": "mariadb" or "mysql"
}

var (
	serverOnce sync.Once
	shared     *server
	serverErr  error
)

func realServer(t *testing.T) *server {
	t.Helper()
	dsn := testenv.Lookup(t, testenv.MySQL, "start MySQL or MariaDB and set "+testenv.MySQL+"='root@tcp(127.0.0.1:3306)/'")
	serverOnce.Do(func() { shared, serverErr = openServer(dsn) })
	if serverErr != nil {
		t.Fatalf("%s: %v", testenv.MySQL, serverErr)
	}
	return shared
}

func openServer(dsn string) (*server, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("not a go-sql-driver DSN: %w", err)
	}
	if cfg.Net != "tcp" {
		return nil, fmt.Errorf("the DSN must use tcp, not %q", cfg.Net)
	}
	cfg.InterpolateParams = true
	cfg.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, err
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	s := &server{root: db, host: host, port: port, engine: "mysql"}
	if strings.Contains(strings.ToLower(version), "mariadb") {
		s.engine = "mariadb"
	}
	return s, nil
}

// cleaner collects undo actions, run in reverse order.
type cleaner struct {
	mu  sync.Mutex
	fns []func()
}

func (c *cleaner) add(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, fn)
}

func (c *cleaner) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// testCleaner returns a cleaner run when t ends.
func testCleaner(t *testing.T) *cleaner {
	c := &cleaner{}
	t.Cleanup(c.run)
	return c
}

// unique returns prefix and random hex: names no other test uses.
func unique(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// password returns a random password without characters that need
// quoting (the hostile-input tests make their own).
func password() string {
	p, err := rotation.PasswordPolicy{Length: 24, ExcludePunctuation: true}.Generate()
	if err != nil {
		panic(err)
	}
	return p
}

func (s *server) exec(ctx context.Context, q string, args ...any) error {
	if _, err := s.root.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	return nil
}

// newDB creates a database with a canary table, dropped by cl.
func (s *server) newDB(ctx context.Context, cl *cleaner) (string, error) {
	db := unique("rtdb_")
	if err := s.exec(ctx, "CREATE DATABASE "+quoteIdent(db)); err != nil {
		return "", err
	}
	cl.add(func() { _ = s.exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(db)) })
	if err := s.exec(ctx, "CREATE TABLE "+quoteIdent(db)+".canary (id INT PRIMARY KEY)"); err != nil {
		return "", err
	}
	return db, s.exec(ctx, "INSERT INTO "+quoteIdent(db)+".canary VALUES (1)")
}

// canaryAlive reports whether db's canary table still has its row.
func (s *server) canaryAlive(ctx context.Context, db string) error {
	var n int
	if err := s.root.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteIdent(db)+".canary").Scan(&n); err != nil {
		return fmt.Errorf("the canary table is gone: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("the canary table has %d rows, want 1", n)
	}
	return nil
}

// dropUsersLater makes cl drop every account of the named users (and
// their clones), whatever hosts they were created for.
func (s *server) dropUsersLater(cl *cleaner, users ...string) {
	cl.add(func() {
		ctx := context.Background()
		for _, u := range users {
			for _, name := range []string{u, u + "_clone"} {
				hosts, _ := s.hosts(ctx, name)
				for _, h := range hosts {
					_ = s.exec(ctx, "DROP USER IF EXISTS ?@?", name, h)
				}
			}
		}
	})
}

func (s *server) hosts(ctx context.Context, user string) ([]string, error) {
	rows, err := s.root.QueryContext(ctx, "SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host", user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// createUser creates user@host for every host with password pw and runs
// each grant ("SELECT ON `db`.*", with " TO ?@?" appended unless it has
// it) for every host. cl drops the user and
// its clone.
func (s *server) createUser(ctx context.Context, cl *cleaner, user, pw string, hosts []string, grants ...string) error {
	s.dropUsersLater(cl, user)
	for _, h := range hosts {
		if err := s.exec(ctx, "CREATE USER ?@? IDENTIFIED BY ?", user, h, pw); err != nil {
			return err
		}
		for _, g := range grants {
			if !strings.Contains(g, " TO ?@?") {
				g += " TO ?@?"
			}
			if err := s.exec(ctx, "GRANT "+g, user, h); err != nil {
				return err
			}
		}
	}
	return nil
}

// createAdmin creates an admin user that can create users and grant any
// privilege, and returns its secret.
func (s *server) createAdmin(ctx context.Context, cl *cleaner) (string, error) {
	user, pw := unique("rtadm_"), password()
	if err := s.createUser(ctx, cl, user, pw, []string{s.host}, "ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION"); err != nil {
		return "", err
	}
	return s.secret(user, pw, "", nil), nil
}

// secret returns a secret in the AWS templates' format, with "ssl":
// false (the test server has no TLS).
func (s *server) secret(user, pw, db string, extra map[string]any) string {
	m := map[string]any{
		"engine": s.engine, "host": s.host, "port": s.port,
		"username": user, "password": pw, "ssl": false,
	}
	if db != "" {
		m["dbname"] = db
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// probe is an application's login, independent of the code under test:
// open a connection with the secret's credentials and database, ping,
// and SELECT 1.
func probe(ctx context.Context, secret *rotation.Secret) error {
	user, err := secret.Get("username")
	if err != nil {
		return err
	}
	pw, err := secret.Get("password")
	if err != nil {
		return err
	}
	host, err := secret.Get("host")
	if err != nil {
		return err
	}
	port, err := secret.Int("port")
	if err != nil {
		return err
	}
	db, _, _ := secret.Lookup("dbname")
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.DBName = user, pw, "tcp", db
	cfg.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	cfg.Timeout = 5 * time.Second
	cfg.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	sqlDB := sql.OpenDB(conn)
	defer sqlDB.Close()
	if err := sqlDB.PingContext(ctx); err != nil {
		return err
	}
	var one int
	return sqlDB.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// grantsOf returns user@host's SHOW GRANTS lines with the account
// replaced by a marker and credentials removed, sorted, for comparing
// two users' privileges.
func (s *server) grantsOf(ctx context.Context, user, host string) ([]string, error) {
	rows, err := s.root.QueryContext(ctx, "SHOW GRANTS FOR ?@?", user, host)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		g, err := parseGrant(line, sqlMode{}, user, host)
		if err != nil {
			return nil, err
		}
		out = append(out, g.normalized())
	}
	slices.Sort(out)
	return out, rows.Err()
}

// testSettings returns the settings main would read for m, with
// DB_ADMIN_ALLOW_PLAINTEXT=true (the test server has no TLS).
func testSettings(m mode) settings {
	return settings{mode: m, timeout: 5 * time.Second, policy: dbsecret.MySQL.DefaultPolicy(), admin: dbsecret.AdminPolicy{AllowPlaintext: true}}
}

// mustDB is newDB that fails the test on error.
func (s *server) mustDB(t testing.TB, cl *cleaner) string {
	t.Helper()
	db, err := s.newDB(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// mustCreateUser is createUser that fails the test on error.
func (s *server) mustCreateUser(t testing.TB, cl *cleaner, user, pw string, hosts []string, grants ...string) {
	t.Helper()
	if err := s.createUser(context.Background(), cl, user, pw, hosts, grants...); err != nil {
		t.Fatal(err)
	}
}

// newUser creates a user named prefix and random hex, with a random
// password, for hosts with grants (see createUser), and returns its name
// and password; cl drops it and its clone.
func (s *server) newUser(t testing.TB, cl *cleaner, prefix string, hosts []string, grants ...string) (user, pw string) {
	t.Helper()
	user, pw = unique(prefix), password()
	s.mustCreateUser(t, cl, user, pw, hosts, grants...)
	return user, pw
}

// mustAdmin is createAdmin that fails the test on error.
func (s *server) mustAdmin(t testing.TB, cl *cleaner) string {
	t.Helper()
	admin, err := s.createAdmin(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return admin
}

// adminRig is a rig for the secret of user (password pw, database db)
// whose "masterarn" names the secret "admin", holding admin.
func (s *server) adminRig(t *testing.T, st settings, user, pw, db, admin string) *rig {
	t.Helper()
	return newRig(t, st, s.secret(user, pw, db, map[string]any{"masterarn": "admin"}), map[string]string{"admin": admin})
}
