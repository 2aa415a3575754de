package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// sqlAs runs statements with the secret's credentials and fails the test
// on error.
func sqlAs(t *testing.T, secret string, sqls ...string) {
	t.Helper()
	c := asUser(t, secret)
	defer c.Close(context.Background())
	for _, s := range sqls {
		if _, err := c.Exec(context.Background(), s); err != nil {
			t.Errorf("as %q: %s: %v", field(t, secret, "username"), s, describe(err))
		}
	}
}

// queryAs returns one text value.
func queryAs(t *testing.T, secret, sql string) string {
	t.Helper()
	c := asUser(t, secret)
	defer c.Close(context.Background())
	var v string
	if err := c.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Errorf("as %q: %s: %v", field(t, secret, "username"), sql, describe(err))
	}
	return v
}

// failsAs checks that a statement is refused with a permission error.
func failsAs(t *testing.T, secret, sql string) {
	t.Helper()
	c := asUser(t, secret)
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), sql); err == nil || !strings.Contains(describe(err), "42501") {
		t.Errorf("as %q: %s: got %v, want permission denied (42501)", field(t, secret, "username"), sql, err)
	}
}

// TestAlternatingPrivileges checks that the clone has the base user's
// privileges by membership (including privileges granted and revoked
// after it was created), that its sessions act as the base user, and that
// tables either user creates are usable by the other.
func TestAlternatingPrivileges(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	st, err := makeSetup(d, ModeAlternating, true)
	if err != nil {
		t.Fatal(err)
	}
	base, clone := st.base, st.base+"_clone"
	w := newWorld(t, st.cfg, st.secret, st.others)
	ctx := context.Background()
	if err := w.rotate(ctx); err != nil {
		t.Fatal(err)
	}
	cloneSecret, baseSecret := w.current(t), w.staged(t, "AWSPREVIOUS")
	if got := field(t, cloneSecret, "username"); got != clone {
		t.Fatalf("AWSCURRENT user after the first rotation = %q, want %q", got, clone)
	}

	// A privilege granted to the base user after the clone exists.
	d.exec(t, "CREATE TABLE granted_later (v text)", "GRANT SELECT, INSERT ON granted_later TO "+ident(base))
	sqlAs(t, cloneSecret, "INSERT INTO granted_later VALUES ('from clone')")
	if got := queryAs(t, cloneSecret, "SELECT string_agg(v, ',') FROM granted_later"); got != "from clone" {
		t.Errorf("clone reads %q from granted_later", got)
	}
	if got := queryAs(t, cloneSecret, "SELECT current_user"); got != base {
		t.Errorf("the clone's session runs as %q, want the base role %q", got, base)
	}
	if got := queryAs(t, cloneSecret, "SELECT session_user"); got != clone {
		t.Errorf("the clone's session user is %q, want %q", got, clone)
	}

	// Objects each creates are usable by the other.
	sqlAs(t, cloneSecret, "CREATE TABLE by_clone (v text)", "INSERT INTO by_clone VALUES ('c')")
	sqlAs(t, baseSecret, "CREATE TABLE by_base (v text)", "INSERT INTO by_base VALUES ('b')")
	sqlAs(t, baseSecret, "INSERT INTO by_clone VALUES ('b')", "UPDATE by_clone SET v = v")
	sqlAs(t, cloneSecret, "INSERT INTO by_base VALUES ('c')", "UPDATE by_base SET v = v")
	for _, tbl := range []string{"by_clone", "by_base"} {
		if got := queryAs(t, baseSecret, "SELECT tableowner FROM pg_tables WHERE tablename = '"+tbl+"'"); got != base {
			t.Errorf("%s is owned by %q, want the base role %q", tbl, got, base)
		}
		if got := queryAs(t, cloneSecret, "SELECT string_agg(v, ',' ORDER BY v) FROM "+tbl); got != "b,c" {
			t.Errorf("%s holds %q, want b,c", tbl, got)
		}
	}

	// The second rotation changes the base user; the clone keeps working
	// and keeps following the base user's privileges.
	if err := w.rotate(ctx); err != nil {
		t.Fatal(err)
	}
	baseSecret, cloneSecret = w.current(t), w.staged(t, "AWSPREVIOUS")
	if got := field(t, baseSecret, "username"); got != base {
		t.Fatalf("AWSCURRENT user after the second rotation = %q, want %q", got, base)
	}
	d.exec(t, "CREATE TABLE granted_after_second (v text)", "GRANT SELECT ON granted_after_second TO "+ident(base))
	sqlAs(t, cloneSecret, "SELECT * FROM granted_after_second", "INSERT INTO by_base VALUES ('c2')")
	d.exec(t, "REVOKE INSERT ON granted_later FROM "+ident(base))
	failsAs(t, cloneSecret, "INSERT INTO granted_later VALUES ('revoked')")
	failsAs(t, baseSecret, "INSERT INTO granted_later VALUES ('revoked')")

	// Membership and settings are as documented.
	c := srv.super(t, d.name)
	defer c.Close(ctx)
	var member bool
	if err := c.QueryRow(ctx, "SELECT pg_has_role($1, $2, 'MEMBER')", clone, base).Scan(&member); err != nil || !member {
		t.Errorf("clone is not a member of the base role: %v", err)
	}
	var settings []string
	if err := c.QueryRow(ctx, "SELECT coalesce(setconfig, '{}') FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1", clone).Scan(&settings); err != nil && err != pgx.ErrNoRows {
		t.Fatal(err)
	}
	if want := "role=" + base; len(settings) != 1 || settings[0] != want {
		t.Errorf("clone settings = %q, want [%q]", settings, want)
	}
}

