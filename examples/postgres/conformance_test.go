package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/rotationtest"
)

// setup is one fixture's roles, secrets and configuration.
type setup struct {
	cfg    config
	secret string            // the main secret
	others map[string]string // the admin secret, by name
	roles  []string          // roles to drop
	base   string            // the secret's user
	admin  string            // the admin role, if any
}

// adminName is the admin secret's name in the fake; the main secret's
// masterarn names it (a name works where an ARN does).
const adminName = "app/postgres-admin"

func newPassword() string {
	pw, err := dbsecret.PostgreSQL.DefaultPolicy().Generate()
	if err != nil {
		panic(err)
	}
	return pw
}

// makeSetup creates the roles for mode in d. withAdmin adds an admin
// secret (always present for the alternating modes). The admin is not a
// superuser: CREATEROLE, with ADMIN OPTION on the base role (what
// PostgreSQL 16+ requires to grant it; RDS's master user has it).
func makeSetup(d *testDB, mode Mode, withAdmin bool) (*setup, error) {
	st := &setup{cfg: d.srv.configure(config{mode: mode, policy: dbsecret.PostgreSQL.DefaultPolicy(), checkPassword: checkPasswordFor(d.srv)})}
	user, pw := uniqueName("app"), newPassword()
	st.base = user
	if mode == ModeSingle && withAdmin {
		st.cfg.allowedUsers = []string{user}
	}
	var extra []any
	if withAdmin || mode != ModeSingle {
		admin, apw := uniqueName("admin"), newPassword()
		if err := d.createRole(admin, apw, "LOGIN CREATEROLE"); err != nil {
			return nil, err
		}
		st.roles = append(st.roles, admin)
		st.others = map[string]string{adminName: d.secretJSON(admin, apw)}
		extra = []any{"masterarn", adminName}
		st.admin = admin
	}
	switch mode {
	case ModeSingle:
		if err := d.createRole(user, pw, "LOGIN"); err != nil {
			return nil, err
		}
		st.roles = append(st.roles, user)
	case ModeAlternating:
		if err := d.createRole(user, pw, "LOGIN"); err != nil {
			return nil, err
		}
		st.roles = append(st.roles, user)
		d.track(user + "_clone")
		st.roles = append(st.roles, user+"_clone")
	case ModeAlternatingPrecreated:
		owner, other := uniqueName("owner"), uniqueName("app")
		if err := d.createRole(owner, "", "NOLOGIN"); err != nil {
			return nil, err
		}
		for _, u := range []string{user, other} {
			if err := d.createRole(u, newPassword(), "LOGIN IN ROLE "+ident(owner)); err != nil {
				return nil, err
			}
			if err := d.execErr("ALTER ROLE " + ident(u) + " SET role = " + ident(owner)); err != nil {
				return nil, err
			}
		}
		if err := d.execErr("ALTER ROLE " + ident(user) + " PASSWORD '" + pw + "'"); err != nil {
			return nil, err
		}
		st.roles = append(st.roles, owner, user, other)
		st.cfg.users = [2]string{user, other}
	}
	if st.admin != "" {
		// Let the admin manage the fixture's existing roles.
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

func conformance(t *testing.T, mode Mode, withAdmin bool) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	rotationtest.Run(t, func(ctx context.Context) (*rotationtest.Fixture, error) {
		st, err := makeSetup(d, mode, withAdmin)
		if err != nil {
			return nil, err
		}
		// Another application's user on the same database, which no
		// rotation may touch.
		neighbour, npw := uniqueName("nb"), newPassword()
		if err := d.createRole(neighbour, npw, "LOGIN"); err != nil {
			_ = d.dropRoles(st.roles...)
			return nil, err
		}
		st.roles = append(st.roles, neighbour)
		return &rotationtest.Fixture{
			Secret:    st.secret,
			Neighbour: d.secretJSON(neighbour, npw),
			Others:    st.others,
			NewHandler: func(client rotation.Client, logger *slog.Logger) (rotationtest.HandleFunc, error) {
				r, err := newRotator(st.cfg, client)
				if err != nil {
					return nil, err
				}
				h, err := rotation.New(client, r, func(o *rotation.Options) { o.Logger = logger })
				if err != nil {
					return nil, err
				}
				return h.Handle, nil
			},
			Probe:        probeWith(srv),
			ZeroDowntime: mode != ModeSingle,
			MaxCalls:     10,
			Close:        func() { _ = d.dropRoles(st.roles...) },
		}, nil
	})
}

func TestConformanceSingle(t *testing.T)      { conformance(t, ModeSingle, false) }
func TestConformanceSingleAdmin(t *testing.T) { conformance(t, ModeSingle, true) }
func TestConformanceAlternating(t *testing.T) { conformance(t, ModeAlternating, true) }
func TestConformanceAlternatingPrecreated(t *testing.T) {
	conformance(t, ModeAlternatingPrecreated, true)
}
