package rotationtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
)

// Errors to inject with Fail and Lose. A FaultClient returns them, and
// every error its wrapped client returns, shaped exactly as aws-sdk-go-v2
// decodes them from the wire (see FaultClient), so code under test meets
// the errors it meets against AWS.
var (
	// ErrThrottling is a ThrottlingException, as AWS sends when a caller
	// exceeds its request rate. The model of Secrets Manager does not
	// declare it, so the SDK decodes it as a *smithy.GenericAPIError whose
	// fault is unknown (not "client"), and its retryer retries it.
	ErrThrottling error = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	// ErrInternal is an InternalServiceError (HTTP 500), which the SDK
	// retries.
	ErrInternal error = &types.InternalServiceError{Message: aws.String("An error occurred on the server side.")}
	// ErrLimitExceeded is a LimitExceededException, a modelled client
	// fault that the SDK nevertheless retries like a throttle.
	ErrLimitExceeded error = &types.LimitExceededException{Message: aws.String("Request rate exceeded for the operation.")}
	// ErrLostResponse is what a caller sees when a call took effect but
	// its response never arrived: the SDK reports a failed send
	// (*smithyhttp.RequestSendError wrapping this error), and retries it.
	ErrLostResponse = errors.New("rotationtest: connection reset before the response arrived (the call took effect)")
)

// Fault describes one misbehaviour of a FaultClient. Build faults with
// Fail, Lose and Delay.
type Fault struct {
	Op    string        // operation to affect ("GetSecretValue"); "" for any
	Call  int           // 1-based index among the calls Op matches; 0 for every one
	Err   error         // error the caller sees
	Lost  bool          // the call reaches the service before Err is returned
	Delay time.Duration // wait before the call (honouring the context)
}

// Fail makes the n-th call of op (any op if op is "") return err without
// reaching the service. n = 0 fails every matching call.
func Fail(op string, n int, err error) Fault { return Fault{Op: op, Call: n, Err: err} }

// Lose makes the n-th call of op take effect and then return
// ErrLostResponse, as when a response is lost on the network.
func Lose(op string, n int) Fault { return Fault{Op: op, Call: n, Err: ErrLostResponse, Lost: true} }

// Delay makes the n-th call of op wait d first. A context deadline that
// expires during the wait fails the call with the context's error and
// without reaching the service.
func Delay(op string, n int, d time.Duration) Fault { return Fault{Op: op, Call: n, Delay: d} }

// FaultClient wraps a rotation.Client, counts its calls and injects
// faults. It is safe for concurrent use.
//
// Every error it returns, injected or from the wrapped client, has the
// shape aws-sdk-go-v2 gives an error decoded from the wire: a
// *smithy.OperationError naming Secrets Manager and the operation, around
// a *awshttp.ResponseError carrying the HTTP status (400, or 500 for a
// server fault), around the API error; an error the SDK's standard retryer
// retries (throttling, 5xx, a failed send) is also wrapped in a
// *retry.MaxAttemptsError with the attempts the call was allowed (3 unless
// the call's options say otherwise), as the SDK reports it once its
// retries are spent. A context's error arrives inside a
// *smithy.CanceledError, a lost response inside a
// *smithyhttp.RequestSendError. errors.Is and errors.As see through all of
// it. An error already shaped by an SDK client is returned as it is.
type FaultClient struct {
	next rotation.Client

	mu     sync.Mutex
	faults []Fault
	total  int
	byOp   map[string]int
	seq    []string // the operations called, in order
	fired  int
}

// NewFaultClient returns a client that forwards to next, applying faults.
func NewFaultClient(next rotation.Client, faults ...Fault) *FaultClient {
	return &FaultClient{next: next, faults: faults, byOp: map[string]int{}}
}

// Arm replaces the faults and restarts the call counts they refer to.
func (c *FaultClient) Arm(faults ...Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = faults
	c.total = 0
	c.byOp = map[string]int{}
	c.seq = nil
	c.fired = 0
}

// Calls returns the number of calls since creation or the last Arm.
func (c *FaultClient) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// CallsByOp returns the calls per operation since creation or the last Arm.
func (c *FaultClient) CallsByOp() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.byOp))
	for k, v := range c.byOp {
		m[k] = v
	}
	return m
}

// maxSequence bounds the operations a FaultClient remembers in order, so
// that one kept for a long run only to count calls stays small.
const maxSequence = 1 << 14

// sequence returns the operations called since creation or the last Arm,
// in order.
func (c *FaultClient) sequence() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seq)
}

// Fired returns how many faults have been injected since the last Arm.
func (c *FaultClient) Fired() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fired
}

// before counts a call and returns the fault that applies to it, if any.
func (c *FaultClient) before(op string) (Fault, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.byOp[op]++
	if len(c.seq) < maxSequence {
		c.seq = append(c.seq, op)
	}
	for _, f := range c.faults {
		n := c.total
		if f.Op != "" {
			if f.Op != op {
				continue
			}
			n = c.byOp[op]
		}
		if f.Call == 0 || f.Call == n {
			c.fired++
			return f, true
		}
	}
	return Fault{}, false
}

func call[In, Out any](c *FaultClient, ctx context.Context, op string, in In, optFns []func(*secretsmanager.Options), fn func(context.Context, In, ...func(*secretsmanager.Options)) (Out, error)) (Out, error) {
	var zero Out
	f, ok := c.before(op)
	if !ok {
		out, err := fn(ctx, in, optFns...)
		return out, sdkShaped(op, err, optFns)
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return zero, sdkShaped(op, ctx.Err(), optFns)
		}
	}
	if f.Err == nil {
		out, err := fn(ctx, in, optFns...)
		return out, sdkShaped(op, err, optFns)
	}
	if f.Lost {
		_, _ = fn(ctx, in, optFns...)
	}
	return zero, sdkShaped(op, f.Err, optFns)
}

