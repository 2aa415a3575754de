package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/lambdatest"
	"github.com/rotationkit/rotation/rotationtest"
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
	db, err := srv.newDB(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	user, pw := unique("rtl_"), password()
	if err := srv.createUser(ctx, cl, user, pw, []string{srv.host, "localhost"}, "SELECT ON "+quoteIdent(db)+".*"); err != nil {
		t.Fatal(err)
	}
	admin, err := srv.createAdmin(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}

	// The emulator serves only the function named "function"; the
	// invoker is set once the function has started (it needs the fake's
	// URL first), before any rotation.
	var inv rotationtest.Invoker
	fake := rotationtest.New(rotationtest.Options{StrictRotationToken: true, Invoker: rotationtest.InvokerFunc(func(ctx context.Context, arn string, ev events.SecretsManagerSecretRotationEvent) error {
		if arn != functionARN {
			return fmt.Errorf("no function %s", arn)
		}
		return inv.Invoke(ctx, "function", ev)
	})})
	sm := rotationtest.NewServer(fake)
	t.Cleanup(sm.Close)
	t.Cleanup(func() { _ = fake.Wait(context.Background()) })
	env := append(lambdatest.AWSEnv(sm.URL, fake.Region()), "ROTATION_MODE=alternating", "DB_ADMIN_ALLOW_PLAINTEXT=true")
	fn := lambdatest.Start(t, ".", env...)
	inv = fn.Invoker

	client := sm.Client() // the real SDK, over HTTP
	if _, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("admin/mysql"), SecretString: aws.String(admin)}); err != nil {
		t.Fatal(err)
	}
	out, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/mysql"),
		SecretString: aws.String(srv.secret(user, pw, db, map[string]any{"masterarn": "admin/mysql"}))})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)
	for i := 1; i <= 3; i++ {
		rot, err := client.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(functionARN)})
		if err != nil {
			t.Fatalf("rotation %d: RotateSecret: %v", i, err)
		}
		r, ok := fake.Rotation(aws.ToString(rot.VersionId))
		if !ok {
			t.Fatalf("rotation %d did not start", i)
		}
		if err := r.Wait(ctx); err != nil {
			t.Fatalf("rotation %d: %v\nfunction log:\n%s", i, err, fn.Log)
		}
		cur, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if err := probe(ctx, rotation.NewString(aws.ToString(cur.SecretString))); err != nil {
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
