package main

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation/examples/internal/dbsecret/dbsecrettest"
	"github.com/rotationkit/rotation/examples/internal/lambdatest"
)

// TestLambdaRefusesUnverifiedServer builds this command as a Lambda
// bootstrap, runs it under the Lambda Runtime Interface Emulator with the
// fake Secrets Manager over HTTP, and starts a rotation of a secret whose
// server (a local TLS listener) presents a certificate no default CA
// bundle trusts: setSecret fails saying why, nothing (no TNS packet, no
// credential) is sent, AWSCURRENT stays where it was, and no password
// reaches the log.
func TestLambdaRefusesUnverifiedServer(t *testing.T) {
	t.Parallel()
	_, cert := dbsecrettest.NewCA(t, []string{"localhost"}, nil)
	srv := newTCPSServer(t, cert)
	ctx := context.Background()
	h := lambdatest.StartHarness(t, ".", functionARN, "ROTATION_MODE=single", "ROTATION_CONNECT_TIMEOUT=3s")
	const pw = "Aa1_lambda-e2e-pw"
	secret := `{"engine":"oracle","host":"localhost","port":` + strconv.Itoa(srv.ln.Addr().(*net.TCPAddr).Port) + `,"username":"app","password":"` + pw + `","dbname":"ORCL"}`
	out, err := h.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/oracle"), SecretString: aws.String(secret)})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, err = h.Fake.Rotate(rctx, &secretsmanager.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(functionARN)})
	if err == nil {
		t.Fatal("the rotation succeeded against a server whose certificate does not verify")
	}
	if !strings.Contains(err.Error(), "setSecret") || !strings.Contains(err.Error()+h.Function.Log.String(), "did not verify") {
		t.Errorf("the failure does not say the certificate did not verify: %v", err)
	}
	herr, login := srv.result() // login: anything sent after a handshake
	if herr == nil || login {
		t.Errorf("handshake error %v, login packet sent %v", herr, login)
	}
	cur, err := h.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: out.ARN})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cur.VersionId) != aws.ToString(out.VersionId) {
		t.Error("AWSCURRENT moved although setSecret failed")
	}
	if strings.Contains(h.Function.Log.String(), pw) {
		t.Error("the password appears in the function's log")
	}
}
