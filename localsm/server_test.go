package localsm_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/schemas"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rotationkit/rotation/localsm"
)

// The tests in this file drive the fake through the real aws-sdk-go-v2
// client over loopback HTTP. Helper names start with "wire" so they stay
// apart from the in-memory tests' helpers in this package.

const (
	wireCur  = "AWSCURRENT"
	wirePend = "AWSPENDING"
	wirePrev = "AWSPREVIOUS"

	wireFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:rotator"
)

// wireSorted compares staging label lists without regard to order: AWS
// does not document the order of a version's labels.
var wireSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// wireVID returns a valid ClientRequestToken (36 characters) for version n.
func wireVID(n int) string { return fmt.Sprintf("%08d-1111-4000-8000-000000000000", n) }

type wireFixture struct {
	fake *localsm.Fake
	srv  *localsm.Server
	sm   *secretsmanager.Client
}

// newWire starts a server for a new fake. Rotations are waited for before
// the server closes.
func newWire(t testing.TB, opts localsm.Options) *wireFixture {
	t.Helper()
	f := localsm.New(opts)
	srv := localsm.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Wait(ctx); err != nil {
			t.Errorf("rotations still running at the end of the test: %v", err)
		}
	})
	return &wireFixture{fake: f, srv: srv, sm: srv.Client()}
}

func (w *wireFixture) create(t testing.TB, name, token, value string) *secretsmanager.CreateSecretOutput {
	t.Helper()
	out, err := w.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), ClientRequestToken: aws.String(token), SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("CreateSecret(%s): %v", name, err)
	}
	return out
}

func (w *wireFixture) put(t testing.TB, name, token, value string, stages ...string) {
	t.Helper()
	if _, err := w.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), ClientRequestToken: aws.String(token), SecretString: aws.String(value), VersionStages: stages,
	}); err != nil {
		t.Fatalf("PutSecretValue(%s, stages %v): %v", token, stages, err)
	}
}

func (w *wireFixture) move(t testing.TB, name, stage, moveTo, removeFrom string) {
	t.Helper()
	if _, err := w.sm.UpdateSecretVersionStage(context.Background(), wireMoveInput(name, stage, moveTo, removeFrom)); err != nil {
		t.Fatalf("UpdateSecretVersionStage(%s, MoveTo %q, RemoveFrom %q): %v", stage, moveTo, removeFrom, err)
	}
}

func wireMoveInput(name, stage, moveTo, removeFrom string) *secretsmanager.UpdateSecretVersionStageInput {
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name), VersionStage: aws.String(stage)}
	if moveTo != "" {
		in.MoveToVersionId = aws.String(moveTo)
	}
	if removeFrom != "" {
		in.RemoveFromVersionId = aws.String(removeFrom)
	}
	return in
}

// labels returns DescribeSecret's VersionIdsToStages.
func (w *wireFixture) labels(t testing.TB, name string) map[string][]string {
	t.Helper()
	out, err := w.sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeSecret(%s): %v", name, err)
	}
	return out.VersionIdsToStages
}

// versions returns ListSecretVersionIds' ids, all pages, and the ids among
// them that have no label.
func (w *wireFixture) versions(t testing.TB, name string, includeDeprecated bool, pageSize int32) (ids, deprecated []string) {
	t.Helper()
	in := &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(name), IncludeDeprecated: aws.Bool(includeDeprecated)}
	if pageSize > 0 {
		in.MaxResults = aws.Int32(pageSize)
	}
	p := secretsmanager.NewListSecretVersionIdsPaginator(w.sm, in)
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListSecretVersionIds(%s): %v", name, err)
		}
		if pageSize > 0 && len(out.Versions) > int(pageSize) {
			t.Errorf("ListSecretVersionIds: page of %d versions, MaxResults %d", len(out.Versions), pageSize)
		}
		for _, v := range out.Versions {
			ids = append(ids, aws.ToString(v.VersionId))
			if len(v.VersionStages) == 0 {
				deprecated = append(deprecated, aws.ToString(v.VersionId))
			}
		}
	}
	return ids, deprecated
}

// wantWireError checks that err is (wraps) an E, e.g.
// *types.ResourceNotFoundException, with exactly msg if msg is not empty.
func wantWireError[E interface {
	error
	ErrorMessage() string
}](t testing.TB, what string, err error, msg string) {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Errorf("%s: error = %v (%T), want %T", what, err, err, e)
		return
	}
	if msg != "" && e.ErrorMessage() != msg {
		t.Errorf("%s: message = %q, want %q", what, e.ErrorMessage(), msg)
	}
}

// wantWireCode checks err's error code for errors the model does not
// define (AccessDeniedException, ValidationException...).
func wantWireCode(t testing.TB, what string, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: error = %v (%T), want an API error %s", what, err, err, code)
		return
	}
	if ae.ErrorCode() != code {
		t.Errorf("%s: code = %q, want %q (error %v)", what, ae.ErrorCode(), code, err)
	}
	if msg != "" && ae.ErrorMessage() != msg {
		t.Errorf("%s: message = %q, want %q", what, ae.ErrorMessage(), msg)
	}
}

