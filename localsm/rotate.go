package localsm

import (
	"bytes"
	"context"

	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/internal/redact"
	"github.com/rotationkit/rotation/internal/schedule"
)

// Invoker runs one step of a rotation function, the way Secrets Manager
// invokes a Lambda function synchronously. A non-nil error fails the step.
// Implementations must be safe for concurrent use.
type Invoker interface {
	Invoke(ctx context.Context, functionARN string, event events.SecretsManagerSecretRotationEvent) error
}

// CheckingInvoker is an Invoker that knows which functions it can reach.
// RotateSecret asks it before starting a rotation and answers
// AccessDeniedException for a function it cannot invoke, as AWS does for a
// function whose resource policy does not let Secrets Manager in. Functions
// implements it; an Invoker that does not is assumed to reach every
// function.
type CheckingInvoker interface {
	Invoker
	CanInvoke(functionARN string) bool
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, functionARN string, event events.SecretsManagerSecretRotationEvent) error

// Invoke calls fn.
func (fn InvokerFunc) Invoke(ctx context.Context, functionARN string, event events.SecretsManagerSecretRotationEvent) error {
	return fn(ctx, functionARN, event)
}

// HandlerInvoker returns an Invoker that calls h in process for every
// function ARN, the way lambda.Start would call it. Pass a
// rotation.Handler's Handle method.
func HandlerInvoker(h func(context.Context, events.SecretsManagerSecretRotationEvent) error) Invoker {
	return InvokerFunc(func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
		return h(ctx, ev)
	})
}

// Functions routes invocations by function ARN. Invoking an ARN it does not
// hold fails; RotateSecret checks first and answers AccessDeniedException,
// as AWS does for a function it cannot invoke.
type Functions map[string]Invoker

// Invoke calls the invoker registered for functionARN.
func (fs Functions) Invoke(ctx context.Context, functionARN string, ev events.SecretsManagerSecretRotationEvent) error {
	inv, ok := fs[functionARN]
	if !ok {
		return fmt.Errorf("localsm: no function %q", functionARN)
	}
	return inv.Invoke(ctx, functionARN, ev)
}

// CanInvoke reports whether functionARN is registered.
func (fs Functions) CanInvoke(functionARN string) bool {
	_, ok := fs[functionARN]
	return ok
}

// LambdaInvoker invokes functions over the Lambda Invoke API
// (POST /2015-03-31/functions/<name>/invocations), as the Lambda Runtime
// Interface Emulator serves it. It does not sign its requests, so it works
// with the emulator or another unauthenticated local Lambda endpoint, not
// with AWS Lambda itself, which requires SigV4.
//
// A step fails when the response status is not 2xx; when the
// X-Amz-Function-Error header is set (AWS's signal); when the body is a
// Lambda error document, a JSON object with an errorMessage or an
// errorType member even if null (the emulator's signal: it answers 200
// without the header); when the body is the emulator's plain
// "Task timed out ..." text; and when the body is larger than
// MaxLambdaResponse.
type LambdaInvoker struct {
	// Endpoint is the base URL, for example "http://127.0.0.1:9000".
	Endpoint string
	// Client is the HTTP client to use; nil means http.DefaultClient.
	Client *http.Client
	// FunctionName, if set, is the name invoked whatever the ARN says. The
	// Runtime Interface Emulator answers only the name "function".
	FunctionName string
}

// MaxLambdaResponse is the largest response body LambdaInvoker reads: the
// Lambda limit for a synchronous response payload. A longer body fails the
// step.
const MaxLambdaResponse = 6 << 20

