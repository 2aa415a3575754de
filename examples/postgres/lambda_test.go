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
	"github.com/rotationkit/rotation/examples/internal/lambdatest"
	"github.com/rotationkit/rotation/examples/internal/testenv"
)

// TestLambdaEndToEnd builds the function as it is deployed (provided.al2023
// bootstrap), runs it under the Lambda Runtime Interface Emulator against
// the fake Secrets Manager served over HTTP, and rotates a secret twice in
// the alternating mode, the way Secrets Manager invokes it, with an
// RDS-managed master secret (no host) and DB_ADMIN_ENDPOINT; the admin
// connection uses verified TLS when the server's certificate allows
// (CA_BUNDLE).
func TestLambdaEndToEnd(t *testing.T) {
	srv := testServer(t)
	if srv.trust {
		// The built function logs in with SCRAM-SHA-256 only: a server
		// that asks for no password is refused.
		testenv.Missing(t, "a PostgreSQL server that authenticates with passwords", `the test server lets any password in ("trust") and the function refuses servers that do not authenticate with SCRAM-SHA-256; use scram-sha-256 in pg_hba.conf (the superuser may stay "trust")`)
	}
	t.Parallel()
	d := srv.newDB(t)
	st, err := makeSetup(d, ModeAlternating, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	env := append([]string{"ROTATION_MODE=alternating", "DB_ADMIN_ENDPOINT=" + net.JoinHostPort(srv.secretHost(), strconv.Itoa(srv.port))}, srv.env()...)
	h := lambdatest.StartHarness(t, ".", "arn:aws:lambda:us-east-1:123456789012:function:postgres-rotation", env...)
	client, fn := h.Client, h.Function
	// The admin secret is an RDS-managed master secret: a user name and a
	// password, no host; the function's DB_ADMIN_ENDPOINT pins the server.
	adminSecret := fmt.Sprintf(`{"username":%q,"password":%q}`, field(t, st.others[adminName], "username"), field(t, st.others[adminName], "password"))
	admin, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/postgres-admin"), SecretString: aws.String(adminSecret)})
	if err != nil {
		t.Fatal(err)
	}
	// The main secret names the admin secret by ARN, as in AWS.
	secret := strings.Replace(st.secret, `"masterarn":"`+adminName+`"`, `"masterarn":"`+aws.ToString(admin.ARN)+`"`, 1)
	if secret == st.secret {
		t.Fatal("masterarn not replaced")
	}
	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/postgres"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]bool{}
	rot := h.Rotator(created)
	for i := range 2 {
		res := rot.Rotate(t, ctx)
		s := rotation.NewString(res.Current)
		if err := probeWith(srv)(ctx, s); err != nil {
			t.Errorf("AWSCURRENT after rotation %d does not authenticate: %v", i+1, err)
		}
		u, _ := s.Get("username")
		users[u] = true
		if strings.Contains(fn.Log.String(), field(t, res.Current, "password")) {
			t.Error("the function's log contains a password")
		}
	}
	if !users[st.base] || !users[st.base+"_clone"] {
		t.Errorf("the two rotations used users %v, want %s and its clone", users, st.base)
	}
	if !strings.Contains(fn.Log.String(), `"step":"finishSecret"`) {
		t.Errorf("the function's log has no finishSecret record:\n%s", fn.Log)
	}
}
