package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/strategy"
)

// loginRecorder is a relay standing for a server chosen by whoever
// writes the rotated secret: it forwards connections to the real server
// (so the app's own credential works through it, as the attacker's server
// would accept it) and records the user name of every login, which a
// MySQL client sends in its first packet.
type loginRecorder struct {
	host string
	port int
	mu   sync.Mutex
	seen []string
}

func startLoginRecorder(t *testing.T, target string) *loginRecorder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	r := &loginRecorder{host: "127.0.0.1", port: l.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go r.serve(c, target)
		}
	}()
	return r
}

// readPacket reads one MySQL packet, header included.
func readPacket(c net.Conn) ([]byte, error) {
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return nil, err
	}
	body := make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	return append(hdr, body...), nil
}

func (r *loginRecorder) serve(c net.Conn, target string) {
	defer c.Close()
	s, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	defer s.Close()
	greeting, err := readPacket(s)
	if err != nil {
		return
	}
	if _, err := c.Write(greeting); err != nil {
		return
	}
	resp, err := readPacket(c)
	if err != nil {
		return
	}
	// HandshakeResponse41: caps(4) max packet(4) charset(1) filler(23)
	// user NUL ... (an SSLRequest is just the first 32 bytes).
	if body := resp[4:]; len(body) > 32 {
		if end := bytes.IndexByte(body[32:], 0); end >= 0 {
			r.mu.Lock()
			r.seen = append(r.seen, string(body[32:32+end]))
			r.mu.Unlock()
		}
	}
	if _, err := s.Write(resp); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
	<-done
}