// Invoke posts the event to the function named by functionARN (or
// FunctionName).
func (l LambdaInvoker) Invoke(ctx context.Context, functionARN string, ev events.SecretsManagerSecretRotationEvent) error {
	name, qualifier := functionARN, ""
	if l.FunctionName != "" {
		name = l.FunctionName
	} else if i := strings.LastIndex(functionARN, ":function:"); i >= 0 {
		name = functionARN[i+len(":function:"):]
		if j := strings.IndexByte(name, ':'); j >= 0 {
			// A version or alias goes in the Qualifier parameter, as the
			// Invoke API takes it.
			name, qualifier = name[:j], name[j+1:]
		}
	}
	if name == "" {
		name = "function"
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	url := strings.TrimRight(l.Endpoint, "/") + "/2015-03-31/functions/" + neturl.PathEscape(name) + "/invocations"
	if qualifier != "" {
		url += "?Qualifier=" + neturl.QueryEscape(qualifier)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c := l.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", name, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, MaxLambdaResponse+1))
	if err != nil {
		return fmt.Errorf("invoke %s: reading response: %w", name, err)
	}
	if len(out) > MaxLambdaResponse {
		return fmt.Errorf("invoke %s: the response body is larger than %d bytes", name, MaxLambdaResponse)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("invoke %s: status %d: %s", name, resp.StatusCode, truncateBody(out))
	}
	if fe := functionError(resp.Header.Get("X-Amz-Function-Error"), out); fe != nil {
		return fe
	}
	return nil
}

// functionError returns the function error a 2xx Invoke response reports,
// or nil if it reports success. header is X-Amz-Function-Error.
func functionError(header string, body []byte) *FunctionError {
	// A success payload need not be an object; an error document is one.
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) == nil && doc != nil {
		rawMsg, hasMsg := doc["errorMessage"]
		rawType, hasType := doc["errorType"]
		if hasMsg || hasType {
			return &FunctionError{Type: jsonText(rawType), Message: jsonText(rawMsg)}
		}
	}
	text := strings.TrimSpace(string(body))
	var s string
	if json.Unmarshal(body, &s) == nil {
		text = s // a JSON string
	}
	switch {
	case header != "":
		// AWS says the function failed, but the body is not a Lambda
		// error document: report what it is.
		if text == "" {
			text = "X-Amz-Function-Error: " + header
		}
		return &FunctionError{Message: truncateBody([]byte(text))}
	case strings.HasPrefix(text, "Task timed out"):
		// The emulator's answer to a function that ran out of time.
		return &FunctionError{Message: truncateBody([]byte(text))}
	}
	return nil
}

// jsonText returns a JSON string's value, "" for null or absent, and any
// other JSON value as its text, truncated.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s *string
	if json.Unmarshal(raw, &s) == nil {
		return aws.ToString(s)
	}
	return truncateBody(raw)
}

func truncateBody(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// FunctionError is a function error reported by the Lambda Invoke API.
type FunctionError struct {
	Type    string // errorType
	Message string // errorMessage
}

// Error implements error.
func (e *FunctionError) Error() string {
	if e.Type == "" {
		return "function error: " + e.Message
	}
	return "function error (" + e.Type + "): " + e.Message
}

// Names of the CloudTrail-style events the fake records.
const (
	EventRotationStarted       = "RotationStarted"
	EventRotationSucceeded     = "RotationSucceeded"
	EventRotationFailed        = "RotationFailed"
	EventRotationAbandoned     = "RotationAbandoned"
	EventTestRotationStarted   = "TestRotationStarted"
	EventTestRotationSucceeded = "TestRotationSucceeded"
	EventTestRotationFailed    = "TestRotationFailed"
)

// Event is a service event the fake records, like the ones Secrets
// Manager sends to CloudTrail during rotation.
type Event struct {
	Time      time.Time
	Name      string // one of the Event* constants
	SecretARN string
	VersionID string
	Step      rotation.Step // the failing step, for failures
	Message   string        // for failures: the service's message and the cause
}

// record appends e, dropping the oldest events beyond MaxHistory; the
// caller holds f.mu.
func (f *Fake) record(e Event) {
	e.Time = f.now()
	f.events = append(f.events, e)
	if m := f.opts.MaxHistory; m > 0 && len(f.events) > m {
		// Compact only when twice over, so that recording stays O(1)
		// amortised.
		if len(f.events) >= 2*m {
			f.events = slices.Clone(f.events[len(f.events)-m:])
		}
	}
}

// Events returns the events recorded so far, oldest first: the most
// recent Options.MaxHistory of them if it is set.
func (f *Fake) Events() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := f.events
	if m := f.opts.MaxHistory; m > 0 && len(ev) > m {
		ev = ev[len(ev)-m:]
	}
	return slices.Clone(ev)
}

// Rotation is one rotation the fake ran or is running: all the attempts
// made with one ClientRequestToken.
type Rotation struct {
	SecretARN   string
	VersionID   string // the ClientRequestToken
	FunctionARN string
	TestOnly    bool // RotateImmediately=false: testSecret only

	done chan struct{} // closed, under Fake.mu, when the rotation has finished
	stop chan struct{} // closed when the rotation is cancelled or abandoned

	// restorePending is, for a test-only rotation started while
	// AWSPENDING sat on the AWSCURRENT version, that version: AWSPENDING
	// goes back to it when the test version is removed.
	restorePending string

	mu        sync.Mutex
	attempts  int
	err       error
	cancelled bool
}