// DescribeSecret implements rotation.Client.
func (c *FaultClient) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return call(c, ctx, "DescribeSecret", in, optFns, c.next.DescribeSecret)
}

// GetSecretValue implements rotation.Client.
func (c *FaultClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return call(c, ctx, "GetSecretValue", in, optFns, c.next.GetSecretValue)
}

// PutSecretValue implements rotation.Client.
func (c *FaultClient) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return call(c, ctx, "PutSecretValue", in, optFns, c.next.PutSecretValue)
}

// UpdateSecretVersionStage implements rotation.Client.
func (c *FaultClient) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return call(c, ctx, "UpdateSecretVersionStage", in, optFns, c.next.UpdateSecretVersionStage)
}

// ErrCrashed is the error CrashAfter reports for a step whose function
// died after doing its work.
var ErrCrashed = errors.New("rotationtest: function crashed after the step ran")

// CrashAfter returns an Invoker that runs step through inv and then, on
// its n-th invocation (1-based; n = 0: every one), reports ErrCrashed as if
// the function died before returning: the work is done but the service
// sees a failed step. Other steps and invocations pass through.
func CrashAfter(inv localsm.Invoker, step rotation.Step, n int) localsm.Invoker {
	var count atomic.Int64
	return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
		err := inv.Invoke(ctx, fn, ev)
		if rotation.Step(ev.Step) == step {
			if c := count.Add(1); n == 0 || c == int64(n) {
				return ErrCrashed
			}
		}
		return err
	})
}

// FailStep returns an Invoker that fails the n-th invocation of step
// (1-based; n = 0: every one) with err without running it.
func FailStep(inv localsm.Invoker, step rotation.Step, n int, err error) localsm.Invoker {
	var count atomic.Int64
	return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
		if rotation.Step(ev.Step) == step {
			if c := count.Add(1); n == 0 || c == int64(n) {
				return err
			}
		}
		return inv.Invoke(ctx, fn, ev)
	})
}

// SkipStep returns an Invoker that reports success for the n-th invocation
// of step (1-based; n = 0: every one) without running it.
func SkipStep(inv localsm.Invoker, step rotation.Step, n int) localsm.Invoker {
	var count atomic.Int64
	return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
		if rotation.Step(ev.Step) == step {
			if c := count.Add(1); n == 0 || c == int64(n) {
				return nil
			}
		}
		return inv.Invoke(ctx, fn, ev)
	})
}

// Overlap returns an Invoker that, on the n-th invocation of step (1-based;
// n = 0: every one), runs it twice concurrently, as when a timed-out
// invocation is still running when the next one starts. The step fails if
// either run fails.
func Overlap(inv localsm.Invoker, step rotation.Step, n int) localsm.Invoker {
	var count atomic.Int64
	return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
		if rotation.Step(ev.Step) != step {
			return inv.Invoke(ctx, fn, ev)
		}
		if c := count.Add(1); n != 0 && c != int64(n) {
			return inv.Invoke(ctx, fn, ev)
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = inv.Invoke(ctx, fn, ev)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
}

// Replay returns an Invoker that invokes every step twice in a row and
// fails if either invocation fails.
func Replay(inv localsm.Invoker) localsm.Invoker {
	return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
		if err := inv.Invoke(ctx, fn, ev); err != nil {
			return err
		}
		return inv.Invoke(ctx, fn, ev)
	})
}

// sdkShaped returns err as aws-sdk-go-v2 reports an error of its kind from
// a call of op made with optFns; see FaultClient.
func sdkShaped(op string, err error, optFns []func(*secretsmanager.Options)) error {
	if err == nil {
		return nil
	}
	var already *smithy.OperationError
	if errors.As(err, &already) {
		return err
	}
	resp := &http.Response{StatusCode: 0, Header: http.Header{}, Body: http.NoBody}
	var inner error
	var ae smithy.APIError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		inner = &smithy.CanceledError{Err: err}
	case errors.As(err, &ae):
		resp.StatusCode = http.StatusBadRequest
		if ae.ErrorFault() == smithy.FaultServer || ae.ErrorCode() == "InternalServiceError" {
			resp.StatusCode = http.StatusInternalServerError
		}
		inner = err
	case errors.Is(err, ErrLostResponse):
		inner = &smithyhttp.RequestSendError{Err: err}
	default:
		// Not an error an SDK call returns (a test's own sentinel): leave
		// it as the test made it.
		return err
	}
	requestID := ""
	if resp.StatusCode != 0 {
		requestID = newRequestID()
		resp.Header.Set("X-Amzn-Requestid", requestID)
	}
	var wrapped error = &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: inner},
		RequestID:     requestID,
	}
	if _, canceled := inner.(*smithy.CanceledError); !canceled && retry.NewStandard().IsErrorRetryable(wrapped) {
		wrapped = &retry.MaxAttemptsError{Attempt: maxAttempts(optFns), Err: wrapped}
	}
	return &smithy.OperationError{ServiceID: secretsmanager.ServiceID, OperationName: op, Err: wrapped}
}

// maxAttempts is how many attempts a call made with optFns is allowed: the
// SDK's default of 3 unless the options set another.
func maxAttempts(optFns []func(*secretsmanager.Options)) int {
	var o secretsmanager.Options
	for _, fn := range optFns {
		fn(&o)
	}
	switch {
	case o.Retryer != nil:
		return o.Retryer.MaxAttempts()
	case o.RetryMaxAttempts > 0:
		return o.RetryMaxAttempts
	}
	return retry.DefaultMaxAttempts
}

// newRequestID returns a request id in the form AWS sends.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
