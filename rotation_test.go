package rotation_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
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
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

// Fixed identifiers, so failures and examples are reproducible.
const (
	testFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:rotate-test"

	versionOld  = "a0000000-0000-4000-8000-000000000001" // AWSCURRENT before the rotation
	versionPrev = "a0000000-0000-4000-8000-000000000000" // AWSPREVIOUS before the rotation
	versionNew  = "b0000000-0000-4000-8000-000000000002" // the rotation's ClientRequestToken

	// testRotationToken is a valid RotationToken (36-256 of [a-zA-Z0-9-])
	// that is easy to spot in a log or an error.
	testRotationToken = "rtok0000-aaaa-4bbb-8ccc-dddddddddddd-never-log-me"

	oldPassword  = "Old-Passw0rd-7c41e9d2"
	prevPassword = "Prev-Passw0rd-55aa01f3"
)

// currentValue is an AWSCURRENT value with fields the Rotator does not know
// about, which must survive the rotation unchanged.
var currentValue = `{"engine":"postgres","host":"db.internal","port":5432,"username":"app",` +
	`"password":"` + oldPassword + `","dbname":"orders",` +
	`"options":{"sslmode":"verify-full","ciphers":["a","b"]},"futureField":null,"ratio":1.50}`

// --- a simple Rotator ---------------------------------------------------

// testRotator is the Rotator the tests drive: by default Create sets a new
// generated password on a copy of the current value (keeping every other
// field), Set and Test check that the pending value has one. Each method can
// be replaced, and every call is counted.
type testRotator struct {
	create func(context.Context, *rotation.CreateRequest) (*rotation.CreateResponse, error)
	set    func(context.Context, *rotation.SetRequest) (*rotation.SetResponse, error)
	test   func(context.Context, *rotation.TestRequest) (*rotation.TestResponse, error)

	creates, sets, tests atomic.Int64
}

func (r *testRotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	r.creates.Add(1)
	if r.create != nil {
		return r.create(ctx, req)
	}
	return createPassword(ctx, req)
}

func (r *testRotator) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	r.sets.Add(1)
	if r.set != nil {
		return r.set(ctx, req)
	}
	if _, err := req.Pending.Get("password"); err != nil {
		return nil, err
	}
	return &rotation.SetResponse{}, nil
}

func (r *testRotator) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	r.tests.Add(1)
	if r.test != nil {
		return r.test(ctx, req)
	}
	if _, err := req.Pending.Get("password"); err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, nil
}

// counts returns the Create, Set and Test call counts.
func (r *testRotator) counts() [3]int64 {
	return [3]int64{r.creates.Load(), r.sets.Load(), r.tests.Load()}
}

