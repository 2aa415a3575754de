package rotationtest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotationkit/rotation/localsm"
)

// optsRecorder records the retry attempts each PutSecretValue's options set.
type optsRecorder struct {
	*localsm.Fake
	attempts []int
}

func (r *optsRecorder) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	var o secretsmanager.Options
	for _, fn := range optFns {
		fn(&o)
	}
	r.attempts = append(r.attempts, o.RetryMaxAttempts)
	return r.Fake.PutSecretValue(ctx, in, optFns...)
}

// TestChildCallsKeepRetryOptions: a FreshProcess child's per-call retry
// setting (the Handler writes with retries off) reaches the parent's client.
func TestChildCallsKeepRetryOptions(t *testing.T) {
	rec := &optsRecorder{Fake: localsm.New(localsm.Options{})}
	in, _ := json.Marshal(&secretsmanager.PutSecretValueInput{})
	for _, n := range []int{1, 0} {
		_, _ = callFromChild(t.Context(), rec, "PutSecretValue", in, n)
	}
	if len(rec.attempts) != 2 || rec.attempts[0] != 1 || rec.attempts[1] != 0 {
		t.Errorf("attempts seen by the parent's client = %v, want [1 0]", rec.attempts)
	}
}