// TestWireLabelTransitions replays every AWS-validated transition of
// protocol.md section 4 over HTTP. Each start state is built with the API;
// the table's rows list only the versions a call touches, so the full
// VersionIdsToStages is spelt out here, with the deprecated versions (no
// label, listed only with IncludeDeprecated).
func TestWireLabelTransitions(t *testing.T) {
	const name = "transitions"
	v1, v2, v3 := wireVID(1), wireVID(2), wireVID(3)
	// rotated builds v1[PREV], v2[C, P]: a finished rotation whose
	// AWSPENDING the service has not removed yet.
	rotated := func(t *testing.T, w *wireFixture) {
		w.create(t, name, v1, "one")
		w.put(t, name, v2, "two", wirePend)
		w.move(t, name, wireCur, v2, v1)
	}
	tests := []struct {
		name           string
		build          func(t *testing.T, w *wireFixture)
		call           func(t *testing.T, w *wireFixture)
		want           map[string][]string
		wantDeprecated []string
	}{
		{
			name:  "v1[C] PutSecretValue(stages=[P])",
			build: func(t *testing.T, w *wireFixture) { w.create(t, name, v1, "one") },
			call:  func(t *testing.T, w *wireFixture) { w.put(t, name, v2, "two", wirePend) },
			want:  map[string][]string{v1: {wireCur}, v2: {wirePend}},
		},
		{
			name: "v1[C], v2[P] UpdateSecretVersionStage(C, MoveTo=v2, RemoveFrom=v1)",
			build: func(t *testing.T, w *wireFixture) {
				w.create(t, name, v1, "one")
				w.put(t, name, v2, "two", wirePend)
			},
			call: func(t *testing.T, w *wireFixture) { w.move(t, name, wireCur, v2, v1) },
			want: map[string][]string{v1: {wirePrev}, v2: {wireCur, wirePend}},
		},
		{
			name:  "v1[PREV], v2[C, P] PutSecretValue(stages=[P])",
			build: rotated,
			call:  func(t *testing.T, w *wireFixture) { w.put(t, name, v3, "three", wirePend) },
			// AWSCURRENT did not move, so AWSPREVIOUS stays on v1.
			want: map[string][]string{v1: {wirePrev}, v2: {wireCur}, v3: {wirePend}},
		},
		{
			name:           "v1[PREV], v2[C, P] PutSecretValue() default stages",
			build:          rotated,
			call:           func(t *testing.T, w *wireFixture) { w.put(t, name, v3, "three") },
			want:           map[string][]string{v2: {wirePrev}, v3: {wireCur}},
			wantDeprecated: []string{v1},
		},
		{
			// The row's start state v2[C,P,X], v3[P,Y] is reached by
			// PutSecretValue(v3, [P, Y]), which moves P off v2: before
			// the call v2 holds [C, X] and v3 [P, Y].
			name: "v2[C,P,X], v3[P,Y] UpdateSecretVersionStage(C, MoveTo=v3, RemoveFrom=v2)",
			build: func(t *testing.T, w *wireFixture) {
				rotated(t, w)
				w.move(t, name, "X", v2, "")
				w.put(t, name, v3, "three", wirePend, "Y")
			},
			call:           func(t *testing.T, w *wireFixture) { w.move(t, name, wireCur, v3, v2) },
			want:           map[string][]string{v2: {wirePrev, "X"}, v3: {wireCur, wirePend, "Y"}},
			wantDeprecated: []string{v1},
		},
		{
			name: "v1[C], v2[one,two] PutSecretValue(stages=[one,two,four])",
			build: func(t *testing.T, w *wireFixture) {
				w.create(t, name, v1, "one")
				w.put(t, name, v2, "two", "one", "two")
			},
			call:           func(t *testing.T, w *wireFixture) { w.put(t, name, v3, "three", "one", "two", "four") },
			want:           map[string][]string{v1: {wireCur}, v3: {"one", "two", "four"}},
			wantDeprecated: []string{v2},
		},
		{
			name: "v1[PREV], v2[C,X] UpdateSecretVersionStage(X, RemoveFrom=v2)",
			build: func(t *testing.T, w *wireFixture) {
				w.create(t, name, v1, "one")
				w.put(t, name, v2, "two")
				w.move(t, name, "X", v2, "")
			},
			call: func(t *testing.T, w *wireFixture) { w.move(t, name, "X", "", v2) },
			want: map[string][]string{v1: {wirePrev}, v2: {wireCur}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWire(t, localsm.Options{})
			tt.build(t, w)
			tt.call(t, w)
			if diff := cmp.Diff(tt.want, w.labels(t, name), wireSorted); diff != "" {
				t.Errorf("VersionIdsToStages mismatch (-want +got):\n%s", diff)
			}
			_, dep := w.versions(t, name, true, 0)
			if diff := cmp.Diff(tt.wantDeprecated, dep, wireSorted, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("deprecated versions mismatch (-want +got):\n%s", diff)
			}
			listed, _ := w.versions(t, name, false, 0)
			var wantListed []string
			for id := range tt.want {
				wantListed = append(wantListed, id)
			}
			if diff := cmp.Diff(wantListed, listed, wireSorted); diff != "" {
				t.Errorf("ListSecretVersionIds without IncludeDeprecated mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWireUpdateSecretVersionStageErrors(t *testing.T) {
	const name = "usvs-errors"
	v1, v2 := wireVID(1), wireVID(2)
	w := newWire(t, localsm.Options{})
	w.create(t, name, v1, "one")
	w.put(t, name, v2, "two", wirePend)
	before := w.labels(t, name)

	_, err := w.sm.UpdateSecretVersionStage(context.Background(), wireMoveInput(name, wireCur, v2, ""))
	wantWireError[*types.InvalidParameterException](t, "moving AWSCURRENT without RemoveFromVersionId", err,
		"The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version "+v1+", so you must explicitly reference that version in RemoveFromVersionId.")
	_, err = w.sm.UpdateSecretVersionStage(context.Background(), wireMoveInput(name, wireCur, wireVID(9), v1))
	wantWireError[*types.InvalidParameterException](t, "MoveTo an unknown version", err, "")
	_, err = w.sm.UpdateSecretVersionStage(context.Background(), wireMoveInput(name, wireCur, "", v1))
	wantWireError[*types.InvalidParameterException](t, "removing AWSCURRENT", err, "")
	_, err = w.sm.UpdateSecretVersionStage(context.Background(), wireMoveInput("nope", wireCur, v2, v1))
	wantWireError[*types.ResourceNotFoundException](t, "unknown secret", err, "Secrets Manager can't find the specified secret.")

	if diff := cmp.Diff(before, w.labels(t, name), wireSorted); diff != "" {
		t.Errorf("failed calls changed the labels (-want +got):\n%s", diff)
	}
}

func TestWireGetSecretValue(t *testing.T) {
	const name = "get"
	v1, v2 := wireVID(1), wireVID(2)
	w := newWire(t, localsm.Options{})
	created := w.create(t, name, v1, "one")
	w.put(t, name, v2, "two", wirePend, "custom")
	ctx := context.Background()

	got, err := w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if aws.ToString(got.SecretString) != "one" || aws.ToString(got.VersionId) != v1 || aws.ToString(got.ARN) != aws.ToString(created.ARN) || aws.ToString(got.Name) != name {
		t.Errorf("GetSecretValue() = %q %s %s %s, want one %s %s %s", aws.ToString(got.SecretString), aws.ToString(got.VersionId), aws.ToString(got.ARN), aws.ToString(got.Name), v1, aws.ToString(created.ARN), name)
	}
	if got.CreatedDate == nil || time.Since(*got.CreatedDate) > time.Minute || time.Since(*got.CreatedDate) < -time.Second {
		t.Errorf("CreatedDate = %v, want about now", got.CreatedDate)
	}
	if got.SecretBinary != nil {
		t.Errorf("SecretBinary = %q for a string secret, want nil", got.SecretBinary)
	}

	got, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String(wirePend)})
	if err != nil {
		t.Fatalf("GetSecretValue(AWSPENDING): %v", err)
	}
	if diff := cmp.Diff([]string{wirePend, "custom"}, got.VersionStages, wireSorted); diff != "" {
		t.Errorf("VersionStages of the pending version mismatch (-want +got):\n%s", diff)
	}
	if _, err := w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionId: aws.String(v2), VersionStage: aws.String("custom")}); err != nil {
		t.Errorf("GetSecretValue(v2, custom): %v", err)
	}

	_, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionId: aws.String(v1), VersionStage: aws.String(wirePend)})
	wantWireError[*types.InvalidRequestException](t, "VersionId and VersionStage of different versions", err,
		"You provided a VersionStage that is not associated to the provided VersionId.")
	_, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String(wirePrev)})
	wantWireError[*types.ResourceNotFoundException](t, "unknown stage", err,
		"Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS")
	_, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionId: aws.String(wireVID(9))})
	wantWireError[*types.ResourceNotFoundException](t, "unknown version", err,
		"Secrets Manager can't find the specified secret value for VersionId: "+wireVID(9))
	_, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	wantWireError[*types.ResourceNotFoundException](t, "unknown secret", err, "Secrets Manager can't find the specified secret.")

	// Strings that need JSON escaping come back unchanged.
	tricky := "\"quoted\" back\\slash\n\r\t\x01\x1f\u007f </script>&amp; ünïcödé 🔑 \u2028"
	if _, err := w.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(tricky), VersionStages: []string{"tricky"}}); err != nil {
		t.Fatalf("PutSecretValue(tricky): %v", err)
	}
	got, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String("tricky")})
	if err != nil || aws.ToString(got.SecretString) != tricky {
		t.Errorf("string round trip: got %q, %v; want %q", aws.ToString(got.SecretString), err, tricky)
	}

	// Binary values travel base64-encoded and come back byte for byte.
	bin := []byte{0, 1, 2, 0xfe, 0xff, '"', '\\'}
	if _, err := w.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretBinary: bin}); err != nil {
		t.Fatalf("PutSecretValue(binary): %v", err)
	}
	got, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("GetSecretValue(binary): %v", err)
	}
	if !bytes.Equal(got.SecretBinary, bin) || got.SecretString != nil {
		t.Errorf("binary round trip: got %v / %v, want %v and no SecretString", got.SecretBinary, got.SecretString, bin)
	}
}

func TestWireClientRequestTokenIdempotency(t *testing.T) {
	const name = "idempotent"
	v1, v2 := wireVID(1), wireVID(2)
	w := newWire(t, localsm.Options{})
	w.create(t, name, v1, "one")
	ctx := context.Background()

	for i := range 2 {
		out, err := w.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(name), ClientRequestToken: aws.String(v2), SecretString: aws.String("two"),
		})
		if err != nil {
			t.Fatalf("PutSecretValue #%d with the same token and value: %v", i+1, err)
		}
		if aws.ToString(out.VersionId) != v2 {
			t.Errorf("PutSecretValue #%d: VersionId = %s, want %s", i+1, aws.ToString(out.VersionId), v2)
		}
	}
	_, err := w.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), ClientRequestToken: aws.String(v2), SecretString: aws.String("different"),
	})
	wantWireError[*types.ResourceExistsException](t, "same token, different value", err,
		"You can't modify an existing version, you can only create a new version.")

	// CreateSecret retried with its token and value is a no-op too; a
	// different token for the same name is a conflict.
	if _, err := w.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("fresh"), ClientRequestToken: aws.String(v1), SecretString: aws.String("x")}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	_, err = w.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("fresh"), ClientRequestToken: aws.String(v2), SecretString: aws.String("x")})
	wantWireError[*types.ResourceExistsException](t, "CreateSecret of an existing name", err, "")

	want := map[string][]string{v1: {wirePrev}, v2: {wireCur}}
	if diff := cmp.Diff(want, w.labels(t, name), wireSorted); diff != "" {
		t.Errorf("VersionIdsToStages mismatch (-want +got):\n%s", diff)
	}
	if ids, _ := w.versions(t, name, true, 0); len(ids) != 2 {
		t.Errorf("%d versions after retried PutSecretValue, want 2: %v", len(ids), ids)
	}
	// The SDK fills in a token when the caller gives none: each call makes
	// a new version.
	for range 2 {
		if _, err := w.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String("auto")}); err != nil {
			t.Fatalf("PutSecretValue without a token: %v", err)
		}
	}
	if ids, _ := w.versions(t, name, true, 0); len(ids) != 4 {
		t.Errorf("%d versions after two PutSecretValue calls without a token, want 4", len(ids))
	}
}

// wireFailingInvoker fails every step without touching the secret, which
// leaves RotateSecret's placeholder in place.
var wireFailingInvoker = localsm.InvokerFunc(func(context.Context, string, events.SecretsManagerSecretRotationEvent) error {
	return errors.New("step refused")
})

func TestWirePlaceholder(t *testing.T) {
	const name = "placeholder"
	v1 := wireVID(1)
	w := newWire(t, localsm.Options{Invoker: wireFailingInvoker, RotationAttempts: 1})
	w.create(t, name, v1, "one")
	ctx := context.Background()

	out, err := w.sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(name), RotationLambdaARN: aws.String(wireFunctionARN)})
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	token := aws.ToString(out.VersionId)
	if token == "" || token == v1 {
		t.Fatalf("RotateSecret returned VersionId %q", token)
	}
	r, ok := w.fake.Rotation(token)
	if !ok {
		t.Fatalf("no rotation with token %s", token)
	}
	if err := r.Wait(ctx); err == nil {
		t.Fatalf("rotation with a failing function succeeded")
	}

	want := map[string][]string{v1: {wireCur}, token: {wirePend}}
	if diff := cmp.Diff(want, w.labels(t, name), wireSorted); diff != "" {
		t.Errorf("placeholder not listed by DescribeSecret (-want +got):\n%s", diff)
	}
	_, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionId: aws.String(token)})
	wantWireError[*types.ResourceNotFoundException](t, "GetSecretValue(placeholder id)", err,
		"Secrets Manager can't find the specified secret value for VersionId: "+token)
	_, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String(wirePend)})
	wantWireError[*types.ResourceNotFoundException](t, "GetSecretValue(AWSPENDING on the placeholder)", err,
		"Secrets Manager can't find the specified secret value for staging label: AWSPENDING")

	// A second rotation is refused while AWSPENDING sits on the placeholder.
	_, err = w.sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(name)})
	wantWireError[*types.InvalidRequestException](t, "RotateSecret with a rotation pending", err,
		"A previous rotation isn't complete. That rotation will be reattempted.")

	// PutSecretValue with the placeholder's token fills it in.
	w.put(t, name, token, "two", wirePend)
	if diff := cmp.Diff(want, w.labels(t, name), wireSorted); diff != "" {
		t.Errorf("after filling the placeholder (-want +got):\n%s", diff)
	}
	if ids, _ := w.versions(t, name, true, 0); len(ids) != 2 {
		t.Errorf("%d versions after filling the placeholder, want 2 (no second version): %v", len(ids), ids)
	}
	got, err := w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String(wirePend)})
	if err != nil {
		t.Fatalf("GetSecretValue(AWSPENDING) after filling: %v", err)
	}
	if aws.ToString(got.SecretString) != "two" || aws.ToString(got.VersionId) != token {
		t.Errorf("pending value = %q in %s, want two in %s", aws.ToString(got.SecretString), aws.ToString(got.VersionId), token)
	}
}

func TestWireRotateSecretErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no function", func(t *testing.T) {
		w := newWire(t, localsm.Options{Invoker: wireFailingInvoker})
		w.create(t, "s", wireVID(1), "one")
		_, err := w.sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("s")})
		wantWireError[*types.InvalidRequestException](t, "RotateSecret without a function", err,
			"No Lambda rotation function ARN is associated with this secret.")
	})
	t.Run("function cannot be invoked", func(t *testing.T) {
		w := newWire(t, localsm.Options{}) // no Invoker
		w.create(t, "s", wireVID(1), "one")
		_, err := w.sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("s"), RotationLambdaARN: aws.String(wireFunctionARN)})
		wantWireCode(t, "RotateSecret with an uninvokable function", err, "AccessDeniedException", "")
		if diff := cmp.Diff(map[string][]string{wireVID(1): {wireCur}}, w.labels(t, "s"), wireSorted); diff != "" {
			t.Errorf("AccessDeniedException stored something (-want +got):\n%s", diff)
		}
	})
	t.Run("unknown secret", func(t *testing.T) {
		w := newWire(t, localsm.Options{Invoker: wireFailingInvoker})
		_, err := w.sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("nope"), RotationLambdaARN: aws.String(wireFunctionARN)})
		wantWireError[*types.ResourceNotFoundException](t, "RotateSecret of an unknown secret", err, "Secrets Manager can't find the specified secret.")
	})
}

// rawWire posts body to the server with the given X-Amz-Target operation
// ("" for no header) and returns the status, headers and body.
func rawWire(t testing.TB, url, method, op, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if op != "" {
		req.Header.Set("X-Amz-Target", op)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response to %s: %v", op, err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestWireDescribeSecretOmitsUnset(t *testing.T) {
	w := newWire(t, localsm.Options{})
	created := w.create(t, "plain", wireVID(1), "one")

	status, hdr, body := rawWire(t, w.srv.URL, http.MethodPost, "secretsmanager.DescribeSecret", `{"SecretId":"plain"}`)
	if status != http.StatusOK {
		t.Fatalf("DescribeSecret: status %d: %s", status, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type = %q, want application/x-amz-json-1.1", ct)
	}
	if hdr.Get("X-Amzn-Requestid") == "" {
		t.Errorf("no x-amzn-RequestId header")
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("DescribeSecret body %s: %v", body, err)
	}
	for _, k := range []string{"RotationEnabled", "RotationRules", "RotationLambdaARN", "LastRotatedDate", "NextRotationDate", "DeletedDate", "LastAccessedDate", "Description", "KmsKeyId", "Tags", "ResultMetadata", "OwningService", "PrimaryRegion", "ReplicationStatus"} {
		if v, ok := doc[k]; ok {
			t.Errorf("DescribeSecret of a secret never configured for rotation sends %s = %s; AWS omits it", k, v)
		}
	}
	for k, v := range doc {
		if s := string(v); s == "null" || s == "false" || s == "{}" || s == "[]" || s == `""` {
			t.Errorf("DescribeSecret sends %s = %s; fields without a value must be omitted", k, s)
		}
	}
	for _, k := range []string{"ARN", "Name", "CreatedDate", "LastChangedDate", "VersionIdsToStages"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("DescribeSecret omits %s: %s", k, body)
		}
	}
	var createdAt float64
	if err := json.Unmarshal(doc["CreatedDate"], &createdAt); err != nil {
		t.Errorf("CreatedDate = %s, want epoch seconds as a JSON number: %v", doc["CreatedDate"], err)
	} else if d := time.Since(time.Unix(int64(createdAt), 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("CreatedDate = %s, want about now", doc["CreatedDate"])
	}

	// The SDK sees the same: nil, not false.
	out, err := w.sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: created.ARN})
	if err != nil {
		t.Fatalf("DescribeSecret: %v", err)
	}
	if out.RotationEnabled != nil || out.RotationRules != nil || out.LastRotatedDate != nil || out.DeletedDate != nil {
		t.Errorf("DescribeSecret: RotationEnabled %v, RotationRules %v, LastRotatedDate %v, DeletedDate %v; want all nil",
			out.RotationEnabled, out.RotationRules, out.LastRotatedDate, out.DeletedDate)
	}

	// Once rotation has been configured and cancelled, RotationEnabled is
	// present and false.
	w2 := newWireRotation(t, localsm.Options{})
	w2.create(t, "rotated", wireVID(1), "one")
	if _, err := w2.fake.Rotate(context.Background(), &secretsmanager.RotateSecretInput{
		SecretId: aws.String("rotated"), RotationLambdaARN: aws.String(wireFunctionARN),
		RotationRules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(7)},
	}); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	_, _, body = rawWire(t, w2.srv.URL, http.MethodPost, "secretsmanager.DescribeSecret", `{"SecretId":"rotated"}`)
	doc = nil
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("DescribeSecret body %s: %v", body, err)
	}
	for k, want := range map[string]string{"RotationEnabled": "true", "RotationRules": `{"AutomaticallyAfterDays":7}`, "RotationLambdaARN": `"` + wireFunctionARN + `"`} {
		if got := string(doc[k]); got != want {
			t.Errorf("after rotation, DescribeSecret %s = %s, want %s", k, got, want)
		}
	}
	for _, k := range []string{"LastRotatedDate", "NextRotationDate"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("after rotation, DescribeSecret omits %s", k)
		}
	}
	if _, err := w2.sm.CancelRotateSecret(context.Background(), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String("rotated")}); err != nil {
		t.Fatalf("CancelRotateSecret: %v", err)
	}
	_, _, body = rawWire(t, w2.srv.URL, http.MethodPost, "secretsmanager.DescribeSecret", `{"SecretId":"rotated"}`)
	doc = nil
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("DescribeSecret body %s: %v", body, err)
	}
	if got := string(doc["RotationEnabled"]); got != "false" {
		t.Errorf("after CancelRotateSecret, RotationEnabled = %s, want false", got)
	}
}

func TestWireARN(t *testing.T) {
	w := newWire(t, localsm.Options{Region: "eu-west-3", AccountID: "210987654321"})
	out := w.create(t, "app/db-creds", wireVID(1), "one")
	arn := aws.ToString(out.ARN)
	re := regexp.MustCompile(`^arn:aws:secretsmanager:eu-west-3:210987654321:secret:app/db-creds-[A-Za-z0-9]{6}$`)
	if !re.MatchString(arn) {
		t.Errorf("ARN = %q, want it to match %s", arn, re)
	}
	if aws.ToString(out.Name) != "app/db-creds" || aws.ToString(out.VersionId) != wireVID(1) {
		t.Errorf("CreateSecret = name %q version %q", aws.ToString(out.Name), aws.ToString(out.VersionId))
	}
	// The secret is found by name, full ARN and partial ARN (no suffix).
	for _, id := range []string{"app/db-creds", arn, arn[:len(arn)-7]} {
		got, err := w.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Errorf("GetSecretValue(%s): %v", id, err)
			continue
		}
		if aws.ToString(got.ARN) != arn {
			t.Errorf("GetSecretValue(%s).ARN = %s, want %s", id, aws.ToString(got.ARN), arn)
		}
	}
	// The client's region is the fake's.
	if got := w.sm.Options().Region; got != "eu-west-3" {
		t.Errorf("client region = %q, want eu-west-3", got)
	}
}

func TestWireListSecretVersionIds(t *testing.T) {
	const name = "list-versions"
	w := newWire(t, localsm.Options{})
	w.create(t, name, wireVID(1), "v")
	for i := 2; i <= 7; i++ {
		w.put(t, name, wireVID(i), fmt.Sprintf("v%d", i))
	}
	// v1..v5 deprecated, v6[PREV], v7[C].
	all, dep := w.versions(t, name, true, 0)
	wantAll := []string{wireVID(7), wireVID(6), wireVID(5), wireVID(4), wireVID(3), wireVID(2), wireVID(1)}
	if diff := cmp.Diff(wantAll, all); diff != "" {
		t.Errorf("IncludeDeprecated=true, newest first (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAll[2:], dep, wireSorted); diff != "" {
		t.Errorf("deprecated versions (-want +got):\n%s", diff)
	}
	live, _ := w.versions(t, name, false, 0)
	if diff := cmp.Diff(wantAll[:2], live); diff != "" {
		t.Errorf("IncludeDeprecated=false (-want +got):\n%s", diff)
	}
	paged, _ := w.versions(t, name, true, 2)
	if diff := cmp.Diff(wantAll, paged); diff != "" {
		t.Errorf("IncludeDeprecated=true in pages of 2 (-want +got):\n%s", diff)
	}

	ctx := context.Background()
	out, err := w.sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(name), MaxResults: aws.Int32(3), IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		t.Fatalf("ListSecretVersionIds: %v", err)
	}
	if out.NextToken == nil || len(out.Versions) != 3 {
		t.Errorf("first page: %d versions, NextToken %v; want 3 and a token", len(out.Versions), out.NextToken)
	}
	for _, v := range out.Versions {
		if v.CreatedDate == nil || len(v.KmsKeyIds) == 0 {
			t.Errorf("version %s: CreatedDate %v, KmsKeyIds %v; want both set", aws.ToString(v.VersionId), v.CreatedDate, v.KmsKeyIds)
		}
	}
	_, err = w.sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(name), NextToken: aws.String("garbage")})
	wantWireError[*types.InvalidNextTokenException](t, "bad NextToken", err, "")
	_, err = w.sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(name), MaxResults: aws.Int32(0)})
	wantWireCode(t, "MaxResults 0", err, "ValidationException", "")
}

