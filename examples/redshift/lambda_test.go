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
)

// TestLambdaEndToEnd builds the function as it is deployed (provided.al2023
// bootstrap), runs it under the Lambda Runtime Interface Emulator against
// the fake Secrets Manager served over HTTP, and rotates a secret twice in
// the alternating mode with an admin secret that holds no host (as a
// Redshift-managed admin secret) and DB_ADMIN_ENDPOINT.
func TestLambdaEndToEnd(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	st, err := makeSetup(d, ModeAlternating, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := []string{
		"ROTATION_MODE=alternating",
		"DB_ADMIN_ENDPOINT=" + net.JoinHostPort(srv.host, strconv.Itoa(srv.port)),
		"DB_ADMIN_ALLOW_PLAINTEXT=true", // the local server's certificate is for no name the secret uses
		"PASSWORD_HASH=" + srv.hash(),
	}
	h := lambdatest.StartHarness(t, ".", "arn:aws:lambda:us-east-1:123456789012:function:redshift-rotation", env...)
	client, fn := h.Client, h.Function
	a := rotation.NewString(st.others[adminName])
	au, _ := a.Get("username")
	ap, _ := a.Get("password")
	admin, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/redshift-admin"), SecretString: aws.String(fmt.Sprintf(`{"username":%q,"password":%q}`, au, ap))})
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.Replace(st.secret, `"masterarn":"`+adminName+`"`, `"masterarn":"`+aws.ToString(admin.ARN)+`"`, 1)
	if secret == st.secret {
		t.Fatal("masterarn not replaced")
	}
	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/redshift"), SecretString: aws.String(secret)})
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
		pw, _ := s.Get("password")
		if strings.Contains(fn.Log.String(), pw) {
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
