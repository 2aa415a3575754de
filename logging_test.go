package rotation_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

// requestIDs is a slog.Handler recording, for each record, the Lambda
// request id found in the context it was logged with.
type requestIDs struct {
	mu  sync.Mutex
	ids []string
}

func (h *requestIDs) Enabled(context.Context, slog.Level) bool { return true }
func (h *requestIDs) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *requestIDs) WithGroup(string) slog.Handler            { return h }
func (h *requestIDs) Handle(ctx context.Context, _ slog.Record) error {
	id := ""
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		id = lc.AwsRequestID
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids = append(h.ids, id)
	return nil
}

// TestLogsCarryTheInvocationContext checks that every record the Handler
// writes (a step, a testSecret retry, a rejected event) is logged with the
// invocation's context, where Lambda's logger finds the request id.
func TestLogsCarryTheInvocationContext(t *testing.T) {
	fake := rotationtest.New(rotationtest.Options{})
	arn := seedRotating(t, fake, "logged", currentValue)
	rec := &requestIDs{}
	flaky := &flakyTester{fails: 1}
	h := newHandler(t, fake, flaky, func(o *rotation.Options) {
		o.Logger = slog.New(rec)
		o.TestAttempts = 2
		o.TestBackoff = 1
	})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-0123"})
	for _, step := range rotation.Steps() {
		if err := h.Handle(ctx, event(step, arn, versionNew, "")); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	_ = h.Handle(ctx, event("notAStep", arn, versionNew, ""))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.ids) < 6 { // four steps, one retry, one rejection
		t.Fatalf("%d records, want at least 6", len(rec.ids))
	}
	for i, id := range rec.ids {
		if id != "req-0123" {
			t.Errorf("record %d logged without the invocation's context (request id %q)", i, id)
		}
	}
}