// users returns the user names that tried to log in.
func (r *loginRecorder) users() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// TestAdminEndpointPinned (HIGH finding 1): the admin credential is used
// only on the server the function's configuration names (the admin
// secret's host, or DB_ADMIN_ENDPOINT when it has none), with TLS from the
// function's configuration. A rotated secret naming another server, or
// "ssl": false, never gets the admin's login: the recorder standing for
// the attacker's server never sees the admin user.
func TestAdminEndpointPinned(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	admin := srv.mustAdmin(t, cl)
	a := rotation.NewString(admin)
	au, _ := a.Get("username")
	ap, _ := a.Get("password")
	managed := fmt.Sprintf(`{"username":%q,"password":%q}`, au, ap)                      // as RDS manages it: no host
	hostOnly := fmt.Sprintf(`{"host":%q,"username":%q,"password":%q}`, srv.host, au, ap) // a host but no port
	evil := startLoginRecorder(t, net.JoinHostPort(srv.host, strconv.Itoa(srv.port)))
	atEvil := map[string]any{"host": evil.host, "port": evil.port, "masterarn": "admin"}

	type tc struct {
		name    string
		m       mode
		admin   string
		cfg     dbsecret.AdminPolicy
		secret  map[string]any // overrides of the rotated secret
		wantErr string
	}
	pinned := dbsecret.AdminPolicy{Host: srv.host, Port: srv.port, AllowPlaintext: true}
	unpinned := dbsecret.AdminPolicy{AllowPlaintext: true}
	notPinned := dbsecret.ErrAdminEndpoint.Error()
	tests := []tc{
		{"no host, no DB_ADMIN_ENDPOINT", modeSingle, managed, unpinned, atEvil, "set DB_ADMIN_ENDPOINT"},
		{"no host, no DB_ADMIN_ENDPOINT, alternating", modeAlternating, managed, unpinned, atEvil, "set DB_ADMIN_ENDPOINT"},
		{"DB_ADMIN_ENDPOINT pins another server", modeSingle, managed, pinned, atEvil, notPinned},
		{"DB_ADMIN_ENDPOINT pins another server, alternating", modeAlternating, managed, pinned, atEvil, notPinned},
		{"admin secret's host without port", modeSingle, hostOnly, unpinned, atEvil, "admin secret is for another server"},
		{"admin secret differs from DB_ADMIN_ENDPOINT", modeSingle, hostOnly, dbsecret.AdminPolicy{Host: "db.example.com", Port: srv.port, AllowPlaintext: true}, atEvil, "admin secret is for another server"},
		{"admin secret differs from DB_ADMIN_ENDPOINT, same server", modeSingle, admin, dbsecret.AdminPolicy{Host: "db.example.com", Port: srv.port, AllowPlaintext: true}, map[string]any{"masterarn": "admin"}, "differ from DB_ADMIN_ENDPOINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pw := srv.newUser(t, cl, "rtpin_", []string{"%"})
			s := testSettings(tt.m)
			s.admin = tt.cfg
			if tt.m == modeSingle {
				s.allowedUsers = []string{user}
			}
			r := newRig(t, s, srv.secret(user, pw, "", tt.secret), map[string]string{"admin": tt.admin})
			err := r.rotate(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
			sawApp := false
			for _, u := range evil.users() {
				if u == au {
					t.Fatalf("the admin user logged in to the server the rotated secret names")
				}
				sawApp = sawApp || u == user
			}
			if !sawApp && tt.secret["host"] == evil.host {
				t.Errorf("the relay saw no login of the app's user: the test does not exercise the attack")
			}
		})
	}

	// The admin connection uses TLS whatever the rotated secret says:
	// without DB_ADMIN_ALLOW_PLAINTEXT, "ssl": false in the rotated
	// secret (and in the admin secret) does not make it plaintext.
	for _, m := range []mode{modeSingle, modeAlternating} {
		t.Run("TLS from the configuration/"+string(m), func(t *testing.T) {
			user, pw := srv.newUser(t, cl, "rtpin_", []string{"%"})
			s := testSettings(m)
			s.admin = dbsecret.AdminPolicy{}
			if m == modeSingle {
				s.allowedUsers = []string{user}
			}
			secret := srv.secret(user, pw, "", map[string]any{"masterarn": "admin"}) // "ssl": false
			r := newRig(t, s, secret, map[string]string{"admin": admin})
			if err := r.rotate(ctx); err == nil || !strings.Contains(err.Error(), "admin: ") || !strings.Contains(err.Error(), "TLS") {
				t.Errorf("error = %v, want the admin connection to require TLS", err)
			}
			if err := probe(ctx, rotation.NewString(secret)); err != nil {
				t.Errorf("the password changed although the admin connection was refused: %v", err)
			}
			// Against the recorder, which offers no TLS, the admin's
			// name is never sent.
			s.admin = dbsecret.AdminPolicy{Host: evil.host, Port: evil.port}
			r2 := newRig(t, s, srv.secret(user, pw, "", atEvil), map[string]string{"admin": managed})
			if err := r2.rotate(ctx); err == nil || !strings.Contains(err.Error(), "TLS is required") {
				t.Errorf("error = %v, want the admin connection to require TLS", err)
			}
			for _, u := range evil.users() {
				if u == au {
					t.Fatalf("the admin user was sent to a server without TLS")
				}
			}
		})
	}

	// The RDS-managed admin secret with DB_ADMIN_ENDPOINT rotates.
	t.Run("DB_ADMIN_ENDPOINT", func(t *testing.T) {
		user, pw := srv.newUser(t, cl, "rtpin_", []string{"%"})
		s := testSettings(modeSingle)
		s.admin = pinned
		s.allowedUsers = []string{user}
		newRig(t, s, srv.secret(user, pw, "", map[string]any{"masterarn": "admin"}), map[string]string{"admin": managed}).rotateN(t, 2)
	})
}