func TestWireListSecrets(t *testing.T) {
	w := newWire(t, localsm.Options{})
	ctx := context.Background()
	mk := func(name, desc string, tags map[string]string) {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), ClientRequestToken: aws.String(wireVID(len(name))), SecretString: aws.String("x")}
		if desc != "" {
			in.Description = aws.String(desc)
		}
		for k, v := range tags {
			in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := w.sm.CreateSecret(ctx, in); err != nil {
			t.Fatalf("CreateSecret(%s): %v", name, err)
		}
	}
	mk("prod/db", "Production database", map[string]string{"env": "prod", "team": "data"})
	mk("prod/api", "", map[string]string{"env": "prod"})
	mk("dev/db", "Development database", map[string]string{"env": "dev"})
	mk("doomed", "", nil)
	if _, err := w.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("doomed")}); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}

	list := func(in *secretsmanager.ListSecretsInput) []string {
		t.Helper()
		var names []string
		p := secretsmanager.NewListSecretsPaginator(w.sm, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListSecrets: %v", err)
			}
			for _, e := range out.SecretList {
				names = append(names, aws.ToString(e.Name))
			}
		}
		return names
	}
	f := func(key types.FilterNameStringType, values ...string) types.Filter {
		return types.Filter{Key: key, Values: values}
	}
	tests := []struct {
		name string
		in   *secretsmanager.ListSecretsInput
		want []string
	}{
		{"all, name ascending", &secretsmanager.ListSecretsInput{SortBy: types.SortByTypeName, SortOrder: types.SortOrderTypeAsc}, []string{"dev/db", "prod/api", "prod/db"}},
		{"default order: newest first", &secretsmanager.ListSecretsInput{}, []string{"dev/db", "prod/api", "prod/db"}},
		{"created date ascending", &secretsmanager.ListSecretsInput{SortOrder: types.SortOrderTypeAsc}, []string{"prod/db", "prod/api", "dev/db"}},
		{"include planned deletion", &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true), SortBy: types.SortByTypeName, SortOrder: types.SortOrderTypeAsc}, []string{"dev/db", "doomed", "prod/api", "prod/db"}},
		{"name prefix", &secretsmanager.ListSecretsInput{Filters: []types.Filter{f(types.FilterNameStringTypeName, "prod/")}, SortBy: types.SortByTypeName, SortOrder: types.SortOrderTypeAsc}, []string{"prod/api", "prod/db"}},
		{"negated name prefix", &secretsmanager.ListSecretsInput{Filters: []types.Filter{f(types.FilterNameStringTypeName, "!prod/")}}, []string{"dev/db"}},
		{"description, case-insensitive", &secretsmanager.ListSecretsInput{Filters: []types.Filter{f(types.FilterNameStringTypeDescription, "production")}}, []string{"prod/db"}},
		{"tag key", &secretsmanager.ListSecretsInput{Filters: []types.Filter{f(types.FilterNameStringTypeTagKey, "team")}}, []string{"prod/db"}},
		{"tag value", &secretsmanager.ListSecretsInput{Filters: []types.Filter{f(types.FilterNameStringTypeTagValue, "dev")}}, []string{"dev/db"}},
		{"two filters are ANDed", &secretsmanager.ListSecretsInput{Filters: []types.Filter{f(types.FilterNameStringTypeTagValue, "prod"), f(types.FilterNameStringTypeName, "prod/d")}}, []string{"prod/db"}},
		{"values of one filter are ORed", &secretsmanager.ListSecretsInput{Filters: []types.Filter{f(types.FilterNameStringTypeName, "dev/", "prod/api")}, SortBy: types.SortByTypeName, SortOrder: types.SortOrderTypeAsc}, []string{"dev/db", "prod/api"}},
		{"all", &secretsmanager.ListSecretsInput{Filters: []types.Filter{f(types.FilterNameStringTypeAll, "data")}}, []string{"prod/db"}},
		{"pages of one", &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1), SortBy: types.SortByTypeName, SortOrder: types.SortOrderTypeAsc}, []string{"dev/db", "prod/api", "prod/db"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, list(tt.in)); diff != "" {
			t.Errorf("%s: names mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	_, err := w.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{SortBy: "size"})
	wantWireCode(t, "ListSecrets SortBy=size", err, "ValidationException", "")
	_, err = w.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: "colour", Values: []string{"x"}}}})
	wantWireCode(t, "ListSecrets filter key colour", err, "ValidationException", "")
}

func TestWireDeleteRestore(t *testing.T) {
	w := newWire(t, localsm.Options{})
	ctx := context.Background()
	w.create(t, "kept", wireVID(1), "one")

	_, err := w.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("kept"), RecoveryWindowInDays: aws.Int64(3)})
	wantWireError[*types.InvalidParameterException](t, "RecoveryWindowInDays 3", err, "")
	_, err = w.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("kept"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
	wantWireError[*types.InvalidParameterException](t, "RecoveryWindowInDays with ForceDeleteWithoutRecovery", err, "")

	out, err := w.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("kept"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if out.DeletionDate == nil || time.Until(*out.DeletionDate) < 7*24*time.Hour-time.Minute || time.Until(*out.DeletionDate) > 7*24*time.Hour+time.Minute {
		t.Errorf("DeletionDate = %v, want 7 days from now", out.DeletionDate)
	}
	_, err = w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("kept")})
	wantWireError[*types.InvalidRequestException](t, "GetSecretValue of a deleted secret", err,
		"You can't perform this operation on the secret because it was marked for deletion.")
	d, err := w.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("kept")})
	if err != nil {
		t.Fatalf("DescribeSecret of a deleted secret: %v", err)
	}
	if d.DeletedDate == nil {
		t.Errorf("DescribeSecret of a deleted secret: no DeletedDate")
	}
	_, err = w.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("kept"), ClientRequestToken: aws.String(wireVID(2)), SecretString: aws.String("x")})
	wantWireError[*types.InvalidRequestException](t, "CreateSecret over a deleted secret", err,
		"You can't create this secret because a secret with this name is already scheduled for deletion.")

	if _, err := w.sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("kept")}); err != nil {
		t.Fatalf("RestoreSecret: %v", err)
	}
	got, err := w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("kept")})
	if err != nil || aws.ToString(got.SecretString) != "one" {
		t.Errorf("GetSecretValue after restore = %v, %v; want one", got, err)
	}
	d, err = w.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("kept")})
	if err != nil || d.DeletedDate != nil {
		t.Errorf("DescribeSecret after restore: DeletedDate %v, err %v; want none", d.DeletedDate, err)
	}

	out, err = w.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("kept"), ForceDeleteWithoutRecovery: aws.Bool(true)})
	if err != nil || out.DeletionDate == nil {
		t.Fatalf("DeleteSecret(force) = %v, %v", out, err)
	}
	_, err = w.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("kept")})
	wantWireError[*types.ResourceNotFoundException](t, "DescribeSecret after forced deletion", err, "Secrets Manager can't find the specified secret.")
	_, err = w.sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("kept")})
	wantWireError[*types.ResourceNotFoundException](t, "RestoreSecret after forced deletion", err, "")
}

func TestWireGetRandomPassword(t *testing.T) {
	w := newWire(t, localsm.Options{})
	ctx := context.Background()
	const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	tests := []struct {
		name string
		in   *secretsmanager.GetRandomPasswordInput
		n    int
		ok   func(r rune) bool
	}{
		{"default", &secretsmanager.GetRandomPasswordInput{}, 32, func(r rune) bool { return r > ' ' && r < 0x7f }},
		{"length 4096", &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(4096)}, 4096, func(r rune) bool { return r > ' ' && r < 0x7f }},
		{"digits only", &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(40), ExcludeLowercase: aws.Bool(true), ExcludeUppercase: aws.Bool(true), ExcludePunctuation: aws.Bool(true)}, 40,
			func(r rune) bool { return r >= '0' && r <= '9' }},
		{"no punctuation, no numbers", &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(64), ExcludePunctuation: aws.Bool(true), ExcludeNumbers: aws.Bool(true)}, 64,
			func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }},
		{"exclude characters", &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(200), ExcludeCharacters: aws.String(`/@"'\abcABC0`)}, 200,
			func(r rune) bool { return r > ' ' && r < 0x7f && !strings.ContainsRune(`/@"'\abcABC0`, r) }},
		{"include space", &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(50), IncludeSpace: aws.Bool(true), ExcludeLowercase: aws.Bool(true), ExcludeUppercase: aws.Bool(true), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)}, 50,
			func(r rune) bool { return r == ' ' }},
	}
	for _, tt := range tests {
		out, err := w.sm.GetRandomPassword(ctx, tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		pw := aws.ToString(out.RandomPassword)
		if len(pw) != tt.n {
			t.Errorf("%s: length %d, want %d", tt.name, len(pw), tt.n)
		}
		for _, r := range pw {
			if !tt.ok(r) {
				t.Errorf("%s: unexpected character %q", tt.name, r)
				break
			}
		}
	}
	// By default each included type appears at least once.
	for range 20 {
		out, err := w.sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(4)})
		if err != nil {
			t.Fatalf("GetRandomPassword(4): %v", err)
		}
		pw := aws.ToString(out.RandomPassword)
		if !strings.ContainsAny(pw, "abcdefghijklmnopqrstuvwxyz") || !strings.ContainsAny(pw, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") ||
			!strings.ContainsAny(pw, "0123456789") || !strings.ContainsAny(pw, punct) {
			t.Errorf("GetRandomPassword(4) = a password missing a character type (RequireEachIncludedType defaults to true)")
			break
		}
	}
	for _, n := range []int64{0, 4097} {
		_, err := w.sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(n)})
		wantWireCode(t, fmt.Sprintf("PasswordLength %d", n), err, "ValidationException", "")
	}
	_, err := w.sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{ExcludeLowercase: aws.Bool(true), ExcludeUppercase: aws.Bool(true), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)})
	if _, ok := localsm.ErrorCode(err); !ok {
		t.Errorf("GetRandomPassword excluding every type: error %v, want an API error", err)
	}
}

