package rotation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotationkit/rotation/internal/redact"
)

// Client is the part of the Secrets Manager API a Handler uses. The method
// signatures are exactly those of *secretsmanager.Client, which satisfies
// it, as does localsm.Fake. The Handler makes its writes
// (PutSecretValue, UpdateSecretVersionStage) with per-call options that
// turn the SDK's retries off; a wrapper should pass optFns on.
type Client interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// Rotator is the service-specific part of a rotation: what a user writes.
// The Handler calls it at the right step with values already read and
// checked; it never touches labels. Every method may be called more than
// once for the same rotation (the service retries whole rotations, and two
// invocations can overlap), so each must be safe to repeat, as its doc says.
// Implementations must be safe for concurrent use and keep no state between
// calls beyond what their target service holds.
type Rotator interface {
	// Create returns the value to store as AWSPENDING, made from the
	// current one. It is called only while no pending value is stored; the
	// Handler never calls it again once one is. It must not change the
	// target service's credentials in a way clients would notice. If its
	// result is lost (the write fails, or an overlapping invocation stored
	// its own first) it can be called again for the same version; a
	// Rotator that mints credentials at a provider must tolerate that
	// (clean up orphans later).
	Create(ctx context.Context, req *CreateRequest) (*CreateResponse, error)

	// Set makes the target service accept the pending value. It must be
	// idempotent: when the pending value already works it must succeed
	// without changing anything. It must not revoke or break the current
	// credential unless the strategy promises no more than that (single
	// user).
	Set(ctx context.Context, req *SetRequest) (*SetResponse, error)

	// Test proves that the pending value works against the target service.
	// It must not change anything. It is also called alone, on a copy of
	// the current value, when rotation is configured with
	// RotateImmediately=false.
	Test(ctx context.Context, req *TestRequest) (*TestResponse, error)
}

// Finisher is implemented by a Rotator that has work to do after
// AWSCURRENT has moved to the new version, such as revoking credentials
// older than AWSPREVIOUS. Finish is called after the label move, and again
// on every replay of finishSecret for a version that is already current,
// since a crash may come between the move and the hook; it must be
// idempotent.
type Finisher interface {
	Finish(ctx context.Context, req *FinishRequest) (*FinishResponse, error)
}

// Discarder is implemented by a Rotator whose Create has effects outside
// Secrets Manager, such as minting a credential at a provider. When a
// value Create returned is certainly not stored, the
// Handler calls Discard so the Rotator can undo those effects (revoke the
// minted credential) instead of leaving an orphan. The Handler decides by
// reading the version after the failed write: Discard is called when the
// version holds another value, or holds none and the service refused the
// write; never when the version holds this value, nor when the outcome is
// unknown (a timeout, a server fault or an error that followed a retry,
// after which the value may still land). The Handler makes its own writes
// with the SDK's retries off, so that every error it judges describes one
// attempt. It must be idempotent.
type Discarder interface {
	Discard(ctx context.Context, req *DiscardRequest) error
}

// DiscardRequest is the input to Discarder.Discard.
type DiscardRequest struct {
	SecretARN string
	VersionID string
	Current   *Secret // the AWSCURRENT value Create was given
	Discarded *Secret // the value Create returned, never stored
}

// CreateRequest is the input to Rotator.Create.
type CreateRequest struct {
	SecretARN string
	VersionID string // the new version: the event's ClientRequestToken
	values    *lazyValues
}

// Current returns the AWSCURRENT value. The Handler has read it before
// calling Create, so it costs no call.
func (r *CreateRequest) Current(ctx context.Context) (*Secret, error) {
	return r.values.get(ctx, StageCurrent)
}

// Previous returns the AWSPREVIOUS value, read on first use, or (nil, nil)
// if the secret has none.
func (r *CreateRequest) Previous(ctx context.Context) (*Secret, error) {
	return r.values.get(ctx, StagePrevious)
}

// CreateResponse is the output of Rotator.Create.
type CreateResponse struct {
	// Pending is the value to store as AWSPENDING. With, called on the
	// current value, is the usual way to build it, keeping fields the
	// Rotator does not know.
	Pending *Secret
}