// TestSingleAdminAllowedUsers (HIGH finding 2): in single mode with
// "masterarn", the rotated secret's user no longer decides whose password
// the admin resets: ALLOWED_USERS is required and enforced, the admin's
// own user is refused, and so is any account that can manage accounts or
// grant privileges, directly or through a role. Each time the victim's
// password must be unchanged.
func TestSingleAdminAllowedUsers(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	admin := srv.mustAdmin(t, cl)
	adminUser, _ := rotation.NewString(admin).Get("username")
	db := srv.mustDB(t, cl)

	// unchanged fails the test if user's password is no longer pw.
	unchanged := func(t *testing.T, user, pw string) {
		t.Helper()
		if err := probe(ctx, rotation.NewString(srv.secret(user, pw, "", nil))); err != nil {
			t.Errorf("the victim's password changed: %v", err)
		}
	}
	rotateAs := func(t *testing.T, user string, allowed []string, extra map[string]any) error {
		t.Helper()
		s := testSettings(modeSingle)
		s.allowedUsers = allowed
		if extra == nil {
			extra = map[string]any{"masterarn": "admin"}
		}
		r := newRig(t, s, srv.secret(user, "a-guess-1234", "", extra), map[string]string{"admin": admin})
		return r.rotate(ctx)
	}

	// The reviewer's reproduction: a secret naming an all-privileges
	// user the function was never meant to rotate.
	victim, victimPW := srv.newUser(t, cl, "rtvic_", []string{"%"}, "ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION")
	t.Run("no ALLOWED_USERS", func(t *testing.T) {
		if err := rotateAs(t, victim, nil, nil); err == nil || !strings.Contains(err.Error(), "ALLOWED_USERS is not set") {
			t.Errorf("error = %v, want one naming ALLOWED_USERS", err)
		}
		unchanged(t, victim, victimPW)
	})
	t.Run("not in ALLOWED_USERS", func(t *testing.T) {
		if err := rotateAs(t, victim, []string{"someone_else"}, nil); err == nil || !strings.Contains(err.Error(), "not in ALLOWED_USERS") {
			t.Errorf("error = %v, want one naming ALLOWED_USERS", err)
		}
		unchanged(t, victim, victimPW)
	})
	t.Run("the admin's own user", func(t *testing.T) {
		err := rotateAs(t, adminUser, []string{adminUser}, nil)
		if err == nil || !errors.Is(err, strategy.ErrUserMismatch) && !strings.Contains(err.Error(), errPrivileged.Error()) {
			t.Errorf("error = %v, want the admin's own user refused", err)
		}
		adminPW, _ := rotation.NewString(admin).Get("password")
		unchanged(t, adminUser, adminPW)
	})
	t.Run("ALLOWED_USERS without masterarn", func(t *testing.T) {
		user, pw := srv.newUser(t, cl, "rtself_", []string{"%"})
		s := testSettings(modeSingle)
		s.allowedUsers = []string{user}
		r := newRig(t, s, srv.secret(user, pw, "", nil), nil)
		if err := r.rotate(ctx); err == nil || !strings.Contains(err.Error(), "ALLOWED_USERS is set but the secret names no admin secret") {
			t.Errorf("error = %v, want one naming ALLOWED_USERS", err)
		}
		unchanged(t, user, pw)
	})

	// Privileged accounts are refused even when listed in ALLOWED_USERS
	// (an operator's mistake, or a list naming a user later granted more).
	privileged := map[string][]string{
		"all on *.* with grant option": {"ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION"},
		"all on *.*":                   {"ALL PRIVILEGES ON *.*"},
		"super":                        {"SUPER ON *.*"},
		"create user":                  {"CREATE USER ON *.*"},
		"grant option on a database":   {"SELECT ON " + quoteIdent(db) + ".* TO ?@? WITH GRANT OPTION"},
		"grant option on a column":     {"SELECT (id) ON " + quoteIdent(db) + ".canary TO ?@? WITH GRANT OPTION"},
		"update on the grant tables":   {"UPDATE ON mysql.*"},
		"insert on *.*":                {"SELECT, INSERT ON *.*"},
	}
	if srv.engine == "mariadb" {
		// Through roles: a role holding SUPER granted to a role granted
		// to the user, and a role granted WITH ADMIN OPTION.
		inner, outer, plain := unique("rtrole_"), unique("rtrole_"), unique("rtrole_")
		for _, r := range []string{inner, outer, plain} {
			if err := srv.exec(ctx, "CREATE ROLE "+quoteIdent(r)); err != nil {
				t.Fatal(err)
			}
			cl.add(func() { _ = srv.exec(context.Background(), "DROP ROLE "+quoteIdent(r)) })
		}
		for _, q := range []string{
			"GRANT SUPER ON *.* TO " + quoteIdent(inner),
			"GRANT " + quoteIdent(inner) + " TO " + quoteIdent(outer),
			"GRANT SELECT ON " + quoteIdent(db) + ".* TO " + quoteIdent(plain),
		} {
			if err := srv.exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		privileged["a role of a role with super"] = []string{quoteIdent(outer) + " TO ?@?"}
		privileged["a role with admin option"] = []string{quoteIdent(plain) + " TO ?@? WITH ADMIN OPTION"}
	}
	for name, grants := range privileged {
		t.Run("privileged/"+name, func(t *testing.T) {
			user, pw := srv.newUser(t, cl, "rtpriv_", []string{"%", "localhost"}, grants...)
			err := rotateAs(t, user, []string{user}, nil)
			if !errors.Is(err, errPrivileged) && (err == nil || !strings.Contains(err.Error(), errPrivileged.Error())) {
				t.Errorf("error = %v, want %v", err, errPrivileged)
			}
			if err != nil && strings.Contains(err.Error(), user) {
				t.Errorf("the error names the user: %v", err)
			}
			unchanged(t, user, pw)
		})
	}

	// Ordinary users, listed, rotate; a MariaDB role without admin
	// option, column grants and SELECT on the grant tables are fine.
	ordinary := [][]string{
		{"SELECT, INSERT, UPDATE, DELETE ON " + quoteIdent(db) + ".*", "SELECT ON mysql.user"},
		{"UPDATE (id) ON " + quoteIdent(db) + ".canary"},
	}
	for i, grants := range ordinary {
		t.Run(fmt.Sprintf("ordinary/%d", i), func(t *testing.T) {
			user, pw := srv.newUser(t, cl, "rtok_", []string{"%", "localhost"}, grants...)
			s := testSettings(modeSingle)
			s.allowedUsers = []string{"other", user}
			srv.adminRig(t, s, user, pw, "", admin).rotateN(t, 2)
		})
	}

	// Alternating modes refuse privileged base users too.
	t.Run("alternating/privileged base", func(t *testing.T) {
		user, pw := srv.newUser(t, cl, "rtpriv_", []string{"%"}, "CREATE USER ON *.*")
		r := srv.adminRig(t, testSettings(modeAlternating), user, pw, "", admin)
		if err := r.rotate(ctx); err == nil || !strings.Contains(err.Error(), errPrivileged.Error()) {
			t.Errorf("error = %v, want %v", err, errPrivileged)
		}
		if hosts, _ := srv.hosts(ctx, user+"_clone"); len(hosts) > 0 {
			t.Error("a clone of a privileged user was created")
		}
	})
}

func TestGrantPrivileges(t *testing.T) {
	tests := []struct {
		line, want string
		roles      [][2]string
	}{
		{"GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'", "", nil},
		{"GRANT SELECT, INSERT ON `db`.* TO `u`@`%`", "", nil},
		{"GRANT SELECT (`a`, `b`), UPDATE (`a`) ON `db`.`t` TO `u`@`%`", "", nil},
		{"GRANT SELECT ON `mysql`.`user` TO `u`@`%`", "", nil},
		{"GRANT EXECUTE ON PROCEDURE `db`.`p` TO `u`@`%`", "", nil},
		{"GRANT ALL PRIVILEGES ON `db`.* TO `u`@`%`", "", nil},
		{"GRANT ALL PRIVILEGES ON *.* TO `u`@`%`", "ALL PRIVILEGES on *.*", nil},
		{"GRANT ALL ON `mysql`.* TO `u`@`%`", "ALL PRIVILEGES on the mysql schema", nil},
		{"GRANT UPDATE ON `mysql`.`global_priv` TO `u`@`%`", "UPDATE on the mysql schema", nil},
		{"GRANT SELECT, INSERT ON *.* TO `u`@`%`", "INSERT on *.*", nil},
		{"GRANT RELOAD, SUPER ON *.* TO `u`@`%`", "SUPER", nil},
		{"GRANT CREATE USER ON *.* TO 'u'@'%'", "CREATE USER", nil},
		{"GRANT SELECT ON `db`.* TO `u`@`%` WITH GRANT OPTION", "GRANT OPTION", nil},
		{"GRANT USAGE ON *.* TO `u`@`%` WITH MAX_QUERIES_PER_HOUR 10 GRANT OPTION", "GRANT OPTION", nil},
		{"GRANT PROXY ON ''@'%' TO 'u'@'%' WITH GRANT OPTION", "GRANT OPTION", nil},
		{"GRANT `r1` TO `u`@`%`", "", [][2]string{{"r1", ""}}},
		{"GRANT `r1` TO `u`@`%` WITH ADMIN OPTION", "ADMIN OPTION on a role", nil},
		{"GRANT `r1`@`%`,`r``2`@`h` TO `u`@`%`", "", [][2]string{{"r1", "%"}, {"r`2", "h"}}},
		{"REVOKE UPDATE ON `db`.* FROM `u`@`%`", "", nil},
		{"SET DEFAULT ROLE `r1` FOR `u`@`%`", "", nil},
		// A database named like a privilege is an identifier, not one.
		{"GRANT SELECT ON `SUPER`.* TO `u`@`%`", "", nil},
		{"GRANT SELECT ON `db`.* TO `WITH GRANT OPTION`@`%`", "", nil},
	}
	for _, tt := range tests {
		got, roles, err := grantPrivileges(tt.line, sqlMode{})
		if err != nil {
			t.Errorf("grantPrivileges(%q): %v", tt.line, err)
			continue
		}
		if got != tt.want || fmt.Sprint(roles) != fmt.Sprint(tt.roles) {
			t.Errorf("grantPrivileges(%q) = %q, %v; want %q, %v", tt.line, got, roles, tt.want, tt.roles)
		}
	}
	for _, bad := range []string{"", "SHOW GRANTS", "GRANT SELECT ON db.* u", "GRANT SELECT ON `db`.* TO `u`@`%`; DROP TABLE x", "GRANT (SELECT TO `u`@`%`"} {
		if _, _, err := grantPrivileges(bad, sqlMode{}); err == nil {
			t.Errorf("grantPrivileges(%q) succeeded; want it refused", bad)
		}
	}
}

// TestGeneralLogHasNoPassword (finding 3): MariaDB writes statements to
// its general log as received, so the rotator sends password hashes,
// never passwords. With the general log on (log_output=TABLE, restored
// afterwards, the table emptied), single-user rotation (the user's own
// SET PASSWORD, and the admin's ALTER USER) and alternating rotation
// (CREATE USER and ALTER USER for the clone) run; no password the rotator
// generated may appear in mysql.general_log, and its hashes must (the log
// did record the statements). Not parallel: the log is global.
func TestGeneralLogHasNoPassword(t *testing.T) {
	srv := realServer(t)
	if srv.engine != "mariadb" {
		t.Skip("MySQL rewrites passwords as <secret> in its logs; the hash form is MariaDB's")
	}
	ctx := context.Background()
	var general, output string
	if err := srv.root.QueryRowContext(ctx, "SELECT @@GLOBAL.general_log, @@GLOBAL.log_output").Scan(&general, &output); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = srv.exec(ctx, "SET GLOBAL general_log = 0")
		_ = srv.exec(ctx, "TRUNCATE TABLE mysql.general_log")
		if err := srv.exec(ctx, "SET GLOBAL log_output = ?", output); err != nil {
			t.Errorf("restoring log_output: %v", err)
		}
		if err := srv.exec(ctx, "SET GLOBAL general_log = "+map[bool]string{true: "1", false: "0"}[general == "1"]); err != nil {
			t.Errorf("restoring general_log: %v", err)
		}
	})
	if err := srv.exec(ctx, "SET GLOBAL log_output = 'TABLE'"); err != nil {
		t.Fatal(err)
	}
	if err := srv.exec(ctx, "SET GLOBAL general_log = 1"); err != nil {
		t.Fatal(err)
	}

	cl := testCleaner(t)
	admin := srv.mustAdmin(t, cl)
	var rigs []*rig
	for _, c := range []struct {
		m     mode
		admin bool
	}{{modeSingle, false}, {modeSingle, true}, {modeAlternating, true}} {
		user, pw := srv.newUser(t, cl, "rtlog_", []string{"%", "localhost"})
		s := testSettings(c.m)
		var extra map[string]any
		if c.admin {
			extra = map[string]any{"masterarn": "admin"}
			if c.m == modeSingle {
				s.allowedUsers = []string{user}
			}
		}
		r := newRig(t, s, srv.secret(user, pw, "", extra), map[string]string{"admin": admin})
		r.rotateN(t, 3)
		rigs = append(rigs, r)
	}

	rows, err := srv.root.QueryContext(ctx, "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		log.WriteString(a + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	text := log.String()
	checked := 0
	for i, r := range rigs {
		sec, _ := r.fake.Secret(r.arn)
		for j, v := range sec.Versions {
			if j == 0 || v.SecretString == nil {
				continue // the first version's password was set by the test, in plaintext
			}
			pw, err := rotation.NewString(*v.SecretString).Get("password")
			if err != nil {
				t.Fatal(err)
			}
			checked++
			if strings.Contains(text, pw) {
				t.Errorf("rotation %d: a generated password appears in plaintext in the general log", i)
			}
			if !strings.Contains(text, nativePasswordHash(pw)) {
				t.Errorf("rotation %d: the general log lacks the password's hash; did it record the statements?", i)
			}
		}
	}
	if checked != 9 {
		t.Errorf("checked %d passwords, want 9", checked)
	}
	for _, stmt := range []string{"SET PASSWORD = '*", "IDENTIFIED BY PASSWORD '*", "CREATE USER IF NOT EXISTS"} {
		if !strings.Contains(text, stmt) {
			t.Errorf("the general log has no %q statement", stmt)
		}
	}
}