// createPassword is the simple rotation: pending = current.With(password).
// It requires a username, so a value without one is rejected.
func createPassword(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := cur.Get("username"); err != nil {
		return nil, err
	}
	pw, err := rotation.PasswordPolicy{ExcludeCharacters: `/@"'\`}.Generate()
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{"password": pw})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

// finishingRotator is a testRotator that also implements rotation.Finisher.
type finishingRotator struct {
	*testRotator
	finish   func(context.Context, *rotation.FinishRequest) (*rotation.FinishResponse, error)
	finishes atomic.Int64
}

func (r *finishingRotator) Finish(ctx context.Context, req *rotation.FinishRequest) (*rotation.FinishResponse, error) {
	r.finishes.Add(1)
	if r.finish != nil {
		return r.finish(ctx, req)
	}
	return &rotation.FinishResponse{}, nil
}

// --- fixtures -----------------------------------------------------------

func newHandler(t testing.TB, c rotation.Client, r rotation.Rotator, optFns ...func(*rotation.Options)) *rotation.Handler {
	t.Helper()
	h, err := rotation.New(c, r, optFns...)
	if err != nil {
		t.Fatalf("rotation.New: %v", err)
	}
	return h
}

// seed stores s in f with rotation enabled and a function configured, and
// returns its ARN.
func seed(t testing.TB, f *localsm.Fake, s localsm.Secret) string {
	t.Helper()
	if s.RotationEnabled == nil {
		s.RotationEnabled = aws.Bool(true)
	}
	if s.RotationLambdaARN == "" {
		s.RotationLambdaARN = testFunctionARN
	}
	if err := f.Seed(s); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	got, ok := f.Secret(s.Name)
	if !ok {
		t.Fatalf("Seed: secret %q not stored", s.Name)
	}
	return got.ARN
}

// seedRotating seeds the state RotateSecret leaves before createSecret:
// versionOld holds value as AWSCURRENT, versionNew is the empty AWSPENDING
// placeholder.
func seedRotating(t testing.TB, f *localsm.Fake, name, value string) string {
	t.Helper()
	return seed(t, f, localsm.Secret{
		Name: name,
		Versions: []localsm.Version{
			{ID: versionOld, SecretString: aws.String(value), Stages: []string{"AWSCURRENT"}},
			{ID: versionNew, Stages: []string{"AWSPENDING"}},
		},
	})
}

func event(step rotation.Step, arn, version, rotationToken string) events.SecretsManagerSecretRotationEvent {
	return events.SecretsManagerSecretRotationEvent{Step: string(step), SecretID: arn, ClientRequestToken: version, RotationToken: rotationToken}
}

// handle calls h.Handle, turning a panic into a test error.
func handle(t testing.TB, h *rotation.Handler, ev events.SecretsManagerSecretRotationEvent) (err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Handle(%+v) panicked: %v", ev.Step, p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return h.Handle(context.Background(), ev)
}

// writeCalls returns the counts of the two operations that change a secret.
func writeCalls(f *localsm.Fake) map[string]int {
	c := f.Calls()
	return map[string]int{"PutSecretValue": c["PutSecretValue"], "UpdateSecretVersionStage": c["UpdateSecretVersionStage"]}
}

// labels returns the secret's VersionIdsToStages with sorted label lists.
func labels(t testing.TB, f *localsm.Fake, id string) map[string][]string {
	t.Helper()
	s, ok := f.Secret(id)
	if !ok {
		t.Fatalf("secret %q not found", id)
	}
	m := s.Labels()
	for _, st := range m {
		sort.Strings(st)
	}
	return m
}

// versionState is what a rotation step may change about one version.
type versionState struct {
	ID            string
	Value         *string
	Binary        []byte
	Stages        []string
	RotationToken string
}

// snapshot returns the secret's versions as plain comparable data.
func snapshot(t testing.TB, f *localsm.Fake, id string) []versionState {
	t.Helper()
	s, ok := f.Secret(id)
	if !ok {
		t.Fatalf("secret %q not found", id)
	}
	out := make([]versionState, 0, len(s.Versions))
	for _, v := range s.Versions {
		st := slices.Clone(v.Stages)
		sort.Strings(st)
		out = append(out, versionState{ID: v.ID, Value: v.SecretString, Binary: v.SecretBinary, Stages: st, RotationToken: v.RotationToken})
	}
	return out
}

// storedString returns the SecretString of version id.
func storedString(t testing.TB, f *localsm.Fake, secretID, id string) string {
	t.Helper()
	s, ok := f.Secret(secretID)
	if !ok {
		t.Fatalf("secret %q not found", secretID)
	}
	v, ok := s.Version(id)
	if !ok || v.SecretString == nil {
		t.Fatalf("version %s of %q has no string value", id, secretID)
	}
	return *v.SecretString
}

// decodeFields decodes a JSON object keeping numbers exact.
func decodeFields(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("value is not a JSON object: %v", err)
	}
	return m
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// --- transports: in memory and through the real SDK over HTTP -------------

// transport gives a Handler its Secrets Manager client and starts
// rotations, either directly on the fake or through a real
// *secretsmanager.Client talking to localsm.Server over loopback HTTP.
type transport struct {
	name  string
	setup func(t testing.TB, f *localsm.Fake) (rotation.Client, func(context.Context, *secretsmanager.RotateSecretInput) (*localsm.Rotation, error))
}

var transports = []transport{
	{"memory", func(t testing.TB, f *localsm.Fake) (rotation.Client, func(context.Context, *secretsmanager.RotateSecretInput) (*localsm.Rotation, error)) {
		return f, f.Rotate
	}},
	{"http", func(t testing.TB, f *localsm.Fake) (rotation.Client, func(context.Context, *secretsmanager.RotateSecretInput) (*localsm.Rotation, error)) {
		srv := localsm.NewServer(f)
		t.Cleanup(func() {
			_ = f.Wait(context.Background())
			srv.Close()
		})
		sdk := srv.Client()
		return sdk, func(ctx context.Context, in *secretsmanager.RotateSecretInput) (*localsm.Rotation, error) {
			out, err := sdk.RotateSecret(ctx, in)
			if err != nil {
				return nil, err
			}
			r, ok := f.Rotation(aws.ToString(out.VersionId))
			if !ok {
				return nil, fmt.Errorf("no rotation for version %s", aws.ToString(out.VersionId))
			}
			return r, r.Wait(ctx)
		}
	}},
}

// harness is a fake whose rotation function is a Handler, with every event
// the function received, every error it returned and its log recorded.
type harness struct {
	fake   *localsm.Fake
	h      *rotation.Handler
	rotate func(context.Context, *secretsmanager.RotateSecretInput) (*localsm.Rotation, error)
	logs   *lockedBuffer

	mu     sync.Mutex
	events []events.SecretsManagerSecretRotationEvent
	errs   []error
}

// newHarness builds a fake (StrictRotationToken on) whose function runs a
// Handler for r over tr. logHandler, if not nil, builds the Handler's slog
// handler on the harness's log buffer; the default is a JSON handler.
func newHarness(t testing.TB, tr transport, r rotation.Rotator, opts localsm.Options, logHandler func(io.Writer) slog.Handler) *harness {
	t.Helper()
	hs := &harness{logs: &lockedBuffer{}}
	opts.StrictRotationToken = true
	opts.Invoker = localsm.InvokerFunc(func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
		hs.mu.Lock()
		hs.events = append(hs.events, ev)
		hs.mu.Unlock()
		err := hs.h.Handle(ctx, ev)
		if err != nil {
			hs.mu.Lock()
			hs.errs = append(hs.errs, err)
			hs.mu.Unlock()
		}
		return err
	})
	hs.fake = localsm.New(opts)
	client, rotate := tr.setup(t, hs.fake)
	hs.rotate = rotate
	if logHandler == nil {
		logHandler = func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
		}
	}
	logger := slog.New(logHandler(hs.logs))
	hs.h = newHandler(t, client, r, func(o *rotation.Options) { o.Logger = logger })
	return hs
}

func (hs *harness) steps() []string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var s []string
	for _, ev := range hs.events {
		s = append(s, ev.Step)
	}
	return s
}

func (hs *harness) rotationTokens() []string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var s []string
	for _, ev := range hs.events {
		if !slices.Contains(s, ev.RotationToken) {
			s = append(s, ev.RotationToken)
		}
	}
	return s
}

func (hs *harness) errors() []error {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return slices.Clone(hs.errs)
}

// --- full rotation --------------------------------------------------------

func TestRotation(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			rot := &testRotator{}
			hs := newHarness(t, tr, rot, localsm.Options{}, nil)
			arn := seed(t, hs.fake, localsm.Secret{
				Name: "db/orders",
				Versions: []localsm.Version{
					{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}},
				},
			})

			r, err := hs.rotate(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(versionNew)})
			if err != nil {
				t.Fatalf("rotation failed: %v (handler errors: %v)", err, hs.errors())
			}
			if n := r.Attempts(); n != 1 {
				t.Errorf("rotation took %d attempts, want 1", n)
			}
			wantSteps := []string{"createSecret", "setSecret", "testSecret", "finishSecret"}
			if diff := cmp.Diff(wantSteps, hs.steps()); diff != "" {
				t.Errorf("steps invoked (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([3]int64{1, 1, 1}, rot.counts()); diff != "" {
				t.Errorf("Rotator Create/Set/Test calls (-want +got):\n%s", diff)
			}

			// Labels as the service leaves them: the service, not the
			// function, has removed AWSPENDING.
			wantLabels := map[string][]string{
				versionOld: {"AWSPREVIOUS"},
				versionNew: {"AWSCURRENT"},
			}
			if diff := cmp.Diff(wantLabels, labels(t, hs.fake, arn)); diff != "" {
				t.Errorf("labels after rotation (-want +got):\n%s", diff)
			}

			// Every field but the password is carried over, unknown ones
			// included.
			oldFields := decodeFields(t, currentValue)
			newFields := decodeFields(t, storedString(t, hs.fake, arn, versionNew))
			newPassword, _ := newFields["password"].(string)
			if newPassword == "" || newPassword == oldPassword || len(newPassword) != 32 {
				t.Errorf("new password %q: want 32 new characters", newPassword)
			}
			delete(oldFields, "password")
			delete(newFields, "password")
			if diff := cmp.Diff(oldFields, newFields); diff != "" {
				t.Errorf("fields other than password (-old +new):\n%s", diff)
			}
			if got := storedString(t, hs.fake, arn, versionOld); got != currentValue {
				t.Errorf("old version's value changed: got %q, want %q", got, currentValue)
			}

			// The RotationToken of the createSecret event reached
			// PutSecretValue (StrictRotationToken would have failed the
			// step otherwise).
			s, _ := hs.fake.Secret(arn)
			v, _ := s.Version(versionNew)
			var createToken string
			hs.mu.Lock()
			for _, ev := range hs.events {
				if ev.Step == string(rotation.StepCreate) {
					createToken = ev.RotationToken
				}
			}
			hs.mu.Unlock()
			if createToken == "" || v.RotationToken != createToken {
				t.Errorf("stored version's RotationToken = %q, want the createSecret event's %q", v.RotationToken, createToken)
			}
		})
	}
}

// TestRotationTwice rotates the same secret twice: the second rotation
// starts from the first one's result, and AWSPREVIOUS follows AWSCURRENT.
func TestRotationTwice(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			hs := newHarness(t, tr, &testRotator{}, localsm.Options{}, nil)
			arn := seed(t, hs.fake, localsm.Secret{
				Name:     "db/twice",
				Versions: []localsm.Version{{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}}},
			})
			const third = "c0000000-0000-4000-8000-000000000003"
			for _, id := range []string{versionNew, third} {
				if _, err := hs.rotate(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(id)}); err != nil {
					t.Fatalf("rotation %s: %v", id, err)
				}
			}
			want := map[string][]string{versionNew: {"AWSPREVIOUS"}, third: {"AWSCURRENT"}}
			if diff := cmp.Diff(want, labels(t, hs.fake, arn)); diff != "" {
				t.Errorf("labels after two rotations (-want +got):\n%s", diff)
			}
			a := decodeFields(t, storedString(t, hs.fake, arn, versionNew))["password"]
			b := decodeFields(t, storedString(t, hs.fake, arn, third))["password"]
			if a == b {
				t.Errorf("second rotation kept the password")
			}
		})
	}
}

// --- call counting ----------------------------------------------------------

// TestRotationCallCount checks the documented call budget of a complete,
// successful rotation: eight Secrets Manager calls when Set needs only the
// pending value (createSecret: DescribeSecret, GetSecretValue of the new
// version (not found), GetSecretValue AWSCURRENT, PutSecretValue; setSecret
// and testSecret: GetSecretValue of the new version each; finishSecret:
// DescribeSecret, UpdateSecretVersionStage), nine when Set also reads
// AWSCURRENT.
func TestRotationCallCount(t *testing.T) {
	usesCurrent := &testRotator{set: func(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
		if _, err := req.Current(ctx); err != nil {
			return nil, err
		}
		return &rotation.SetResponse{}, nil
	}}
	cases := []struct {
		name string
		rot  rotation.Rotator
		max  int
		want map[string]int
	}{
		{"pending only", &testRotator{}, 8, map[string]int{
			"DescribeSecret": 2, "GetSecretValue": 4, "PutSecretValue": 1, "UpdateSecretVersionStage": 1,
		}},
		{"set reads current", usesCurrent, 9, map[string]int{
			"DescribeSecret": 2, "GetSecretValue": 5, "PutSecretValue": 1, "UpdateSecretVersionStage": 1,
		}},
	}
	for _, tr := range transports {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				hs := newHarness(t, tr, tc.rot, localsm.Options{}, nil)
				arn := seed(t, hs.fake, localsm.Secret{
					Name:     "db/count",
					Versions: []localsm.Version{{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}}},
				})
				hs.fake.ResetCalls()
				if _, err := hs.rotate(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(versionNew)}); err != nil {
					t.Fatalf("rotation: %v", err)
				}
				if n := len(hs.steps()); n != 4 {
					t.Fatalf("%d Handle calls, want 4", n)
				}
				got := hs.fake.Calls()
				// RotateSecret is the test starting the rotation, not the
				// function.
				if got["RotateSecret"] != 1 {
					t.Errorf("RotateSecret called %d times, want 1", got["RotateSecret"])
				}
				delete(got, "RotateSecret")
				total := 0
				for _, n := range got {
					total += n
				}
				if total > tc.max {
					t.Errorf("a complete rotation made %d Secrets Manager calls, want at most %d", total, tc.max)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("calls per operation (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// BenchmarkRotation measures one complete rotation (four steps) driven by
// the fake, with the Handler talking to it in memory or through the real
// SDK over loopback HTTP, and reports the Secrets Manager calls made per
// rotation.
func BenchmarkRotation(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			clock := localsm.NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			hs := newHarness(b, tr, &testRotator{}, localsm.Options{Clock: clock}, func(io.Writer) slog.Handler { return slog.DiscardHandler })
			arn := seed(b, hs.fake, localsm.Secret{
				Name:     "db/bench",
				Versions: []localsm.Version{{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}}},
			})
			ctx := context.Background()
			hs.fake.ResetCalls()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Past 24 h, so the fake prunes deprecated versions and
				// every iteration sees a secret of the same size.
				clock.Advance(25 * time.Hour)
				if _, err := hs.fake.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn)}); err != nil {
					b.Fatalf("rotation %d: %v", i, err)
				}
			}
			b.StopTimer()
			calls := hs.fake.Calls()
			total := 0
			for op, n := range calls {
				if op != "RotateSecret" {
					total += n
				}
			}
			b.ReportMetric(float64(total)/float64(b.N), "calls/rotation")
		})
	}
}

// --- idempotency ---------------------------------------------------------------

// TestStepsReplayed runs every step twice in a row: the replay succeeds and
// changes nothing. Then the whole rotation is re-run with the same token and
// a new RotationToken, as the service may do: every step is a no-op.
func TestStepsReplayed(t *testing.T) {
	f := localsm.New(localsm.Options{Clock: localsm.NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))})
	rot := &finishingRotator{testRotator: &testRotator{}}
	h := newHandler(t, f, rot)
	arn := seedRotating(t, f, "db/replay", currentValue)

	for _, step := range rotation.Steps() {
		if err := handle(t, h, event(step, arn, versionNew, testRotationToken)); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		before, writes, counts := snapshot(t, f, arn), writeCalls(f), rot.counts()
		if err := handle(t, h, event(step, arn, versionNew, testRotationToken)); err != nil {
			t.Errorf("%s replayed: %v", step, err)
		}
		if diff := cmp.Diff(before, snapshot(t, f, arn)); diff != "" {
			t.Errorf("%s replayed changed the secret (-before +after):\n%s", step, diff)
		}
		if diff := cmp.Diff(writes, writeCalls(f)); diff != "" {
			t.Errorf("%s replayed made write calls (-before +after):\n%s", step, diff)
		}
		if step == rotation.StepCreate && rot.counts()[0] != counts[0] {
			t.Errorf("createSecret replayed called Rotator.Create again")
		}
	}
	wantLabels := map[string][]string{versionOld: {"AWSPREVIOUS"}, versionNew: {"AWSCURRENT", "AWSPENDING"}}
	if diff := cmp.Diff(wantLabels, labels(t, f, arn)); diff != "" {
		t.Errorf("labels after the steps (-want +got):\n%s", diff)
	}

	t.Run("rotation re-run after success", func(t *testing.T) {
		for _, removePending := range []bool{false, true} {
			if removePending {
				// The service removes AWSPENDING after success.
				if _, err := f.UpdateSecretVersionStage(t.Context(), &secretsmanager.UpdateSecretVersionStageInput{
					SecretId: aws.String(arn), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(versionNew),
				}); err != nil {
					t.Fatal(err)
				}
			}
			before, writes, counts := snapshot(t, f, arn), writeCalls(f), rot.counts()
			finishes := rot.finishes.Load()
			for _, step := range rotation.Steps() {
				if err := handle(t, h, event(step, arn, versionNew, "another-rotation-token-0000000000000000")); err != nil {
					t.Errorf("AWSPENDING removed=%v: %s re-run: %v", removePending, step, err)
				}
			}
			if diff := cmp.Diff(before, snapshot(t, f, arn)); diff != "" {
				t.Errorf("AWSPENDING removed=%v: re-run changed the secret (-before +after):\n%s", removePending, diff)
			}
			if diff := cmp.Diff(writes, writeCalls(f)); diff != "" {
				t.Errorf("AWSPENDING removed=%v: re-run made write calls (-before +after):\n%s", removePending, diff)
			}
			if diff := cmp.Diff(counts, rot.counts()); diff != "" {
				t.Errorf("AWSPENDING removed=%v: re-run called Create/Set/Test (-before +after):\n%s", removePending, diff)
			}
			// The Finisher is called on every replay of finishSecret, by
			// contract.
			if got := rot.finishes.Load() - finishes; got != 1 {
				t.Errorf("AWSPENDING removed=%v: Finish called %d times on the re-run, want 1", removePending, got)
			}
		}
	})
}

// TestCreateNeverRegenerates: once a pending value is stored, no replay of
// createSecret calls Rotator.Create again or changes the value, whether the
// replay is direct or a whole rotation retried by the service after a later
// step failed.
func TestCreateNeverRegenerates(t *testing.T) {
	t.Run("direct replays", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		rot := &testRotator{}
		h := newHandler(t, f, rot)
		arn := seedRotating(t, f, "db/create", currentValue)
		var stored string
		for i := range 3 {
			if err := handle(t, h, event(rotation.StepCreate, arn, versionNew, testRotationToken)); err != nil {
				t.Fatalf("createSecret #%d: %v", i+1, err)
			}
			got := storedString(t, f, arn, versionNew)
			if i == 0 {
				stored = got
			} else if got != stored {
				t.Errorf("createSecret #%d changed the pending value", i+1)
			}
		}
		if n := rot.creates.Load(); n != 1 {
			t.Errorf("Rotator.Create called %d times over 3 createSecret calls, want 1", n)
		}
		if n := f.Calls()["PutSecretValue"]; n != 1 {
			t.Errorf("PutSecretValue called %d times, want 1", n)
		}
	})
	for _, tr := range transports {
		t.Run("retried rotation/"+tr.name, func(t *testing.T) {
			var failed atomic.Bool
			var tested []string
			var mu sync.Mutex
			rot := &testRotator{test: func(_ context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
				pw, err := req.Pending.Get("password")
				if err != nil {
					return nil, err
				}
				mu.Lock()
				tested = append(tested, pw)
				mu.Unlock()
				if failed.CompareAndSwap(false, true) {
					return nil, errors.New("database not reachable yet")
				}
				return &rotation.TestResponse{}, nil
			}}
			hs := newHarness(t, tr, rot, localsm.Options{RotationAttempts: 3}, nil)
			arn := seed(t, hs.fake, localsm.Secret{
				Name:     "db/retried",
				Versions: []localsm.Version{{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}}},
			})
			r, err := hs.rotate(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(versionNew)})
			if err != nil {
				t.Fatalf("rotation: %v", err)
			}
			if n := r.Attempts(); n != 2 {
				t.Errorf("rotation took %d attempts, want 2", n)
			}
			if n := rot.creates.Load(); n != 1 {
				t.Errorf("Rotator.Create called %d times over 2 attempts, want 1", n)
			}
			final := decodeFields(t, storedString(t, hs.fake, arn, versionNew))["password"]
			mu.Lock()
			defer mu.Unlock()
			if len(tested) != 2 || tested[0] != tested[1] || tested[0] != final {
				t.Errorf("the attempts tested different values or not the stored one")
			}
			// With StrictRotationToken, the second attempt (new
			// RotationToken) must accept the value stored in the first.
			if len(hs.rotationTokens()) != 2 {
				t.Errorf("want two attempts with distinct RotationTokens, got %d tokens", len(hs.rotationTokens()))
			}
		})
	}
}

// TestCreateConcurrent runs two createSecret invocations for the same
// version at the same time, both past the "nothing stored yet" check: both
// succeed and exactly one value is stored.
func TestCreateConcurrent(t *testing.T) {
	f := localsm.New(localsm.Options{})
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	var made sync.Map
	rot := &testRotator{create: func(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		resp, err := createPassword(ctx, req)
		if err == nil {
			s, _ := resp.Pending.SecretString()
			made.Store(s, true)
		}
		return resp, err
	}}
	h := newHandler(t, f, rot)
	arn := seedRotating(t, f, "db/concurrent", currentValue)

	errs := make(chan error, 2)
	for range 2 {
		go func() {
			errs <- h.Handle(context.Background(), event(rotation.StepCreate, arn, versionNew, testRotationToken))
		}()
	}
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatal("the two createSecret invocations did not both reach Rotator.Create")
		}
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent createSecret: %v", err)
		}
	}
	stored := storedString(t, f, arn, versionNew)
	if _, ok := made.Load(stored); !ok {
		t.Errorf("stored pending value is not one of the values Create returned")
	}
	if n := rot.creates.Load(); n != 2 {
		t.Errorf("Rotator.Create called %d times, want 2 (both raced past the check)", n)
	}
	// The stored value is the pending value from now on.
	var setSaw string
	rot.set = func(_ context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
		setSaw, _ = req.Pending.SecretString()
		return &rotation.SetResponse{}, nil
	}
	if err := handle(t, h, event(rotation.StepSet, arn, versionNew, "")); err != nil {
		t.Fatalf("setSecret: %v", err)
	}
	if setSaw != stored {
		t.Errorf("setSecret saw a different pending value from the stored one")
	}
	want := map[string][]string{versionOld: {"AWSCURRENT"}, versionNew: {"AWSPENDING"}}
	if diff := cmp.Diff(want, labels(t, f, arn)); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// --- finishSecret ---------------------------------------------------------------

// recordingClient records the UpdateSecretVersionStage calls a Handler
// makes.
type recordingClient struct {
	rotation.Client
	mu      sync.Mutex
	updates []secretsmanager.UpdateSecretVersionStageInput
}

func (c *recordingClient) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	c.mu.Lock()
	c.updates = append(c.updates, *in)
	c.mu.Unlock()
	return c.Client.UpdateSecretVersionStage(ctx, in, optFns...)
}

type updateCall struct{ Stage, MoveTo, RemoveFrom string }

func (c *recordingClient) calls() []updateCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []updateCall
	for _, in := range c.updates {
		out = append(out, updateCall{aws.ToString(in.VersionStage), aws.ToString(in.MoveToVersionId), aws.ToString(in.RemoveFromVersionId)})
	}
	return out
}

// randomID returns a random version-4 UUID.
func randomID(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// TestFinishMovesCurrentFromItsHolder seeds a secret with many deprecated
// and labelled versions: RemoveFromVersionId must be the version that holds
// AWSCURRENT, whatever the map order, and AWSPENDING is never touched.
func TestFinishMovesCurrentFromItsHolder(t *testing.T) {
	for round := range 20 {
		f := localsm.New(localsm.Options{})
		rc := &recordingClient{Client: f}
		rot := &finishingRotator{testRotator: &testRotator{}}
		h := newHandler(t, rc, rot)

		// Fresh random ids each round, so no order of ids or of map
		// iteration can make a wrong choice pass every round.
		var versions []localsm.Version
		for i := range 30 {
			versions = append(versions, localsm.Version{ID: randomID(t), SecretString: aws.String(fmt.Sprintf(`{"password":"old-%d"}`, i))})
		}
		prev, custom, cur, pend, other := randomID(t), randomID(t), randomID(t), randomID(t), randomID(t)
		versions = append(versions,
			localsm.Version{ID: prev, SecretString: aws.String(`{"password":"p"}`), Stages: []string{"AWSPREVIOUS"}},
			localsm.Version{ID: custom, SecretString: aws.String(`{"password":"c"}`), Stages: []string{"BLUE"}},
			localsm.Version{ID: cur, SecretString: aws.String(currentValue), Stages: []string{"GREEN", "AWSCURRENT"}},
			localsm.Version{ID: other, SecretString: aws.String(`{"password":"o"}`), Stages: []string{"RED", "YELLOW"}},
			localsm.Version{ID: pend, SecretString: aws.String(`{"username":"app","password":"new"}`), Stages: []string{"AWSPENDING", "CANARY"}},
		)
		arn := seed(t, f, localsm.Secret{Name: "db/many", Versions: versions})

		if err := handle(t, h, event(rotation.StepFinish, arn, pend, testRotationToken)); err != nil {
			t.Fatalf("round %d: finishSecret: %v", round, err)
		}
		if diff := cmp.Diff([]updateCall{{"AWSCURRENT", pend, cur}}, rc.calls()); diff != "" {
			t.Fatalf("round %d: UpdateSecretVersionStage calls (-want +got):\n%s", round, diff)
		}
		want := map[string][]string{
			custom: {"BLUE"},
			cur:    {"AWSPREVIOUS", "GREEN"},
			other:  {"RED", "YELLOW"},
			pend:   {"AWSCURRENT", "AWSPENDING", "CANARY"},
		}
		if diff := cmp.Diff(want, labels(t, f, arn)); diff != "" {
			t.Fatalf("round %d: labels after finishSecret (-want +got):\n%s", round, diff)
		}
	}
}

func TestFinish(t *testing.T) {
	t.Run("already current is a no-op", func(t *testing.T) {
		for _, stages := range [][]string{{"AWSCURRENT", "AWSPENDING"}, {"AWSCURRENT"}} {
			f := localsm.New(localsm.Options{})
			rc := &recordingClient{Client: f}
			rot := &finishingRotator{testRotator: &testRotator{}}
			h := newHandler(t, rc, rot)
			arn := seed(t, f, localsm.Secret{Name: "db/done", Versions: []localsm.Version{
				{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSPREVIOUS"}},
				{ID: versionNew, SecretString: aws.String(currentValue), Stages: stages},
			}})
			before := snapshot(t, f, arn)
			if err := handle(t, h, event(rotation.StepFinish, arn, versionNew, testRotationToken)); err != nil {
				t.Errorf("stages %v: finishSecret: %v", stages, err)
			}
			if n := f.Calls()["UpdateSecretVersionStage"]; n != 0 {
				t.Errorf("stages %v: UpdateSecretVersionStage called %d times, want 0", stages, n)
			}
			if diff := cmp.Diff(before, snapshot(t, f, arn)); diff != "" {
				t.Errorf("stages %v: secret changed (-before +after):\n%s", stages, diff)
			}
			if n := rot.finishes.Load(); n != 1 {
				t.Errorf("stages %v: Finish called %d times, want 1", stages, n)
			}
		}
	})

	t.Run("hook after the move and on replays", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		rot := &finishingRotator{testRotator: &testRotator{}}
		h := newHandler(t, f, rot)
		arn := seed(t, f, localsm.Secret{Name: "db/hook", Versions: []localsm.Version{
			{ID: versionPrev, SecretString: aws.String(`{"username":"app","password":"` + prevPassword + `"}`), Stages: []string{"AWSPREVIOUS"}},
			{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}},
			{ID: versionNew, SecretString: aws.String(`{"username":"app","password":"brand-new"}`), Stages: []string{"AWSPENDING"}},
		}})
		rot.finish = func(ctx context.Context, req *rotation.FinishRequest) (*rotation.FinishResponse, error) {
			if req.SecretARN != arn || req.VersionID != versionNew {
				t.Errorf("FinishRequest names %s %s, want %s %s", req.SecretARN, req.VersionID, arn, versionNew)
			}
			if !slices.Contains(labels(t, f, arn)[versionNew], "AWSCURRENT") {
				t.Errorf("Finish called before AWSCURRENT moved")
			}
			cur, err := req.Current(ctx)
			if err != nil || cur.VersionID() != versionNew {
				t.Errorf("FinishRequest.Current = %v, %v; want version %s", cur, err, versionNew)
			}
			prev, err := req.Previous(ctx)
			if err != nil || prev == nil || prev.VersionID() != versionOld {
				t.Errorf("FinishRequest.Previous = %v, %v; want version %s (the one just replaced)", prev, err, versionOld)
			}
			return &rotation.FinishResponse{}, nil
		}
		for i := range 3 {
			if err := handle(t, h, event(rotation.StepFinish, arn, versionNew, "")); err != nil {
				t.Errorf("finishSecret #%d: %v", i+1, err)
			}
		}
		if n := rot.finishes.Load(); n != 3 {
			t.Errorf("Finish called %d times over 3 finishSecret calls, want 3", n)
		}
		if n := f.Calls()["UpdateSecretVersionStage"]; n != 1 {
			t.Errorf("UpdateSecretVersionStage called %d times, want 1", n)
		}
	})

	t.Run("hook failure fails the step and is retried", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		var fail atomic.Bool
		fail.Store(true)
		errRevoke := errors.New("provider refused to revoke the old key")
		rot := &finishingRotator{testRotator: &testRotator{}, finish: func(context.Context, *rotation.FinishRequest) (*rotation.FinishResponse, error) {
			if fail.Load() {
				return nil, errRevoke
			}
			return &rotation.FinishResponse{}, nil
		}}
		h := newHandler(t, f, rot)
		arn := seed(t, f, localsm.Secret{Name: "db/hookfail", Versions: []localsm.Version{
			{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}},
			{ID: versionNew, SecretString: aws.String(currentValue), Stages: []string{"AWSPENDING"}},
		}})
		err := handle(t, h, event(rotation.StepFinish, arn, versionNew, ""))
		if !errors.Is(err, errRevoke) {
			t.Errorf("finishSecret with a failing hook = %v, want it to wrap %v", err, errRevoke)
		}
		fail.Store(false)
		if err := handle(t, h, event(rotation.StepFinish, arn, versionNew, "")); err != nil {
			t.Errorf("finishSecret replayed: %v", err)
		}
		if n := rot.finishes.Load(); n != 2 {
			t.Errorf("Finish called %d times, want 2", n)
		}
		if n := f.Calls()["UpdateSecretVersionStage"]; n != 1 {
			t.Errorf("UpdateSecretVersionStage called %d times, want 1", n)
		}
	})
}

// --- testSecret alone (RotateImmediately=false) -----------------------------

func TestRotateImmediatelyFalse(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			var sawVersion string
			var sawValue *rotation.Secret
			rot := &testRotator{test: func(_ context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
				sawVersion, sawValue = req.VersionID, req.Pending
				return &rotation.TestResponse{}, nil
			}}
			hs := newHarness(t, tr, rot, localsm.Options{}, nil)
			arn := seed(t, hs.fake, localsm.Secret{
				Name:     "db/test-only",
				Versions: []localsm.Version{{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}}},
			})
			_, err := hs.rotate(t.Context(), &secretsmanager.RotateSecretInput{
				SecretId:           aws.String(arn),
				ClientRequestToken: aws.String(versionNew),
				RotateImmediately:  aws.Bool(false),
			})
			if err != nil {
				t.Fatalf("test rotation: %v", err)
			}
			if diff := cmp.Diff([]string{"testSecret"}, hs.steps()); diff != "" {
				t.Errorf("steps invoked (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([3]int64{0, 0, 1}, rot.counts()); diff != "" {
				t.Errorf("Rotator Create/Set/Test calls (-want +got):\n%s", diff)
			}
			if sawVersion != versionNew {
				t.Errorf("Test got version %q, want %q", sawVersion, versionNew)
			}
			if sawValue == nil || !sawValue.Equal(rotation.NewString(currentValue)) {
				t.Errorf("Test did not get a copy of the current value")
			}
			if diff := cmp.Diff(map[string][]string{versionOld: {"AWSCURRENT"}}, labels(t, hs.fake, arn)); diff != "" {
				t.Errorf("labels after the test rotation (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{"PutSecretValue": 0, "UpdateSecretVersionStage": 0}, writeCalls(hs.fake)); diff != "" {
				t.Errorf("write calls (-want +got):\n%s", diff)
			}
		})
	}
}

// --- lazy values in SetRequest ----------------------------------------------------

func TestSetRequestLazy(t *testing.T) {
	withPrev := []localsm.Version{
		{ID: versionPrev, SecretString: aws.String(`{"username":"app","password":"` + prevPassword + `"}`), Stages: []string{"AWSPREVIOUS"}},
		{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}},
		{ID: versionNew, SecretString: aws.String(`{"username":"app","password":"pending"}`), Stages: []string{"AWSPENDING"}},
	}
	noPrev := withPrev[1:]
	cases := []struct {
		name     string
		versions []localsm.Version
		set      func(context.Context, *testing.T, *rotation.SetRequest)
		gets     int // GetSecretValue calls in setSecret
	}{
		{"pending only", withPrev, func(context.Context, *testing.T, *rotation.SetRequest) {}, 1},
		{"previous absent", noPrev, func(ctx context.Context, t *testing.T, req *rotation.SetRequest) {
			p, err := req.Previous(ctx)
			if p != nil || err != nil {
				t.Errorf("Previous() = %v, %v; want nil, nil", p, err)
			}
		}, 2},
		{"previous read once", withPrev, func(ctx context.Context, t *testing.T, req *rotation.SetRequest) {
			for range 3 {
				p, err := req.Previous(ctx)
				if err != nil || p == nil || p.VersionID() != versionPrev {
					t.Errorf("Previous() = %v, %v; want version %s", p, err, versionPrev)
				}
				if pw, _ := p.Get("password"); pw != prevPassword {
					t.Errorf("Previous() password is not the AWSPREVIOUS one")
				}
			}
		}, 2},
		{"current", noPrev, func(ctx context.Context, t *testing.T, req *rotation.SetRequest) {
			c, err := req.Current(ctx)
			if err != nil || c == nil || c.VersionID() != versionOld || !slices.Contains(c.Stages(), "AWSCURRENT") {
				t.Errorf("Current() = %v, %v; want version %s", c, err, versionOld)
			}
			if req.Pending.VersionID() != versionNew || !slices.Contains(req.Pending.Stages(), "AWSPENDING") {
				t.Errorf("Pending = %v, want version %s labelled AWSPENDING", req.Pending, versionNew)
			}
		}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := localsm.New(localsm.Options{})
			rot := &testRotator{set: func(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
				tc.set(ctx, t, req)
				return &rotation.SetResponse{}, nil
			}}
			h := newHandler(t, f, rot)
			arn := seed(t, f, localsm.Secret{Name: "db/lazy", Versions: tc.versions})
			f.ResetCalls()
			if err := handle(t, h, event(rotation.StepSet, arn, versionNew, "")); err != nil {
				t.Fatalf("setSecret: %v", err)
			}
			if diff := cmp.Diff(map[string]int{"GetSecretValue": tc.gets}, f.Calls()); diff != "" {
				t.Errorf("calls in setSecret (-want +got):\n%s", diff)
			}
		})
	}
}

// --- bad input ------------------------------------------------------------

// TestBadInput feeds the Handler malformed events and unusable secrets.
// Each must fail with the right sentinel, as a *StepError naming the step,
// secret and version, without a write call and without a panic; the error
// text never contains a secret value or the RotationToken.
func TestBadInput(t *testing.T) {
	const (
		name      = "db/bad"
		otherName = "db/other"
		otherNew  = "d0000000-0000-4000-8000-000000000004"
		unknownID = "e0000000-0000-4000-8000-000000000005"
	)
	seedBasic := func(t *testing.T, f *localsm.Fake, value *string, bin []byte) string {
		return seed(t, f, localsm.Secret{
			Name: name,
			Versions: []localsm.Version{
				{ID: versionPrev, SecretString: aws.String(`{"username":"app","password":"` + prevPassword + `"}`), Stages: []string{"AWSPREVIOUS"}},
				{ID: versionOld, SecretString: value, SecretBinary: bin, Stages: []string{"AWSCURRENT"}},
				{ID: versionNew, Stages: []string{"AWSPENDING"}},
				{ID: "f0000000-0000-4000-8000-000000000006", SecretString: aws.String(`{"username":"app","password":"custom"}`), Stages: []string{"CUSTOM"}},
			},
		})
	}
	nilResponse := func(r *rotation.CreateResponse) *testRotator {
		return &testRotator{create: func(context.Context, *rotation.CreateRequest) (*rotation.CreateResponse, error) { return r, nil }}
	}
	allSteps := rotation.Steps()
	long := func(n int, c byte) string { return strings.Repeat(string(c), n) }

	cases := []struct {
		name     string
		steps    []rotation.Step
		value    *string // AWSCURRENT value; default currentValue
		binary   []byte
		rotation string // "": enabled; "off": RotationEnabled false; "unset": never configured
		rot      *testRotator
		// mutate builds the event from the valid one.
		mutate   func(ev *events.SecretsManagerSecretRotationEvent)
		want     error
		wantStep func(rotation.Step) rotation.Step // default: the step
		noCalls  bool                              // rejected before any API call
	}{
		// Malformed events.
		{name: "empty Step", steps: []rotation.Step{""}, want: rotation.ErrUnknownStep, noCalls: true},
		{name: "unknown Step", steps: []rotation.Step{"rotateSecret"}, want: rotation.ErrUnknownStep, noCalls: true},
		{name: "snake case create_secret", steps: []rotation.Step{"create_secret"}, want: rotation.ErrUnknownStep, noCalls: true},
		{name: "Step in another case", steps: []rotation.Step{"CreateSecret", "FINISHSECRET"}, want: rotation.ErrUnknownStep, noCalls: true},
		{name: "Step with space", steps: []rotation.Step{" createSecret"}, want: rotation.ErrUnknownStep, noCalls: true},
		{name: "empty SecretId", mutate: func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "" }, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "over-long SecretId", mutate: func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = long(2049, 'a') }, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "empty ClientRequestToken", mutate: func(ev *events.SecretsManagerSecretRotationEvent) { ev.ClientRequestToken = "" }, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "short ClientRequestToken", mutate: func(ev *events.SecretsManagerSecretRotationEvent) { ev.ClientRequestToken = long(31, 'a') }, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "over-long ClientRequestToken", mutate: func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = long(65, 'a')
		}, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "ClientRequestToken with a space", mutate: func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = "b0000000-0000-4000-8000 000000000002"
		}, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "ClientRequestToken not ASCII", mutate: func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = "b0000000-0000-4000-8000-00000000000é"
		}, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "short RotationToken", mutate: func(ev *events.SecretsManagerSecretRotationEvent) { ev.RotationToken = long(35, 'r') }, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "over-long RotationToken", mutate: func(ev *events.SecretsManagerSecretRotationEvent) { ev.RotationToken = long(257, 'r') }, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "RotationToken with underscore", mutate: func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.RotationToken = "rtok0000_aaaa-4bbb-8ccc-dddddddddddd-never-log-me"
		}, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "RotationToken with slash and plus", mutate: func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.RotationToken = "rtok0000/aaaa+4bbb-8ccc-dddddddddddd-never-log-me"
		}, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "RotationToken with newline", mutate: func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.RotationToken = "rtok0000-aaaa-4bbb-8ccc-dddddddddddd\nnever-log-me"
		}, want: rotation.ErrInvalidEvent, noCalls: true},
		{name: "RotationToken not ASCII", mutate: func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.RotationToken = "rtok0000-aaaa-4bbb-8ccc-ddddddddddd\u00e9-never-log-me"
		}, want: rotation.ErrInvalidEvent, noCalls: true},

		// Unusable secret values (createSecret reads AWSCURRENT).
		{name: "secret not JSON", steps: []rotation.Step{rotation.StepCreate}, value: aws.String(oldPassword), want: rotation.ErrInvalidSecret},
		{name: "secret a JSON array", steps: []rotation.Step{rotation.StepCreate}, value: aws.String(`["` + oldPassword + `"]`), want: rotation.ErrInvalidSecret},
		{name: "required field missing", steps: []rotation.Step{rotation.StepCreate}, value: aws.String(`{"password":"` + oldPassword + `"}`), want: rotation.ErrInvalidSecret},
		{name: "required field null", steps: []rotation.Step{rotation.StepCreate}, value: aws.String(`{"username":null,"password":"` + oldPassword + `"}`), want: rotation.ErrInvalidSecret},
		{name: "binary secret", steps: []rotation.Step{rotation.StepCreate}, value: nil, binary: []byte(oldPassword), want: rotation.ErrInvalidSecret},

		// Events that do not match the secret.
		{name: "token of another secret", mutate: func(ev *events.SecretsManagerSecretRotationEvent) { ev.ClientRequestToken = otherNew }, want: rotation.ErrVersionNotFound},
		{name: "unknown version", mutate: func(ev *events.SecretsManagerSecretRotationEvent) { ev.ClientRequestToken = unknownID }, want: rotation.ErrVersionNotFound},
		{name: "version is AWSPREVIOUS", mutate: func(ev *events.SecretsManagerSecretRotationEvent) { ev.ClientRequestToken = versionPrev }, want: rotation.ErrNotPending},
		{name: "version has a custom label only", mutate: func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = "f0000000-0000-4000-8000-000000000006"
		}, want: rotation.ErrNotPending},
		{name: "set before create", steps: []rotation.Step{rotation.StepSet, rotation.StepTest}, want: rotation.ErrVersionNotFound},
		// setSecret and testSecret do not call DescribeSecret (see the
		// call budget), so only createSecret and finishSecret see it.
		{name: "rotation disabled", steps: []rotation.Step{rotation.StepCreate, rotation.StepFinish}, rotation: "off", want: rotation.ErrRotationDisabled},
		{name: "rotation never configured", steps: []rotation.Step{rotation.StepCreate, rotation.StepFinish}, rotation: "unset", want: rotation.ErrRotationDisabled},

		// Rotators that return nothing usable.
		{name: "nil CreateResponse", steps: []rotation.Step{rotation.StepCreate}, rot: nilResponse(nil), want: rotation.ErrInvalidSecret},
		{name: "nil Pending", steps: []rotation.Step{rotation.StepCreate}, rot: nilResponse(&rotation.CreateResponse{}), want: rotation.ErrInvalidSecret},
		{name: "empty string Pending", steps: []rotation.Step{rotation.StepCreate}, rot: nilResponse(&rotation.CreateResponse{Pending: rotation.NewString("")}), want: rotation.ErrInvalidSecret},
		{name: "empty binary Pending", steps: []rotation.Step{rotation.StepCreate}, rot: nilResponse(&rotation.CreateResponse{Pending: rotation.NewBinary(nil)}), want: rotation.ErrInvalidSecret},
		{name: "zero Secret Pending", steps: []rotation.Step{rotation.StepCreate}, rot: nilResponse(&rotation.CreateResponse{Pending: &rotation.Secret{}}), want: rotation.ErrInvalidSecret},
	}
	for _, tc := range cases {
		steps := tc.steps
		if steps == nil {
			steps = allSteps
		}
		for _, step := range steps {
			t.Run(tc.name+"/"+string(step), func(t *testing.T) {
				f := localsm.New(localsm.Options{})
				rot := tc.rot
				if rot == nil {
					rot = &testRotator{}
				}
				logs := &lockedBuffer{}
				h := newHandler(t, f, rot, func(o *rotation.Options) {
					o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				})
				value := tc.value
				if value == nil && tc.binary == nil {
					value = aws.String(currentValue)
				}
				arn := seedBasic(t, f, value, tc.binary)
				if tc.rotation != "" {
					// seed defaults RotationEnabled to true: reseed the
					// record as stored, with rotation off or unset.
					s, _ := f.Secret(name)
					s.RotationEnabled = nil
					if tc.rotation == "off" {
						s.RotationEnabled = aws.Bool(false)
					}
					if err := f.Seed(s); err != nil {
						t.Fatal(err)
					}
				}
				// Another secret, whose pending version the "token of
				// another secret" case names.
				seed(t, f, localsm.Secret{Name: otherName, Versions: []localsm.Version{
					{ID: "d0000000-0000-4000-8000-000000000003", SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}},
					{ID: otherNew, SecretString: aws.String(currentValue), Stages: []string{"AWSPENDING"}},
				}})
				ev := event(step, arn, versionNew, testRotationToken)
				if tc.mutate != nil {
					tc.mutate(&ev)
				}
				f.ResetCalls()
				before := snapshot(t, f, arn)

				err := handle(t, h, ev)

				if !errors.Is(err, tc.want) {
					t.Errorf("Handle = %v, want an error wrapping %q", err, tc.want)
				}
				var se *rotation.StepError
				if !errors.As(err, &se) {
					t.Fatalf("Handle error %T is not a *rotation.StepError", err)
				}
				wantStep := step
				if _, perr := rotation.ParseStep(string(step)); perr != nil {
					wantStep = ""
				}
				wantSE := rotation.StepError{Step: wantStep, SecretARN: truncated(ev.SecretID, 2048), VersionID: truncated(ev.ClientRequestToken, 64)}
				gotSE := rotation.StepError{Step: se.Step, SecretARN: se.SecretARN, VersionID: se.VersionID}
				if diff := cmp.Diff(wantSE, gotSE, cmp.Comparer(func(a, b error) bool { return true })); diff != "" {
					t.Errorf("StepError fields (-want +got):\n%s", diff)
				}
				if se.Err == nil {
					t.Errorf("StepError has no cause")
				}
				if diff := cmp.Diff(map[string]int{"PutSecretValue": 0, "UpdateSecretVersionStage": 0}, writeCalls(f)); diff != "" {
					t.Errorf("write calls (-want +got):\n%s", diff)
				}
				if tc.noCalls {
					if n := f.TotalCalls(); n != 0 {
						t.Errorf("a malformed event made %d API calls (%v), want none", n, f.Calls())
					}
				}
				if diff := cmp.Diff(before, snapshot(t, f, arn)); diff != "" {
					t.Errorf("secret changed (-before +after):\n%s", diff)
				}
				if tc.noCalls && rot.counts() != [3]int64{} {
					t.Errorf("Rotator called (Create/Set/Test %v) for a rejected event", rot.counts())
				}
				for _, secret := range []string{oldPassword, prevPassword, testRotationToken, "never-log-me"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error text contains %q: %s", secret, err)
					}
					if strings.Contains(logs.String(), secret) {
						t.Errorf("log contains %q: %s", secret, logs.String())
					}
				}
				if tc.name == "required field missing" && !strings.Contains(err.Error(), `"username"`) {
					t.Errorf("error %q does not name the missing field", err)
				}
			})
		}
	}
}

func truncated(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// TestTestFailure: a failing Rotator.Test fails testSecret with
// ErrTestFailed and the Rotator's error, and nothing is promoted.
func TestTestFailure(t *testing.T) {
	errLogin := errors.New("login refused")
	f := localsm.New(localsm.Options{})
	rot := &testRotator{test: func(context.Context, *rotation.TestRequest) (*rotation.TestResponse, error) { return nil, errLogin }}
	h := newHandler(t, f, rot)
	arn := seed(t, f, localsm.Secret{Name: "db/testfail", Versions: []localsm.Version{
		{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}},
		{ID: versionNew, SecretString: aws.String(currentValue), Stages: []string{"AWSPENDING"}},
	}})
	err := handle(t, h, event(rotation.StepTest, arn, versionNew, ""))
	if !errors.Is(err, rotation.ErrTestFailed) || !errors.Is(err, errLogin) {
		t.Errorf("testSecret = %v, want ErrTestFailed wrapping %v", err, errLogin)
	}
	var se *rotation.StepError
	if !errors.As(err, &se) || se.Step != rotation.StepTest {
		t.Errorf("testSecret error %v is not a StepError for testSecret", err)
	}
}

// TestNoCurrent: createSecret on a secret without an AWSCURRENT value
// fails with ErrNoCurrent.
func TestNoCurrent(t *testing.T) {
	f := localsm.New(localsm.Options{})
	h := newHandler(t, f, &testRotator{})
	arn := seed(t, f, localsm.Secret{Name: "db/nocurrent", Versions: []localsm.Version{
		{ID: versionNew, Stages: []string{"AWSPENDING"}},
	}})
	err := handle(t, h, event(rotation.StepCreate, arn, versionNew, ""))
	if !errors.Is(err, rotation.ErrNoCurrent) {
		t.Errorf("createSecret without AWSCURRENT = %v, want ErrNoCurrent", err)
	}
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("createSecret without AWSCURRENT = %v, want it to keep the service's ResourceNotFoundException", err)
	}
	if n := f.Calls()["PutSecretValue"]; n != 0 {
		t.Errorf("PutSecretValue called %d times", n)
	}
}

// TestUnknownSecret: every step on a secret that does not exist fails with
// the service's ResourceNotFoundException, matched with errors.As.
func TestUnknownSecret(t *testing.T) {
	for _, tr := range transports {
		for _, step := range rotation.Steps() {
			t.Run(tr.name+"/"+string(step), func(t *testing.T) {
				f := localsm.New(localsm.Options{})
				client, _ := tr.setup(t, f)
				h := newHandler(t, client, &testRotator{})
				err := handle(t, h, event(step, "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf", versionNew, testRotationToken))
				var nf *types.ResourceNotFoundException
				if !errors.As(err, &nf) {
					t.Errorf("Handle = %v, want a ResourceNotFoundException", err)
				}
				if err != nil && strings.Contains(err.Error(), testRotationToken) {
					t.Errorf("error contains the RotationToken: %v", err)
				}
			})
		}
	}
}

func TestNew(t *testing.T) {
	f := localsm.New(localsm.Options{})
	if _, err := rotation.New(nil, &testRotator{}); err == nil {
		t.Errorf("New(nil client) succeeded")
	}
	if _, err := rotation.New(f, nil); err == nil {
		t.Errorf("New(nil rotator) succeeded")
	}
}

// --- nothing leaks into logs or errors -----------------------------------------------

// TestHandlerNeverLogsSecrets captures the Handler's log (JSON and text)
// during a successful and a failing rotation: no secret value and no
// RotationToken appears in any log line or returned error.
func TestHandlerNeverLogsSecrets(t *testing.T) {
	handlers := map[string]func(io.Writer) slog.Handler{
		"json": func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true})
		},
		"text": func(w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true})
		},
	}
	errProvider := errors.New("target service rejected the credential")
	scenarios := []struct {
		name    string
		rot     rotation.Rotator
		value   string
		success bool
	}{
		{"success", &finishingRotator{testRotator: &testRotator{}}, currentValue, true},
		{"test fails", &testRotator{test: func(context.Context, *rotation.TestRequest) (*rotation.TestResponse, error) { return nil, errProvider }}, currentValue, false},
		{"set fails", &testRotator{set: func(context.Context, *rotation.SetRequest) (*rotation.SetResponse, error) { return nil, errProvider }}, currentValue, false},
		{"value without username", &testRotator{}, `{"password":"` + oldPassword + `","host":"db"}`, false},
		{"value not JSON", &testRotator{}, oldPassword + "-not-json", false},
	}
	for _, tr := range transports {
		for hname, lh := range handlers {
			for _, sc := range scenarios {
				t.Run(tr.name+"/"+hname+"/"+sc.name, func(t *testing.T) {
					hs := newHarness(t, tr, sc.rot, localsm.Options{RotationAttempts: 2}, lh)
					arn := seed(t, hs.fake, localsm.Secret{
						Name: "db/leak",
						Versions: []localsm.Version{
							{ID: versionPrev, SecretString: aws.String(`{"username":"app","password":"` + prevPassword + `"}`), Stages: []string{"AWSPREVIOUS"}},
							{ID: versionOld, SecretString: aws.String(sc.value), Stages: []string{"AWSCURRENT"}},
						},
					})
					r, err := hs.rotate(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(versionNew)})
					if sc.success != (err == nil) {
						t.Fatalf("rotation error = %v, want success=%v", err, sc.success)
					}
					secrets := []string{oldPassword, prevPassword}
					if s, ok := hs.fake.Secret(arn); ok {
						if v, ok := s.Version(versionNew); ok && v.SecretString != nil {
							pw, _ := decodeFields(t, *v.SecretString)["password"].(string)
							if pw == "" {
								t.Fatalf("no new password stored")
							}
							secrets = append(secrets, pw, *v.SecretString)
						}
					}
					tokens := hs.rotationTokens()
					if len(tokens) == 0 || slices.Contains(tokens, "") {
						t.Fatalf("events carried no RotationToken: %q", tokens)
					}
					secrets = append(secrets, tokens...)

					logs := hs.logs.String()
					lines := strings.Split(strings.TrimSpace(logs), "\n")
					if len(lines) < len(hs.steps()) {
						t.Errorf("%d log lines for %d steps, want one per step:\n%s", len(lines), len(hs.steps()), logs)
					}
					var texts []string
					for _, e := range hs.errors() {
						texts = append(texts, e.Error())
					}
					if r != nil && r.Err() != nil {
						texts = append(texts, r.Err().Error())
					}
					if !sc.success && len(hs.errors()) == 0 {
						t.Errorf("failing rotation returned no error from the handler")
					}
					for _, s := range secrets {
						for i, line := range lines {
							if strings.Contains(line, s) {
								t.Errorf("log line %d contains a secret value or RotationToken %q:\n%s", i+1, s, line)
							}
						}
						for _, text := range texts {
							if strings.Contains(text, s) {
								t.Errorf("error contains a secret value or RotationToken %q: %s", s, text)
							}
						}
					}
					// Every line names the step, the secret and the
					// version.
					for _, line := range lines {
						for _, want := range []string{"step", arn, versionNew} {
							if !strings.Contains(line, want) {
								t.Errorf("log line does not contain %q: %s", want, line)
							}
						}
					}
				})
			}
		}
	}
}

// flakyTester fails its first n tests, like a replica that has not yet
// received a password change.
type flakyTester struct {
	passwordRotator
	mu    sync.Mutex
	fails int
	calls int
}

func (f *flakyTester) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fails {
		return nil, errors.New("replica has not caught up")
	}
	return &rotation.TestResponse{}, nil
}

func TestTestAttempts(t *testing.T) {
	for _, tt := range []struct {
		name            string
		fails, attempts int
		wantErr         bool
		wantCalls       int
	}{
		{"no retry by default", 1, 0, true, 1},
		{"retried until it passes", 2, 3, false, 3},
		{"gives up after the attempts", 5, 3, true, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			r := &flakyTester{fails: tt.fails}
			fake := localsm.New(localsm.Options{RotationAttempts: 1})
			h, err := rotation.New(fake, r, func(o *rotation.Options) {
				o.TestAttempts = tt.attempts
				o.TestBackoff = time.Millisecond
			})
			if err != nil {
				t.Fatal(err)
			}
			fake.SetInvoker(localsm.HandlerInvoker(h.Handle))
			if _, err := fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(`{"password":"initial-password"}`)}); err != nil {
				t.Fatal(err)
			}
			_, err = fake.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("s"), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")})
			if (err != nil) != tt.wantErr {
				t.Errorf("rotation error = %v, want error: %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, rotation.ErrTestFailed) {
				t.Errorf("rotation error = %v, want one wrapping ErrTestFailed", err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.calls != tt.wantCalls {
				t.Errorf("Test called %d times, want %d", r.calls, tt.wantCalls)
			}
		})
	}
}

// discardingRotator records what Discard is told was never stored.
type discardingRotator struct {
	passwordRotator
	mu        sync.Mutex
	discarded []string
}

func (d *discardingRotator) Discard(ctx context.Context, req *rotation.DiscardRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, _ := req.Discarded.Get("password")
	d.discarded = append(d.discarded, v)
	return nil
}

// TestCreateFailedWriteIsSettled checks how createSecret resolves a failed
// PutSecretValue: by rewriting the same value, then by reading what the
// version holds, and calling Discard only when the value can never land.
func TestCreateFailedWriteIsSettled(t *testing.T) {
	const tok = "33333333-3333-4333-8333-333333333333"
	for _, tt := range []struct {
		name        string
		faults      []rotationtest.Fault
		wantErr     bool
		wantDiscard int
	}{
		// The first write lands but its response is lost; the rewrite is
		// throttled. The read finds our value: success, nothing discarded.
		{"landed, then throttled", []rotationtest.Fault{rotationtest.Lose("PutSecretValue", 1), rotationtest.Fail("PutSecretValue", 2, rotationtest.ErrThrottling)}, false, 0},
		// Both writes refused, nothing stored: discarded.
		{"refused twice", []rotationtest.Fault{rotationtest.Fail("PutSecretValue", 0, rotationtest.ErrThrottling)}, true, 1},
		// Both writes end in a server fault: unknown, kept.
		{"server fault twice", []rotationtest.Fault{rotationtest.Fail("PutSecretValue", 0, rotationtest.ErrInternal)}, true, 0},
		// One failure: the rewrite settles it.
		{"one failure", []rotationtest.Fault{rotationtest.Fail("PutSecretValue", 1, rotationtest.ErrInternal)}, false, 0},
		// An unknown outcome, then a refusal: the first write may still
		// land, so nothing may be discarded.
		{"unknown, then refused", []rotationtest.Fault{rotationtest.Fail("PutSecretValue", 1, rotationtest.ErrInternal), rotationtest.Fail("PutSecretValue", 2, rotationtest.ErrThrottling)}, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			fake := localsm.New(localsm.Options{})
			if err := fake.Seed(localsm.Secret{
				Name: "s", RotationEnabled: aws.Bool(true),
				Versions: []localsm.Version{
					{ID: "11111111-1111-4111-8111-111111111111", SecretString: aws.String(`{"password":"initial-password"}`), Stages: []string{"AWSCURRENT"}},
					{ID: tok, Stages: []string{"AWSPENDING"}},
				},
			}); err != nil {
				t.Fatal(err)
			}
			fc := rotationtest.NewFaultClient(fake, tt.faults...)
			r := &discardingRotator{}
			h, err := rotation.New(fc, r)
			if err != nil {
				t.Fatal(err)
			}
			err = h.Handle(ctx, events.SecretsManagerSecretRotationEvent{Step: "createSecret", SecretID: "s", ClientRequestToken: tok})
			if (err != nil) != tt.wantErr {
				t.Errorf("createSecret error = %v, want error: %v", err, tt.wantErr)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.discarded) != tt.wantDiscard {
				t.Errorf("Discard called %d times, want %d", len(r.discarded), tt.wantDiscard)
			}
			s, _ := fake.Secret("s")
			v, _ := s.Version(tok)
			if !tt.wantErr && v.Placeholder() {
				t.Error("createSecret succeeded but the pending version holds no value")
			}
			for _, d := range r.discarded {
				if v.SecretString != nil && strings.Contains(*v.SecretString, d) {
					t.Error("Discard was told about the value that is stored")
				}
			}
		})
	}
}

// leakyRotator's Set and Test fail with errors that quote the passwords,
// as a careless driver might.
type leakyRotator struct{ passwordRotator }

func (leakyRotator) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	np, _ := req.Pending.Get("password")
	op, _ := cur.Get("password")
	return nil, fmt.Errorf("driver: cannot connect with dsn user=app password=%s (old %s)", np, op)
}

func TestRotatorErrorsAreScrubbed(t *testing.T) {
	ctx := context.Background()
	const tok = "44444444-4444-4444-8444-444444444444"
	fake := localsm.New(localsm.Options{})
	if err := fake.Seed(localsm.Secret{
		Name: "s", RotationEnabled: aws.Bool(true),
		Versions: []localsm.Version{
			{ID: "11111111-1111-4111-8111-111111111111", SecretString: aws.String(`{"password":"old-password-value"}`), Stages: []string{"AWSCURRENT"}},
			{ID: tok, SecretString: aws.String(`{"password":"new-password-value"}`), Stages: []string{"AWSPENDING"}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	h, err := rotation.New(fake, leakyRotator{})
	if err != nil {
		t.Fatal(err)
	}
	err = h.Handle(ctx, events.SecretsManagerSecretRotationEvent{Step: "setSecret", SecretID: "s", ClientRequestToken: tok})
	if err == nil {
		t.Fatal("setSecret succeeded")
	}
	for _, pw := range []string{"old-password-value", "new-password-value"} {
		if strings.Contains(err.Error(), pw) || strings.Contains(fmt.Sprintf("%+v", err), pw) {
			t.Errorf("the error quotes a password: %v", err)
		}
	}
	if !strings.Contains(err.Error(), "cannot connect") {
		t.Errorf("the error lost its message: %v", err)
	}
}

type nilErr struct{ msg *string }

func (e *nilErr) Error() string { return *e.msg } // panics on a nil receiver

func TestScrub(t *testing.T) {
	pw := `p"w\<&>/?x y`
	s, err := rotation.NewJSON(map[string]any{"password": pw, "username": "app"})
	if err != nil {
		t.Fatal(err)
	}
	quoted := fmt.Sprintf("%q", pw)
	jsonBody, _ := json.Marshal(map[string]string{"password": pw})
	for _, text := range []string{"raw " + pw, "quoted " + quoted, "json " + string(jsonBody), "url " + url.QueryEscape(pw)} {
		got := rotation.Scrub(errors.New(text), s).Error()
		if strings.Contains(got, pw) || strings.Contains(got, quoted[1:len(quoted)-1]) || strings.Contains(got, url.QueryEscape(pw)) {
			t.Errorf("Scrub left a form of the password in %q", got)
		}
		if !strings.Contains(got, "[REDACTED]") {
			t.Errorf("Scrub(%q) = %q, want a [REDACTED] marker", text, got)
		}
	}
	base := errors.New("base")
	if err := rotation.Scrub(fmt.Errorf("wrap %s: %w", pw, base), s); !errors.Is(err, base) {
		t.Errorf("Scrub broke the chain: %v", err)
	}
	var typedNil *nilErr
	if err := rotation.Scrub(typedNil, s); err == nil {
		t.Error("Scrub of a typed nil error returned nil")
	}
	if rotation.Scrub(nil, s) != nil {
		t.Error("Scrub(nil) != nil")
	}
}

// failingCreate reads AWSPREVIOUS and fails quoting it, as a careless
// Rotator might; failingDiscard's Discard quotes the value it discards.
type failingCreate struct{ passwordRotator }

func (failingCreate) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	prev, err := req.Previous(ctx)
	if err != nil || prev == nil {
		return nil, fmt.Errorf("no previous: %v", err)
	}
	pw, _ := prev.Get("password")
	return nil, fmt.Errorf("provider rejected key %s", pw)
}

