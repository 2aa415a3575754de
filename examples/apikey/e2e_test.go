package main

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/lambdatest"
)

// TestLambdaEndToEnd builds the function as a Lambda bootstrap, runs it
// under the Runtime Interface Emulator and rotates a secret twice through
// the AWS SDK against the fake Secrets Manager served over HTTP, the way
// AWS drives a rotation.
func TestLambdaEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tg := startTarget(t)

	// The fake invokes the function over the Lambda Invoke API.
	h := lambdatest.StartHarness(t, ".", functionARN, "APIKEY_HTTP_TIMEOUT=2s")
	client := h.Client

	secret := secretJSON(tg.ts.URL, tg.id, tg.key)
	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("e2e/api-key"),
		SecretString: aws.String(secret),
	})
	if err != nil {
		t.Fatal(err)
	}
	values := []string{secret}

	rot := h.Rotator(created)
	for i := 1; i <= 2; i++ {
		res := rot.Rotate(t, ctx)

		// The new key authenticates; the replaced one still does.
		curSecret := rotation.NewString(res.Current)
		if err := ping(ctx, curSecret); err != nil {
			t.Errorf("rotation %d: the new AWSCURRENT key does not authenticate: %v", i, err)
		}
		if k, _ := curSecret.Get("api_key"); k == tg.key && i == 1 {
			t.Errorf("rotation 1: AWSCURRENT still holds the bootstrap key")
		}
		if err := ping(ctx, rotation.NewString(res.Previous)); err != nil {
			t.Errorf("rotation %d: the AWSPREVIOUS key stopped authenticating: %v", i, err)
		}
		if n, limit := tg.svc.MaxEverActive(), tg.svc.MaxActive(); n > limit {
			t.Errorf("rotation %d: the service had %d keys active, over its limit of %d", i, n, limit)
		}
		values = append(values, res.Current)
	}
	if n := tg.svc.Active(); n != 2 {
		t.Errorf("%d keys active after two rotations, want 2 (AWSCURRENT and AWSPREVIOUS)", n)
	}
	if tg.svc.Authenticate(tg.id, tg.key) {
		t.Error("the bootstrap key, older than AWSPREVIOUS after two rotations, was not revoked")
	}

	// A second secret whose service hangs: APIKEY_HTTP_TIMEOUT (2s) makes
	// every attempt fail cleanly, well inside the step timeout.
	t.Run("hanging service", func(t *testing.T) {
		hanging := secretJSON(lambdatest.HangingURL(t), tg.id, tg.key)
		values = append(values, hanging)
		h.RotateTimesOut(t, ctx, "e2e/hanging", hanging)
	})

	// Nothing secret in the function's log; its step records are there.
	h.CheckLog(t, ctx, values, "api_key")
}
