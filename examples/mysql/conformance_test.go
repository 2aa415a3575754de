package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

// Secrets Manager calls one clean rotation may make, per mode (see the
// rotation package doc: nine at most, one more for reading the admin
// secret).
const (
	maxCallsSingle      = 9
	maxCallsAdmin       = 10
	maxCallsAlternating = 10
)

func handlerFor(s settings) func(rotation.Client, *slog.Logger) (rotationtest.HandleFunc, error) {
	return func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
		h, err := newHandler(c, s, l)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	}
}

// singleFixture: a user on '%' with privileges on its database; with
// admin, the secret names an admin secret.
func singleFixture(srv *server, admin bool) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		cl := &cleaner{}
		fx, err := func() (*rotationtest.Fixture, error) {
			db, err := srv.newDB(ctx, cl)
			if err != nil {
				return nil, err
			}
			user, pw := unique("rts_"), password()
			if err := srv.createUser(ctx, cl, user, pw, []string{"%"}, "SELECT, INSERT ON "+quoteIdent(db)+".*"); err != nil {
				return nil, err
			}
			neighbour, err := newNeighbour(ctx, srv, cl, db, []string{"%"})
			if err != nil {
				return nil, err
			}
			fx := &rotationtest.Fixture{
				Secret:     srv.secret(user, pw, db, nil),
				Neighbour:  neighbour,
				NewHandler: handlerFor(testSettings(modeSingle)),
				Probe:      probe,
				MaxCalls:   maxCallsSingle,
				Close:      cl.run,
			}
			if admin {
				adminSecret, err := srv.createAdmin(ctx, cl)
				if err != nil {
					return nil, err
				}
				name := "admin/" + user
				fx.Secret = srv.secret(user, pw, db, map[string]any{"masterarn": name})
				fx.Others = map[string]string{name: adminSecret}
				s := testSettings(modeSingle)
				s.allowedUsers = []string{user}
				fx.NewHandler = handlerFor(s)
				fx.MaxCalls = maxCallsAdmin
			}
			return fx, nil
		}()
		if err != nil {
			cl.run()
		}
		return fx, err
	}
}

// alternatingFixture: a base user on two hosts (not '%'), an admin
// secret, and for pre-created mode a second user with the same grants.
func alternatingFixture(srv *server, m mode) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		cl := &cleaner{}
		fx, err := func() (*rotationtest.Fixture, error) {
			db, err := srv.newDB(ctx, cl)
			if err != nil {
				return nil, err
			}
			user, pw := unique("rta_"), password()
			hosts := []string{srv.host, "localhost"}
			grant := "SELECT, INSERT ON " + quoteIdent(db) + ".*"
			if err := srv.createUser(ctx, cl, user, pw, hosts, grant); err != nil {
				return nil, err
			}
			s := testSettings(m)
			if m == modePrecreated {
				s.users = [2]string{user, user + "_b"}
				if err := srv.createUser(ctx, cl, s.users[1], password(), hosts, grant); err != nil {
					return nil, err
				}
			}
			adminSecret, err := srv.createAdmin(ctx, cl)
			if err != nil {
				return nil, err
			}
			neighbour, err := newNeighbour(ctx, srv, cl, db, hosts)
			if err != nil {
				return nil, err
			}
			name := "admin/" + user
			return &rotationtest.Fixture{
				Neighbour:    neighbour,
				Secret:       srv.secret(user, pw, db, map[string]any{"masterarn": name}),
				Others:       map[string]string{name: adminSecret},
				NewHandler:   handlerFor(s),
				Probe:        probe,
				ZeroDowntime: true,
				MaxCalls:     maxCallsAlternating,
				Close:        cl.run,
			}, nil
		}()
		if err != nil {
			cl.run()
		}
		return fx, err
	}
}

// newNeighbour creates another application's user on the same database
// and returns its secret: the suite checks that no rotation touches it.
func newNeighbour(ctx context.Context, srv *server, cl *cleaner, db string, hosts []string) (string, error) {
	user, pw := unique("rtn_"), password()
	if err := srv.createUser(ctx, cl, user, pw, hosts, "SELECT ON "+quoteIdent(db)+".*"); err != nil {
		return "", err
	}
	return srv.secret(user, pw, db, nil), nil
}

func TestConformanceSingle(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, singleFixture(realServer(t), false))
}

func TestConformanceSingleAdmin(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, singleFixture(realServer(t), true))
}

func TestConformanceAlternating(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, alternatingFixture(realServer(t), modeAlternating))
}

func TestConformancePrecreated(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, alternatingFixture(realServer(t), modePrecreated))
}

// TestConformanceFreshProcess runs every invocation in a child process of
// the test binary, as on Lambda after a cold start: state the rotator kept
// in package variables between steps would be lost and the rotation would
// fail. The child builds its own fixture (another database and users,
// cleaned up when it exits) but rotates the users the parent's secret
// names, on the same server.
func TestConformanceFreshProcess(t *testing.T) {
	t.Parallel()
	rotationtest.Run(t, alternatingFixture(realServer(t), modeAlternating), rotationtest.FreshProcess(t))
}