// TestWireMalformedRequests sends raw requests no SDK would send. Each must
// get the error AWS sends, a 4xx, the JSON error body and a request id.
func TestWireMalformedRequests(t *testing.T) {
	w := newWire(t, localsm.Options{})
	w.create(t, "s", wireVID(1), "one")
	big := `{"SecretId":"s","SecretString":"` + strings.Repeat("x", localsm.MaxRequestBody) + `"}`
	tests := []struct {
		name, method, op, body string
		status                 int
		code                   string
		msgHas                 string
	}{
		{"GET", http.MethodGet, "secretsmanager.ListSecrets", "", 405, "UnknownOperationException", ""},
		{"PUT", http.MethodPut, "secretsmanager.ListSecrets", "{}", 405, "UnknownOperationException", ""},
		{"no X-Amz-Target", http.MethodPost, "", "{}", 400, "UnknownOperationException", ""},
		{"unknown operation", http.MethodPost, "secretsmanager.Frobnicate", "{}", 400, "UnknownOperationException", "Frobnicate"},
		{"operation not implemented", http.MethodPost, "secretsmanager.TagResource", `{"SecretId":"s"}`, 400, "UnknownOperationException", "TagResource"},
		{"other service", http.MethodPost, "kms.GetSecretValue", "{}", 400, "UnknownOperationException", ""},
		{"target without service", http.MethodPost, "GetSecretValue", "{}", 400, "UnknownOperationException", ""},
		{"truncated JSON", http.MethodPost, "secretsmanager.GetSecretValue", `{"SecretId":`, 400, "SerializationException", ""},
		{"not JSON", http.MethodPost, "secretsmanager.GetSecretValue", `SecretId=s`, 400, "SerializationException", ""},
		{"JSON array", http.MethodPost, "secretsmanager.GetSecretValue", `[{"SecretId":"s"}]`, 400, "SerializationException", ""},
		{"JSON string", http.MethodPost, "secretsmanager.GetSecretValue", `"s"`, 400, "SerializationException", ""},
		{"JSON null", http.MethodPost, "secretsmanager.GetSecretValue", `null`, 400, "SerializationException", ""},
		{"trailing data", http.MethodPost, "secretsmanager.GetSecretValue", `{"SecretId":"s"} {}`, 400, "SerializationException", ""},
		{"number for a string", http.MethodPost, "secretsmanager.GetSecretValue", `{"SecretId":42}`, 400, "SerializationException", "SecretId"},
		{"object for a string", http.MethodPost, "secretsmanager.GetSecretValue", `{"SecretId":{"a":1}}`, 400, "SerializationException", "SecretId"},
		{"string for a list", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"s","ClientRequestToken":"` + wireVID(5) + `","SecretString":"v","VersionStages":"AWSCURRENT"}`, 400, "SerializationException", "VersionStages"},
		{"number in a list", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"s","ClientRequestToken":"` + wireVID(5) + `","SecretString":"v","VersionStages":[1]}`, 400, "SerializationException", "VersionStages"},
		{"bad base64", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"s","ClientRequestToken":"` + wireVID(5) + `","SecretBinary":"not base64!"}`, 400, "SerializationException", "SecretBinary"},
		{"string for an integer", http.MethodPost, "secretsmanager.GetRandomPassword", `{"PasswordLength":"12"}`, 400, "SerializationException", "PasswordLength"},
		{"fraction for an integer", http.MethodPost, "secretsmanager.GetRandomPassword", `{"PasswordLength":12.5}`, 400, "SerializationException", "PasswordLength"},
		{"integer overflow", http.MethodPost, "secretsmanager.ListSecrets", `{"MaxResults":4294967296}`, 400, "SerializationException", "MaxResults"},
		{"string for a boolean", http.MethodPost, "secretsmanager.GetRandomPassword", `{"ExcludeNumbers":"true"}`, 400, "SerializationException", "ExcludeNumbers"},
		{"nested type error", http.MethodPost, "secretsmanager.ListSecrets", `{"Filters":[{"Key":"name","Values":"x"}]}`, 400, "SerializationException", "Filters.1.Values"},
		{"missing SecretId", http.MethodPost, "secretsmanager.GetSecretValue", `{}`, 400, "ValidationException", "'secretId'"},
		{"empty body, missing SecretId", http.MethodPost, "secretsmanager.DescribeSecret", ``, 400, "ValidationException", "'secretId'"},
		{"null SecretId", http.MethodPost, "secretsmanager.GetSecretValue", `{"SecretId":null}`, 400, "ValidationException", "'secretId'"},
		{"empty SecretId", http.MethodPost, "secretsmanager.GetSecretValue", `{"SecretId":""}`, 400, "ValidationException", "'secretId'"},
		{"member names are case-sensitive", http.MethodPost, "secretsmanager.GetSecretValue", `{"secretId":"s"}`, 400, "ValidationException", "'secretId'"},
		{"missing Name", http.MethodPost, "secretsmanager.CreateSecret", `{"ClientRequestToken":"` + wireVID(5) + `"}`, 400, "ValidationException", "'name'"},
		{"missing VersionStage", http.MethodPost, "secretsmanager.UpdateSecretVersionStage", `{"SecretId":"s","MoveToVersionId":"` + wireVID(1) + `"}`, 400, "ValidationException", "'versionStage'"},
		{"bad enum", http.MethodPost, "secretsmanager.ListSecrets", `{"SortOrder":"sideways"}`, 400, "ValidationException", "sortOrder"},
		{"bad nested enum", http.MethodPost, "secretsmanager.ListSecrets", `{"Filters":[{"Key":"colour","Values":["x"]}]}`, 400, "ValidationException", "filters.1.member.key"},
		{"PutSecretValue without ClientRequestToken", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"s","SecretString":"v"}`, 400, "InvalidRequestException", "You must provide a ClientRequestToken value. We recommend a UUID-type value."},
		{"CreateSecret without ClientRequestToken", http.MethodPost, "secretsmanager.CreateSecret", `{"Name":"n","SecretString":"v"}`, 400, "InvalidRequestException", "ClientRequestToken"},
		{"UpdateSecret without ClientRequestToken", http.MethodPost, "secretsmanager.UpdateSecret", `{"SecretId":"s","SecretString":"v"}`, 400, "InvalidRequestException", "ClientRequestToken"},
		{"RotateSecret without ClientRequestToken", http.MethodPost, "secretsmanager.RotateSecret", `{"SecretId":"s"}`, 400, "InvalidRequestException", "ClientRequestToken"},
		{"empty ClientRequestToken", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"s","ClientRequestToken":"","SecretString":"v"}`, 400, "ValidationException", "clientRequestToken"},
		{"short ClientRequestToken", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"s","ClientRequestToken":"abc","SecretString":"v"}`, 400, "ValidationException", "clientRequestToken"},
		{"both values", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"s","ClientRequestToken":"` + wireVID(5) + `","SecretString":"v","SecretBinary":"AA=="}`, 400, "InvalidParameterException", ""},
		{"body over the cap", http.MethodPost, "secretsmanager.PutSecretValue", big, 413, "RequestEntityTooLargeException", ""},
		{"empty VersionStages", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"s","ClientRequestToken":"` + wireVID(5) + `","SecretString":"v","VersionStages":[]}`, 400, "ValidationException",
			"1 validation error detected: Value '[]' at 'versionStages' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"empty SecretString", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"s","ClientRequestToken":"` + wireVID(5) + `","SecretString":""}`, 400, "ValidationException", "Member must have length greater than or equal to 1"},
		{"oversized value of a missing secret", http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"missing","ClientRequestToken":"` + wireVID(5) + `","SecretString":"` + strings.Repeat("x", 65537) + `"}`, 400, "ValidationException", "less than or equal to 65536"},
		{"bad Duration for a missing secret", http.MethodPost, "secretsmanager.RotateSecret", `{"SecretId":"missing","ClientRequestToken":"` + wireVID(5) + `","RotationRules":{"AutomaticallyAfterDays":1,"Duration":"abcd"}}`, 400, "ValidationException", "rotationRules.duration"},
	}
	for _, tt := range tests {
		status, hdr, body := rawWire(t, w.srv.URL, tt.method, tt.op, tt.body)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d (body %.200s)", tt.name, status, tt.status, body)
		}
		if status >= 500 {
			t.Errorf("%s: a malformed request got a server error %d", tt.name, status)
		}
		if hdr.Get("X-Amzn-Requestid") == "" {
			t.Errorf("%s: no x-amzn-RequestId header", tt.name)
		}
		var doc struct {
			Type    string `json:"__type"`
			Message string
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Errorf("%s: error body %.200q is not JSON: %v", tt.name, body, err)
			continue
		}
		if doc.Type != tt.code {
			t.Errorf("%s: __type %q, want %q (message %q)", tt.name, doc.Type, tt.code, doc.Message)
		}
		if !strings.Contains(doc.Message, tt.msgHas) {
			t.Errorf("%s: message %q does not mention %q", tt.name, doc.Message, tt.msgHas)
		}
	}
	if diff := cmp.Diff(map[string][]string{wireVID(1): {wireCur}}, w.labels(t, "s")); diff != "" {
		t.Errorf("malformed requests changed the secret (-want +got):\n%s", diff)
	}
	if _, ok := w.fake.Secret("n"); ok {
		t.Errorf("CreateSecret without a token created the secret")
	}

	// A well-formed raw request with a token works, and member order and
	// unknown members do not matter.
	status, _, body := rawWire(t, w.srv.URL, http.MethodPost, "secretsmanager.PutSecretValue",
		`{"SecretString":"raw","Unknown":{"x":[1,2]},"ClientRequestToken":"`+wireVID(6)+`","SecretId":"s","VersionStages":null}`)
	if status != http.StatusOK {
		t.Errorf("valid raw PutSecretValue: status %d: %s", status, body)
	}
}

// TestWireOutputFieldsMatchModel checks the assumption the HTTP encoder and
// decoder rest on: the SDK's exported field names are the model's member
// names, and member types agree (timestamps, blobs, lists, maps), for every
// operation the server speaks, at every depth.
func TestWireOutputFieldsMatchModel(t *testing.T) {
	shapes := []struct {
		schema *smithy.Schema
		v      any
	}{
		{schemas.CancelRotateSecretRequest, secretsmanager.CancelRotateSecretInput{}},
		{schemas.CancelRotateSecretResponse, secretsmanager.CancelRotateSecretOutput{}},
		{schemas.CreateSecretRequest, secretsmanager.CreateSecretInput{}},
		{schemas.CreateSecretResponse, secretsmanager.CreateSecretOutput{}},
		{schemas.DeleteSecretRequest, secretsmanager.DeleteSecretInput{}},
		{schemas.DeleteSecretResponse, secretsmanager.DeleteSecretOutput{}},
		{schemas.DescribeSecretRequest, secretsmanager.DescribeSecretInput{}},
		{schemas.DescribeSecretResponse, secretsmanager.DescribeSecretOutput{}},
		{schemas.GetRandomPasswordRequest, secretsmanager.GetRandomPasswordInput{}},
		{schemas.GetRandomPasswordResponse, secretsmanager.GetRandomPasswordOutput{}},
		{schemas.GetSecretValueRequest, secretsmanager.GetSecretValueInput{}},
		{schemas.GetSecretValueResponse, secretsmanager.GetSecretValueOutput{}},
		{schemas.ListSecretVersionIdsRequest, secretsmanager.ListSecretVersionIdsInput{}},
		{schemas.ListSecretVersionIdsResponse, secretsmanager.ListSecretVersionIdsOutput{}},
		{schemas.ListSecretsRequest, secretsmanager.ListSecretsInput{}},
		{schemas.ListSecretsResponse, secretsmanager.ListSecretsOutput{}},
		{schemas.PutSecretValueRequest, secretsmanager.PutSecretValueInput{}},
		{schemas.PutSecretValueResponse, secretsmanager.PutSecretValueOutput{}},
		{schemas.RestoreSecretRequest, secretsmanager.RestoreSecretInput{}},
		{schemas.RestoreSecretResponse, secretsmanager.RestoreSecretOutput{}},
		{schemas.RotateSecretRequest, secretsmanager.RotateSecretInput{}},
		{schemas.RotateSecretResponse, secretsmanager.RotateSecretOutput{}},
		{schemas.UpdateSecretRequest, secretsmanager.UpdateSecretInput{}},
		{schemas.UpdateSecretResponse, secretsmanager.UpdateSecretOutput{}},
		{schemas.UpdateSecretVersionStageRequest, secretsmanager.UpdateSecretVersionStageInput{}},
		{schemas.UpdateSecretVersionStageResponse, secretsmanager.UpdateSecretVersionStageOutput{}},
	}
	for _, s := range shapes {
		wireCompareShape(t, s.schema.ID().Name, s.schema, reflect.TypeOf(s.v))
	}
}

func wireCompareShape(t *testing.T, path string, s *smithy.Schema, typ reflect.Type) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ == reflect.TypeFor[time.Time]() {
		if s.Type() != smithy.ShapeTypeTimestamp {
			t.Errorf("%s: Go time.Time, model %v", path, s.Type())
		}
		return
	}
	switch typ.Kind() {
	case reflect.Struct:
		if s.Type() != smithy.ShapeTypeStructure {
			t.Errorf("%s: Go struct, model %v", path, s.Type())
			return
		}
		var goNames, model []string
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if f.IsExported() && f.Name != "ResultMetadata" {
				goNames = append(goNames, f.Name)
				if m := s.Member(f.Name); m != nil {
					wireCompareShape(t, path+"."+f.Name, m, f.Type)
				}
			}
		}
		for name := range s.Members() {
			model = append(model, name)
		}
		sort.Strings(goNames)
		sort.Strings(model)
		if diff := cmp.Diff(model, goNames); diff != "" {
			t.Errorf("%s: Go field names differ from the model's member names (-model +Go):\n%s", path, diff)
		}
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.Uint8 {
			if s.Type() != smithy.ShapeTypeBlob {
				t.Errorf("%s: Go []byte, model %v", path, s.Type())
			}
			return
		}
		if s.Type() != smithy.ShapeTypeList || s.ListMember() == nil {
			t.Errorf("%s: Go slice, model %v", path, s.Type())
			return
		}
		wireCompareShape(t, path+"[]", s.ListMember(), typ.Elem())
	case reflect.Map:
		if s.Type() != smithy.ShapeTypeMap || s.MapValue() == nil {
			t.Errorf("%s: Go map, model %v", path, s.Type())
			return
		}
		wireCompareShape(t, path+"{}", s.MapValue(), typ.Elem())
	}
}

// TestWireParallelClients hammers one secret from several SDK clients at
// once. Run with -race: it catches unsynchronised state in the handler and
// the fake, which a sequential test cannot.
func TestWireParallelClients(t *testing.T) {
	const (
		name       = "busy"
		goroutines = 8
		perG       = 50
	)
	w := newWire(t, localsm.Options{})
	w.create(t, name, wireVID(0), "initial")
	w.fake.ResetCalls()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perG*2)
	for g := range goroutines {
		sm := w.srv.Client() // one client per goroutine, as separate processes would have
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range perG {
				value := fmt.Sprintf("g%d-i%d", g, i)
				out, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
				if err != nil {
					errs <- fmt.Errorf("PutSecretValue %s: %w", value, err)
					continue
				}
				got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionId: out.VersionId})
				if err != nil {
					errs <- fmt.Errorf("GetSecretValue %s: %w", value, err)
					continue
				}
				if aws.ToString(got.SecretString) != value {
					errs <- fmt.Errorf("version %s holds %q, want %q", aws.ToString(out.VersionId), aws.ToString(got.SecretString), value)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	if diff := cmp.Diff(map[string]int{"PutSecretValue": goroutines * perG, "GetSecretValue": goroutines * perG}, w.fake.Calls()); diff != "" {
		t.Errorf("call counts (-want +got):\n%s", diff)
	}
	all, dep := w.versions(t, name, true, 100)
	if len(all) != goroutines*perG+1 {
		t.Errorf("%d versions, want %d", len(all), goroutines*perG+1)
	}
	if len(dep) != len(all)-2 {
		t.Errorf("%d deprecated versions of %d, want all but AWSCURRENT and AWSPREVIOUS", len(dep), len(all))
	}
	s, _ := w.fake.Secret(name)
	var curs, prevs int
	for _, v := range s.Versions {
		curs += wireCount(v.Stages, wireCur)
		prevs += wireCount(v.Stages, wirePrev)
	}
	if curs != 1 || prevs != 1 {
		t.Errorf("AWSCURRENT on %d versions, AWSPREVIOUS on %d; want 1 each", curs, prevs)
	}
	// The newest version is AWSCURRENT, and GetSecretValue agrees with
	// the fake's state.
	last := s.Versions[len(s.Versions)-1]
	got, err := w.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if !last.HasStage(wireCur) || aws.ToString(got.VersionId) != last.ID || aws.ToString(got.SecretString) != aws.ToString(last.SecretString) {
		t.Errorf("AWSCURRENT = %s (%q); newest version %s (%q, labels %v)", aws.ToString(got.VersionId), aws.ToString(got.SecretString), last.ID, aws.ToString(last.SecretString), last.Stages)
	}
}

func wireCount(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// wireFaulty wraps h and answers the first n requests for op with an error
// response, as a throttled or failing service would.
func wireFaulty(h http.Handler, op string, n int, status int, code string) (http.Handler, *atomic.Int64) {
	var seen atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "secretsmanager."+op && seen.Add(1) <= int64(n) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"__type":%q,"Message":"injected"}`, code)
			return
		}
		h.ServeHTTP(w, r)
	}), &seen
}