// SetRequest is the input to Rotator.Set.
type SetRequest struct {
	SecretARN string
	VersionID string
	Pending   *Secret // the AWSPENDING value of this version
	values    *lazyValues
}

// Current returns the AWSCURRENT value, read on first use.
func (r *SetRequest) Current(ctx context.Context) (*Secret, error) {
	return r.values.get(ctx, StageCurrent)
}

// Previous returns the AWSPREVIOUS value, read on first use. It returns
// (nil, nil) when the secret has no AWSPREVIOUS version.
func (r *SetRequest) Previous(ctx context.Context) (*Secret, error) {
	return r.values.get(ctx, StagePrevious)
}

// SetResponse is the output of Rotator.Set.
type SetResponse struct{}

// TestRequest is the input to Rotator.Test.
type TestRequest struct {
	SecretARN string
	VersionID string
	Pending   *Secret // the value to test
	values    *lazyValues
}

// Current returns the AWSCURRENT value, read on first use.
func (r *TestRequest) Current(ctx context.Context) (*Secret, error) {
	return r.values.get(ctx, StageCurrent)
}

// TestResponse is the output of Rotator.Test.
type TestResponse struct{}

// FinishRequest is the input to Finisher.Finish.
type FinishRequest struct {
	SecretARN string
	VersionID string // now AWSCURRENT
	values    *lazyValues
}

// Current returns the new AWSCURRENT value, read on first use.
func (r *FinishRequest) Current(ctx context.Context) (*Secret, error) {
	return r.values.get(ctx, StageCurrent)
}

// Previous returns the AWSPREVIOUS value (the one just replaced), read on
// first use, or (nil, nil) if there is none.
func (r *FinishRequest) Previous(ctx context.Context) (*Secret, error) {
	return r.values.get(ctx, StagePrevious)
}

// Pending returns the value labelled AWSPENDING, read on first use, or
// (nil, nil) if no version with a value carries it. Right after the label
// move it is this rotation's own version; on a late replay it may belong
// to a newer rotation, whose credential must not be touched.
func (r *FinishRequest) Pending(ctx context.Context) (*Secret, error) {
	return r.values.get(ctx, StagePending)
}

// FinishResponse is the output of Finisher.Finish.
type FinishResponse struct{}

// Options configure a Handler.
type Options struct {
	// Logger receives one record per step (step, secret ARN, version,
	// duration and outcome) and one per testSecret retry, each logged with
	// the invocation's context, so a handler that reads the context (such
	// as aws-lambda-go's lambdacontext.NewLogHandler) can add the request
	// id. Never a secret value, the RotationToken or an error's text
	// (errors are returned, and Lambda logs them). Nil discards.
	Logger *slog.Logger

	// TestAttempts is how many times testSecret tries the pending value
	// before it fails, for services where a change takes time to reach
	// replicas or proxies. Default 1: no retry.
	TestAttempts int
	// TestBackoff is the wait before the second test attempt, doubled for
	// each one after, so n attempts wait up to TestBackoff × (2^(n-1) - 1)
	// in all. Default 1 s. No retry is started that would run past the
	// invocation's deadline: the step then fails with the last test error
	// rather than a Lambda timeout.
	TestBackoff time.Duration

	// Metrics, if set, receives one CloudWatch Embedded Metric Format
	// record per step (outcome, duration, Secrets Manager calls; see
	// MetricsNamespace for the names). In a Lambda function pass os.Stdout:
	// records written to the log stream become metrics. Nil: no metrics.
	Metrics io.Writer
}

// Handler runs rotation steps for Secrets Manager: it owns the event
// validation, the version and label bookkeeping and the idempotency rules,
// and calls a Rotator for the service-specific work. Build one in main and
// give its Handle method to lambda.Start. It holds no per-invocation state
// and is safe for concurrent use.
type Handler struct {
	client       Client
	rotator      Rotator
	logger       *slog.Logger
	testAttempts int
	testBackoff  time.Duration
	metrics      *emf
}

// Validator is implemented by a Rotator whose configuration can be
// checked before any rotation runs, as the strategy types' can. Validate
// returns an error naming what cannot work (a missing service, an invalid
// password policy); it must not call any service.
type Validator interface {
	Validate() error
}

