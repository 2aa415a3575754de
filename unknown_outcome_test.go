package rotation_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

// lateWriteServer serves fake over HTTP, except that it holds the first
// PutSecretValue request without answering (the client times out) and
// applies it only when land is called, and answers every later
// PutSecretValue with LimitExceededException, a modelled client fault the
// SDK retries like throttling. It is the wire sequence in which one SDK
// call ends in a refusal although its first attempt still lands.
type lateWriteServer struct {
	ts    *httptest.Server
	fake  *localsm.Fake
	inner http.Handler
	puts  atomic.Int32

	mu   sync.Mutex
	held []byte // the first PutSecretValue body, until it lands
	hdr  http.Header
}

func newLateWriteServer(t *testing.T, fake *localsm.Fake) *lateWriteServer {
	s := &lateWriteServer{fake: fake, inner: localsm.NewHandler(fake, localsm.HandlerOptions{})}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.ts.Close)
	return s
}

func (s *lateWriteServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "secretsmanager.PutSecretValue" {
		s.inner.ServeHTTP(w, r)
		return
	}
	if s.puts.Add(1) == 1 {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.held, s.hdr = body, r.Header.Clone()
		s.mu.Unlock()
		<-r.Context().Done() // the client gave up waiting
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `{"__type":"LimitExceededException","Message":"Request limit exceeded."}`)
}

// land applies the held write to the fake, as the service does when a
// request whose client timed out completes anyway.
func (s *lateWriteServer) land(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	body, hdr := s.held, s.hdr
	s.mu.Unlock()
	if body == nil {
		t.Fatal("no PutSecretValue request was held")
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header = hdr
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("the held PutSecretValue failed when it landed: %d %s", rec.Code, rec.Body)
	}
}

// TestCreateNoDiscardAfterRetriedWrite runs createSecret through the real
// SDK client over HTTP while the first PutSecretValue attempt times out
// (its write lands later) and every further attempt is refused with
// LimitExceededException. The Handler must treat the outcome as unknown:
// no Discard, since the value it would revoke ends up stored as
// AWSPENDING.
func TestCreateNoDiscardAfterRetriedWrite(t *testing.T) {
	fake := localsm.New(localsm.Options{})
	arn := seedRotating(t, fake, "late-write", currentValue)
	srv := newLateWriteServer(t, fake)
	client := (&localsm.Server{URL: srv.ts.URL, Fake: fake}).Client(func(o *secretsmanager.Options) {
		o.HTTPClient = &http.Client{Timeout: 500 * time.Millisecond}
	})
	r := &discardingRotator{}
	h := newHandler(t, client, r)

	err := h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{
		Step: string(rotation.StepCreate), SecretID: arn, ClientRequestToken: versionNew,
	})
	if err == nil {
		t.Fatal("createSecret succeeded although no write was acknowledged")
	}
	if n := srv.puts.Load(); n < 2 {
		t.Fatalf("PutSecretValue reached the server %d times, want at least 2 (a timeout, then a refusal)", n)
	}
	srv.land(t)

	r.mu.Lock()
	discarded := append([]string(nil), r.discarded...)
	r.mu.Unlock()
	if len(discarded) != 0 {
		t.Errorf("Discard called %d times after a write whose outcome was unknown, want 0 (err: %v)", len(discarded), err)
	}
	out, gerr := fake.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: aws.String(versionNew)})
	if gerr != nil {
		t.Fatalf("reading the pending version after the write landed: %v", gerr)
	}
	for _, d := range discarded {
		if strings.Contains(aws.ToString(out.SecretString), d) {
			t.Error("the discarded (revoked) credential is the one stored as AWSPENDING")
		}
	}

	// The next attempt of the step finds the landed value and reuses it.
	if err := h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{
		Step: string(rotation.StepCreate), SecretID: arn, ClientRequestToken: versionNew,
	}); err != nil {
		t.Errorf("createSecret after the write landed: %v", err)
	}
}

// optionDropper passes calls on without their per-call options, as a
// Client wrapper might: the SDK's retries stay on.
type optionDropper struct{ rotation.Client }

func (c optionDropper) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return c.Client.PutSecretValue(ctx, in)
}