// Done returns a channel closed when the rotation has finished, whether it
// succeeded or the fake gave up on it.
func (r *Rotation) Done() <-chan struct{} { return r.done }

// Wait blocks until the rotation has finished and returns Err.
func (r *Rotation) Wait(ctx context.Context) error {
	select {
	case <-r.done:
		return r.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err returns nil if the rotation succeeded, the last attempt's error if
// it failed, an error matching ErrRotationAbandoned if it was abandoned,
// and ErrRotationRunning while it runs.
func (r *Rotation) Err() error {
	select {
	case <-r.done:
	default:
		return ErrRotationRunning
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Attempts returns how many times the rotation has been attempted.
func (r *Rotation) Attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

// cancel stops the rotation after its current step or attempt (see
// halted) and ends a RetryBackoff wait.
func (r *Rotation) cancel() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.cancelled {
		r.cancelled = true
		close(r.stop)
	}
}

func (r *Rotation) isCancelled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancelled
}

// ErrRotationRunning is returned by Rotation.Err while the rotation runs.
var ErrRotationRunning = errors.New("localsm: rotation still running")

// ErrRotationAbandoned is matched (with errors.Is) by the error of a
// rotation that ended because AWSPENDING left its version while it ran:
// a manual PutSecretValue or UpdateSecret with default stages (the
// service's RotationAbandoned), an UpdateSecretVersionStage, or the
// function itself removing AWSPENDING. Such a rotation is not retried,
// records no success and leaves LastRotatedDate alone.
var ErrRotationAbandoned = errors.New("localsm: rotation abandoned")

// errFakeStopped fails the steps and rotations that shutdown interrupts.
var errFakeStopped = errors.New("localsm: the fake was shut down")

// StepFailedError is the error of a failed rotation attempt.
type StepFailedError struct {
	FunctionARN string
	Step        rotation.Step
	Err         error // what the invoker returned, or the service's own check
}

// Error implements error, starting with the message AWS records.
func (e *StepFailedError) Error() string {
	return fmt.Sprintf("Error when executing lambda %s during %s step: %v", e.FunctionARN, e.Step, e.Err)
}

// Unwrap returns the cause.
func (e *StepFailedError) Unwrap() error { return e.Err }

// timeoutError is the cause of a step that overran StepTimeout, worded as
// Lambda words it. It matches context.DeadlineExceeded.
type timeoutError struct{ d time.Duration }

func (e timeoutError) Error() string {
	return fmt.Sprintf("Task timed out after %.2f seconds", e.d.Seconds())
}

func (e timeoutError) Unwrap() error { return context.DeadlineExceeded }

const rotationTokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func newRotationToken() string {
	// 64 characters of [a-z0-9-], within the 36-256 length the API allows.
	var b strings.Builder
	for i := 0; i < 64; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b.WriteByte('-')
			continue
		}
		b.WriteByte(rotationTokenAlphabet[randIndex(len(rotationTokenAlphabet))])
	}
	return b.String()
}