// New returns a Handler that rotates with r, talking to Secrets Manager
// through client. If r is a Validator, New calls Validate, so a
// configuration that cannot work fails in main, at cold start, rather than
// at the first rotation.
func New(client Client, r Rotator, optFns ...func(*Options)) (*Handler, error) {
	if client == nil {
		return nil, errors.New("rotation.New: client is nil")
	}
	if r == nil {
		return nil, errors.New("rotation.New: rotator is nil")
	}
	if rv := reflect.ValueOf(r); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return nil, errors.New("rotation.New: rotator is a nil pointer")
	}
	if v, ok := r.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("rotation.New: %w", err)
		}
	}
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TestAttempts < 1 {
		o.TestAttempts = 1
	}
	if o.TestBackoff <= 0 {
		o.TestBackoff = time.Second
	}
	if o.Metrics != nil {
		client = countingClient{next: client}
	}
	return &Handler{client: client, rotator: r, logger: o.Logger, testAttempts: o.TestAttempts, testBackoff: o.TestBackoff, metrics: newEMF(o.Metrics)}, nil
}

// event is a validated rotation event.
type event struct {
	step          Step
	secretID      string
	versionID     string
	rotationToken string
}

// parseEvent validates ev. On error the event holds the step if it parsed.
// Error messages never include the RotationToken.
func parseEvent(ev events.SecretsManagerSecretRotationEvent) (event, error) {
	step, err := ParseStep(ev.Step)
	if err != nil {
		return event{}, err
	}
	if ev.SecretID == "" {
		return event{step: step}, fmt.Errorf("%w: SecretId is empty", ErrInvalidEvent)
	}
	if len(ev.SecretID) > 2048 {
		return event{step: step}, fmt.Errorf("%w: SecretId is longer than 2048 characters", ErrInvalidEvent)
	}
	if n := len(ev.ClientRequestToken); n == 0 {
		return event{step: step}, fmt.Errorf("%w: ClientRequestToken is empty", ErrInvalidEvent)
	} else if n < 32 || n > 64 {
		return event{step: step}, fmt.Errorf("%w: ClientRequestToken has %d characters, want 32 to 64", ErrInvalidEvent, n)
	}
	for _, c := range ev.ClientRequestToken {
		if c < 0x21 || c > 0x7e {
			return event{step: step}, fmt.Errorf("%w: ClientRequestToken contains a character that is not printable ASCII", ErrInvalidEvent)
		}
	}
	if t := ev.RotationToken; t != "" {
		if len(t) < 36 || len(t) > 256 {
			return event{step: step}, fmt.Errorf("%w: RotationToken has %d characters, want 36 to 256", ErrInvalidEvent, len(t))
		}
		for _, c := range t {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return event{step: step}, fmt.Errorf("%w: RotationToken contains a character outside [a-zA-Z0-9-]", ErrInvalidEvent)
			}
		}
	}
	return event{step: step, secretID: ev.SecretID, versionID: ev.ClientRequestToken, rotationToken: ev.RotationToken}, nil
}

// outcome says what a step did, for the log.
type outcome string

const (
	outcomeDone    outcome = "done"
	outcomeNoop    outcome = "already-current"
	outcomeReused  outcome = "pending-exists"
	outcomeFailure outcome = "failed"
)

