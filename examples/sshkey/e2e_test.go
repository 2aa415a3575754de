package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/lambdatest"
	"golang.org/x/crypto/ssh"
)

// TestLambdaEndToEnd builds the function as a Lambda bootstrap, runs it
// under the Runtime Interface Emulator against the fake Secrets Manager
// over HTTP, and rotates through the SDK three times, the way Secrets
// Manager drives a deployed function.
func TestLambdaEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const name = "sshkey/app"
	key := newClientKey(t)
	initial := key.line(prefixFor(name) + "initial")
	hosts := []*testHost{startHost(t, otherLines(t)+initial+"\n"), startHost(t, otherLines(t)+initial+"\n")}
	others := map[string]string{}
	for _, h := range hosts {
		others[h.addr] = otherLinesOf(h.authorized())
	}

	harness := lambdatest.StartHarness(t, ".", "arn:aws:lambda:us-east-1:123456789012:function:sshkey",
		"SSH_DIAL_TIMEOUT=5s", "SSH_COMMAND_TIMEOUT=10s", "AWS_LAMBDA_LOG_LEVEL=DEBUG")
	fake, client, function := harness.Fake, harness.Client, harness.Function
	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(secretJSON(t, key, prefixFor(name)+"initial", hosts...)),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ARN)

	rot := harness.Rotator(created)
	var installed []string // public_key lines, oldest first
	installed = append(installed, initial)
	for i := 1; i <= 3; i++ {
		res := rot.Rotate(t, ctx)
		cur, prev := rotation.NewString(res.Current), rotation.NewString(res.Previous)
		if err := loginAll(ctx, cur, hosts...); err != nil {
			t.Errorf("rotation %d: the new key does not log in: %v", i, err)
		}
		if err := loginAll(ctx, prev, hosts...); err != nil {
			t.Errorf("rotation %d: AWSPREVIOUS no longer logs in: %v", i, err)
		}
		curLine := mustGet(t, cur, "public_key")
		if !strings.HasSuffix(curLine, " "+prefixFor(name)+res.VersionID) {
			t.Errorf("rotation %d: public_key lacks the marker %q", i, prefixFor(name)+res.VersionID)
		}
		if block := mustGet(t, cur, "private_key"); !strings.HasPrefix(block, "-----BEGIN OPENSSH PRIVATE KEY-----") {
			t.Errorf("rotation %d: private_key is not in OpenSSH format", i)
		} else if signer, err := ssh.ParsePrivateKey([]byte(block)); err != nil || signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
			t.Errorf("rotation %d: private_key is not an ed25519 key", i)
		}
		installed = append(installed, curLine)
		// Exactly AWSPREVIOUS and AWSCURRENT of this secret remain; the
		// older ones are gone, other lines untouched.
		for _, h := range hosts {
			want := others[h.addr] + installed[len(installed)-2] + "\n" + installed[len(installed)-1] + "\n"
			if got := h.authorized(); got != want {
				t.Errorf("rotation %d, host %s: authorized_keys\n%s\nwant\n%s", i, h.addr, got, want)
			}
		}
	}
	old := rotation.NewString(secretJSON(t, key, "", hosts...))
	if err := loginAll(ctx, old, hosts...); err == nil {
		t.Errorf("the key rotated away three rotations ago still logs in")
	}

	// The function's log: a JSON line per step, no key, no token.
	log := function.Log.String()
	if !strings.Contains(log, `"step":"finishSecret"`) {
		t.Errorf("the function's log has no finishSecret record:\n%s", log)
	}
	s, _ := fake.Secret(arn)
	for _, v := range s.Versions {
		if v.SecretString == nil {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(*v.SecretString), &m); err != nil {
			t.Fatal(err)
		}
		pk, _ := m["private_key"].(string)
		for _, line := range strings.Split(pk, "\n") {
			if len(line) >= 20 && strings.Contains(log, line) {
				t.Errorf("the function's log contains private key material of version %s", v.ID)
				break
			}
		}
	}
	tokens := harness.Tokens()
	for _, tok := range tokens {
		if tok == "" {
			t.Errorf("the service sent an empty RotationToken")
		} else if strings.Contains(log, tok) {
			t.Errorf("the function's log contains a RotationToken")
		}
	}
	t.Logf("%d invocations; bootstrap %s", len(tokens), function.Binary)
}