// RotateSecret configures rotation and starts one, as Secrets Manager does:
// it validates, creates the AWSPENDING placeholder and returns, while the
// rotation function is invoked in the background. Use Rotation or Wait to
// wait for the outcome.
//
// A request repeating the ClientRequestToken of a rotation of the same
// secret that the fake still remembers (see Options.MaxHistory), running
// or finished, is a retry: it gets the same answer and starts nothing, as
// the SDKs' retry of a request whose response was lost expects.
func (f *Fake) RotateSecret(ctx context.Context, in *secretsmanager.RotateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error) {
	now := f.begin("RotateSecret")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.RotateSecretInput{}
	}
	// The model's constraints are checked first, before the secret is
	// looked up, as AWS's front end does.
	if err := checkSecretID(in.SecretId); err != nil {
		return nil, err
	}
	token, err := requestToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	var rules *RotationRules
	var rulesErr error // a service-level (not model) problem with the rules
	if in.RotationRules != nil {
		if d := in.RotationRules.AutomaticallyAfterDays; d != nil && *d < 1 {
			return nil, errValidation("1 validation error detected: Value '%d' at 'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member must have value greater than or equal to 1", *d)
		}
		r := RotationRules{
			AutomaticallyAfterDays: aws.ToInt64(in.RotationRules.AutomaticallyAfterDays),
			ScheduleExpression:     aws.ToString(in.RotationRules.ScheduleExpression),
			Duration:               aws.ToString(in.RotationRules.Duration),
		}
		if _, err := parseRules(r); err != nil {
			if code, _ := ErrorCode(err); code == "ValidationException" {
				return nil, err
			}
			rulesErr = err
		}
		rules = &r
	}
	s, err := f.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	out := &secretsmanager.RotateSecretOutput{ARN: aws.String(s.ARN), Name: aws.String(s.Name), VersionId: aws.String(token)}
	if f.rotationOf(s.ARN, token) != nil {
		return out, nil // a retried request: same answer, nothing started
	}
	if rulesErr != nil {
		return nil, rulesErr
	}
	fn := aws.ToString(in.RotationLambdaARN)
	if fn == "" {
		fn = s.RotationLambdaARN
	}
	if fn == "" {
		return nil, errInvalidRequest("No Lambda rotation function ARN is associated with this secret.")
	}
	if !f.canInvoke(fn) {
		return nil, errAccessDenied("Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.")
	}
	if p := s.staged(stagePending); p != nil && !p.HasStage(stageCurrent) {
		return nil, errInvalidRequest("A previous rotation isn't complete. That rotation will be reattempted.")
	}
	if f.inflight[s.ARN] != nil {
		return nil, errInvalidRequest("A previous rotation isn't complete. That rotation will be reattempted.")
	}
	if s.version(token) != nil {
		return nil, errResourceExists("A version with this ClientRequestToken already exists.")
	}
	testOnly := in.RotateImmediately != nil && !*in.RotateImmediately
	cur := s.staged(stageCurrent)
	if testOnly && (cur == nil || cur.Placeholder()) {
		return nil, errInvalidRequest("You can't test rotation of a secret that has no AWSCURRENT value.")
	}
	if f.stopped {
		return nil, errStopped()
	}

	s.RotationLambdaARN = fn
	if rules != nil {
		s.RotationRules = rules
	}
	s.RotationEnabled = aws.Bool(true)
	v := Version{ID: token, CreatedDate: now}
	restore := ""
	if testOnly {
		v.SecretString = cur.clone().SecretString
		v.SecretBinary = slices.Clone(cur.SecretBinary)
		if cur.HasStage(stagePending) {
			// v1[AWSCURRENT, AWSPENDING]: the test borrows AWSPENDING
			// and gives it back.
			restore = cur.ID
		}
	}
	s.Versions = append(s.Versions, v)
	s.attach(token, stagePending)
	if testOnly {
		f.schedule(s, now)
	} else {
		// The next rotation is scheduled when this one ends.
		s.NextRotationDate = time.Time{}
	}
	f.start(s, token, fn, testOnly, restore)
	return out, nil
}

// rotationOf returns the remembered rotation of secret arn with
// ClientRequestToken token, or nil; the caller holds f.mu.
func (f *Fake) rotationOf(arn, token string) *Rotation {
	for i := len(f.rotations) - 1; i >= 0; i-- {
		if r := f.rotations[i]; r.VersionID == token && r.SecretARN == arn {
			return r
		}
	}
	return nil
}

func errStopped() error {
	return &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "The service is shutting down and starts no new rotation.", Fault: smithy.FaultServer}
}

func (f *Fake) canInvoke(fn string) bool {
	inv := f.currentInvoker()
	if inv == nil {
		return false
	}
	if c, ok := inv.(CheckingInvoker); ok {
		return c.CanInvoke(fn)
	}
	return true
}

func parseRules(r RotationRules) (*schedule.Schedule, error) {
	sch, err := schedule.Parse(schedule.Rules{
		AutomaticallyAfterDays: r.AutomaticallyAfterDays,
		ScheduleExpression:     r.ScheduleExpression,
		Duration:               r.Duration,
	})
	if err != nil {
		var se *schedule.Error
		if errors.As(err, &se) && se.Code == "ValidationException" {
			return nil, errValidation("%s", se.Message)
		}
		return nil, errInvalidParameter("%s", err.Error())
	}
	return sch, nil
}

// schedule sets NextRotationDate from the rules; the caller holds f.mu.
func (f *Fake) schedule(s *Secret, now time.Time) {
	s.NextRotationDate = time.Time{}
	if s.RotationRules == nil || s.RotationEnabled == nil || !*s.RotationEnabled {
		return
	}
	sch, err := parseRules(*s.RotationRules)
	if err != nil {
		return // seeded with invalid rules: never due
	}
	start, _ := sch.NextWindow(now, s.LastRotatedDate)
	s.NextRotationDate = start
}