// Handle runs one rotation step. Its signature is what lambda.Start
// expects. The returned error, if any, is a *StepError.
func (h *Handler) Handle(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	start := time.Now()
	ctx, calls := h.metrics.begin(ctx)
	e, err := parseEvent(ev)
	if err != nil {
		serr := &StepError{Step: e.step, SecretARN: truncate(ev.SecretID, 2048), VersionID: truncate(ev.ClientRequestToken, 64), Err: err}
		// The error is returned, not logged: Lambda logs what a handler
		// returns, and logging it too would print it twice.
		h.logger.LogAttrs(ctx, slog.LevelWarn, "rotation step rejected",
			slog.String("step", string(serr.Step)),
			slog.String("secret", serr.SecretARN),
			slog.String("version", serr.VersionID),
			slog.String("outcome", string(outcomeFailure)))
		h.metrics.step(ctx, serr.Step, serr.SecretARN, serr.VersionID, outcomeFailure, start, calls)
		return serr
	}
	var out outcome
	switch e.step {
	case StepCreate:
		out, err = h.create(ctx, e)
	case StepSet:
		out, err = h.set(ctx, e)
	case StepTest:
		out, err = h.test(ctx, e)
	case StepFinish:
		out, err = h.finish(ctx, e)
	}
	attrs := []slog.Attr{
		slog.String("step", string(e.step)),
		slog.String("secret", e.secretID),
		slog.String("version", e.versionID),
		slog.Duration("duration", time.Since(start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("outcome", string(outcomeFailure)))
		h.logger.LogAttrs(ctx, slog.LevelError, "rotation step", attrs...)
		h.metrics.step(ctx, e.step, e.secretID, e.versionID, outcomeFailure, start, calls)
		return &StepError{Step: e.step, SecretARN: e.secretID, VersionID: e.versionID, Err: redactToken(err, e.rotationToken)}
	}
	attrs = append(attrs, slog.String("outcome", string(out)))
	h.logger.LogAttrs(ctx, slog.LevelInfo, "rotation step", attrs...)
	h.metrics.step(ctx, e.step, e.secretID, e.versionID, out, start, calls)
	return nil
}

// describe reads the secret's metadata and checks that rotation is enabled
// and that the event's version is staged. It reports whether the version
// is already AWSCURRENT.
func (h *Handler) describe(ctx context.Context, e event) (versions, bool, error) {
	d, err := h.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(e.secretID)})
	if err != nil {
		return nil, false, fmt.Errorf("DescribeSecret: %w", err)
	}
	if d.RotationEnabled == nil || !*d.RotationEnabled {
		return nil, false, ErrRotationDisabled
	}
	v := versions(d.VersionIdsToStages)
	if !v.Exists(e.versionID) {
		return nil, false, fmt.Errorf("%w: the secret has no version %q", ErrVersionNotFound, e.versionID)
	}
	if v.Has(e.versionID, StageCurrent) {
		return v, true, nil
	}
	if !v.Has(e.versionID, StagePending) {
		return nil, false, fmt.Errorf("%w: version %q", ErrNotPending, e.versionID)
	}
	return v, false, nil
}

// isNotFound reports whether err is Secrets Manager's ResourceNotFoundException.
func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// getValue reads one version's value. Exactly one of versionID and stage
// is set.
func (h *Handler) getValue(ctx context.Context, secretID, versionID string, stage Stage) (*Secret, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)}
	what := ""
	if versionID != "" {
		in.VersionId = aws.String(versionID)
		what = "version " + versionID
	} else {
		in.VersionStage = aws.String(string(stage))
		what = string(stage)
	}
	out, err := h.client.GetSecretValue(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("GetSecretValue %s: %w", what, err)
	}
	return secretFrom(out)
}

func secretFrom(out *secretsmanager.GetSecretValueOutput) (*Secret, error) {
	var s *Secret
	switch {
	case out.SecretString != nil:
		s = NewString(*out.SecretString)
	case out.SecretBinary != nil:
		s = NewBinary(out.SecretBinary)
	default:
		return nil, fmt.Errorf("%w: version %s has no value", ErrInvalidSecret, aws.ToString(out.VersionId))
	}
	return s.withVersion(aws.ToString(out.VersionId), out.VersionStages), nil
}

