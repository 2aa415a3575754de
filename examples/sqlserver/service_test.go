package main

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/localsm"
)

const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:sqlserver-rotation"

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

// rig is the fake Secrets Manager invoking the function's handler in
// memory, with the model as the server.
type rig struct {
	fake *localsm.Fake
	logs *syncBuffer
	arn  string
}

func newRig(t *testing.T, s settings, others map[string]string, versions ...localsm.Version) *rig {
	t.Helper()
	r := &rig{logs: &syncBuffer{}}
	r.fake = localsm.New(localsm.Options{})
	t.Cleanup(func() { _ = r.fake.Wait(context.Background()) })
	h, err := newHandler(r.fake, s, slog.New(slog.NewJSONHandler(r.logs, nil)))
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
	if err := r.fake.Seed(localsm.Secret{Name: "app/sqlserver", Versions: versions}); err != nil {
		t.Fatal(err)
	}
	sec, _ := r.fake.Secret("app/sqlserver")
	r.arn = sec.ARN
	return r
}

func (r *rig) rotate(ctx context.Context) error {
	_, err := r.fake.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(r.arn), RotationLambdaARN: aws.String(functionARN)})
	return err
}

func (r *rig) current(t *testing.T) *rotation.Secret {
	t.Helper()
	out, err := r.fake.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.arn)})
	if err != nil {
		t.Fatal(err)
	}
	return rotation.NewString(aws.ToString(out.SecretString))
}

func version(id, value string, stages ...string) localsm.Version {
	return localsm.Version{ID: id, SecretString: aws.String(value), Stages: stages}
}

// TestOldPasswordIsTheOneThatLoggedIn: when AWSCURRENT no longer logs in
// but AWSPREVIOUS does (a rotation interrupted after its password change
// and rolled back by hand, or a restore), OLD_PASSWORD must be
// AWSPREVIOUS's password. AWS's template sends AWSCURRENT's, which the
// server refuses; the model refuses it too (checked first).
func TestOldPasswordIsTheOneThatLoggedIn(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	for _, contained := range []bool{false, true} {
		m := newModel(modelHost, ca.cert)
		m.addDB("appdb", contained)
		prevPW, curPW := strongPassword(), strongPassword()
		if contained {
			m.addContained("appdb", "app", prevPW)
		} else {
			m.addLogin("app", prevPW, "appdb", false)
		}

		// The model enforces OLD_PASSWORD: the current value's password
		// (what AWS's template sends) is refused.
		stmt := sqlChangeOwnLogin
		if contained {
			stmt = sqlChangeOwnUser
		}
		cfg, err := (&connector{caFiles: []string{ca.file}}).driverConfig(mustParse(t, secretJSON("app", prevPW, "appdb", nil)))
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(m.connector(cfg))
		if _, err := db.Exec(stmt, "app", strongPassword(), curPW); err == nil {
			t.Fatalf("contained=%v: the model accepted an OLD_PASSWORD that is not the current password", contained)
		}
		_ = db.Close()

		r := newRig(t, testSettings(t, ca, m, modeSingle), nil,
			version("v1", secretJSON("app", prevPW, "appdb", nil), "AWSPREVIOUS"),
			version("v2", secretJSON("app", curPW, "appdb", nil), "AWSCURRENT"))
		if err := r.rotate(context.Background()); err != nil {
			t.Fatalf("contained=%v: rotation with only AWSPREVIOUS working: %v", contained, err)
		}
		if err := probeFor(m, "appdb")(context.Background(), r.current(t)); err != nil {
			t.Errorf("contained=%v: the new AWSCURRENT does not log in: %v", contained, err)
		}
		for _, old := range []string{prevPW, curPW} {
			if _, _, err := m.authenticate("app", old, "appdb"); err == nil {
				t.Errorf("contained=%v: an old password still logs in after single-user rotation", contained)
			}
		}
	}
}