// StopRotations makes the fake start no more rotations: from now on
// RotateSecret answers ServiceUnavailable (HTTP 503) to a request that
// would start one, and RunDue starts none. Rotations already running go on,
// retries included; call Wait for them. It is meant for a server shutting
// down: stop, Wait (while still serving the rotation functions' calls),
// then close the listener.
func (f *Fake) StopRotations() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
}

// Close stops every rotation for good: no further step or attempt starts,
// new rotations are refused, and the context of every running invocation
// is cancelled. Invocations that
// ignore their context still run; Wait waits for them.
func (f *Fake) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	f.cancel()
	for r := range f.running {
		r.cancel()
	}
}

// start launches the background rotation; the caller holds f.mu.
func (f *Fake) start(s *Secret, token, fn string, testOnly bool, restorePending string) *Rotation {
	r := &Rotation{
		SecretARN: s.ARN, VersionID: token, FunctionARN: fn, TestOnly: testOnly,
		restorePending: restorePending,
		done:           make(chan struct{}),
		stop:           make(chan struct{}),
	}
	f.pruneIssued(s)
	f.inflight[s.ARN] = r
	f.rotations = append(f.rotations, r)
	f.running[r] = struct{}{}
	go f.run(r)
	return r
}

// pruneIssued forgets the RotationTokens of s's versions that are no
// longer pending: no rotation can use them any more. The caller holds f.mu.
func (f *Fake) pruneIssued(s *Secret) {
	m := f.issued[s.ARN]
	for id := range m {
		if !f.pendingOn(s, id) {
			delete(m, id)
		}
	}
	if len(m) == 0 {
		delete(f.issued, s.ARN)
	}
}

// issue records tok as sent for r's version; the caller holds f.mu.
func (f *Fake) issue(r *Rotation, tok string) {
	m := f.issued[r.SecretARN]
	if m == nil {
		m = map[string][]string{}
		f.issued[r.SecretARN] = m
	}
	m[r.VersionID] = append(m[r.VersionID], tok)
}

// releaseStale releases the in-flight slot of s if its rotation's version
// no longer carries AWSPENDING: that rotation is abandoned and will end at
// its next check, and must not block a new one. The caller holds f.mu.
func (f *Fake) releaseStale(s *Secret) {
	if r := f.inflight[s.ARN]; r != nil && !f.pendingOn(s, r.VersionID) {
		r.cancel()
		delete(f.inflight, s.ARN)
	}
}

// run drives one rotation to its end.
func (f *Fake) run(r *Rotation) {
	steps := rotation.Steps()
	attempts := f.opts.RotationAttempts
	started, succeeded, failed := EventRotationStarted, EventRotationSucceeded, EventRotationFailed
	if r.TestOnly {
		steps = []rotation.Step{rotation.StepTest}
		attempts = 1
		started, succeeded, failed = EventTestRotationStarted, EventTestRotationSucceeded, EventTestRotationFailed
	}
	var err error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			f.backoff(r)
		}
		f.mu.Lock()
		if stop := f.halted(r, true); stop != nil {
			if err == nil || errors.Is(stop, ErrRotationAbandoned) {
				err = stop
			}
			f.finish(r, err)
			f.mu.Unlock()
			return
		}
		r.mu.Lock()
		r.attempts = attempt
		r.mu.Unlock()
		tok := newRotationToken()
		f.issue(r, tok)
		f.record(Event{Name: started, SecretARN: r.SecretARN, VersionID: r.VersionID})
		f.mu.Unlock()

		var stopped bool
		stopped, err = f.attempt(r, steps, tok)

		f.mu.Lock()
		if !stopped {
			// Checked in the same critical section as the success
			// bookkeeping: a rotation abandoned during its last step
			// neither succeeds nor fails, it ends abandoned.
			if stop := f.halted(r, false); stop != nil {
				if err != nil {
					stop = fmt.Errorf("%w; the step had failed: %w", stop, err)
				}
				err, stopped = stop, true
			}
		}
		switch {
		case stopped:
			// Abandoned in the middle: no failure of the function.
		case err == nil:
			f.record(Event{Name: succeeded, SecretARN: r.SecretARN, VersionID: r.VersionID})
		default:
			var sf *StepFailedError
			step := rotation.Step("")
			if errors.As(err, &sf) {
				step = sf.Step
			}
			f.record(Event{Name: failed, SecretARN: r.SecretARN, VersionID: r.VersionID, Step: step, Message: err.Error()})
		}
		if err == nil || stopped || attempt >= attempts {
			f.finish(r, err)
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
	}
}

