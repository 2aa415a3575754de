package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/lambdatest"
)

// TestLambdaEndToEnd builds this command as a Lambda bootstrap, runs it
// under the Lambda Runtime Interface Emulator with ROTATION_MODE=
// alternating, pointed at a fake Secrets Manager served over HTTP, and
// rotates a real MariaDB/MySQL user three times through the Lambda
// Invoke API, the way Secrets Manager does.
func TestLambdaEndToEnd(t *testing.T) {
	t.Parallel()
	srv := realServer(t)
	ctx := context.Background()
	cl := testCleaner(t)
	db := srv.mustDB(t, cl)
	user, pw := srv.newUser(t, cl, "rtl_", []string{srv.host, "localhost"}, "SELECT ON "+quoteIdent(db)+".*")
	admin := srv.mustAdmin(t, cl)

	h := lambdatest.StartHarness(t, ".", functionARN, "ROTATION_MODE=alternating", "DB_ADMIN_ALLOW_PLAINTEXT=true")
	fake, client, fn := h.Fake, h.Client, h.Function // the real SDK, over HTTP
	if _, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("admin/mysql"), SecretString: aws.String(admin)}); err != nil {
		t.Fatal(err)
	}
	out, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/mysql"),
		SecretString: aws.String(srv.secret(user, pw, db, map[string]any{"masterarn": "admin/mysql"}))})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)
	rot := h.Rotator(out)
	for i := 1; i <= 3; i++ {
		res := rot.Rotate(t, ctx)
		if err := probe(ctx, rotation.NewString(res.Current)); err != nil {
			t.Fatalf("after rotation %d AWSCURRENT does not authenticate: %v", i, err)
		}
	}
	log := fn.Log.String()
	if !strings.Contains(log, `"step":"finishSecret"`) {
		t.Errorf("the function's log has no JSON step records:\n%s", log)
	}
	s, _ := fake.Secret(arn)
	for _, v := range s.Versions {
		if v.SecretString == nil {
			continue
		}
		if p, err := rotation.NewString(*v.SecretString).Get("password"); err == nil && strings.Contains(log, p) {
			t.Errorf("a password appears in the function's log")
		}
	}
	if err := srv.canaryAlive(ctx, db); err != nil {
		t.Error(err)
	}
}
