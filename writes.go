package rotation

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// singleAttempt turns the SDK's retries off for one call. The Handler's
// writes use it: one SDK call is several HTTP attempts, and when an early
// attempt times out and a later one is refused, the call reports only the
// refusal although the early write may still land. The Handler settles a
// failed write itself (it writes again and reads the version back), so it
// needs every error to describe exactly one attempt.
func singleAttempt(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }

// put writes the pending value, in a single attempt.
func (h *Handler) put(ctx context.Context, in *secretsmanager.PutSecretValueInput) error {
	_, err := h.client.PutSecretValue(ctx, in, singleAttempt)
	return err
}

// definitelyRejected reports whether err is the service's answer that a
// request was refused (a modelled client fault such as validation or a
// limit, or throttling), as opposed to a transport error, a timeout, a
// server fault or another unmodelled error, after which the request may
// still have taken effect.
//
// An error that followed a retry is never a refusal: the attempts before
// the last may have timed out with their writes still on the way. A Client
// that ignores singleAttempt (a wrapper that drops the per-call options)
// is caught here when its retries ran out, since the SDK then reports how
// many attempts it made.
//
// Throttling counts as a refusal: the service turns a throttled request
// away before acting on it. The SDK decodes the wire's ThrottlingException
// (not in the Secrets Manager model) as a generic error whose fault is
// unknown, so throttling is recognised by its error code, from the SDK's
// own list of throttling codes.
func definitelyRejected(err error) bool {
	var ma *retry.MaxAttemptsError
	if errors.As(err, &ma) && ma.Attempt > 1 {
		return false
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	if ae.ErrorFault() == smithy.FaultClient {
		return true
	}
	_, throttled := retry.DefaultThrottleErrorCodes[ae.ErrorCode()]
	return throttled
}

// moveCurrent moves AWSCURRENT, in a single attempt. When the call fails,
// the move may still have happened (a lost response, a timeout): the
// version's labels are read again, and the step succeeds if it now holds
// AWSCURRENT.
func (h *Handler) moveCurrent(ctx context.Context, e event, in *secretsmanager.UpdateSecretVersionStageInput) error {
	_, err := h.client.UpdateSecretVersionStage(ctx, in, singleAttempt)
	if err == nil {
		return nil
	}
	if _, current, derr := h.describe(ctx, e); derr == nil && current {
		return nil
	}
	return fmt.Errorf("UpdateSecretVersionStage: %w", err)
}