// backoff waits RetryBackoff before another attempt, on a timer that the
// rotation's cancellation and the fake's shutdown cut short.
func (f *Fake) backoff(r *Rotation) {
	d := f.opts.RetryBackoff
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.stop:
	case <-f.ctx.Done():
	}
}

// halted returns why r must stop, or nil if it may go on; the caller holds
// f.mu. Before a step (between=false) only the loss of AWSPENDING or of
// the secret stops it; between attempts a cancellation and a shutdown do
// too (CancelRotateSecret lets the current attempt finish).
func (f *Fake) halted(r *Rotation, between bool) error {
	s := f.lookup(r.SecretARN)
	switch {
	case s == nil:
		return errors.New("localsm: the secret was deleted during the rotation")
	case !f.pendingOn(s, r.VersionID):
		return f.abandonedError(r)
	case !between:
		return nil
	case s.deleted():
		return errors.New("localsm: the secret was scheduled for deletion during the rotation")
	case f.ctx.Err() != nil:
		return errFakeStopped
	case r.isCancelled():
		return errors.New("localsm: rotation cancelled")
	}
	return nil
}

func (f *Fake) abandonedError(r *Rotation) error {
	return fmt.Errorf("%w: AWSPENDING is no longer on version %s (a manual write, an UpdateSecretVersionStage or the function itself removed it)", ErrRotationAbandoned, r.VersionID)
}

// finish ends r with err: the service's bookkeeping, then r is released
// and marked done. The caller holds f.mu.
func (f *Fake) finish(r *Rotation, err error) {
	reattempt := false
	if s := f.lookup(r.SecretARN); s != nil {
		now := f.now()
		switch {
		case r.TestOnly:
			s.Versions = slices.DeleteFunc(s.Versions, func(v Version) bool { return v.ID == r.VersionID })
			if v := s.version(r.restorePending); v != nil && v.HasStage(stageCurrent) && s.staged(stagePending) == nil {
				v.addStage(stagePending)
			}
		case err == nil:
			// halted checked, under this same lock, that AWSPENDING is
			// on r's version.
			s.version(r.VersionID).removeStage(stagePending)
			s.LastRotatedDate = now
			f.schedule(s, now)
		case f.pendingOn(s, r.VersionID):
			// The placeholder stays; "that rotation will be reattempted"
			// in the next window, which RunDue honours.
			reattempt = true
			f.schedule(s, now)
		default:
			// Abandoned. A manual write already rescheduled (see
			// manualWrite); a label removal did not.
			if s.NextRotationDate.IsZero() {
				f.schedule(s, now)
			}
		}
		if !reattempt {
			// Nothing can use this rotation's RotationTokens any more.
			if m := f.issued[s.ARN]; m != nil {
				delete(m, r.VersionID)
				if len(m) == 0 {
					delete(f.issued, s.ARN)
				}
			}
		}
	} else {
		delete(f.issued, r.SecretARN)
	}
	if err != nil && !r.TestOnly && !reattempt && !errors.Is(err, ErrRotationAbandoned) && f.lookup(r.SecretARN) != nil {
		// The last attempt failed, and meanwhile AWSPENDING left.
		err = fmt.Errorf("%w; the last attempt had failed: %w", f.abandonedError(r), err)
	}
	if f.inflight[r.SecretARN] == r {
		delete(f.inflight, r.SecretARN)
	}
	delete(f.running, r)
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	close(r.done)
	f.trimRotations()
}

// trimRotations drops the oldest finished rotations beyond MaxHistory; the
// caller holds f.mu.
func (f *Fake) trimRotations() {
	m := f.opts.MaxHistory
	if m <= 0 {
		return
	}
	drop := len(f.rotations) - len(f.running) - m
	if drop <= 0 {
		return
	}
	f.rotations = slices.DeleteFunc(f.rotations, func(r *Rotation) bool {
		if _, running := f.running[r]; drop > 0 && !running {
			drop--
			return true
		}
		return false
	})
}

// pendingOn reports whether AWSPENDING is still on version id; the caller
// holds f.mu.
func (f *Fake) pendingOn(s *Secret, id string) bool {
	v := s.version(id)
	return v != nil && v.HasStage(stagePending)
}

