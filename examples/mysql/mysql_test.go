package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"github.com/rotationkit/rotation/strategy"
)

const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:mysql-rotation"

// rig is a fake Secrets Manager whose rotation function is a handler
// built from settings, as main builds it.
type rig struct {
	fake  *localsm.Fake
	calls *rotationtest.FaultClient // counts the handler's calls
	arn   string
	logs  *syncBuffer
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

func newRig(t *testing.T, s settings, secret string, others map[string]string) *rig {
	t.Helper()
	r := &rig{logs: &syncBuffer{}}
	r.fake = localsm.New(localsm.Options{})
	t.Cleanup(func() { _ = r.fake.Wait(context.Background()) })
	r.calls = rotationtest.NewFaultClient(r.fake)
	h, err := newHandler(r.calls, s, slog.New(slog.NewJSONHandler(r.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.fake.SetInvoker(localsm.HandlerInvoker(h.Handle))
	ctx := context.Background()
	for name, v := range others {
		if _, err := r.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := r.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/mysql"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	r.arn = aws.ToString(out.ARN)
	return r
}

func (r *rig) rotate(ctx context.Context) error {
	_, err := r.fake.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(r.arn), RotationLambdaARN: aws.String(functionARN)})
	return err
}

func (r *rig) current(ctx context.Context) (*rotation.Secret, error) {
	out, err := r.fake.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.arn)})
	if err != nil {
		return nil, err
	}
	return rotation.NewString(aws.ToString(out.SecretString)), nil
}

// rotateN rotates n times; after each, AWSCURRENT must authenticate.
func (r *rig) rotateN(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		if err := r.rotate(ctx); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		cur, err := r.current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := probe(ctx, cur); err != nil {
			t.Fatalf("after rotation %d AWSCURRENT does not authenticate: %v", i, err)
		}
	}
}

// TestClientsDuringRotations runs clients that read AWSCURRENT and
// connect with it, continuously, while the secret rotates five times.
// Alternating users must never fail; single-user's failures and the
// longest window are reported.
func TestClientsDuringRotations(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	for _, m := range []mode{modeAlternating, modeSingle} {
		t.Run(string(m), func(t *testing.T) {
			ctx := context.Background()
			cl := testCleaner(t)
			db := srv.mustDB(t, cl)
			user, pw := srv.newUser(t, cl, "rtc_", []string{"%"}, "SELECT ON "+quoteIdent(db)+".*")
			admin := srv.mustAdmin(t, cl)
			var r *rig
			if m == modeAlternating {
				r = srv.adminRig(t, testSettings(m), user, pw, db, admin)
			} else {
				r = newRig(t, testSettings(m), srv.secret(user, pw, db, nil), nil)
			}

			const clients, rotations = 4, 5
			var attempts, failures atomic.Int64
			var mu sync.Mutex
			var longest time.Duration
			var firstErr error
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var failingSince time.Time
					for {
						select {
						case <-stop:
							return
						default:
						}
						attempts.Add(1)
						cur, err := r.current(ctx)
						if err == nil {
							err = probe(ctx, cur)
						}
						now := time.Now()
						switch {
						case err != nil:
							failures.Add(1)
							if failingSince.IsZero() {
								failingSince = now
							}
							mu.Lock()
							if firstErr == nil {
								firstErr = err
							}
							mu.Unlock()
						case !failingSince.IsZero():
							mu.Lock()
							longest = max(longest, now.Sub(failingSince))
							mu.Unlock()
							failingSince = time.Time{}
						}
					}
				}()
			}
			time.Sleep(20 * time.Millisecond)
			for i := 1; i <= rotations; i++ {
				if err := r.rotate(ctx); err != nil {
					t.Errorf("rotation %d: %v", i, err)
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			close(stop)
			wg.Wait()
			t.Logf("%s: %d rotations, %d clients: %d attempts, %d failures, longest failure window %.1f ms",
				m, rotations, clients, attempts.Load(), failures.Load(), float64(longest.Microseconds())/1000)
			if m == modeAlternating && failures.Load() > 0 {
				t.Errorf("alternating users promise zero downtime, but %d of %d client attempts failed; first: %v", failures.Load(), attempts.Load(), firstErr)
			}
			if attempts.Load() == 0 {
				t.Error("the clients made no attempt")
			}
		})
	}
}

