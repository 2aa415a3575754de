package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/lambdatest"
	"github.com/rotationkit/rotation/rotationtest"
)

// emulatedFunction is the one function name aws-lambda-rie serves
// (/2015-03-31/functions/function/invocations; any other name is a 404).
const emulatedFunction = "function"

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

	// The function needs the fake's URL before it starts, so the invoker
	// is filled in once it has.
	var fn atomic.Pointer[lambdatest.Function]
	var tokMu sync.Mutex
	var tokens []string
	fake := rotationtest.New(rotationtest.Options{
		StrictRotationToken: true,
		Invoker: rotationtest.InvokerFunc(func(ctx context.Context, arn string, ev events.SecretsManagerSecretRotationEvent) error {
			tokMu.Lock()
			tokens = append(tokens, ev.RotationToken)
			tokMu.Unlock()
			if arn != functionARN {
				return fmt.Errorf("no function %s", arn)
			}
			return fn.Load().Invoker.Invoke(ctx, emulatedFunction, ev)
		}),
	})
	srv := rotationtest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = fake.Wait(context.Background()) })
	env := append(lambdatest.AWSEnv(srv.URL, fake.Region()), "OAUTH_HTTP_TIMEOUT=2s", "OAUTH_TOKEN_AUTH_METHOD=client_secret_post")
	fn.Store(lambdatest.Start(t, ".", env...))
	function := fn.Load()
	client := srv.Client()

	secret := a.secretJSON(a.ts.URL)
	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("e2e/oauth-client"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ARN)
	values := []string{secret}
	prevID := aws.ToString(created.VersionId)
	for i := 1; i <= 2; i++ {
		fake.ResetCalls()
		out, err := client.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(functionARN)})
		if err != nil {
			t.Fatalf("rotation %d: RotateSecret: %v", i, err)
		}
		newID := aws.ToString(out.VersionId)
		r, ok := fake.Rotation(newID)
		if !ok {
			t.Fatalf("rotation %d did not start", i)
		}
		if err := r.Wait(ctx); err != nil {
			t.Fatalf("rotation %d failed: %v\nfunction log:\n%s", i, err, function.Log)
		}
		calls := fake.Calls()
		delete(calls, "RotateSecret")
		total := 0
		for _, n := range calls {
			total += n
		}
		t.Logf("rotation %d: %d attempt(s), %d Secrets Manager calls by the function %v", i, r.Attempts(), total, calls)

		d, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		stages := d.VersionIdsToStages
		if !has(stages[newID], "AWSCURRENT") {
			t.Errorf("rotation %d: AWSCURRENT is not on the new version: %v", i, stages)
		}
		if !has(stages[prevID], "AWSPREVIOUS") {
			t.Errorf("rotation %d: AWSPREVIOUS is not on the replaced version: %v", i, stages)
		}
		for id, st := range stages {
			if has(st, "AWSPENDING") && id != newID {
				t.Errorf("rotation %d: AWSPENDING left on %s: %v", i, id, stages)
			}
		}
		cur, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		curSecret := rotation.NewString(aws.ToString(cur.SecretString))
		if err := authenticate(ctx, curSecret); err != nil {
			t.Errorf("rotation %d: the new AWSCURRENT client secret does not authenticate: %v", i, err)
		}
		if cs, _ := curSecret.Get("client_secret"); cs == a.cs {
			t.Errorf("rotation %d: AWSCURRENT still holds the original client secret", i)
		}
		prev, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPREVIOUS")})
		if err != nil {
			t.Fatal(err)
		}
		if err := authenticate(ctx, rotation.NewString(aws.ToString(prev.SecretString))); err != nil {
			t.Errorf("rotation %d: the AWSPREVIOUS client secret stopped authenticating: %v", i, err)
		}
		if n, limit := a.srv.MaxEverActive(a.clientID), a.srv.MaxSecrets(); n > limit {
			t.Errorf("rotation %d: the client had %d secrets active, over the limit of %d", i, n, limit)
		}
		values = append(values, aws.ToString(cur.SecretString))
		prevID = newID
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
		stop := make(chan struct{})
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}))
		defer hs.Close()
		defer close(stop)
		hanging := a.secretJSON(hs.URL)
		values = append(values, hanging)
		c2, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("e2e/hanging"), SecretString: aws.String(hanging)})
		if err != nil {
			t.Fatal(err)
		}
		fake.ResetCalls()
		start := time.Now()
		out, err := client.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: c2.ARN, RotationLambdaARN: aws.String(functionARN)})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := fake.Rotation(aws.ToString(out.VersionId))
		rerr := r.Wait(ctx)
		if rerr == nil || !strings.Contains(rerr.Error(), "timed out") {
			t.Errorf("rotation error = %v, want a timeout at the server", rerr)
		}
		if d := time.Since(start); d > time.Duration(r.Attempts())*10*time.Second {
			t.Errorf("%d attempts took %v; each should end after about 2s", r.Attempts(), d)
		}
		if calls := fake.Calls(); calls["PutSecretValue"] != 0 || calls["UpdateSecretVersionStage"] != 0 {
			t.Errorf("the failed rotation wrote to Secrets Manager: %v", calls)
		}
		t.Logf("%d attempts failed in %v: %v", r.Attempts(), time.Since(start).Round(time.Millisecond), rerr)
	})

	if err := fake.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	log := function.Log.String()
	if !strings.Contains(log, `"step":"finishSecret"`) || !strings.Contains(log, `"outcome":"done"`) {
		t.Errorf("the function's log lacks its JSON step records:\n%s", log)
	}
	needles := append([]string(nil), values...)
	for _, v := range values {
		if cs, err := rotation.NewString(v).Get("client_secret"); err == nil {
			needles = append(needles, cs)
		}
	}
	tokMu.Lock()
	needles = append(needles, tokens...)
	tokMu.Unlock()
	for _, n := range needles {
		if n != "" && strings.Contains(log, n) {
			t.Errorf("the function's log contains a client secret, a secret value or a RotationToken (%d characters)", len(n))
		}
	}
}

func has(stages []string, s string) bool {
	for _, x := range stages {
		if x == s {
			return true
		}
	}
	return false
}
