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
// under the Runtime Interface Emulator and rotates a client secret twice
// through the AWS SDK against the fake Secrets Manager served over HTTP,
// the way AWS drives a rotation.
func TestLambdaEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := startAuthServer(t)

	h := lambdatest.StartHarness(t, ".", functionARN, "OAUTH_HTTP_TIMEOUT=2s", "OAUTH_TOKEN_AUTH_METHOD=client_secret_post")
	client := h.Client

	secret := a.secretJSON(a.ts.URL)
	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("e2e/oauth-client"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	values := []string{secret}
	rot := h.Rotator(created)
	for i := 1; i <= 2; i++ {
		res := rot.Rotate(t, ctx)
		curSecret := rotation.NewString(res.Current)
		if err := authenticate(ctx, curSecret); err != nil {
			t.Errorf("rotation %d: the new AWSCURRENT client secret does not authenticate: %v", i, err)
		}
		if cs, _ := curSecret.Get("client_secret"); cs == a.cs {
			t.Errorf("rotation %d: AWSCURRENT still holds the original client secret", i)
		}
		if err := authenticate(ctx, rotation.NewString(res.Previous)); err != nil {
			t.Errorf("rotation %d: the AWSPREVIOUS client secret stopped authenticating: %v", i, err)
		}
		if n, limit := a.srv.MaxEverActive(a.clientID), a.srv.MaxSecrets(); n > limit {
			t.Errorf("rotation %d: the client had %d secrets active, over the limit of %d", i, n, limit)
		}
		values = append(values, res.Current)
	}
	if n := a.srv.Active(a.clientID); n != 2 {
		t.Errorf("%d client secrets active after two rotations, want 2 (AWSCURRENT and AWSPREVIOUS)", n)
	}
	if a.srv.Authenticate(a.clientID, a.cs) {
		t.Error("the original client secret, older than AWSPREVIOUS after two rotations, was not deleted")
	}

	// A second client whose authorization server hangs: OAUTH_HTTP_TIMEOUT
	// (2s) makes every attempt fail cleanly, well inside the step timeout.
	t.Run("hanging server", func(t *testing.T) {
		hanging := a.secretJSON(lambdatest.HangingURL(t))
		values = append(values, hanging)
		h.RotateTimesOut(t, ctx, "e2e/hanging", hanging)
	})

	h.CheckLog(t, ctx, values, "client_secret")
}