// TestWireClientRetries checks the retry policy Server.Client documents:
// 3 attempts, no backoff delay, 5xx and throttling retried, other 4xx not.
func TestWireClientRetries(t *testing.T) {
	f := localsm.New(localsm.Options{})
	srv := localsm.NewServer(f)
	defer srv.Close()
	if _, err := srv.Client().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("r"), SecretString: aws.String("v")}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	tests := []struct {
		name         string
		n, status    int
		code         string
		wantErr      bool
		wantAttempts int64
	}{
		{"two 500s then success", 2, 500, "InternalServiceError", false, 3},
		{"three 500s exhaust the attempts", 3, 500, "InternalServiceError", true, 3},
		{"throttling is retried", 1, 400, "ThrottlingException", false, 2},
		{"other 400s are not retried", 1, 400, "InvalidRequestException", true, 1},
	}
	for _, tt := range tests {
		h, seen := wireFaulty(localsm.NewHandler(f, localsm.HandlerOptions{}), "GetSecretValue", tt.n, tt.status, tt.code)
		ts := httptest.NewServer(h)
		sm := srv.Client(func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(ts.URL) })
		start := time.Now()
		_, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("r")})
		elapsed := time.Since(start)
		ts.Close()
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.name, err, tt.wantErr)
		}
		if err != nil {
			wantWireCode(t, tt.name, err, tt.code, "injected")
		}
		if got := seen.Load(); got != tt.wantAttempts {
			t.Errorf("%s: %d attempts, want %d", tt.name, got, tt.wantAttempts)
		}
		if elapsed > 2*time.Second {
			t.Errorf("%s: took %v; retries should not back off", tt.name, elapsed)
		}
	}
}

