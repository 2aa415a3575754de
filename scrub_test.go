package rotation_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
)

// TestScrubForms: Scrub cuts out every form the conformance suite's leak
// check looks for, of every credential field, nested or not.
func TestScrubForms(t *testing.T) {
	const pw = `Zx9'q"Lm\Kp4&<r>7 +/%wT2y=Hd?n8V`
	s, err := rotation.NewJSON(map[string]any{
		"username": "app", "pwd": pw, "replica": map[string]any{"passphrase": "nested-Secret-0042-value"}, "pin_secret": 12345678901,
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"url userinfo":  (&url.URL{Scheme: "mysql", User: url.UserPassword("app", pw), Host: "db"}).String(),
		"basic header":  "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("app:"+pw)),
		"hex":           hex.EncodeToString([]byte(pw)),
		"sql doubled":   "PASSWORD '" + strings.ReplaceAll(pw, "'", "''") + "'",
		"backslash":     strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw),
		"masked":        pw[:28] + "****",
		"nested field":  "passphrase nested-Secret-0042-value",
		"number field":  "pin 12345678901",
		"go quoted":     fmt.Sprintf("%q", pw),
		"url lower hex": regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(url.PathEscape("é"+pw), strings.ToLower),
	} {
		got := rotation.Scrub(errors.New("before "+text+" after"), s).Error()
		if !strings.Contains(got, "[REDACTED]") || !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") {
			t.Errorf("%s: Scrub(%q) = %q, want the credential replaced by [REDACTED], the rest kept", name, text, got)
		}
	}
	// A short value and a user name are left alone.
	if got := rotation.Scrub(errors.New("user app"), s).Error(); got != "user app" {
		t.Errorf("Scrub changed text holding no credential: %q", got)
	}
}

// putEchoesToken is a client whose PutSecretValue fails quoting the
// request's RotationToken hex-encoded, as a careless wrapper might.
type putEchoesToken struct{ rotation.Client }

func (c putEchoesToken) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return nil, fmt.Errorf("request rejected: token=%s", hex.EncodeToString([]byte(aws.ToString(in.RotationToken))))
}

// TestHandleRedactsRotationToken: the error Handle returns never holds the
// event's RotationToken, in any form.
func TestHandleRedactsRotationToken(t *testing.T) {
	ctx := t.Context()
	var got []error
	var tokens []string
	var f *localsm.Fake
	f = localsm.New(localsm.Options{RotationAttempts: 1, Invoker: localsm.InvokerFunc(func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
		h, err := rotation.New(putEchoesToken{f}, passwordRotator{}, func(o *rotation.Options) { o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) })
		if err != nil {
			return err
		}
		err = h.Handle(ctx, ev)
		got = append(got, err)
		tokens = append(tokens, ev.RotationToken)
		return err
	})})
	if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(`{"username":"app","password":"initial-password-1"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("s"), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")}); err == nil {
		t.Fatal("the rotation succeeded although PutSecretValue always fails")
	}
	if len(got) == 0 || got[0] == nil {
		t.Fatalf("Handle returned %v, want an error", got)
	}
	for i, err := range got {
		if tokens[i] == "" {
			t.Fatal("the fake sent no RotationToken")
		}
		msg := err.Error()
		if strings.Contains(msg, hex.EncodeToString([]byte(tokens[i]))) || !strings.Contains(msg, "[RotationToken redacted]") {
			t.Errorf("Handle's error = %q, want the hex-encoded RotationToken redacted", msg)
		}
		var se *rotation.StepError
		if !errors.As(err, &se) {
			t.Errorf("Handle's error is not a *StepError: %v", err)
		}
	}
}

// BenchmarkScrub measures scrubbing an error of the credentials of two
// secret values, the Handler's path for every error a Rotator returns.
func BenchmarkScrub(b *testing.B) {
	cur, _ := rotation.NewJSON(map[string]any{"username": "app", "password": "Zx9qLmKp4r7wT2yHdn8VaB3cD5eF6gH1", "host": "db.internal"})
	next, _ := rotation.NewJSON(map[string]any{"username": "app", "password": "Qw8eRt7yUi6oPa5sDf4gHj3kLz2xCv1B", "host": "db.internal"})
	err := errors.New("change password: pq: password authentication failed for user \"app\" (connection to db.internal:5432)")
	for b.Loop() {
		_ = rotation.Scrub(err, cur, next)
	}
}
