package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/rotationtest"
)

const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:oracle-rotation"

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
	fake *rotationtest.Fake
	logs *syncBuffer
	arn  string
}

func newRig(t *testing.T, s settings, others map[string]string, versions ...rotationtest.Version) *rig {
	t.Helper()
	r := &rig{logs: &syncBuffer{}}
	var h *rotation.Handler
	r.fake = rotationtest.New(rotationtest.Options{
		Invoker: rotationtest.InvokerFunc(func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
			return h.Handle(ctx, ev)
		}),
	})
	t.Cleanup(func() { _ = r.fake.Wait(context.Background()) })
	var err error
	h, err = newHandler(r.fake, s, slog.New(slog.NewJSONHandler(r.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, v := range others {
		if _, err := r.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.fake.Seed(rotationtest.Secret{Name: "app/oracle", Versions: versions}); err != nil {
		t.Fatal(err)
	}
	sec, _ := r.fake.Secret("app/oracle")
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

func version(id, value string, stages ...string) rotationtest.Version {
	return rotationtest.Version{ID: id, SecretString: aws.String(value), Stages: stages}
}

// TestReplaceIsTheOneThatLoggedIn: when AWSCURRENT no longer logs in but
// AWSPREVIOUS does, REPLACE must carry AWSPREVIOUS's password; the model
// (like Oracle) refuses any other old password (ORA-28008) and a change
// without REPLACE under a verify function (ORA-28221).
func TestReplaceIsTheOneThatLoggedIn(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	m := newModel(modelHost, ca.cert)
	prevPW, curPW := strongPassword(), strongPassword()
	m.addUser("APP", prevPW, false)

	c := &connector{caFiles: []string{ca.file}, newConnector: m.connector}
	sess, err := c.open(context.Background(), mustParse(t, secretJSON("app", prevPW, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{curPW, ""} {
		st, err := alterPasswordStatement("APP", strongPassword(), old)
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.exec(context.Background(), "x", st); err == nil {
			t.Errorf("the model accepted REPLACE %q (want ORA-28008 or ORA-28221)", map[bool]string{true: "<none>", false: "<AWSCURRENT's>"}[old == ""])
		}
	}
	sess.close()

	r := newRig(t, testSettings(t, ca, m, modeSingle), nil,
		version("v1", secretJSON("app", prevPW, nil), "AWSPREVIOUS"),
		version("v2", secretJSON("app", curPW, nil), "AWSCURRENT"))
	if err := r.rotate(context.Background()); err != nil {
		t.Fatalf("rotation with only AWSPREVIOUS working: %v", err)
	}
	if err := probeFor(m)(context.Background(), r.current(t)); err != nil {
		t.Errorf("the new AWSCURRENT does not log in: %v", err)
	}
	for _, old := range []string{prevPW, curPW} {
		if _, err := m.authenticate("app", old, "ORCL"); err == nil {
			t.Error("an old password still logs in after single-user rotation")
		}
	}
	for _, l := range m.log {
		if strings.Contains(l, prevPW) || strings.Contains(l, curPW) {
			t.Error("the model's statement log kept a password")
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

// TestCloneHasBaseGrants: after the first alternating rotation the clone
// APP_CLONE exists with the base user's profile, tablespace and every
// grant (hostile names included).
func TestCloneHasBaseGrants(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	m := newModel(modelHost, ca.cert)
	adminPW, pw := strongPassword(), strongPassword()
	m.addUser("ADMIN", adminPW, true)
	base := m.addUser("APP", pw, false)
	base.profile, base.tablespace = "APP_PROFILE", "APP DATA"
	seedBase(m, base)
	r := newRig(t, testSettings(t, ca, m, modeAlternating), map[string]string{"admin/app": adminJSON(adminPW)},
		version("v1", secretJSON("app", pw, map[string]any{"masterarn": "admin/app"}), "AWSCURRENT"))
	for i := 0; i < 3; i++ {
		if err := r.rotate(context.Background()); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
	}
	if u, _ := r.current(t).Get("username"); storedName(u) != "APP_CLONE" {
		t.Fatalf("after three rotations AWSCURRENT is user %q, want APP_CLONE", u)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	clone := m.users["APP_CLONE"]
	if clone == nil {
		t.Fatal("no clone")
	}
	if clone.profile != "APP_PROFILE" || clone.tablespace != "APP DATA" {
		t.Errorf("clone profile %q, tablespace %q", clone.profile, clone.tablespace)
	}
	norm := func(gs []grant) []grant {
		out := slices.Clone(gs)
		for i := range out {
			if out[i].Type != "DIRECTORY" && out[i].Type != "USER" {
				out[i].Type = ""
			}
		}
		return out
	}
	if diff := cmp.Diff(norm(base.grants), norm(clone.grants)); diff != "" {
		t.Errorf("grants (-base +clone):\n%s", diff)
	}
	for _, s := range []string{adminPW, pw, base.password, clone.password} {
		if strings.Contains(r.logs.String(), s) {
			t.Error("the function's log holds a password")
		}
	}
}

// TestPrivilegedUsersRefused: the admin credential never resets the
// password of, nor clones, a user that administers users.
func TestPrivilegedUsersRefused(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	for _, g := range []grant{{Kind: "role", Name: "DBA", Option: "NO"}, {Kind: "system", Name: "ALTER USER", Option: "NO"}} {
		for _, md := range []mode{modeSingle, modeAlternating} {
			m := newModel(modelHost, ca.cert)
			adminPW, pw := strongPassword(), strongPassword()
			m.addUser("ADMIN", adminPW, true)
			m.addUser("APP", pw, false).grants = []grant{g}
			s := testSettings(t, ca, m, md)
			if md == modeSingle {
				s.allowedUsers = []string{"app"}
			}
			r := newRig(t, s, map[string]string{"admin/app": adminJSON(adminPW)},
				version("v1", secretJSON("app", pw, map[string]any{"masterarn": "admin/app"}), "AWSCURRENT"))
			err := r.rotate(context.Background())
			if err == nil || !strings.Contains(err.Error()+r.logs.String(), "refusing to use the admin credential") {
				t.Errorf("%s, %s: %v; want a refusal", g.Name, md, err)
			}
			if m.changes != 0 || m.users["APP_CLONE"] != nil {
				t.Errorf("%s, %s: something changed before the refusal", g.Name, md)
			}
		}
	}
}

// TestLegacyNameLimit: with COMPATIBLE below 12.2 names hold 30 bytes; a
// clone name over that fails before anything is created.
func TestLegacyNameLimit(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	m := newModel(modelHost, ca.cert)
	m.compatible = "12.1.0.2"
	adminPW, pw := strongPassword(), strongPassword()
	m.addUser("ADMIN", adminPW, true)
	long := strings.Repeat("A", 25) // + "_CLONE" = 31 bytes
	m.addUser(long, pw, false)
	r := newRig(t, testSettings(t, ca, m, modeAlternating), map[string]string{"admin/app": adminJSON(adminPW)},
		version("v1", secretJSON(long, pw, map[string]any{"masterarn": "admin/app"}), "AWSCURRENT"))
	err := r.rotate(context.Background())
	if err == nil || !strings.Contains(err.Error(), "30") {
		t.Errorf("rotation: %v; want an error naming the 30-byte limit", err)
	}
	if len(m.users) != 2 {
		t.Error("a user was created although its name is over the limit")
	}
}

// TestQuoteRefusedPasswordNeverAltered: a pending password with '"' (a
// policy that allowed it, or a hand-written pending value) fails setSecret
// without touching the server; it is never stripped.
func TestQuoteRefusedPasswordNeverAltered(t *testing.T) {
	t.Parallel()
	const pendingID = "00000000-0000-4000-8000-000000000002"
	ca := newTestCA(t)
	m := newModel(modelHost, ca.cert)
	pw := strongPassword()
	m.addUser("APP", pw, false)
	r := newRig(t, testSettings(t, ca, m, modeSingle), nil,
		version("v1", secretJSON("app", pw, nil), "AWSCURRENT"),
		version(pendingID, secretJSON("app", `Aa1"zqxjv"pw`, nil), "AWSPENDING"))
	// setSecret on that pending value, as the service would invoke it.
	ev := events.SecretsManagerSecretRotationEvent{Step: "setSecret", SecretID: r.arn, ClientRequestToken: pendingID}
	var err error
	h, herr := newHandler(r.fake, testSettings(t, ca, m, modeSingle), slog.New(slog.NewJSONHandler(r.logs, nil)))
	if herr != nil {
		t.Fatal(herr)
	}
	err = h.Handle(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), `'"'`) {
		t.Errorf("setSecret with a '\"' in the password: %v; want a refusal naming the character", err)
	}
	if m.changes != 0 {
		t.Error("the password was changed")
	}
	if strings.Contains(fmt.Sprint(err), "zqxjv") {
		t.Errorf("the error quotes the password: %v", err)
	}
}
