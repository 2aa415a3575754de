package localsm_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotationkit/rotation/localsm"
)

// templateStep is one step of a rotation function written the way AWS's
// generic Python template writes it: the pending value is put without a
// RotationToken, and finishSecret moves AWSCURRENT itself.
func templateStep(ctx context.Context, sm *secretsmanager.Client, ev events.SecretsManagerSecretRotationEvent) error {
	switch ev.Step {
	case "createSecret":
		if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionId: aws.String(ev.ClientRequestToken), VersionStage: aws.String("AWSPENDING")}); err == nil {
			return nil
		}
		pw, err := sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{})
		if err != nil {
			return err
		}
		_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(ev.SecretID),
			ClientRequestToken: aws.String(ev.ClientRequestToken),
			SecretString:       pw.RandomPassword,
			VersionStages:      []string{"AWSPENDING"},
		})
		return err
	case "setSecret", "testSecret":
		return nil
	case "finishSecret":
		d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
		if err != nil {
			return err
		}
		var current string
		for id, stages := range d.VersionIdsToStages {
			if slices.Contains(stages, "AWSCURRENT") {
				current = id
			}
		}
		if current == ev.ClientRequestToken {
			return nil
		}
		_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(ev.SecretID), VersionStage: aws.String("AWSCURRENT"),
			MoveToVersionId: aws.String(ev.ClientRequestToken), RemoveFromVersionId: aws.String(current),
		})
		return err
	}
	return nil
}

// TestNextRotationDateAfterOutOfProcessFunction: a rotation run through the
// HTTP server by a function reached over the Lambda Invoke API, which
// writes AWSPENDING without a RotationToken, ends with both
// LastRotatedDate and NextRotationDate set.
func TestNextRotationDateAfterOutOfProcessFunction(t *testing.T) {
	fake := localsm.New(localsm.Options{RotationAttempts: 1})
	srv := localsm.NewServer(fake)
	defer srv.Close()
	sm := srv.Client()

	// The function: its own process in real life, an HTTP endpoint
	// speaking the Lambda Invoke API here, using its own SDK client.
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev events.SecretsManagerSecretRotationEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := templateStep(r.Context(), srv.Client(), ev); err != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			_ = json.NewEncoder(w).Encode(map[string]string{"errorMessage": err.Error(), "errorType": "Exception"})
			return
		}
		_, _ = w.Write([]byte("null"))
	}))
	defer fn.Close()
	fake.SetInvoker(localsm.LambdaInvoker{Endpoint: fn.URL, FunctionName: "function"})

	ctx := context.Background()
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("template/secret"), SecretString: aws.String("initial")}); err != nil {
		t.Fatal(err)
	}
	_, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId:          aws.String("template/secret"),
		RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:function"),
		RotationRules:     &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := fake.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("template/secret")})
	if err != nil {
		t.Fatal(err)
	}
	if d.LastRotatedDate == nil {
		t.Fatalf("LastRotatedDate unset: the rotation did not succeed (events %+v)", fake.Events())
	}
	if d.NextRotationDate == nil {
		t.Errorf("NextRotationDate unset after a successful rotation with AutomaticallyAfterDays=30 (events %+v)", fake.Events())
	} else if got, want := d.NextRotationDate.Sub(*d.LastRotatedDate), 30*24*time.Hour; got < want-24*time.Hour || got > want+24*time.Hour {
		t.Errorf("NextRotationDate - LastRotatedDate = %v, want about %v", got, want)
	}
}

// templateFunction is a rotation function in Python with boto3, written the
// way AWS's generic rotation template works (the pending value is put
// without a RotationToken; finishSecret moves AWSCURRENT), served over the
// Lambda Invoke API. It prints its port, then serves until killed.
const templateFunction = `import json, os, sys, boto3
from http.server import BaseHTTPRequestHandler, HTTPServer
endpoint = os.environ["SM_ENDPOINT"]
sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")

def step(ev):
    arn, token, st = ev["SecretId"], ev["ClientRequestToken"], ev["Step"]
    meta = sm.describe_secret(SecretId=arn)
    if not meta.get("RotationEnabled"):
        raise ValueError("rotation not enabled")
    versions = meta["VersionIdsToStages"]
    if token not in versions:
        raise ValueError("no such version")
    if "AWSCURRENT" in versions[token]:
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError("not pending")
    if st == "createSecret":
        sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            pw = sm.get_random_password(ExcludeCharacters="/@\"'\\")["RandomPassword"]
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps({"password": pw}), VersionStages=["AWSPENDING"])
    elif st == "finishSecret":
        cur = None
        for v, stages in sm.describe_secret(SecretId=arn)["VersionIdsToStages"].items():
            if "AWSCURRENT" in stages:
                if v == token:
                    return
                cur = v
        sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=cur)

class H(BaseHTTPRequestHandler):
    def do_POST(self):
        ev = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            step(ev); body = b"null"; err = None
        except Exception as e:
            body = json.dumps({"errorMessage": str(e), "errorType": type(e).__name__}).encode(); err = "Unhandled"
        self.send_response(200)
        if err: self.send_header("X-Amz-Function-Error", err)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
srv = HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
`

// TestNextRotationDatePythonFunction runs the same check with a real
// out-of-process function: Python, boto3, its own process.
func TestNextRotationDatePythonFunction(t *testing.T) {
	pythons := wireTools(t, "python3", []string{"-c", "import boto3"}, "/usr/bin/python3")
	if len(pythons) == 0 {
		skipOrFail(t, "no python3 with boto3: install the Debian package python3-boto3 (apt-get install python3-boto3)")
	}
	fake := localsm.New(localsm.Options{RotationAttempts: 1})
	srv := localsm.NewServer(fake)
	defer srv.Close()
	sm := srv.Client()

	cmd := exec.Command(pythons[0], "-c", templateFunction)
	cmd.Env = wireToolEnv(t, "SM_ENDPOINT="+srv.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("function's stderr:\n%s", stderr.String())
		}
	}()
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the function's port: %v", err)
	}
	fake.SetInvoker(localsm.LambdaInvoker{Endpoint: "http://127.0.0.1:" + strings.TrimSpace(port), FunctionName: "function"})

	ctx := context.Background()
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("template/python"), SecretString: aws.String(`{"password":"initial"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId:          aws.String("template/python"),
		RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:function"),
		RotationRules:     &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := fake.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("template/python")})
	if err != nil {
		t.Fatal(err)
	}
	if d.LastRotatedDate == nil || d.NextRotationDate == nil {
		t.Fatalf("LastRotatedDate = %v, NextRotationDate = %v after the rotation; events %+v", d.LastRotatedDate, d.NextRotationDate, fake.Events())
	}
	if got, want := d.NextRotationDate.Sub(*d.LastRotatedDate), 30*24*time.Hour; got < want-24*time.Hour || got > want+24*time.Hour {
		t.Errorf("NextRotationDate - LastRotatedDate = %v, want about %v", got, want)
	}
}