// create stores the pending value unless one is stored already.
func (h *Handler) create(ctx context.Context, e event) (outcome, error) {
	_, current, err := h.describe(ctx, e)
	if err != nil {
		return "", err
	}
	if current {
		return outcomeNoop, nil
	}
	// A pending value stored by an earlier attempt is reused, never
	// regenerated: a retried createSecret must not change it.
	if _, err := h.getValue(ctx, e.secretID, e.versionID, ""); err == nil {
		return outcomeReused, nil
	} else if !isNotFound(err) {
		return "", err
	}
	values := h.lazy(e)
	cur, err := values.get(ctx, StageCurrent)
	if err != nil {
		return "", err
	}
	creq := &CreateRequest{SecretARN: e.secretID, VersionID: e.versionID, values: values}
	resp, err := h.rotator.Create(ctx, creq)
	if err != nil {
		return "", fmt.Errorf("create pending value: %w", Scrub(err, values.seen()...))
	}
	if resp == nil || resp.Pending == nil {
		return "", fmt.Errorf("create pending value: %w: Rotator.Create returned no pending value", ErrInvalidSecret)
	}
	if resp.Pending.Equal(cur) {
		return "", fmt.Errorf("create pending value: %w: Rotator.Create returned the current value unchanged", ErrInvalidSecret)
	}
	in := &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(e.secretID),
		ClientRequestToken: aws.String(e.versionID),
		VersionStages:      []string{string(StagePending)},
	}
	if e.rotationToken != "" {
		in.RotationToken = aws.String(e.rotationToken)
	}
	if str, ok := resp.Pending.SecretString(); ok {
		in.SecretString = aws.String(str)
	} else {
		in.SecretBinary = resp.Pending.SecretBinary()
	}
	if in.SecretString == nil && len(in.SecretBinary) == 0 || in.SecretString != nil && *in.SecretString == "" {
		return "", fmt.Errorf("create pending value: %w: Rotator.Create returned an empty value", ErrInvalidSecret)
	}
	err = h.put(ctx, in)
	if err == nil {
		return outcomeDone, nil
	}
	// rejected stays true only while every write was certainly refused:
	// one with an unknown outcome may still land later.
	var exists *types.ResourceExistsException
	taken := errors.As(err, &exists)
	rejected := taken || definitelyRejected(err)
	if !taken {
		// The write may or may not have landed (a lost response, a
		// timeout, a 500). Writing the same value again with the same
		// ClientRequestToken settles it: a no-op if it landed, the write if
		// it did not, ResourceExistsException if another value is there.
		err = h.put(ctx, in)
		if err == nil {
			return outcomeDone, nil
		}
		rejected = rejected && (errors.As(err, &exists) || definitelyRejected(err))
	}
	// Look at what the version holds before deciding anything: an earlier
	// attempt may have landed behind the error we saw last.
	stored, gerr := h.getValue(ctx, e.secretID, e.versionID, "")
	switch {
	case gerr == nil && stored.Equal(resp.Pending):
		return outcomeDone, nil
	case gerr == nil:
		// Another invocation stored its value first. A version never
		// changes, so ours will never be stored; the stored one is the
		// pending value.
		if derr := h.discard(ctx, e, cur, resp.Pending); derr != nil {
			return "", derr
		}
		return outcomeReused, nil
	case isNotFound(gerr) && rejected:
		// Nothing is stored and the service refused every write: ours
		// will not land later.
		if derr := h.discard(ctx, e, cur, resp.Pending); derr != nil {
			return "", fmt.Errorf("PutSecretValue: %w; and %w", err, derr)
		}
	}
	return "", fmt.Errorf("PutSecretValue: %w", err)
}

// discard tells a Discarder that a created value was never stored.
func (h *Handler) discard(ctx context.Context, e event, cur, v *Secret) error {
	d, ok := h.rotator.(Discarder)
	if !ok {
		return nil
	}
	if err := d.Discard(ctx, &DiscardRequest{SecretARN: e.secretID, VersionID: e.versionID, Current: cur, Discarded: v}); err != nil {
		return fmt.Errorf("discard unstored value: %w", Scrub(err, cur, v))
	}
	return nil
}

// pending reads the event's version and checks its labels, saving a
// DescribeSecret call: GetSecretValue reports the version's stages.
func (h *Handler) pending(ctx context.Context, e event) (*Secret, bool, error) {
	p, err := h.getValue(ctx, e.secretID, e.versionID, "")
	if err != nil {
		if isNotFound(err) {
			return nil, false, fmt.Errorf("%w: version %q of the secret does not exist or has no value yet (createSecret has not stored it): %w", ErrVersionNotFound, e.versionID, err)
		}
		return nil, false, err
	}
	v := versions{p.versionID: p.stages}
	if v.Has(e.versionID, StageCurrent) {
		return p, true, nil
	}
	if !v.Has(e.versionID, StagePending) {
		return nil, false, fmt.Errorf("%w: version %q", ErrNotPending, e.versionID)
	}
	return p, false, nil
}