// TestWireLogs checks that the handler logs one line per call with the
// operation, secret id and outcome, and never a secret value, password,
// or RotationToken.
func TestWireLogs(t *testing.T) {
	var buf wireSyncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	f := localsm.New(localsm.Options{})
	ts := httptest.NewServer(localsm.NewHandler(f, localsm.HandlerOptions{Logger: logger}))
	defer ts.Close()
	srv := &localsm.Server{URL: ts.URL, Fake: f}
	sm := srv.Client()
	ctx := context.Background()

	const (
		value    = "value-hunter2-do-not-log"
		binary   = "binary-do-not-log"
		rotToken = "rotation-token-do-not-log-0123456789abcdef"
	)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("logged"), SecretString: aws.String(value)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("logged"), SecretBinary: []byte(binary), RotationToken: aws.String(rotToken), VersionStages: []string{wirePend}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("logged")}); err != nil {
		t.Fatal(err)
	}
	pw, err := sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(40)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	wantWireError[*types.ResourceNotFoundException](t, "GetSecretValue(missing)", err, "")
	// Raw requests with values in malformed places.
	rawWire(t, ts.URL, http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"logged","SecretString":"`+value+`"}`)
	rawWire(t, ts.URL, http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"logged","SecretString":["`+value+`"]}`)
	rawWire(t, ts.URL, http.MethodPost, "secretsmanager.PutSecretValue", `{"SecretId":"logged","SecretString":"`+value)

	logs := buf.String()
	for _, secret := range []string{value, binary, base64.StdEncoding.EncodeToString([]byte(binary)), rotToken, aws.ToString(pw.RandomPassword)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret value %q:\n%s", secret, logs)
		}
	}
	type line struct {
		Msg       string `json:"msg"`
		Op        string `json:"op"`
		SecretID  string `json:"secret_id"`
		Status    int    `json:"status"`
		ErrorCode string `json:"error_code"`
		RequestID string `json:"request_id"`
		Duration  *int64 `json:"duration"`
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var ln line
		if err := json.Unmarshal([]byte(l), &ln); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if ln.RequestID == "" || ln.Duration == nil {
			t.Errorf("log line without request_id or duration: %s", l)
		}
		ln.RequestID, ln.Duration = "", nil
		got = append(got, ln)
	}
	want := []line{
		{"secretsmanager call", "CreateSecret", "logged", 200, "", "", nil},
		{"secretsmanager call", "PutSecretValue", "logged", 200, "", "", nil},
		{"secretsmanager call", "GetSecretValue", "logged", 200, "", "", nil},
		{"secretsmanager call", "GetRandomPassword", "", 200, "", "", nil},
		{"secretsmanager call", "GetSecretValue", "missing", 400, "ResourceNotFoundException", "", nil},
		{"secretsmanager call", "PutSecretValue", "logged", 400, "InvalidRequestException", "", nil},
		{"secretsmanager call", "PutSecretValue", "", 400, "SerializationException", "", nil},
		{"secretsmanager call", "PutSecretValue", "", 400, "SerializationException", "", nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines mismatch (-want +got):\n%s", diff)
	}
}

// wireSyncBuffer is a bytes.Buffer safe for the concurrent writes of a server.
type wireSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *wireSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *wireSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// wireRotator returns a minimal rotation function speaking to Secrets
// Manager through sm (resolved at call time, so the function can be built
// before the server it talks to). createSecret copies AWSCURRENT into a new
// AWSPENDING version with the RotationToken; setSecret and testSecret do
// nothing; finishSecret moves AWSCURRENT onto the new version. A nil sm
// function means "the client of the server that invokes me", which
// wireRotator cannot know, so callers pass one when they need it.
func wireRotator(sm func() *secretsmanager.Client) func(context.Context, string, events.SecretsManagerSecretRotationEvent) error {
	return func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
		if sm == nil {
			return errors.New("wireRotator: no client")
		}
		return wireStep(ctx, sm(), ev)
	}
}

func wireStep(ctx context.Context, sm *secretsmanager.Client, ev events.SecretsManagerSecretRotationEvent) error {
	switch ev.Step {
	case "createSecret":
		cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionStage: aws.String(wireCur)})
		if err != nil {
			return err
		}
		_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(ev.SecretID),
			ClientRequestToken: aws.String(ev.ClientRequestToken),
			SecretString:       aws.String(aws.ToString(cur.SecretString) + "+"),
			VersionStages:      []string{wirePend},
			RotationToken:      aws.String(ev.RotationToken),
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
			if slices.Contains(stages, wireCur) {
				current = id
			}
		}
		if current == ev.ClientRequestToken {
			return nil
		}
		_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(ev.SecretID), VersionStage: aws.String(wireCur),
			MoveToVersionId: aws.String(ev.ClientRequestToken), RemoveFromVersionId: aws.String(current),
		})
		return err
	}
	return fmt.Errorf("unknown step %q", ev.Step)
}

// newWireRotation returns a fixture whose rotation function runs the four
// steps through the SDK client, over HTTP, against the fixture's server.
func newWireRotation(t testing.TB, opts localsm.Options) *wireFixture {
	t.Helper()
	var sm atomic.Pointer[secretsmanager.Client]
	opts.Invoker = localsm.InvokerFunc(wireRotator(sm.Load))
	w := newWire(t, opts)
	sm.Store(w.sm)
	return w
}

func TestWireRotation(t *testing.T) {
	w := newWireRotation(t, localsm.Options{StrictRotationToken: true})
	const name = "rotated"
	v1 := wireVID(1)
	w.create(t, name, v1, "one")
	ctx := context.Background()
	out, err := w.sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(name), RotationLambdaARN: aws.String(wireFunctionARN)})
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	token := aws.ToString(out.VersionId)
	r, ok := w.fake.Rotation(token)
	if !ok {
		t.Fatalf("no rotation %s", token)
	}
	if err := r.Wait(ctx); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	want := map[string][]string{v1: {wirePrev}, token: {wireCur}}
	if diff := cmp.Diff(want, w.labels(t, name), wireSorted); diff != "" {
		t.Errorf("after rotation (-want +got):\n%s", diff)
	}
	got, err := w.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil || aws.ToString(got.SecretString) != "one+" {
		t.Errorf("GetSecretValue after rotation = %v, %v; want one+", aws.ToString(got.SecretString), err)
	}
}

// BenchmarkRotationOverHTTP measures one complete four-step rotation whose
// function calls Secrets Manager through the real SDK over loopback HTTP.
func BenchmarkRotationOverHTTP(b *testing.B) {
	// A manual clock moved a day per rotation lets the fake prune old
	// deprecated versions, so the secret does not grow with b.N.
	clock := localsm.NewManualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	w := newWireRotation(b, localsm.Options{Clock: clock})
	w.create(b, "bench", wireVID(1), "v")
	ctx := context.Background()
	in := &secretsmanager.RotateSecretInput{SecretId: aws.String("bench"), RotationLambdaARN: aws.String(wireFunctionARN)}
	w.fake.ResetCalls()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := w.fake.Rotate(ctx, in); err != nil {
			b.Fatalf("rotation %d: %v", n+1, err)
		}
		clock.Advance(25 * time.Hour)
		n++
	}
	b.ReportMetric(float64(w.fake.TotalCalls())/float64(n), "calls/rotation")
}

// ExampleNewServer points the real AWS SDK client at the in-memory fake.
func ExampleNewServer() {
	srv := localsm.NewServer(localsm.New(localsm.Options{}))
	defer srv.Close()
	sm := srv.Client()

	ctx := context.Background()
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("app/db"),
		SecretString: aws.String(`{"username":"app","password":"s3cr3t"}`),
	}); err != nil {
		fmt.Println(err)
		return
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(aws.ToString(out.SecretString), out.VersionStages)

	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	fmt.Println(errors.As(err, &nf), nf.ErrorMessage())
	// Output:
	// {"username":"app","password":"s3cr3t"} [AWSCURRENT]
	// true Secrets Manager can't find the specified secret.
}

// --- other clients: the AWS CLI and boto3 ---

