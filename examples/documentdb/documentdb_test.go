package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/connstr"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
	"github.com/rotationkit/rotation/examples/internal/lambdatest"
	"github.com/rotationkit/rotation/strategy"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestTLS: a secret without "ssl" gets verified TLS. Against the TLS port
// with the server's CA as "sslrootcert" and the host name its certificate
// names, the login works; with another CA, or against the plaintext port,
// it is refused (no fallback); "sslmode": "prefer" is refused up front.
func TestTLS(t *testing.T) {
	f := testServer(t)
	user, pw := uniqueName("tls"), newPassword()
	f.createUser(t, user, pw)
	svc, err := newService(config{connectTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	secret := func(port int, extra ...any) *rotation.Secret {
		s := f.secretJSON(user, pw, append([]any{"ssl", nil, "host", "localhost", "port", port}, extra...)...)
		return rotation.NewString(s)
	}
	if err := svc.Test(ctx, secret(f.tlsPort, "sslrootcert", f.caFile)); err != nil {
		t.Errorf("verified TLS login: %v", err)
	}
	otherCA := dbsecrettest.CAFile(t)
	for name, s := range map[string]*rotation.Secret{
		"another CA":     secret(f.tlsPort, "sslrootcert", otherCA),
		"plaintext port": secret(f.port, "sslrootcert", f.caFile),
		"prefer":         secret(f.port, "sslmode", "prefer"),
	} {
		err := svc.Test(ctx, s)
		if err == nil {
			t.Errorf("%s: login succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: the error shows the password", name)
		}
	}
}

// TestConnectionStrings: a mongodb:// URI as DocumentDB's console shows it
// follows the rotation, and logs in with the driver as it is.
func TestConnectionStrings(t *testing.T) {
	f := testServer(t)
	st := makeSetup(t, f, ModeAlternating, true)
	cur := rotation.NewString(st.secret)
	pw, _ := cur.Get("password")
	uri := fmt.Sprintf("mongodb://%s:%s@%s/?authSource=admin&replicaSet=rs0&readPreference=secondaryPreferred&retryWrites=false", st.base, pw, f.addr)
	with, _ := cur.With(map[string]any{"uri": uri})
	s, _ := with.SecretString()
	w := newWorld(t, st.cfg, s, st.others)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 2 {
		if err := w.rotate(ctx); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
		after := rotation.NewString(w.current(t))
		u, _ := after.Get("username")
		p, _ := after.Get("password")
		if err := connstr.Check(after, connstr.DefaultFields(), connstr.Credential{Host: f.host, Port: f.port, Username: u, Password: p}); err != nil {
			t.Errorf("rotation %d: %v", i+1, err)
		}
		got, _ := after.Get("uri")
		if !strings.HasSuffix(got, "/?authSource=admin&replicaSet=rs0&readPreference=secondaryPreferred&retryWrites=false") {
			t.Errorf("rotation %d: the URI's options changed", i+1)
		}
		// The driver reads it as it is (direct: the test server is no
		// replica set).
		opts := options.Client().ApplyURI(got).SetReplicaSet("").SetDirect(true).SetServerSelectionTimeout(5 * time.Second)
		if opts.Auth == nil || opts.Auth.Username != u || opts.Auth.Password != p {
			t.Fatalf("rotation %d: the driver does not read the new credential from the URI", i+1)
		}
		c, err := mongo.Connect(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Ping(ctx, nil); err != nil {
			t.Errorf("rotation %d: logging in with the rewritten URI: %v", i+1, err)
		}
		_ = c.Disconnect(ctx)
	}
}

// TestHostileNames: user names and passwords with quotes, dollars, dots
// and spaces go through as BSON values.
func TestHostileNames(t *testing.T) {
	f := testServer(t)
	for _, name := range []string{`rk_doc_q"u'o$te.` + randHex(3), `rk_doc sp ace;{}` + randHex(3)} {
		pw := `P w"1'$\{` + randHex(4)
		f.createUser(t, name, pw)
		st := &setup{cfg: config{mode: ModeAlternating, policy: makeSetup(t, f, ModeSingle, false).cfg.policy}}
		st.cfg.admin.AllowPlaintext = true
		st.cfg.policy.ExcludeCharacters = ""
		w := newWorld(t, st.cfg, f.secretJSON(name, pw, "masterarn", adminName), map[string]string{adminName: f.adminSecret()})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for i := range 3 {
			if err := w.rotate(ctx); err != nil {
				t.Fatalf("%q: rotation %d: %v", name, i+1, err)
			}
			if err := f.probe(ctx, rotation.NewString(w.current(t))); err != nil {
				t.Errorf("%q: after rotation %d: %v", name, i+1, err)
			}
		}
		cancel()
	}
}

// TestAdminRefusals: single-user rotation with the admin changes only
// ALLOWED_USERS, never the admin's own user.
func TestAdminRefusals(t *testing.T) {
	f := testServer(t)
	svc, err := newService(config{allowedUsers: []string{f.adminUser, "someone"}, admin: adminPlain()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin := rotation.NewString(f.adminSecret())
	for name, user := range map[string]string{"not allowed": "other", "admin's own": f.adminUser} {
		pending := rotation.NewString(f.secretJSON(user, newPassword()))
		if err := svc.Change(ctx, &strategy.ChangeRequest{Login: admin, New: pending, LoginIsAdmin: true}); err == nil {
			t.Errorf("%s: Change succeeded", name)
		}
	}
	if err := f.login(ctx, f.adminUser, f.adminPassword, "admin"); err != nil {
		t.Errorf("the admin password changed: %v", err)
	}
}

// TestLambdaEndToEnd runs the built function under the Lambda Runtime
// Interface Emulator and rotates twice in the alternating mode, with an
// admin secret that names no host and DB_ADMIN_ENDPOINT.
func TestLambdaEndToEnd(t *testing.T) {
	f := testServer(t)
	st := makeSetup(t, f, ModeAlternating, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h := lambdatest.StartHarness(t, ".", "arn:aws:lambda:us-east-1:123456789012:function:documentdb-rotation",
		"ROTATION_MODE=alternating", "DB_ADMIN_ENDPOINT="+net.JoinHostPort(f.host, strconv.Itoa(f.port)), "DB_ADMIN_ALLOW_PLAINTEXT=true")
	admin, err := h.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/docdb-admin"),
		SecretString: aws.String(fmt.Sprintf(`{"username":%q,"password":%q}`, f.adminUser, f.adminPassword))})
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.Replace(st.secret, `"masterarn":"`+adminName+`"`, `"masterarn":"`+aws.ToString(admin.ARN)+`"`, 1)
	created, err := h.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/docdb"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	rot := h.Rotator(created)
	users := map[string]bool{}
	for i := range 2 {
		res := rot.Rotate(t, ctx)
		s := rotation.NewString(res.Current)
		if err := f.probe(ctx, s); err != nil {
			t.Errorf("AWSCURRENT after rotation %d does not log in: %v", i+1, err)
		}
		u, _ := s.Get("username")
		users[u] = true
		p, _ := s.Get("password")
		if strings.Contains(h.Function.Log.String(), p) {
			t.Error("the function's log contains a password")
		}
	}
	if !users[st.base] || !users[st.base+"_clone"] {
		t.Errorf("the rotations used users %v, want %s and its clone", users, st.base)
	}
}