func mustParse(t *testing.T, v string) *dbsecret.Secret {
	t.Helper()
	s, err := parseSecret(rotation.NewString(v))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCloneHasBasePrivileges: after the first alternating rotation the
// clone exists, with every server role, server permission, database role
// and database permission of the base login (names with ']', quotes and
// '#' included), and the statements sent never held a password.
func TestCloneHasBasePrivileges(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	m := newModel(modelHost, ca.cert)
	m.addDB("appdb", false)
	adminPW, pw := strongPassword(), strongPassword()
	m.addLogin("rdsadmin_master", adminPW, "", true)
	seedBase(m, m.addLogin("app", pw, "appdb", false), "appdb")
	r := newRig(t, testSettings(t, ca, m, modeAlternating), map[string]string{"admin/app": adminJSON(adminPW)},
		version("v1", secretJSON("app", pw, "appdb", map[string]any{"masterarn": "admin/app"}), "AWSCURRENT"))
	for i := 0; i < 3; i++ { // clone created, then base, then clone again (re-sync)
		if err := r.rotate(context.Background()); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
	}
	cur := r.current(t)
	if u, _ := cur.Get("username"); u != "app_clone" {
		t.Fatalf("after three rotations AWSCURRENT is user %q, want app_clone", u)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	base, clone := m.logins["app"], m.logins["app_clone"]
	if clone == nil {
		t.Fatal("no clone login")
	}
	if diff := cmp.Diff(base.serverRoles, clone.serverRoles); diff != "" {
		t.Errorf("server roles (-base +clone):\n%s", diff)
	}
	if diff := cmp.Diff(base.serverPerms, clone.serverPerms); diff != "" {
		t.Errorf("server permissions (-base +clone):\n%s", diff)
	}
	bu, cu := m.dbs["appdb"].users["app"], m.dbs["appdb"].users["app_clone"]
	if cu == nil || cu.login != "app_clone" {
		t.Fatal("no database user for the clone login")
	}
	if diff := cmp.Diff(bu.roles, cu.roles); diff != "" {
		t.Errorf("database roles (-base +clone):\n%s", diff)
	}
	if diff := cmp.Diff(bu.perms, cu.perms); diff != "" {
		t.Errorf("database permissions (-base +clone):\n%s", diff)
	}
	secrets := []string{adminPW, pw, base.password, clone.password}
	for _, st := range m.log {
		for _, s := range secrets {
			if strings.Contains(st, s) {
				t.Errorf("a statement sent to the server holds a password: %.40q...", st)
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(r.logs.String(), s) {
			t.Error("the function's log holds a password")
		}
	}
}

// TestPrivilegedLoginsRefused: the admin credential never resets the
// password of, nor clones, a login that administers logins.
func TestPrivilegedLoginsRefused(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	for _, tc := range []struct {
		name  string
		setup func(l *mLogin)
	}{
		{"sysadmin", func(l *mLogin) { l.serverRoles = []string{"sysadmin"} }},
		{"securityadmin", func(l *mLogin) { l.serverRoles = []string{"SecurityAdmin"} }},
		{"control server", func(l *mLogin) {
			l.serverPerms = []perm{{State: "G", Permission: "CONTROL SERVER", Class: classServer, Resolved: true}}
		}},
	} {
		for _, md := range []mode{modeSingle, modeAlternating} {
			m := newModel(modelHost, ca.cert)
			m.addDB("appdb", false)
			adminPW, pw := strongPassword(), strongPassword()
			m.addLogin("rdsadmin_master", adminPW, "", true)
			tc.setup(m.addLogin("app", pw, "appdb", false))
			s := testSettings(t, ca, m, md)
			if md == modeSingle {
				s.allowedUsers = []string{"app"}
			}
			r := newRig(t, s, map[string]string{"admin/app": adminJSON(adminPW)},
				version("v1", secretJSON("app", pw, "appdb", map[string]any{"masterarn": "admin/app"}), "AWSCURRENT"))
			err := r.rotate(context.Background())
			if err == nil {
				t.Errorf("%s, %s: rotation succeeded", tc.name, md)
				continue
			}
			m.mu.Lock()
			if m.changes != 0 || m.logins["app_clone"] != nil {
				t.Errorf("%s, %s: something changed before the refusal", tc.name, md)
			}
			m.mu.Unlock()
			if !strings.Contains(err.Error()+r.logs.String(), "refusing to use the admin credential") {
				t.Errorf("%s, %s: neither the error nor the log says why: %v", tc.name, md, err)
			}
		}
	}
}

// TestUncopyablePermissionStopsBeforeCreating: a permission of a class the
// function does not copy fails the rotation before the clone exists.
func TestUncopyablePermissionStopsBeforeCreating(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	m := newModel(modelHost, ca.cert)
	m.addDB("appdb", false)
	adminPW, pw := strongPassword(), strongPassword()
	m.addLogin("rdsadmin_master", adminPW, "", true)
	m.addLogin("app", pw, "appdb", false)
	m.dbs["appdb"].users["app"].perms = []perm{{State: "G", Permission: "REFERENCES", Class: 6, Resolved: true}} // a TYPE
	r := newRig(t, testSettings(t, ca, m, modeAlternating), map[string]string{"admin/app": adminJSON(adminPW)},
		version("v1", secretJSON("app", pw, "appdb", map[string]any{"masterarn": "admin/app"}), "AWSCURRENT"))
	err := r.rotate(context.Background())
	if err == nil {
		t.Fatal("rotation succeeded")
	}
	if m.logins["app_clone"] != nil {
		t.Error("the clone was created although its privileges could not be copied")
	}
	if !strings.Contains(err.Error()+r.logs.String(), "class 6") {
		t.Errorf("neither the error nor the log names the class that could not be copied: %v", err)
	}
}
