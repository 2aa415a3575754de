package rotation_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
)

func TestDiagnose(t *testing.T) {
	ctx := context.Background()
	fail := ""
	var handle func(context.Context, events.SecretsManagerSecretRotationEvent) error
	clock := localsm.NewManualClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	fake := localsm.New(localsm.Options{Clock: clock, RotationAttempts: 1, Invoker: localsm.InvokerFunc(
		func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
			if ev.Step == fail {
				return errors.New("injected failure")
			}
			return handle(ctx, ev)
		})})
	h, err := rotation.New(fake, passwordRotator{})
	if err != nil {
		t.Fatal(err)
	}
	handle = h.Handle
	out, err := fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("diag"), SecretString: aws.String(`{"password":"initial-password"}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)
	rotate := func(token string) {
		t.Helper()
		_, _ = fake.Rotate(ctx, &secretsmanager.RotateSecretInput{
			SecretId: aws.String(arn), ClientRequestToken: aws.String(token),
			RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f"),
			RotationRules:     &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1)},
		})
	}
	// The service's reattempt, in the next rotation window.
	reattempt := func() {
		t.Helper()
		clock.Advance(48 * time.Hour)
		if rs, err := fake.RunDue(ctx); err != nil || len(rs) != 1 {
			t.Fatalf("RunDue: %d rotations, %v", len(rs), err)
		}
	}

	d, err := rotation.Diagnose(ctx, fake, arn)
	if err != nil {
		t.Fatal(err)
	}
	if d.Incomplete() || d.RotationEnabled || !strings.Contains(d.Advice(), "not enabled") {
		t.Errorf("fresh secret: %+v, advice %q", d, d.Advice())
	}

	const tok1 = "11111111-1111-4111-8111-111111111111"
	fail = "createSecret"
	rotate(tok1)
	d, err = rotation.Diagnose(ctx, fake, arn)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Incomplete() || d.Pending != tok1 || d.PendingHasValue {
		t.Errorf("after a failed createSecret: %+v", d)
	}
	if a := d.Advice(); !strings.Contains(a, "never stored") || !strings.Contains(a, "--remove-from-version-id "+tok1) {
		t.Errorf("advice %q lacks the diagnosis or the recovery command", a)
	}

	fail = "testSecret"
	reattempt() // createSecret succeeds this time, testSecret fails
	d, err = rotation.Diagnose(ctx, fake, arn)
	if err != nil {
		t.Fatal(err)
	}
	if a := d.Advice(); !d.Incomplete() || !d.PendingHasValue || !strings.Contains(a, "never made AWSCURRENT") ||
		!strings.Contains(a, "do NOT abandon") || !strings.Contains(a, "--version-stage AWSCURRENT --move-to-version-id "+tok1) {
		t.Errorf("after a failed testSecret: %+v, advice %q", d, d.Advice())
	}

	fail = ""
	reattempt()
	d, err = rotation.Diagnose(ctx, fake, arn)
	if err != nil {
		t.Fatal(err)
	}
	if d.Incomplete() || d.Current != tok1 || d.Previous == "" || d.Advice() != "No rotation is in progress." {
		t.Errorf("after success: %+v, advice %q", d, d.Advice())
	}
	if _, err := rotation.Diagnose(ctx, fake, "no-such-secret"); err == nil {
		t.Error("Diagnose of a missing secret: no error")
	}
}
