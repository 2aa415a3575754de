package main

import (
	"context"
	"strings"
	"testing"

	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

// hostileNames are user names that break naive quoting. Each must rotate
// correctly (never be executed as SQL).
var hostileNames = []string{
	`it's`,
	`dq"uote`,
	`back\slash`,
	`semi;colon`,
	`per%cent%s`,
	`üser`,
	`名前`,
	`a"; DROP TABLE x; --`,
	`'; DROP TABLE x; --`,
	`Mixed Case`,
	`$1`,
}

// hostilePassword is an initial password clients may have chosen: the
// rotator only logs in with it, through the driver, never in SQL text.
const hostilePassword = `pw'"\;% --ü名前 x`

// TestHostileNames rotates users with hostile names and passwords in both
// modes and checks that a canary table named x survives.
func TestHostileNames(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	d.exec(t, "CREATE TABLE x (v text)", "INSERT INTO x VALUES ('canary')", "GRANT SELECT ON x TO PUBLIC")
	ctx := context.Background()
	check := checkPasswordFor(srv)
	for _, mode := range []Mode{ModeSingle, ModeAlternating} {
		for _, name := range hostileNames {
			t.Run(string(mode)+"/"+name, func(t *testing.T) {
				user := name + "_" + randHex(3)
				d.role(t, user, hostilePassword, "LOGIN")
				cfg := srv.configure(config{mode: mode, policy: dbsecret.PostgreSQL.DefaultPolicy(), checkPassword: check})
				secret := d.secretJSON(user, hostilePassword)
				var others map[string]string
				if mode == ModeAlternating {
					admin := "adm " + name + "_" + randHex(3)
					d.role(t, admin, hostilePassword+"adm", "LOGIN CREATEROLE")
					d.exec(t, "GRANT "+ident(user)+" TO "+ident(admin)+" WITH ADMIN OPTION")
					d.track(user + "_clone")
					others = map[string]string{adminName: d.secretJSON(admin, hostilePassword+"adm")}
					secret = d.secretJSON(user, hostilePassword, "masterarn", adminName)
				}
				w := newWorld(t, cfg, secret, others)
				for i := range 2 {
					if err := w.rotate(ctx); err != nil {
						t.Fatalf("rotation %d: %v", i+1, err)
					}
				}
				cur := w.current(t)
				if err := probeWith(srv)(ctx, rotationSecret(cur)); err != nil {
					t.Errorf("AWSCURRENT does not authenticate: %v", err)
				}
				if strings.Contains(w.log(), hostilePassword) {
					t.Error("the function's log contains the password")
				}
			})
		}
	}
	c := srv.super(t, d.name)
	defer c.Close(ctx)
	var got string
	if err := c.QueryRow(ctx, "SELECT v FROM x").Scan(&got); err != nil || got != "canary" {
		t.Errorf("canary table x: %q, %v", got, err)
	}
}

// TestNameTooLong checks that a user name whose clone would pass
// PostgreSQL's 63-byte limit is refused in createSecret, before anything
// changes, with an error saying so.
func TestNameTooLong(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	user := strings.Repeat("名", 20) // 60 bytes; with "_clone", 66
	st, err := makeSetup(d, ModeAlternating, true)
	if err != nil {
		t.Fatal(err)
	}
	d.role(t, user, "pw-long-name-1", "LOGIN")
	secret := d.secretJSON(user, "pw-long-name-1", "masterarn", adminName)
	w := newWorld(t, st.cfg, secret, st.others)
	err = w.rotate(context.Background())
	if err == nil || !strings.Contains(err.Error(), "63") || !strings.Contains(err.Error(), "createSecret") {
		t.Errorf("rotation of a user whose clone name is too long: %v; want a createSecret error naming the 63-byte limit", err)
	}
}