// attempt invokes the steps once, in order, stopping at the first failure.
// stopped reports that the rotation was abandoned (AWSPENDING left its
// version, or the secret went) rather than a step failing.
func (f *Fake) attempt(r *Rotation, steps []rotation.Step, tok string) (stopped bool, err error) {
	for _, step := range steps {
		f.mu.Lock()
		stop := f.halted(r, false)
		f.mu.Unlock()
		if stop != nil {
			return true, stop
		}
		ev := events.SecretsManagerSecretRotationEvent{
			Step:               string(step),
			SecretID:           r.SecretARN,
			ClientRequestToken: r.VersionID,
			RotationToken:      tok,
		}
		if err := f.invokeStep(r.FunctionARN, ev); err != nil {
			return false, &StepFailedError{FunctionARN: r.FunctionARN, Step: step, Err: redactToken(err, tok)}
		}
		f.mu.Lock()
		stop = f.halted(r, false)
		if stop == nil {
			err = f.checkAfter(r, step)
		}
		f.mu.Unlock()
		if stop != nil {
			return true, stop
		}
		if err != nil {
			return false, &StepFailedError{FunctionARN: r.FunctionARN, Step: step, Err: err}
		}
	}
	return false, nil
}

// redactToken hides tok in err's text. A function's error (a Lambda
// errorMessage, an error body, a panic value) may echo the event it was
// sent, and the step's error reaches Event.Message, Rotation.Err and the
// lines secretsmanager-local logs; the RotationToken must reach none of
// them. errors.As and errors.Is still see err.
func redactToken(err error, tok string) error {
	if tok == "" {
		return err
	}
	// The same forms and runs as the conformance suite's leak check.
	msg, changed := redact.Compile([]redact.Needle{{Value: tok, Partial: true}}).Redact(err.Error(), "[RotationToken redacted]")
	if !changed {
		return err
	}
	return &redactedError{err: err, msg: msg}
}

// redactedError is an error whose text has a RotationToken hidden.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Unwrap() error { return e.err }

// invokeStep runs one invocation under StepTimeout. The invoker runs in
// its own goroutine, so that the step ends at the deadline even if the
// invoker ignores its context; that goroutine is tracked in f.invocations
// until it returns, for Wait.
func (f *Fake) invokeStep(fn string, ev events.SecretsManagerSecretRotationEvent) error {
	if f.ctx.Err() != nil {
		return errFakeStopped
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.opts.StepTimeout)
	defer cancel()
	type result struct {
		err  error
		late bool // returned after the deadline (or the shutdown)
	}
	res := make(chan result, 1)
	fin := make(chan struct{})
	f.mu.Lock()
	f.invocations[fin] = struct{}{}
	f.mu.Unlock()
	go func() {
		err := f.invoke(ctx, fn, ev)
		res <- result{err, ctx.Err() != nil}
		f.mu.Lock()
		delete(f.invocations, fin)
		close(fin)
		f.mu.Unlock()
	}()
	select {
	case r := <-res:
		if r.late {
			return f.overrun()
		}
		return r.err
	case <-ctx.Done():
		return f.overrun()
	}
}

// overrun is the cause of a step whose context ended before it returned.
func (f *Fake) overrun() error {
	if f.ctx.Err() != nil {
		return errFakeStopped
	}
	return timeoutError{f.opts.StepTimeout}
}

// invoke calls the invoker, turning a panic into a failed step the way a
// crashed Lambda function fails its invocation.
func (f *Fake) invoke(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("function crashed: %v", p)
		}
	}()
	inv := f.currentInvoker()
	if inv == nil {
		return errors.New("localsm: no invoker is set")
	}
	return inv.Invoke(ctx, fn, ev)
}

// checkAfter applies the service's own checks after a step succeeded; the
// caller holds f.mu.
func (f *Fake) checkAfter(r *Rotation, step rotation.Step) error {
	s := f.lookup(r.SecretARN)
	if s == nil {
		return errors.New("secret was deleted during rotation")
	}
	v := s.version(r.VersionID)
	switch step {
	case rotation.StepCreate:
		if f.opts.StrictRotationToken && v != nil {
			// Any token the service issued for this version counts,
			// including those of an earlier rotation RunDue reattempts.
			if v.RotationToken == "" || !slices.Contains(f.issued[s.ARN][r.VersionID], v.RotationToken) {
				//lint:ignore ST1005 the service's message, word for word
				return fmt.Errorf("Pending secret version %s for Secret %s was not created by Lambda %s. Remove the AWSPENDING staging label and restart rotation.", r.VersionID, s.Name, r.FunctionARN)
			}
		}
	case rotation.StepFinish:
		if v == nil || !v.HasStage(stageCurrent) {
			return fmt.Errorf("finishSecret returned success but version %s is not AWSCURRENT", r.VersionID)
		}
	}
	return nil
}

