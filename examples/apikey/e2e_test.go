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

	// The fake invokes the function over the Lambda Invoke API. The
	// function needs the fake's URL before it starts, so the invoker is
	// filled in once it has. The emulator serves only the function named
	// "function" (/2015-03-31/functions/function/invocations; any other
	// name is a 404), so the ARN's name is mapped to it here.
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
	fn.Store(lambdatest.Start(t, ".", append(lambdatest.AWSEnv(srv.URL, fake.Region()), "APIKEY_HTTP_TIMEOUT=2s")...))
	function := fn.Load()
	client := srv.Client()

	secret := secretJSON(tg.ts.URL, tg.id, tg.key)
	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("e2e/api-key"),
		SecretString: aws.String(secret),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ARN)
	values := []string{secret}

	prevID := aws.ToString(created.VersionId)
	for i := 1; i <= 2; i++ {
		fake.ResetCalls()
		out, err := client.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
			SecretId:          aws.String(arn),
			RotationLambdaARN: aws.String(functionARN),
		})
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

		// Labels, as the SDK sees them.
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

		// The new key authenticates; the replaced one still does.
		cur, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(cur.VersionId) != newID {
			t.Errorf("rotation %d: GetSecretValue returned version %s, want %s", i, aws.ToString(cur.VersionId), newID)
		}
		curSecret := rotation.NewString(aws.ToString(cur.SecretString))
		if err := ping(ctx, curSecret); err != nil {
			t.Errorf("rotation %d: the new AWSCURRENT key does not authenticate: %v", i, err)
		}
		if k, _ := curSecret.Get("api_key"); k == tg.key && i == 1 {
			t.Errorf("rotation 1: AWSCURRENT still holds the bootstrap key")
		}
		prev, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPREVIOUS")})
		if err != nil {
			t.Fatal(err)
		}
		if err := ping(ctx, rotation.NewString(aws.ToString(prev.SecretString))); err != nil {
			t.Errorf("rotation %d: the AWSPREVIOUS key stopped authenticating: %v", i, err)
		}
		if n, limit := tg.svc.MaxEverActive(), tg.svc.MaxActive(); n > limit {
			t.Errorf("rotation %d: the service had %d keys active, over its limit of %d", i, n, limit)
		}
		values = append(values, aws.ToString(cur.SecretString))
		prevID = newID
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
		stop := make(chan struct{})
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}))
		defer hs.Close()
		defer close(stop)
		hanging := secretJSON(hs.URL, tg.id, tg.key)
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
			t.Errorf("rotation error = %v, want a timeout at the service", rerr)
		}
		if d := time.Since(start); d > time.Duration(r.Attempts())*10*time.Second {
			t.Errorf("%d attempts took %v; each should end after about 2s", r.Attempts(), d)
		}
		if calls := fake.Calls(); calls["PutSecretValue"] != 0 || calls["UpdateSecretVersionStage"] != 0 {
			t.Errorf("the failed rotation wrote to Secrets Manager: %v", calls)
		}
		cur, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: c2.ARN})
		if err != nil || aws.ToString(cur.VersionId) != aws.ToString(c2.VersionId) {
			t.Errorf("AWSCURRENT moved or is unreadable: %v", err)
		}
		t.Logf("%d attempts failed in %v: %v", r.Attempts(), time.Since(start).Round(time.Millisecond), rerr)
	})

	// Nothing secret in the function's log; its step records are there.
	if err := fake.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	log := function.Log.String()
	if !strings.Contains(log, `"step":"finishSecret"`) || !strings.Contains(log, `"outcome":"done"`) {
		t.Errorf("the function's log lacks its JSON step records:\n%s", log)
	}
	needles := append([]string(nil), values...)
	for _, v := range values {
		if k, err := rotation.NewString(v).Get("api_key"); err == nil {
			needles = append(needles, k)
		}
	}
	tokMu.Lock()
	needles = append(needles, tokens...)
	tokMu.Unlock()
	for _, n := range needles {
		if n != "" && strings.Contains(log, n) {
			t.Errorf("the function's log contains a key, a secret value or a RotationToken (%d characters)", len(n))
		}
	}
}

// emulatedFunction is the one function name aws-lambda-rie serves.
const emulatedFunction = "function"

func has(stages []string, s string) bool {
	for _, x := range stages {
		if x == s {
			return true
		}
	}
	return false
}
