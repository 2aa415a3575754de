package localsm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
)

// TestIssuedTokensAreForgotten: the fake keeps the RotationTokens of a
// version only while a rotation may still use them (the version is still
// AWSPENDING and the rotation may be reattempted), so its memory does not
// grow with every rotation ever run, and the strict token check looks at
// one version's tokens, not at every rotation.
func TestIssuedTokensAreForgotten(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var f *Fake
	fail := true
	inv := InvokerFunc(func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
		id, tok := aws.String(ev.SecretID), aws.String(ev.ClientRequestToken)
		switch rotation.Step(ev.Step) {
		case rotation.StepCreate:
			if _, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionId: tok}); err == nil {
				return nil
			}
			_, err := f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: id, ClientRequestToken: tok, SecretString: aws.String("new"),
				VersionStages: []string{stagePending}, RotationToken: aws.String(ev.RotationToken)})
			return err
		case rotation.StepTest:
			if fail {
				return errors.New("fails")
			}
		case rotation.StepFinish:
			s, _ := f.Secret(ev.SecretID)
			cur, _ := s.Staged(stageCurrent)
			if cur.ID == ev.ClientRequestToken {
				return nil
			}
			_, err := f.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: id, VersionStage: aws.String(stageCurrent),
				MoveToVersionId: tok, RemoveFromVersionId: aws.String(cur.ID)})
			return err
		}
		return nil
	})
	f = New(Options{Invoker: inv, StrictRotationToken: true, RotationAttempts: 2})
	if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v")}); err != nil {
		t.Fatal(err)
	}
	tokens := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := 0
		for _, m := range f.issued {
			for _, ts := range m {
				n += len(ts)
			}
		}
		return n
	}
	in := &secretsmanager.RotateSecretInput{SecretId: aws.String("s"), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")}

	// A failed rotation may be reattempted: its tokens stay.
	r, err := f.Rotate(ctx, in)
	if err == nil {
		t.Fatal("rotation succeeded, want failure")
	}
	if n := tokens(); n != 2 {
		t.Errorf("%d tokens kept after a failed rotation of 2 attempts, want 2", n)
	}
	// Its reattempt succeeds: the version is no longer pending, so every
	// token is forgotten.
	fail = false
	f.mu.Lock()
	s := f.lookup("s")
	s.NextRotationDate = f.now()
	s.RotationRules = &RotationRules{AutomaticallyAfterDays: 1}
	f.mu.Unlock()
	ran, err := f.RunDue(ctx)
	if err != nil || len(ran) != 1 || ran[0].VersionID != r.VersionID || ran[0].Err() != nil {
		t.Fatalf("RunDue = %v, %v; want the reattempt of %s to succeed", ran, err, r.VersionID)
	}
	if n := tokens(); n != 0 {
		t.Errorf("%d tokens kept after success, want 0", n)
	}

	// Abandoned: forgotten too.
	fail = true
	if _, err := f.Rotate(ctx, in); err == nil {
		t.Fatal("rotation succeeded, want failure")
	}
	if _, err := f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("manual")}); err != nil {
		t.Fatal(err)
	}
	if n := tokens(); n != 0 {
		t.Errorf("%d tokens kept after the pending version was abandoned, want 0", n)
	}
}