func TestNativePasswordHash(t *testing.T) {
	srv := realServer(t)
	ctx := context.Background()
	for _, pw := range []string{"abc", `p'\";%ü` + password()} {
		var want string
		// PASSWORD() is MariaDB's and MySQL 5.7's; the SHA1 form works on both.
		if err := srv.root.QueryRowContext(ctx, "SELECT CONCAT('*', UPPER(SHA1(UNHEX(SHA1(?)))))", pw).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got := nativePasswordHash(pw); got != want {
			t.Errorf("nativePasswordHash(%q) = %s, server says %s", pw, got, want)
		}
	}
}

// TestIdentifiedBy: MariaDB gets the hash (its logs show statements as
// sent); MySQL keeps IDENTIFIED BY '<password>', which keeps the
// account's plugin (caching_sha2_password on 8.0) and which MySQL masks
// as <secret> in its logs.
func TestIdentifiedBy(t *testing.T) {
	const pw = `p'w\x`
	for _, tt := range []struct {
		s    session
		want string
	}{
		{session{server: serverInfo{mariaDB: true, version: [3]int{10, 11, 6}}}, "IDENTIFIED BY PASSWORD '" + nativePasswordHash(pw) + "'"},
		{session{server: serverInfo{mariaDB: true}, mode: sqlMode{noBackslashEscapes: true}}, "IDENTIFIED BY PASSWORD '" + nativePasswordHash(pw) + "'"},
		{session{server: serverInfo{version: [3]int{8, 0, 36}}}, `IDENTIFIED BY 'p\'w\\x'`},
		{session{server: serverInfo{version: [3]int{8, 0, 36}}, mode: sqlMode{noBackslashEscapes: true}}, `IDENTIFIED BY 'p''w\x'`},
	} {
		got, err := tt.s.identifiedBy(pw)
		if err != nil || got != tt.want {
			t.Errorf("%v identifiedBy = %q, %v; want %q", tt.s.server, got, err, tt.want)
		}
	}
	if h := nativePasswordHash("abc"); h != "*0D3CED9BEC10A777AEC23CCC353A8C08A633045E" {
		t.Errorf("nativePasswordHash(abc) = %s", h)
	}
}