type failingDiscard struct{ passwordRotator }

// discardedPassword is the password failingDiscard creates, and quotes
// when Discard fails.
const discardedPassword = "discarded-password-x"

func (failingDiscard) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{"password": discardedPassword})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

func (failingDiscard) Discard(ctx context.Context, req *rotation.DiscardRequest) error {
	pw, _ := req.Discarded.Get("password")
	return fmt.Errorf("cannot revoke %s", pw)
}

func TestCreateAndDiscardErrorsAreScrubbed(t *testing.T) {
	const tok = "55555555-5555-4555-8555-555555555555"
	seed := func(t *testing.T) *localsm.Fake {
		fake := localsm.New(localsm.Options{})
		if err := fake.Seed(localsm.Secret{
			Name: "s", RotationEnabled: aws.Bool(true),
			Versions: []localsm.Version{
				{ID: "11111111-1111-4111-8111-111111111111", SecretString: aws.String(`{"password":"previous-password-x"}`), Stages: []string{"AWSPREVIOUS"}},
				{ID: "22222222-2222-4222-8222-222222222222", SecretString: aws.String(`{"password":"current-password-x"}`), Stages: []string{"AWSCURRENT"}},
				{ID: tok, Stages: []string{"AWSPENDING"}},
			},
		}); err != nil {
			t.Fatal(err)
		}
		return fake
	}
	ev := events.SecretsManagerSecretRotationEvent{Step: "createSecret", SecretID: "s", ClientRequestToken: tok}

	h, err := rotation.New(seed(t), failingCreate{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(context.Background(), ev); err == nil || strings.Contains(err.Error(), "previous-password-x") {
		t.Errorf("createSecret error = %v; want an error without AWSPREVIOUS's password", err)
	}

	fc := rotationtest.NewFaultClient(seed(t), rotationtest.Fail("PutSecretValue", 0, rotationtest.ErrThrottling))
	h, err = rotation.New(fc, failingDiscard{})
	if err != nil {
		t.Fatal(err)
	}
	err = h.Handle(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "cannot revoke") {
		t.Fatalf("createSecret error = %v; want the Discard failure", err)
	}
	if strings.Contains(err.Error(), `"password"`) || strings.Contains(err.Error(), "revoke {") || strings.Contains(err.Error(), discardedPassword) {
		t.Errorf("the Discard error quotes the discarded value: %v", err)
	}
}