func (h *Handler) set(ctx context.Context, e event) (outcome, error) {
	p, current, err := h.pending(ctx, e)
	if err != nil {
		return "", err
	}
	if current {
		return outcomeNoop, nil
	}
	req := &SetRequest{SecretARN: e.secretID, VersionID: e.versionID, Pending: p, values: h.lazy(e)}
	if _, err := h.rotator.Set(ctx, req); err != nil {
		return "", fmt.Errorf("set pending value: %w", Scrub(err, req.values.seen(p)...))
	}
	return outcomeDone, nil
}

func (h *Handler) test(ctx context.Context, e event) (outcome, error) {
	p, current, err := h.pending(ctx, e)
	if err != nil {
		return "", err
	}
	if current {
		return outcomeNoop, nil
	}
	req := &TestRequest{SecretARN: e.secretID, VersionID: e.versionID, Pending: p, values: h.lazy(e)}
	wait := h.testBackoff
	for attempt := 1; ; attempt++ {
		_, err := h.rotator.Test(ctx, req)
		if err == nil {
			return outcomeDone, nil
		}
		err = Scrub(err, req.values.seen(p)...)
		if attempt >= h.testAttempts {
			if attempt > 1 {
				return "", fmt.Errorf("%w after %d attempts: %w", ErrTestFailed, attempt, err)
			}
			return "", fmt.Errorf("%w: %w", ErrTestFailed, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+time.Second {
			return "", fmt.Errorf("%w after %d attempts (no time left before the deadline to retry): %w", ErrTestFailed, attempt, err)
		}
		h.logger.LogAttrs(ctx, slog.LevelInfo, "rotation test attempt failed; retrying",
			slog.String("secret", e.secretID), slog.String("version", e.versionID),
			slog.Int("attempt", attempt), slog.Duration("wait", wait))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("%w: %w (gave up waiting to retry: %w)", ErrTestFailed, err, ctx.Err())
		}
		wait *= 2
	}
}

// finish moves AWSCURRENT to the event's version, taking it from the
// version that actually holds it. It never touches AWSPENDING: the service
// removes it once the rotation has succeeded.
func (h *Handler) finish(ctx context.Context, e event) (outcome, error) {
	v, current, err := h.describe(ctx, e)
	if err != nil {
		return "", err
	}
	out := outcomeNoop
	if !current {
		in := &secretsmanager.UpdateSecretVersionStageInput{
			SecretId:        aws.String(e.secretID),
			VersionStage:    aws.String(string(StageCurrent)),
			MoveToVersionId: aws.String(e.versionID),
		}
		if holder, ok := v.Holder(StageCurrent); ok {
			in.RemoveFromVersionId = aws.String(holder)
		}
		if err := h.moveCurrent(ctx, e, in); err != nil {
			return "", err
		}
		out = outcomeDone
	}
	if f, ok := h.rotator.(Finisher); ok {
		if out == outcomeDone {
			v = movedCurrent(v, e.versionID)
		}
		values := h.lazyKnown(e, v)
		if _, err := f.Finish(ctx, &FinishRequest{SecretARN: e.secretID, VersionID: e.versionID, values: values}); err != nil {
			return "", fmt.Errorf("finish hook: %w", Scrub(err, values.seen()...))
		}
	}
	return out, nil
}

// seen returns the values read so far, and extra.
func (l *lazyValues) seen(extra ...*Secret) []*Secret {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]*Secret(nil), extra...)
	for _, s := range l.cache {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// scrubbedError is an error whose text had secret values cut out. It
// unwraps to the original, so errors.Is and errors.As still work.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// Scrub returns err with every credential of the given values cut out of
// its text (shown as [REDACTED]); errors.Is and errors.As still see the
// original chain. The credentials are every string or number held by a
// field whose name marks a credential (pass, pwd, secret, token, key,
// private, credential, not ending in id, arn, name, url, ...), at any
// depth, or the whole value when it holds none; each is cut out in every form the conformance
// suite's leak check looks for: raw, Go-quoted, JSON-, URL-, SQL- and
// backslash-escaped, base64 and hex, and, for a credential of 16
// characters or more, any run of 12 of its characters (a partly masked
// value). Values shorter than 8 characters are left alone: they cannot be
// told apart from ordinary text.
//
// The Handler scrubs every error a Rotator returns of the values it read;
// a Rotator that holds other credentials (an admin secret it fetched)
// scrubs its errors of those itself. It is defence in depth: values must
// not be put in errors in the first place.
func Scrub(err error, values ...*Secret) error {
	if err == nil {
		return nil
	}
	var needles []redact.Needle
	for _, v := range values {
		needles = append(needles, v.credentials()...)
	}
	return redactError(err, needles, redacted)
}

// redactError returns err, or an error whose text has every needle cut out
// (replaced by marker) that unwraps to err.
func redactError(err error, needles []redact.Needle, marker string) error {
	if err == nil || len(needles) == 0 {
		return err
	}
	msg := fmt.Sprint(err) // survives a typed nil whose Error method panics
	msg, changed := redact.Compile(needles).Redact(msg, marker)
	if !changed {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// redactToken returns err with the RotationToken tok cut out of its text.
// A Rotator's error can quote the event it ran for; the token must reach
// neither the log nor the error Lambda reports.
func redactToken(err error, tok string) error {
	if tok == "" {
		return err
	}
	return redactError(err, []redact.Needle{{Value: tok, Partial: true}}, "[RotationToken redacted]")
}

// movedCurrent returns v as it is after AWSCURRENT moved to id: the
// version that held it now holds AWSPREVIOUS.
func movedCurrent(v versions, id string) versions {
	out := versions{}
	for vid, stages := range v {
		out[vid] = slices.DeleteFunc(slices.Clone(stages), func(s string) bool {
			return s == string(StageCurrent) || s == string(StagePrevious)
		})
	}
	if old, ok := v.Holder(StageCurrent); ok && old != id {
		out[old] = append(out[old], string(StagePrevious))
	} else if prev, ok := v.Holder(StagePrevious); ok {
		out[prev] = append(out[prev], string(StagePrevious))
	}
	out[id] = append(out[id], string(StageCurrent))
	return out
}

// lazyValues reads labelled values on first use, once per step. When the
// step already knows which version holds each label (finishSecret, from
// DescribeSecret), it reads by version id, so two labels on one version
// cost one read.
type lazyValues struct {
	h       *Handler
	secret  string
	holders map[Stage]string // nil: unknown, read by stage
	mu      sync.Mutex
	cache   map[Stage]*Secret
	byID    map[string]*Secret
}

func (h *Handler) lazy(e event) *lazyValues {
	return &lazyValues{h: h, secret: e.secretID, cache: map[Stage]*Secret{}, byID: map[string]*Secret{}}
}

// lazyKnown is lazy with the label holders known.
func (h *Handler) lazyKnown(e event, v versions) *lazyValues {
	l := h.lazy(e)
	l.holders = map[Stage]string{}
	for _, st := range []Stage{StageCurrent, StagePending, StagePrevious} {
		if id, ok := v.Holder(st); ok {
			l.holders[st] = id
		}
	}
	return l
}

// errNoCurrentLabel is get's error when no version carries AWSCURRENT.
var errNoCurrentLabel = fmt.Errorf("%w: no version is labelled AWSCURRENT", ErrNoCurrent)

func (l *lazyValues) get(ctx context.Context, stage Stage) (*Secret, error) {
	if l == nil {
		return nil, errors.New("rotation: request was not built by a Handler (in tests, build one with rotationtest.NewCreateRequest and the like)")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.cache[stage]; ok {
		if s == nil && stage == StageCurrent {
			return nil, errNoCurrentLabel
		}
		return s, nil
	}
	id := ""
	if l.holders != nil {
		var known bool
		if id, known = l.holders[stage]; !known {
			if stage == StageCurrent {
				return nil, errNoCurrentLabel
			}
			l.cache[stage] = nil
			return nil, nil
		}
		if s, ok := l.byID[id]; ok {
			l.cache[stage] = s
			return s, nil
		}
	}
	s, err := l.h.getValue(ctx, l.secret, id, stage)
	if err != nil {
		if (stage == StagePrevious || stage == StagePending) && isNotFound(err) {
			l.cache[stage] = nil
			return nil, nil
		}
		if stage == StageCurrent && isNotFound(err) {
			return nil, fmt.Errorf("%w: %w", ErrNoCurrent, err)
		}
		return nil, err
	}
	l.cache[stage] = s
	l.byID[s.VersionID()] = s
	return s, nil
}
