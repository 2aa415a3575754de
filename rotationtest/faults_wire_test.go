package rotationtest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

// errorShape is what code under test can see of an SDK error.
type errorShape struct {
	Chain       []string // the types down the Unwrap chain, to the leaf the SDK decodes
	Operation   string
	Service     string
	Attempts    int // from *retry.MaxAttemptsError; 0 when absent
	Status      int
	Code        string
	Message     string
	Fault       string
	RequestID   bool // a request id is present
	Retryable   bool // by the SDK's standard retryer
	Canceled    bool
	SendFailure bool
}

func shapeOf(err error) errorShape {
	var s errorShape
	for e := err; e != nil; e = errors.Unwrap(e) {
		s.Chain = append(s.Chain, fmt.Sprintf("%T", e))
		if _, ok := e.(smithy.APIError); ok {
			break
		}
		if _, ok := e.(*smithy.CanceledError); ok {
			break
		}
		if _, ok := e.(*smithyhttp.RequestSendError); ok {
			break
		}
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		s.Operation, s.Service = oe.OperationName, oe.ServiceID
	}
	var ma *retry.MaxAttemptsError
	if errors.As(err, &ma) {
		s.Attempts = ma.Attempt
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		s.Status = re.HTTPStatusCode()
		s.RequestID = re.ServiceRequestID() != ""
		s.Retryable = retry.NewStandard().IsErrorRetryable(re)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		s.Code, s.Message, s.Fault = ae.ErrorCode(), ae.ErrorMessage(), ae.ErrorFault().String()
	}
	var ce *smithy.CanceledError
	s.Canceled = errors.As(err, &ce)
	var se *smithyhttp.RequestSendError
	s.SendFailure = errors.As(err, &se)
	return s
}

// TestInjectedErrorsMatchTheWire checks every error a FaultClient injects
// against the error the real SDK client decodes when a server sends it: a
// test that injects a throttle must see what a real throttle looks like.
func TestInjectedErrorsMatchTheWire(t *testing.T) {
	type wire struct {
		status int
		code   string
		msg    string
		reset  bool // close the connection instead of answering
		stall  bool // answer after the caller's deadline
	}
	for _, tt := range []struct {
		name   string
		inject error
		wire   wire
	}{
		{"throttling", rotationtest.ErrThrottling, wire{status: 400, code: "ThrottlingException", msg: "Rate exceeded"}},
		{"internal", rotationtest.ErrInternal, wire{status: 500, code: "InternalServiceError", msg: "An error occurred on the server side."}},
		{"limit-exceeded", rotationtest.ErrLimitExceeded, wire{status: 400, code: "LimitExceededException", msg: "Request rate exceeded for the operation."}},
		{"not-found", &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}, wire{status: 400, code: "ResourceNotFoundException", msg: "Secrets Manager can't find the specified secret."}},
		{"invalid-request", &types.InvalidRequestException{Message: aws.String("bad")}, wire{status: 400, code: "InvalidRequestException", msg: "bad"}},
		{"lost-response", rotationtest.ErrLostResponse, wire{reset: true}},
		{"deadline", context.DeadlineExceeded, wire{stall: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case tt.wire.reset:
					c, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						if tc, ok := c.(*net.TCPConn); ok {
							_ = tc.SetLinger(0)
						}
						c.Close()
					}
					return
				case tt.wire.stall:
					select {
					case <-r.Context().Done():
					case <-time.After(2 * time.Second):
					}
					return
				}
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.Header().Set("X-Amzn-Requestid", "2d0ce6c4-9d25-4c3d-a0a5-77c4a6e9e3b1")
				w.WriteHeader(tt.wire.status)
				fmt.Fprintf(w, `{"__type":%q,"Message":%q}`, tt.wire.code, tt.wire.msg)
			}))
			defer srv.Close()
			// Retries as localsm.Server.Client sets them: the SDK's
			// standard retryer, 3 attempts, no backoff.
			client := secretsmanager.New(secretsmanager.Options{
				Region:       "us-east-1",
				BaseEndpoint: aws.String(srv.URL),
				Credentials:  aws.AnonymousCredentials{},
				Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
					o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
					o.RateLimiter = ratelimit.None
				}),
			})
			in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, wireErr := client.GetSecretValue(ctx, in)
			if wireErr == nil {
				t.Fatal("the server's error did not reach the client")
			}

			fc := rotationtest.NewFaultClient(localsm.New(localsm.Options{}), rotationtest.Fail("GetSecretValue", 1, tt.inject))
			_, injected := fc.GetSecretValue(context.Background(), in)

			want, got := shapeOf(wireErr), shapeOf(injected)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("injected error differs from the wire's (-wire +injected):\n%s\nwire:     %v\ninjected: %v", diff, wireErr, injected)
			}
			if !errors.Is(injected, tt.inject) {
				t.Errorf("errors.Is(injected, %v) = false", tt.inject)
			}
		})
	}
}

// TestFaultClientHonoursRetryOptions: a call made with retries off sees the
// single attempt the SDK reports.
func TestFaultClientHonoursRetryOptions(t *testing.T) {
	fc := rotationtest.NewFaultClient(localsm.New(localsm.Options{}), rotationtest.Fail("GetSecretValue", 0, rotationtest.ErrThrottling))
	_, err := fc.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}, func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	var ma *retry.MaxAttemptsError
	if !errors.As(err, &ma) || ma.Attempt != 1 {
		t.Errorf("error = %v, want one attempt reported", err)
	}
	// Errors of the wrapped fake are shaped too.
	_, err = rotationtest.NewFaultClient(localsm.New(localsm.Options{})).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	var oe *smithy.OperationError
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &oe) || !errors.As(err, &nf) {
		t.Errorf("fake's error = %v (%T), want an OperationError around ResourceNotFoundException", err, err)
	}
}