// TestPrecreatedUsers checks the pre-created mode: two users sharing an
// owner role (each with "SET role" to it, as the README sets them up)
// alternate, and tables either creates are usable by the other; users
// that share no role are refused with a clear error.
func TestPrecreatedUsers(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	st, err := makeSetup(d, ModeAlternatingPrecreated, true)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, st.cfg, st.secret, st.others)
	ctx := context.Background()
	if err := w.rotate(ctx); err != nil {
		t.Fatal(err)
	}
	cur, prev := w.current(t), w.staged(t, "AWSPREVIOUS")
	if field(t, cur, "username") != st.cfg.users[1] || field(t, prev, "username") != st.cfg.users[0] {
		t.Fatalf("users after rotation: current %q previous %q, want %q and %q", field(t, cur, "username"), field(t, prev, "username"), st.cfg.users[1], st.cfg.users[0])
	}
	sqlAs(t, cur, "CREATE TABLE by_b (v text)")
	sqlAs(t, prev, "INSERT INTO by_b VALUES ('a')", "CREATE TABLE by_a (v text)")
	sqlAs(t, cur, "INSERT INTO by_a VALUES ('b')", "SELECT * FROM by_b")

	t.Run("no shared role", func(t *testing.T) {
		a, b := uniqueName("lonely"), uniqueName("lonely")
		d.role(t, a, "pw-"+randHex(8), "LOGIN")
		d.role(t, b, "pw-"+randHex(8), "LOGIN")
		admin := st.others[adminName]
		cfg := st.cfg
		cfg.users = [2]string{a, b}
		d.exec(t, "ALTER ROLE "+ident(a)+" PASSWORD 'initial-pw-123'")
		w := newWorld(t, cfg, d.secretJSON(a, "initial-pw-123", "masterarn", adminName), map[string]string{adminName: admin})
		d.exec(t, "GRANT "+ident(a)+", "+ident(b)+" TO "+ident(field(t, admin, "username"))+" WITH ADMIN OPTION")
		err := w.rotate(ctx)
		if err == nil || !strings.Contains(err.Error(), "share no role") {
			t.Errorf("rotation of users sharing no role: %v, want an error saying they share no role", err)
		}
	})
}