// TestCreateNoDiscardAfterRetriesOfAWrapper is
// TestCreateNoDiscardAfterRetriedWrite through a Client that drops the
// Handler's per-call options, so the SDK does retry: the error it reports
// after several attempts must still count as unknown.
func TestCreateNoDiscardAfterRetriesOfAWrapper(t *testing.T) {
	fake := localsm.New(localsm.Options{})
	arn := seedRotating(t, fake, "late-write", currentValue)
	srv := newLateWriteServer(t, fake)
	client := (&localsm.Server{URL: srv.ts.URL, Fake: fake}).Client(func(o *secretsmanager.Options) {
		o.HTTPClient = &http.Client{Timeout: 500 * time.Millisecond}
	})
	r := &discardingRotator{}
	h := newHandler(t, optionDropper{client}, r)
	err := h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{
		Step: string(rotation.StepCreate), SecretID: arn, ClientRequestToken: versionNew,
	})
	if err == nil {
		t.Fatal("createSecret succeeded although no write was acknowledged")
	}
	if n := srv.puts.Load(); n < 3 {
		t.Fatalf("PutSecretValue reached the server %d times, want the SDK's retries (3 or more)", n)
	}
	srv.land(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.discarded) != 0 {
		t.Errorf("Discard called %d times after a retried write, want 0 (err: %v)", len(r.discarded), err)
	}
}

// TestFinishLostResponse loses the response of finishSecret's
// UpdateSecretVersionStage: the move happened, so the step succeeds.
func TestFinishLostResponse(t *testing.T) {
	fake := localsm.New(localsm.Options{})
	arn := seed(t, fake, localsm.Secret{
		Name: "lost-move",
		Versions: []localsm.Version{
			{ID: versionOld, SecretString: aws.String(currentValue), Stages: []string{"AWSCURRENT"}},
			{ID: versionNew, SecretString: aws.String(`{"username":"app","password":"New-Passw0rd-0b1c"}`), Stages: []string{"AWSPENDING"}},
		},
	})
	fc := rotationtest.NewFaultClient(fake, rotationtest.Lose("UpdateSecretVersionStage", 1))
	h := newHandler(t, fc, &testRotator{})
	if err := handle(t, h, event(rotation.StepFinish, arn, versionNew, "")); err != nil {
		t.Errorf("finishSecret with the move's response lost: %v, want success (the move happened)", err)
	}
	got := labels(t, fake, arn)
	if !slices.Contains(got[versionNew], "AWSCURRENT") {
		t.Errorf("labels after finishSecret = %v, want AWSCURRENT on %s", got, versionNew)
	}
}

// refusingServer serves fake over HTTP but answers every PutSecretValue
// with status and body, as the service does when it refuses or fails a
// request without storing anything.
func refusingServer(t *testing.T, fake *localsm.Fake, status int, body string) *httptest.Server {
	inner := localsm.NewHandler(fake, localsm.HandlerOptions{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "secretsmanager.PutSecretValue" {
			inner.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestCreateRefusedOverHTTP checks what the Handler concludes from errors
// as the real SDK decodes them from the wire: a throttle (an unmodelled
// code, fault unknown) and a modelled client fault are refusals, so the
// created value is discarded rather than orphaned; a server fault is not.
func TestCreateRefusedOverHTTP(t *testing.T) {
	for _, tt := range []struct {
		name        string
		status      int
		body        string
		wantDiscard int
	}{
		{"throttled", http.StatusBadRequest, `{"__type":"ThrottlingException","Message":"Rate exceeded"}`, 1},
		{"limit exceeded", http.StatusBadRequest, `{"__type":"LimitExceededException","Message":"Request limit exceeded."}`, 1},
		{"server fault", http.StatusInternalServerError, `{"__type":"InternalServiceError","Message":"An error occurred on the server side."}`, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := localsm.New(localsm.Options{})
			arn := seedRotating(t, fake, "refused", currentValue)
			ts := refusingServer(t, fake, tt.status, tt.body)
			client := (&localsm.Server{URL: ts.URL, Fake: fake}).Client()
			r := &discardingRotator{}
			h := newHandler(t, client, r)
			if err := h.Handle(context.Background(), event(rotation.StepCreate, arn, versionNew, "")); err == nil {
				t.Fatal("createSecret succeeded although every write failed")
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.discarded) != tt.wantDiscard {
				t.Errorf("Discard called %d times, want %d", len(r.discarded), tt.wantDiscard)
			}
		})
	}
}
