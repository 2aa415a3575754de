package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/connstr"
)

// TestConnectionStringsFollowRotation: a secret holding a URL, a libpq
// key=value string and a JDBC URL is rotated in every mode; afterwards
// each string names the new user and password, and the URL and key=value
// strings, given as they are to pgx, log in.
func TestConnectionStringsFollowRotation(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	for _, mode := range []Mode{ModeSingle, ModeAlternating, ModeAlternatingPrecreated} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			st, err := makeSetup(d, mode, mode != ModeSingle)
			if err != nil {
				t.Fatal(err)
			}
			cur := rotation.NewString(st.secret)
			user, _ := cur.Get("username")
			pw, _ := cur.Get("password")
			host := srv.secretHost()
			u := url.URL{Scheme: "postgres", User: url.UserPassword(user, pw), Host: fmt.Sprintf("%s:%d", host, srv.port), Path: "/" + d.name, RawQuery: "sslmode=disable"}
			withStrings, err := cur.With(map[string]any{
				"connectionString": u.String(),
				"dsn":              fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=disable", host, srv.port, d.name, user, pw),
				"jdbcUrl":          fmt.Sprintf("jdbc:postgresql://%s:%d/%s?user=%s&password=%s&ssl=false", host, srv.port, d.name, user, url.QueryEscape(pw)),
			})
			if err != nil {
				t.Fatal(err)
			}
			s, _ := withStrings.SecretString()
			w := newWorld(t, st.cfg, s, st.others)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for i := range 2 {
				if err := w.rotate(ctx); err != nil {
					t.Fatalf("rotation %d: %v", i+1, err)
				}
				after := rotation.NewString(w.current(t))
				newUser, _ := after.Get("username")
				newPW, _ := after.Get("password")
				if newPW == pw {
					t.Fatalf("rotation %d did not change the password", i+1)
				}
				c := connstr.Credential{Host: host, Port: srv.port, Username: newUser, Password: newPW}
				if err := connstr.Check(after, connstr.DefaultFields(), c); err != nil {
					t.Errorf("rotation %d: %v", i+1, err)
				}
				for _, f := range []string{"connectionString", "dsn"} {
					v, _ := after.Get(f)
					if strings.Contains(v, pw) {
						t.Errorf("rotation %d: field %q still holds the old password", i+1, f)
					}
					cfg, err := pgx.ParseConfig(v)
					if err != nil {
						t.Fatalf("rotation %d: pgx cannot parse field %q: %v", i+1, f, err)
					}
					if cfg.User != newUser || cfg.Password != newPW {
						t.Errorf("rotation %d: field %q names user %q (want %q), password matches: %v", i+1, f, cfg.User, newUser, cfg.Password == newPW)
					}
					conn, err := pgx.ConnectConfig(ctx, cfg)
					if err != nil {
						t.Errorf("rotation %d: logging in with field %q: %v", i+1, f, describe(err))
						continue
					}
					conn.Close(ctx)
				}
				pw = newPW
			}
		})
	}
}

// TestConnectionStringElsewhereRefused: a connection string that points at
// another host stops the rotation in createSecret, with an error naming
// the field and not its value; nothing is written.
func TestConnectionStringElsewhereRefused(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	st, err := makeSetup(d, ModeSingle, false)
	if err != nil {
		t.Fatal(err)
	}
	withBad, err := rotation.NewString(st.secret).With(map[string]any{"uri": "postgres://app:pw@attacker.example.net/db"})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := withBad.SecretString()
	w := newWorld(t, st.cfg, s, st.others)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = w.rotate(ctx)
	if err == nil {
		t.Fatal("rotation succeeded; want a refusal")
	}
	if got := w.current(t); got != s {
		t.Errorf("AWSCURRENT changed after a refused rotation")
	}
	logs := w.log()
	if !strings.Contains(err.Error(), `field \"uri\"`) && !strings.Contains(err.Error(), `field "uri"`) {
		t.Errorf("the error does not name the field: %v", err)
	}
	if strings.Contains(logs, "attacker") || strings.Contains(err.Error(), "attacker") {
		t.Errorf("the field's value reached the logs or the error")
	}
}