// requireTools reports whether tests needing external tools must fail
// rather than skip when the tools are missing: with
// ROTATION_REQUIRE_AWSCLI=1, or with ROTATION_REQUIRE_SERVICES=1, which CI
// sets for every real-service test (see examples/internal/testenv).
func requireTools() bool {
	return os.Getenv("ROTATION_REQUIRE_AWSCLI") == "1" || os.Getenv("ROTATION_REQUIRE_SERVICES") == "1"
}

// wireToolEnv is the environment for a child AWS tool: dummy credentials
// and region, no shared config, no pager, no instance metadata lookups.
func wireToolEnv(t *testing.T, extra ...string) []string {
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID=AKIDROTATIONTEST",
		"AWS_SECRET_ACCESS_KEY=rotationtest-dummy-secret",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
	)
	return append(env, extra...)
}

// wireTools returns the distinct working installations of a tool: the one
// on PATH and the Debian one, which may differ (a pyenv AWS CLI v1 and
// Debian's v2, say). probe must succeed for a candidate to count.
func wireTools(t *testing.T, name string, probe []string, candidates ...string) []string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	var found []string
	seen := map[string]bool{}
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		cmd := exec.Command(c, probe...)
		cmd.Env = wireToolEnv(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("%s %s: %v: %s", c, strings.Join(probe, " "), err, out)
			continue
		}
		found = append(found, c)
	}
	return found
}

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if requireTools() {
		t.Fatalf(format+" (ROTATION_REQUIRE_AWSCLI=1 or ROTATION_REQUIRE_SERVICES=1)", args...)
	}
	t.Skipf(format, args...)
}

func TestWireAWSCLI(t *testing.T) {
	bins := wireTools(t, "aws", []string{"--version"}, "/usr/bin/aws")
	if len(bins) == 0 {
		skipOrFail(t, "no working aws command: install the Debian package awscli (apt-get install awscli)")
	}
	for _, bin := range bins {
		t.Run(strings.ReplaceAll(bin, "/", "_"), func(t *testing.T) {
			t.Parallel() // each CLI start costs a second or more
			w := newWire(t, localsm.Options{})
			env := wireToolEnv(t)
			cli := func(args ...string) (map[string]any, string, error) {
				t.Helper()
				args = append([]string{"--endpoint-url", w.srv.URL, "--output", "json", "secretsmanager"}, args...)
				cmd := exec.Command(bin, args...)
				cmd.Env = env
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				var doc map[string]any
				if err == nil && stdout.Len() > 0 {
					if jerr := json.Unmarshal(stdout.Bytes(), &doc); jerr != nil {
						t.Fatalf("aws %s: output %q: %v", strings.Join(args, " "), stdout.String(), jerr)
					}
				}
				return doc, stderr.String(), err
			}
			mustCLI := func(args ...string) map[string]any {
				t.Helper()
				doc, stderr, err := cli(args...)
				if err != nil {
					t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
				}
				return doc
			}
			created := mustCLI("create-secret", "--name", "cli/secret", "--secret-string", "cli-one")
			arn, _ := created["ARN"].(string)
			if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:123456789012:secret:cli/secret-") {
				t.Errorf("create-secret ARN = %q", arn)
			}
			v1, _ := created["VersionId"].(string)
			got := mustCLI("get-secret-value", "--secret-id", "cli/secret")
			if got["SecretString"] != "cli-one" || got["VersionId"] != v1 || got["CreatedDate"] == nil {
				t.Errorf("get-secret-value = %v", got)
			}
			put := mustCLI("put-secret-value", "--secret-id", arn, "--secret-string", "cli-two", "--version-stages", wirePend)
			v2, _ := put["VersionId"].(string)
			binFile := filepath.Join(t.TempDir(), "blob")
			blob := []byte{0, 1, 2, 250, 251, 255}
			if err := os.WriteFile(binFile, blob, 0o600); err != nil {
				t.Fatal(err)
			}
			put3 := mustCLI("put-secret-value", "--secret-id", "cli/secret", "--secret-binary", "fileb://"+binFile)
			v3, _ := put3["VersionId"].(string)
			got = mustCLI("get-secret-value", "--secret-id", "cli/secret")
			if b64, _ := got["SecretBinary"].(string); b64 != base64.StdEncoding.EncodeToString(blob) {
				t.Errorf("get-secret-value SecretBinary = %v, want %s", got["SecretBinary"], base64.StdEncoding.EncodeToString(blob))
			}
			desc := mustCLI("describe-secret", "--secret-id", "cli/secret")
			if _, ok := desc["RotationEnabled"]; ok {
				t.Errorf("describe-secret shows RotationEnabled for a secret never configured: %v", desc)
			}
			// The put with default stages abandoned the pending version:
			// v2 lost AWSPENDING and is deprecated.
			want := map[string]any{v1: []any{wirePrev}, v3: []any{wireCur}}
			if diff := cmp.Diff(want, desc["VersionIdsToStages"]); diff != "" {
				t.Errorf("describe-secret VersionIdsToStages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string][]string{v1: {wirePrev}, v3: {wireCur}}, w.fake.Secrets()[0].Labels()); diff != "" {
				t.Errorf("fake state (-want +got):\n%s", diff)
			}
			listed := mustCLI("list-secret-version-ids", "--secret-id", "cli/secret", "--include-deprecated")
			versions, _ := listed["Versions"].([]any)
			var found bool
			for _, v := range versions {
				if m, _ := v.(map[string]any); m["VersionId"] == v2 {
					found = true
					if _, ok := m["VersionStages"]; ok {
						t.Errorf("deprecated version %s listed with VersionStages %v", v2, m["VersionStages"])
					}
				}
			}
			if len(versions) != 3 || !found {
				t.Errorf("list-secret-version-ids --include-deprecated = %v, want 3 versions including %s", versions, v2)
			}
			_, stderr, err := cli("get-secret-value", "--secret-id", "cli/missing")
			if err == nil || !strings.Contains(stderr, "ResourceNotFoundException") || !strings.Contains(stderr, "Secrets Manager can't find the specified secret.") {
				t.Errorf("get-secret-value of a missing secret: err %v, stderr %q; want ResourceNotFoundException", err, stderr)
			}
		})
	}
}

const wireBotoScript = `
import json, os, sys
import boto3
sm = boto3.client("secretsmanager", endpoint_url=os.environ["SM_ENDPOINT"])
out = {}
r = sm.create_secret(Name="boto/secret", SecretString="boto-one")
out["arn"], out["v1"] = r["ARN"], r["VersionId"]
r = sm.put_secret_value(SecretId="boto/secret", SecretBinary=b"\x00\x01boto\xff", VersionStages=["AWSPENDING"])
out["v2"] = r["VersionId"]
r = sm.get_secret_value(SecretId="boto/secret", VersionStage="AWSPENDING")
out["binary"] = list(r["SecretBinary"])
out["created_type"] = type(r["CreatedDate"]).__name__
r = sm.get_secret_value(SecretId=out["arn"])
out["current"] = r["SecretString"]
r = sm.describe_secret(SecretId="boto/secret")
out["stages"] = r["VersionIdsToStages"]
out["has_rotation_enabled"] = "RotationEnabled" in r
r = sm.list_secret_version_ids(SecretId="boto/secret", MaxResults=1)
out["first_page"] = len(r["Versions"])
out["has_next"] = "NextToken" in r
try:
    sm.get_secret_value(SecretId="boto/missing")
    out["missing"] = "no error"
except sm.exceptions.ResourceNotFoundException as e:
    out["missing"] = e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"]
out["password_length"] = len(sm.get_random_password(PasswordLength=24, ExcludePunctuation=True)["RandomPassword"])
json.dump(out, sys.stdout)
`

func TestWireBoto3(t *testing.T) {
	pythons := wireTools(t, "python3", []string{"-c", "import boto3"}, "/usr/bin/python3")
	if len(pythons) == 0 {
		skipOrFail(t, "no python3 with boto3: install the Debian package python3-boto3 (apt-get install python3-boto3)")
	}
	for _, py := range pythons {
		t.Run(strings.ReplaceAll(py, "/", "_"), func(t *testing.T) {
			w := newWire(t, localsm.Options{})
			cmd := exec.Command(py, "-c", wireBotoScript)
			cmd.Env = wireToolEnv(t, "SM_ENDPOINT="+w.srv.URL)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("boto3 script: %v\n%s", err, stderr.String())
			}
			var got struct {
				ARN, V1, V2        string
				Binary             []int
				CreatedType        string `json:"created_type"`
				Current            string
				Stages             map[string][]string
				HasRotationEnabled bool `json:"has_rotation_enabled"`
				FirstPage          int  `json:"first_page"`
				HasNext            bool `json:"has_next"`
				Missing            string
				PasswordLength     int `json:"password_length"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("boto3 output %q: %v", stdout.String(), err)
			}
			if diff := cmp.Diff([]int{0, 1, 'b', 'o', 't', 'o', 0xff}, got.Binary); diff != "" {
				t.Errorf("SecretBinary round trip (-want +got):\n%s", diff)
			}
			if got.CreatedType != "datetime" || got.Current != "boto-one" || got.HasRotationEnabled || got.FirstPage != 1 || !got.HasNext || got.PasswordLength != 24 {
				t.Errorf("boto3 saw %+v", got)
			}
			if got.Missing != "ResourceNotFoundException: Secrets Manager can't find the specified secret." {
				t.Errorf("boto3 missing secret: %q", got.Missing)
			}
			want := map[string][]string{got.V1: {wireCur}, got.V2: {wirePend}}
			if diff := cmp.Diff(want, got.Stages, wireSorted); diff != "" {
				t.Errorf("VersionIdsToStages seen by boto3 (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(got.ARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:boto/secret-") {
				t.Errorf("ARN = %q", got.ARN)
			}
		})
	}
}