// CancelRotateSecret turns off rotation for a secret. A rotation in
// progress stops after its current attempt; AWSPENDING stays where it is,
// as with AWS, and must be removed before the next rotation.
func (f *Fake) CancelRotateSecret(ctx context.Context, in *secretsmanager.CancelRotateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CancelRotateSecretOutput, error) {
	f.begin("CancelRotateSecret")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.CancelRotateSecretInput{}
	}
	s, err := f.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	s.RotationEnabled = aws.Bool(false)
	s.NextRotationDate = time.Time{}
	out := &secretsmanager.CancelRotateSecretOutput{ARN: aws.String(s.ARN), Name: aws.String(s.Name)}
	if p := s.staged(stagePending); p != nil && !p.HasStage(stageCurrent) {
		out.VersionId = aws.String(p.ID)
	}
	if r := f.inflight[s.ARN]; r != nil {
		r.cancel()
	}
	return out, nil
}

// Rotations returns the rotations started so far, oldest first: every one
// that still runs, and the most recent Options.MaxHistory finished ones if
// it is set.
func (f *Fake) Rotations() []*Rotation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rotations)
}

// Rotation returns the latest rotation with ClientRequestToken versionID
// among those Rotations returns.
func (f *Fake) Rotation(versionID string) (*Rotation, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.rotations) - 1; i >= 0; i-- {
		if f.rotations[i].VersionID == versionID {
			return f.rotations[i], true
		}
	}
	return nil, false
}

// Wait blocks until no rotation is running and no invocation has yet to
// return, or until ctx is done, and then returns ctx's error. Invocations
// include those abandoned at StepTimeout whose invoker ignores its
// context: their rotation has finished, but the invoker may still act on
// the fake. Wait starts no goroutine, so it leaks none when ctx ends first.
func (f *Fake) Wait(ctx context.Context) error {
	for {
		f.mu.Lock()
		pending := make([]<-chan struct{}, 0, len(f.running)+len(f.invocations))
		for r := range f.running {
			pending = append(pending, r.done)
		}
		for c := range f.invocations {
			pending = append(pending, c)
		}
		f.mu.Unlock()
		if len(pending) == 0 {
			return nil
		}
		for _, c := range pending {
			select {
			case <-c:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// Rotate calls RotateSecret and waits for that rotation to finish. The
// error is RotateSecret's, or the rotation's final error.
func (f *Fake) Rotate(ctx context.Context, in *secretsmanager.RotateSecretInput) (*Rotation, error) {
	out, err := f.RotateSecret(ctx, in)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	r := f.rotationOf(aws.ToString(out.ARN), aws.ToString(out.VersionId))
	f.mu.Unlock()
	if r == nil {
		return nil, errors.New("localsm: rotation not found")
	}
	return r, r.Wait(ctx)
}

// RunDue starts every scheduled rotation whose NextRotationDate has been
// reached on the fake's clock, reattempting a rotation whose AWSPENDING
// version is still in place, and waits for them all. Advance a
// ManualClock, then call RunDue. It returns the rotations it ran. After
// StopRotations it starts none.
func (f *Fake) RunDue(ctx context.Context) ([]*Rotation, error) {
	f.mu.Lock()
	now := f.now()
	var started []*Rotation
	for _, s := range f.secrets {
		if f.stopped {
			break
		}
		if s.deleted() || s.RotationEnabled == nil || !*s.RotationEnabled || s.NextRotationDate.IsZero() ||
			s.NextRotationDate.After(now) || f.inflight[s.ARN] != nil || s.RotationLambdaARN == "" || !f.canInvoke(s.RotationLambdaARN) {
			continue
		}
		token := newUUID()
		if p := s.staged(stagePending); p != nil && !p.HasStage(stageCurrent) {
			token = p.ID // "That rotation will be reattempted."
		} else {
			s.Versions = append(s.Versions, Version{ID: token, CreatedDate: now})
			s.attach(token, stagePending)
		}
		s.NextRotationDate = time.Time{}
		started = append(started, f.start(s, token, s.RotationLambdaARN, false, ""))
	}
	f.mu.Unlock()
	for _, r := range started {
		select {
		case <-r.done:
		case <-ctx.Done():
			return started, ctx.Err()
		}
	}
	return started, nil
}