// TestCloneKeepsHosts: a base user defined for specific hosts (none of
// them '%') gets its clone for exactly those hosts, with its grants, and
// without GRANT OPTION; later rotations work, and grants changed on the
// base user are re-synced to the clone.
func TestCloneKeepsHosts(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	db := srv.mustDB(t, cl)
	user, pw := unique("rth_"), password()
	hosts := []string{"10.1.%", srv.host, "localhost"}
	slices.Sort(hosts)
	srv.mustCreateUser(t, cl, user, pw, hosts,
		"SELECT, INSERT ON "+quoteIdent(db)+".*", "UPDATE (id) ON "+quoteIdent(db)+".canary")
	// On MariaDB, a role and a default role too (MySQL 8 shows default
	// roles only in SHOW CREATE USER; they are not copied).
	role := unique("rtrole_")
	if srv.engine == "mariadb" {
		if err := srv.exec(ctx, "CREATE ROLE "+quoteIdent(role)); err != nil {
			t.Fatal(err)
		}
		cl.add(func() { _ = srv.exec(context.Background(), "DROP ROLE "+quoteIdent(role)) })
		if err := srv.exec(ctx, "GRANT SELECT ON "+quoteIdent(db)+".* TO "+quoteIdent(role)); err != nil {
			t.Fatal(err)
		}
		for _, h := range hosts {
			if err := srv.exec(ctx, "GRANT "+quoteIdent(role)+" TO ?@?", user, h); err != nil {
				t.Fatal(err)
			}
			if err := srv.exec(ctx, "SET DEFAULT ROLE "+quoteIdent(role)+" FOR ?@?", user, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	admin := srv.mustAdmin(t, cl)
	if srv.engine == "mariadb" {
		// Granting a role takes the role WITH ADMIN OPTION.
		adminUser, _ := rotation.NewString(admin).Get("username")
		if err := srv.exec(ctx, "GRANT "+quoteIdent(role)+" TO ?@? WITH ADMIN OPTION", adminUser, srv.host); err != nil {
			t.Fatal(err)
		}
	}
	r := srv.adminRig(t, testSettings(modeAlternating), user, pw, db, admin)
	clone := user + "_clone"

	sameGrants := func(when string) {
		t.Helper()
		got, err := srv.hosts(ctx, clone)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(hosts, got); diff != "" {
			t.Errorf("%s: the clone's hosts differ from the base user's (-want +got):\n%s", when, diff)
		}
		for _, h := range hosts {
			want, err := srv.grantsOf(ctx, user, h)
			if err != nil {
				t.Fatal(err)
			}
			got, err := srv.grantsOf(ctx, clone, h)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: grants of the clone on host %q differ from the base user's (-want +got):\n%s", when, h, diff)
			}
			for _, g := range got {
				if strings.Contains(g, "GRANT OPTION") {
					t.Errorf("%s: the clone has GRANT OPTION: %s", when, g)
				}
			}
		}
	}

	r.rotateN(t, 1)
	cur, _ := r.current(ctx)
	if u, _ := cur.Get("username"); u != clone {
		t.Fatalf("after one rotation AWSCURRENT is user %q, want %q", u, clone)
	}
	sameGrants("after the first rotation")

	// The DBA changes the base user's privileges; the next two rotations
	// (base, then clone) carry the change over.
	for _, h := range hosts {
		if err := srv.exec(ctx, "REVOKE INSERT ON "+quoteIdent(db)+".* FROM ?@?", user, h); err != nil {
			t.Fatal(err)
		}
		if err := srv.exec(ctx, "GRANT DELETE ON "+quoteIdent(db)+".canary TO ?@?", user, h); err != nil {
			t.Fatal(err)
		}
		if srv.engine == "mariadb" {
			// MariaDB keeps showing the default role after this.
			if err := srv.exec(ctx, "REVOKE "+quoteIdent(role)+" FROM ?@?", user, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.rotateN(t, 2)
	sameGrants("after re-syncing")
	r.rotateN(t, 1)
	sameGrants("after the fourth rotation")
	if err := srv.canaryAlive(ctx, db); err != nil {
		t.Error(err)
	}
}

// TestHostileNames rotates users whose names, hosts and passwords hold
// quotes, backslashes, semicolons, percent signs and non-ASCII, under the
// default sql_mode and under NO_BACKSLASH_ESCAPES with ANSI_QUOTES. Every
// rotation must succeed and the canary table must survive.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	sqlModes := map[string]string{
		"default":              "",
		"no-backslash-escapes": "'NO_BACKSLASH_ESCAPES,ANSI_QUOTES,STRICT_TRANS_TABLES'",
	}
	names := []string{
		`o'r\x;%_ü`,
		"x`; DROP TABLE canary; --",
		`a\'); DROP TABLE canary; #"`,
	}
	for modeName, sqlMode := range sqlModes {
		for _, m := range []mode{modeAlternating, modeSingle} {
			for i, name := range names {
				t.Run(fmt.Sprintf("%s/%s/%d", modeName, m, i), func(t *testing.T) {
					t.Parallel()
					ctx := context.Background()
					cl := testCleaner(t)
					db := srv.mustDB(t, cl)
					user := name + unique("")
					pw := `p'\";%ü` + password()
					hosts := []string{srv.host, `h'\;%`}
					srv.mustCreateUser(t, cl, user, pw, hosts, "SELECT ON "+quoteIdent(db)+".*")
					admin := srv.mustAdmin(t, cl)
					s := testSettings(m)
					s.policy = rotation.PasswordPolicy{Length: 40} // every punctuation character
					if sqlMode != "" {
						s.sessionParams = map[string]string{"sql_mode": sqlMode}
					}
					extra := map[string]any{"masterarn": "admin"}
					if m == modeSingle && i%2 == 0 {
						extra = nil // the user changes its own password
					} else if m == modeSingle {
						s.allowedUsers = []string{user}
					}
					r := newRig(t, s, srv.secret(user, pw, db, extra), map[string]string{"admin": admin})
					r.rotateN(t, 3)
					if err := srv.canaryAlive(ctx, db); err != nil {
						t.Fatal(err)
					}
					if m == modeAlternating {
						got, err := srv.hosts(ctx, user+"_clone")
						if err != nil {
							t.Fatal(err)
						}
						if diff := cmp.Diff(hosts, got); diff != "" {
							t.Errorf("the clone's hosts (-want +got):\n%s", diff)
						}
					}
					checkNoLeak(t, r)
				})
			}
		}
	}
}

// TestRefusedNames: names MySQL would change silently are refused with
// an error saying why, and nothing is executed.
func TestRefusedNames(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	db := srv.mustDB(t, cl)
	admin := srv.mustAdmin(t, cl)
	user := "emoji😀" + unique("")
	srv.dropUsersLater(cl, user)
	r := srv.adminRig(t, testSettings(modeAlternating), user, "whatever-password", db, admin)
	err := r.rotate(ctx)
	if err == nil || !strings.Contains(err.Error(), "Basic Multilingual Plane") {
		t.Errorf("rotating a user named with an emoji: error = %v, want one saying the name cannot be held", err)
	}
	if hosts, _ := srv.hosts(ctx, "emoji?"+strings.TrimPrefix(user, "emoji😀")+"_clone"); len(hosts) > 0 {
		t.Error("a mangled clone was created")
	}
	if err := srv.canaryAlive(ctx, db); err != nil {
		t.Error(err)
	}
}

// TestNameLength: the clone's name is checked against the server's own
// limit (MariaDB 10.11: 128; MySQL: 32), not a hard-coded 16 or 32.
func TestNameLength(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	db := srv.mustDB(t, cl)
	admin := srv.mustAdmin(t, cl)
	s := &session{}
	func() {
		c := &connector{timeout: 5 * time.Second, admin: dbsecret.AdminPolicy{AllowPlaintext: true}}
		target, err := parseSecret(rotation.NewString(admin))
		if err != nil {
			t.Fatal(err)
		}
		sec, err := c.adminSecret(rotation.NewString(admin), target)
		if err != nil {
			t.Fatal(err)
		}
		if s, err = c.open(ctx, sec, false); err != nil {
			t.Fatal(err)
		}
	}()
	limit := s.userNameLimit(ctx)
	s.close()
	t.Logf("%v: user names up to %d characters", s.server, limit)

	// A clone of 36 characters: over MySQL's 32, within MariaDB's limit.
	fits := unique("rtl_") + strings.Repeat("x", 16)
	tooLong := unique("rtl_") + strings.Repeat("y", limit-len("rtl_")-10)
	for _, user := range []string{fits, tooLong} {
		clone := user + "_clone"
		pw := password()
		srv.mustCreateUser(t, cl, user, pw, []string{"%"}, "SELECT ON "+quoteIdent(db)+".*")
		r := srv.adminRig(t, testSettings(modeAlternating), user, pw, db, admin)
		err := r.rotate(ctx)
		if len(clone) <= limit {
			if err != nil {
				t.Errorf("clone of %d characters (limit %d): %v", len(clone), limit, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), strategy.ErrNameTooLong.Error()) || !strings.Contains(err.Error(), fmt.Sprintf("allows %d", limit)) {
			t.Errorf("clone of %d characters (limit %d): error = %v, want %v naming the limit", len(clone), limit, err, strategy.ErrNameTooLong)
		}
		if hosts, _ := srv.hosts(ctx, clone); len(hosts) > 0 {
			t.Errorf("a clone over the limit was created")
		}
	}
}

// TestTLSRequired: without "ssl": false the rotator requires TLS and says
// so; the local server offers none, so nothing may change.
func TestTLSRequired(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	db := srv.mustDB(t, cl)
	user, pw := srv.newUser(t, cl, "rtt_", []string{"%"}, "SELECT ON "+quoteIdent(db)+".*")
	for name, ssl := range map[string]any{"absent": nil, "true": true, "string true": "true"} {
		t.Run(name, func(t *testing.T) {
			secret := srv.secret(user, pw, db, map[string]any{"ssl": ssl})
			c := &connector{timeout: 5 * time.Second}
			err := c.test(ctx, rotation.NewString(secret))
			if err == nil || !strings.Contains(err.Error(), "TLS is required") {
				t.Errorf("Test with ssl %s: error = %v, want one saying TLS is required", name, err)
			}
			r := newRig(t, testSettings(modeSingle), secret, nil)
			if err := r.rotate(ctx); err == nil || !strings.Contains(err.Error(), "TLS is required") {
				t.Errorf("rotation with ssl %s: error = %v, want one saying TLS is required", name, err)
			}
			if err := probe(ctx, rotation.NewString(secret)); err != nil {
				t.Errorf("the password changed although TLS was refused: %v", err)
			}
		})
	}
}

// TestRDSManagedAdminSecret: an admin secret holding only username and
// password (as RDS manages its master-user secret) is used with the
// rotated secret's host; an admin secret for another host is refused.
func TestRDSManagedAdminSecret(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	db := srv.mustDB(t, cl)
	user, pw := srv.newUser(t, cl, "rtm_", []string{"%"}, "SELECT ON "+quoteIdent(db)+".*")
	admin := srv.mustAdmin(t, cl)
	a := rotation.NewString(admin)
	au, _ := a.Get("username")
	ap, _ := a.Get("password")
	managed := fmt.Sprintf(`{"username":%q,"password":%q}`, au, ap)
	s := testSettings(modeAlternating)
	s.admin.Host, s.admin.Port = srv.host, srv.port // DB_ADMIN_ENDPOINT
	r := newRig(t, s, srv.secret(user, pw, db, map[string]any{"masterarn": "rds!db-1234"}), map[string]string{"rds!db-1234": managed})
	r.rotateN(t, 2)

	other := fmt.Sprintf(`{"engine":"mysql","host":"other.example.com","username":%q,"password":%q}`, au, ap)
	user2, pw2 := srv.newUser(t, cl, "rtm_", []string{"%"})
	r2 := newRig(t, testSettings(modeAlternating), srv.secret(user2, pw2, "", map[string]any{"masterarn": "admin"}), map[string]string{"admin": other})
	if err := r2.rotate(ctx); err == nil || !strings.Contains(err.Error(), "admin secret is for another server") {
		t.Errorf("admin secret for another host: error = %v, want one saying it is for another server", err)
	}
}

// TestPrecreatedUserMissing: pre-created mode never creates users.
func TestPrecreatedUserMissing(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	user, pw := srv.newUser(t, cl, "rtp_", []string{"%"})
	admin := srv.mustAdmin(t, cl)
	s := testSettings(modePrecreated)
	s.users = [2]string{user, user + "_b"}
	srv.dropUsersLater(cl, user+"_b")
	r := srv.adminRig(t, s, user, pw, "", admin)
	if err := r.rotate(ctx); err == nil || !strings.Contains(err.Error(), "pre-created user") {
		t.Errorf("error = %v, want one saying the pre-created user has no account", err)
	}
	if hosts, _ := srv.hosts(ctx, user+"_b"); len(hosts) > 0 {
		t.Error("pre-created mode created a user")
	}
}

// checkNoLeak fails if a password of the secret's versions appears in
// the handler's log.
func checkNoLeak(t *testing.T, r *rig) {
	t.Helper()
	s, _ := r.fake.Secret(r.arn)
	logs := r.logs.String()
	for _, v := range s.Versions {
		if v.SecretString == nil {
			continue
		}
		pw, err := rotation.NewString(*v.SecretString).Get("password")
		if err == nil && strings.Contains(logs, pw) {
			t.Errorf("a password of version %s appears in the log", v.ID)
		}
	}
}

func TestRedact(t *testing.T) {
	const pw = `s3cr'et\pw`
	syntax := &mysql.MySQLError{Number: 1064, SQLState: [5]byte{'4', '2', '0', '0', '0'}, Message: `You have an error in your SQL syntax; near 'IDENTIFIED BY 's3cr\'et\\pw''`}
	if got := redact(syntax, pw).Error(); strings.Contains(got, "s3cr") || !strings.Contains(got, "1064") {
		t.Errorf("redact(syntax error) = %q", got)
	}
	other := fmt.Errorf("wrapped: %w", errors.New("server said "+pw+" and 's3cr''et\\pw'"))
	got := redact(other, pw)
	if strings.Contains(got.Error(), "s3cr") {
		t.Errorf("redact = %q, still holds the password", got)
	}
	if errors.Unwrap(got) != nil {
		t.Error("a redacted error unwraps to the original, which holds the password")
	}
	plain := errors.New("Access denied for user 'app'@'10.0.0.1' (using password: YES)")
	if redact(plain, pw) != plain {
		t.Error("an error without a secret was rewrapped")
	}
}

func TestLoadSettings(t *testing.T) {
	emptyFile := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(emptyFile, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	bad := []struct {
		env  func(string) (string, bool)
		want string
	}{
		{env(), "ROTATION_MODE is not set"},
		{env("ROTATION_MODE", "dual"), "ROTATION_MODE is not one of"},
		{env("ROTATION_MODE", "alternating-precreated"), "needs ROTATION_USERS"},
		{env("ROTATION_MODE", "alternating-precreated", "ROTATION_USERS", "a"), "ROTATION_USERS must name two different users"},
		{env("ROTATION_MODE", "alternating-precreated", "ROTATION_USERS", "a,a"), "ROTATION_USERS must name two different users"},
		{env("ROTATION_MODE", "alternating-precreated", "ROTATION_USERS", `["a"`), "ROTATION_USERS is not a JSON array"},
		{env("ROTATION_MODE", "single", "ROTATION_USERS", "a,b"), "ROTATION_USERS is set but"},
		{env("ROTATION_MODE", "single", "ROTATION_CLONE_SUFFIX", "_b"), "ROTATION_CLONE_SUFFIX is set but"},
		{env("ROTATION_MODE", "single", "ROTATION_CONNECT_TIMEOUT", "5"), "ROTATION_CONNECT_TIMEOUT must be"},
		{env("ROTATION_MODE", "single", "PASSWORD_LENGTH", "0"), "PASSWORD_LENGTH"},
		// Finding 4: names are compared after trimming.
		{env("ROTATION_MODE", "alternating-precreated", "ROTATION_USERS", "app, app"), "ROTATION_USERS must name two different users"},
		{env("ROTATION_MODE", "alternating-precreated", "ROTATION_USERS", `["app", " app "]`), "ROTATION_USERS must name two different users"},
		{env("ROTATION_MODE", "alternating-precreated", "ROTATION_USERS", " ,app"), "ROTATION_USERS must name two different users"},
		// Finding 2: ALLOWED_USERS applies to single mode only.
		{env("ROTATION_MODE", "alternating", "ALLOWED_USERS", "app"), "ALLOWED_USERS is set but ROTATION_MODE is not single"},
		{env("ROTATION_MODE", "single", "ALLOWED_USERS", "app,,b"), "ALLOWED_USERS has an empty entry"},
		{env("ROTATION_MODE", "single", "ALLOWED_USERS", "app, emoji😀"), "an entry of ALLOWED_USERS"},
		// Finding 1: the admin endpoint and TLS opt-out.
		{env("ROTATION_MODE", "single", "DB_ADMIN_ENDPOINT", "db.example.com"), "DB_ADMIN_ENDPOINT must be host:port"},
		{env("ROTATION_MODE", "single", "DB_ADMIN_ALLOW_PLAINTEXT", "yes"), "DB_ADMIN_ALLOW_PLAINTEXT must be true or false"},
		// Finding 5: the CA bundles are checked at start.
		{env("ROTATION_MODE", "single", "ROTATION_CA_BUNDLE", "/nonexistent/ca.pem"), "ROTATION_CA_BUNDLE: "},
		{env("ROTATION_MODE", "single", "ROTATION_CA_BUNDLE", emptyFile), "ROTATION_CA_BUNDLE: "},
	}
	for _, tt := range bad {
		if _, err := loadSettings(tt.env); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error = %v, want it to contain %q", err, tt.want)
		}
	}
	for _, users := range [][2]string{{}, {"app", "app"}} {
		bad := testSettings(modePrecreated)
		bad.users = users
		if _, err := newRotator(localsm.New(localsm.Options{}), bad); err == nil || !strings.Contains(err.Error(), "ROTATION_USERS") {
			t.Errorf("newRotator with users %q: error = %v, want one naming ROTATION_USERS", users, err)
		}
	}

	caA, caB := dbsecrettest.CAFile(t), dbsecrettest.CAFile(t)
	s, err := loadSettings(env("ROTATION_MODE", "alternating-precreated", "ROTATION_USERS", `["app_a", "app,b"]`,
		"ROTATION_CA_BUNDLE", caA+", "+caB, "ROTATION_CONNECT_TIMEOUT", "2s", "PASSWORD_LENGTH", "40"))
	if err != nil {
		t.Fatal(err)
	}
	if s.mode != modePrecreated || s.users != [2]string{"app_a", "app,b"} || !slices.Equal(s.caFiles, []string{caA, caB}) || s.timeout != 2*time.Second || s.policy.Length != 40 {
		t.Errorf("settings = %+v", s)
	}
	if s.admin != (dbsecret.AdminPolicy{}) {
		t.Errorf("admin policy = %+v, want TLS and no endpoint by default", s.admin)
	}
	// The bundles were loaded at start and are kept: with the files gone,
	// a connection still gets its TLS configuration.
	if err := os.Remove(caA); err != nil {
		t.Fatal(err)
	}
	sec := &dbsecret.Secret{Host: "db.example.com", TLS: dbsecret.TLSVerifyFull}
	if cfg, err := sec.TLSConfig(s.caFiles...); err != nil || cfg.RootCAs == nil || cfg.ServerName != "db.example.com" {
		t.Errorf("TLS configuration after the bundle file was removed: %v, %v; want the pool loaded at start", cfg, err)
	}

	s, err = loadSettings(env("ROTATION_MODE", "single", "ALLOWED_USERS", " app , other,app", "DB_ADMIN_ENDPOINT", "db.example.com:3307", "DB_ADMIN_ALLOW_PLAINTEXT", "true"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.allowedUsers, []string{"app", "other"}) || s.admin != (dbsecret.AdminPolicy{Host: "db.example.com", Port: 3307, AllowPlaintext: true}) {
		t.Errorf("settings = %+v", s)
	}
	// ALLOWED_USERS reaches the strategy, which rotation.New validates.
	r, err := newRotator(localsm.New(localsm.Options{}), s)
	if err != nil {
		t.Fatal(err)
	}
	if su := r.(singleUser); su.admin == nil || !slices.Equal(su.admin.AllowedUsers, []string{"app", "other"}) {
		t.Errorf("the admin strategy's AllowedUsers = %v", su.admin)
	}
	if err := r.(singleUser).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if strings.ContainsAny(s.policy.Alphabet(), `/@"'\ `) {
		t.Errorf("the default MySQL policy allows characters DSNs cannot carry: %q", s.policy.Alphabet())
	}
}
