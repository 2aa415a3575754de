package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/connstr"
)

// TestConnectionStringsFollowRotation: a secret holding a go-sql-driver
// DSN, a mysql:// URL and a JDBC URL is rotated in the single and
// alternating modes; afterwards each string carries the new user and
// password, and the DSN, given as it is to the driver, logs in.
func TestConnectionStringsFollowRotation(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	for _, m := range []mode{modeSingle, modeAlternating} {
		t.Run(string(m), func(t *testing.T) {
			ctx := context.Background()
			cl := testCleaner(t)
			db := srv.mustDB(t, cl)
			user, pw := srv.newUser(t, cl, "rcs_", []string{"%"}, "SELECT ON "+quoteIdent(db)+".*")
			addr := fmt.Sprintf("%s:%d", srv.host, srv.port)
			extra := map[string]any{
				"dsn":              fmt.Sprintf("%s:%s@tcp(%s)/%s?timeout=5s", user, pw, addr, db),
				"connectionString": fmt.Sprintf("mysql://%s:%s@%s/%s", user, url.PathEscape(pw), addr, db),
				"jdbcUrl":          fmt.Sprintf("jdbc:mysql://%s/%s?user=%s&password=%s", addr, db, user, url.QueryEscape(pw)),
			}
			var r *rig
			if m == modeAlternating {
				admin := srv.mustAdmin(t, cl)
				extra["masterarn"] = "admin"
				r = newRig(t, testSettings(m), srv.secret(user, pw, db, extra), map[string]string{"admin": admin})
			} else {
				r = newRig(t, testSettings(m), srv.secret(user, pw, db, extra), nil)
			}
			for i := 1; i <= 2; i++ {
				if err := r.rotate(ctx); err != nil {
					t.Fatalf("rotation %d: %v", i, err)
				}
				cur, err := r.current(ctx)
				if err != nil {
					t.Fatal(err)
				}
				newUser, _ := cur.Get("username")
				newPW, _ := cur.Get("password")
				if err := connstr.Check(cur, connstr.DefaultFields(), connstr.Credential{Host: srv.host, Port: srv.port, Username: newUser, Password: newPW}); err != nil {
					t.Errorf("rotation %d: %v", i, err)
				}
				for _, f := range []string{"dsn", "connectionString", "jdbcUrl"} {
					if v, _ := cur.Get(f); strings.Contains(v, pw) {
						t.Errorf("rotation %d: field %q still holds the old password", i, f)
					}
				}
				dsn, _ := cur.Get("dsn")
				cfg, err := mysql.ParseDSN(dsn)
				if err != nil {
					t.Fatalf("rotation %d: the driver cannot parse the rewritten DSN: %v", i, err)
				}
				if cfg.User != newUser || cfg.Passwd != newPW {
					t.Errorf("rotation %d: the DSN names user %q (want %q), password matches: %v", i, cfg.User, newUser, cfg.Passwd == newPW)
				}
				dbh, err := sql.Open("mysql", dsn)
				if err != nil {
					t.Fatal(err)
				}
				if err := dbh.PingContext(ctx); err != nil {
					t.Errorf("rotation %d: logging in with the rewritten DSN: %v", i, err)
				}
				dbh.Close()
				pw = newPW
			}
		})
	}
}

// TestConnectionStringElsewhereRefused: a DSN for another server stops the
// rotation before anything is written.
func TestConnectionStringElsewhereRefused(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	db := srv.mustDB(t, cl)
	user, pw := srv.newUser(t, cl, "rcr_", []string{"%"}, "SELECT ON "+quoteIdent(db)+".*")
	secret := srv.secret(user, pw, db, map[string]any{"dsn": user + ":" + pw + "@tcp(attacker.example.net:3306)/" + db})
	r := newRig(t, testSettings(modeSingle), secret, nil)
	err := r.rotate(ctx)
	if err == nil || !strings.Contains(err.Error(), `field "dsn"`) && !strings.Contains(err.Error(), `field \"dsn\"`) {
		t.Fatalf("rotation: %v; want a refusal naming field \"dsn\"", err)
	}
	if strings.Contains(err.Error(), "attacker") || strings.Contains(r.logs.String(), "attacker") {
		t.Errorf("the field's value reached the error or the logs")
	}
	cur, err := r.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Equal(rotation.NewString(secret)) {
		t.Errorf("AWSCURRENT changed after a refused rotation")
	}
	if err := probe(ctx, cur); err != nil {
		t.Errorf("the unchanged credential no longer works: %v", err)
	}
}
