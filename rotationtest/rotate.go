package rotationtest

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
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/internal/schedule"
)

// Invoker runs one step of a rotation function, the way Secrets Manager
// invokes a Lambda function synchronously. A non-nil error fails the step.
// Implementations must be safe for concurrent use.
type Invoker interface {
	Invoke(ctx context.Context, functionARN string, event events.SecretsManagerSecretRotationEvent) error
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
		return fmt.Errorf("rotationtest: no function %q", functionARN)
	}
	return inv.Invoke(ctx, functionARN, ev)
}

// CanInvoke reports whether functionARN is registered.
func (fs Functions) CanInvoke(functionARN string) bool {
	_, ok := fs[functionARN]
	return ok
}

// LambdaInvoker invokes functions over the Lambda Invoke API
// (POST /2015-03-31/functions/<name>/invocations), as served by AWS Lambda
// or the Lambda Runtime Interface Emulator. A step fails when the response
// status is not 2xx, when the X-Amz-Function-Error header is set, or when
// the body is a Lambda error document ({"errorMessage": ...}), which is how
// the emulator reports a function error.
type LambdaInvoker struct {
	// Endpoint is the base URL, for example "http://127.0.0.1:9000".
	Endpoint string
	// Client is the HTTP client to use; nil means http.DefaultClient.
	Client *http.Client
	// FunctionName, if set, is the name invoked whatever the ARN says. The
	// Runtime Interface Emulator answers only the name "function".
	FunctionName string
}

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
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("invoke %s: reading response: %w", name, err)
	}
	var doc struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    string  `json:"errorType"`
	}
	_ = json.Unmarshal(out, &doc) // a success payload need not be an object
	switch {
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("invoke %s: status %d: %s", name, resp.StatusCode, truncateBody(out))
	case resp.Header.Get("X-Amz-Function-Error") != "" || doc.ErrorMessage != nil:
		return &FunctionError{Type: doc.ErrorType, Message: aws.ToString(doc.ErrorMessage)}
	}
	return nil
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

// record appends e; the caller holds f.mu.
func (f *Fake) record(e Event) {
	e.Time = f.now()
	f.events = append(f.events, e)
}

// Events returns the events recorded so far, oldest first.
func (f *Fake) Events() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// Rotation is one rotation the fake ran or is running: all the attempts
// made with one ClientRequestToken.
type Rotation struct {
	SecretARN   string
	VersionID   string // the ClientRequestToken
	FunctionARN string
	TestOnly    bool // RotateImmediately=false: testSecret only

	done chan struct{}

	mu        sync.Mutex
	attempts  int
	err       error
	cancelled bool
	tokens    []string
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
// it failed, and ErrRotationRunning while it runs.
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

// ErrRotationRunning is returned by Rotation.Err while the rotation runs.
var ErrRotationRunning = errors.New("rotationtest: rotation still running")

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
func (f *Fake) RotateSecret(ctx context.Context, in *secretsmanager.RotateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error) {
	now := f.begin("RotateSecret")
	defer f.mu.Unlock()
	if in == nil {
		in = &secretsmanager.RotateSecretInput{}
	}
	s, err := f.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	token, err := requestToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	var rules *RotationRules
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
			return nil, err
		}
		rules = &r
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
	out := &secretsmanager.RotateSecretOutput{ARN: aws.String(s.ARN), Name: aws.String(s.Name), VersionId: aws.String(token)}
	if p := s.staged(stagePending); p != nil && !p.HasStage(stageCurrent) {
		if p.ID == token && f.inflight[s.ARN] != nil {
			return out, nil // a retried request for the rotation already running
		}
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

	s.RotationLambdaARN = fn
	if rules != nil {
		s.RotationRules = rules
	}
	s.RotationEnabled = aws.Bool(true)
	v := Version{ID: token, CreatedDate: now}
	if testOnly {
		v.SecretString = cur.clone().SecretString
		v.SecretBinary = slices.Clone(cur.SecretBinary)
	}
	s.Versions = append(s.Versions, v)
	s.attach(token, stagePending)
	if testOnly {
		f.schedule(s, now)
	} else {
		// The next rotation is scheduled when this one succeeds.
		s.NextRotationDate = time.Time{}
	}
	f.start(s, token, fn, testOnly)
	return out, nil
}

func (f *Fake) canInvoke(fn string) bool {
	if f.opts.Invoker == nil {
		return false
	}
	if c, ok := f.opts.Invoker.(interface{ CanInvoke(string) bool }); ok {
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

// start launches the background rotation; the caller holds f.mu.
func (f *Fake) start(s *Secret, token, fn string, testOnly bool) *Rotation {
	r := &Rotation{SecretARN: s.ARN, VersionID: token, FunctionARN: fn, TestOnly: testOnly, done: make(chan struct{})}
	f.inflight[s.ARN] = r
	f.rotations = append(f.rotations, r)
	f.wg.Add(1)
	go f.run(r)
	return r
}

// run drives one rotation to its end.
func (f *Fake) run(r *Rotation) {
	defer f.wg.Done()
	defer close(r.done)
	steps := rotation.Steps()
	attempts := f.opts.RotationAttempts
	started, succeeded, failed := EventRotationStarted, EventRotationSucceeded, EventRotationFailed
	if r.TestOnly {
		steps = []rotation.Step{rotation.StepTest}
		attempts = 1
		started, succeeded, failed = EventTestRotationStarted, EventTestRotationSucceeded, EventTestRotationFailed
	}
	var err error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 && f.opts.RetryBackoff > 0 {
			time.Sleep(f.opts.RetryBackoff)
		}
		f.mu.Lock()
		s := f.lookup(r.SecretARN)
		r.mu.Lock()
		stop := r.cancelled
		r.attempts = attempt
		r.mu.Unlock()
		if s == nil || s.deleted() || stop || !f.pendingOn(s, r.VersionID) {
			if err == nil {
				err = errors.New("rotationtest: rotation abandoned or cancelled")
			}
			f.mu.Unlock()
			break
		}
		tok := newRotationToken()
		r.mu.Lock()
		r.tokens = append(r.tokens, tok)
		r.mu.Unlock()
		f.record(Event{Name: started, SecretARN: r.SecretARN, VersionID: r.VersionID})
		f.mu.Unlock()

		err = f.attempt(r, steps, tok)

		f.mu.Lock()
		if err == nil {
			f.record(Event{Name: succeeded, SecretARN: r.SecretARN, VersionID: r.VersionID})
		} else {
			var sf *StepFailedError
			step := rotation.Step("")
			if errors.As(err, &sf) {
				step = sf.Step
			}
			f.record(Event{Name: failed, SecretARN: r.SecretARN, VersionID: r.VersionID, Step: step, Message: err.Error()})
		}
		f.mu.Unlock()
		if err == nil {
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.lookup(r.SecretARN); s != nil {
		now := f.now()
		if r.TestOnly {
			s.Versions = slices.DeleteFunc(s.Versions, func(v Version) bool { return v.ID == r.VersionID })
		} else if err == nil {
			if p := s.staged(stagePending); p != nil {
				p.removeStage(stagePending)
			}
			s.LastRotatedDate = now
			f.schedule(s, now)
		} else {
			// The placeholder stays; "that rotation will be reattempted"
			// in the next window, which RunDue honours.
			f.schedule(s, now)
		}
	}
	if f.inflight[r.SecretARN] == r {
		delete(f.inflight, r.SecretARN)
	}
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

// pendingOn reports whether AWSPENDING is still on version id; the caller
// holds f.mu.
func (f *Fake) pendingOn(s *Secret, id string) bool {
	v := s.version(id)
	return v != nil && v.HasStage(stagePending)
}

// attempt invokes the steps once, in order, stopping at the first failure.
func (f *Fake) attempt(r *Rotation, steps []rotation.Step, tok string) error {
	for _, step := range steps {
		ev := events.SecretsManagerSecretRotationEvent{
			Step:               string(step),
			SecretID:           r.SecretARN,
			ClientRequestToken: r.VersionID,
			RotationToken:      tok,
		}
		ctx, cancel := context.WithTimeout(context.Background(), f.opts.StepTimeout)
		err := f.invoke(ctx, r.FunctionARN, ev)
		cancel()
		if err != nil {
			return &StepFailedError{FunctionARN: r.FunctionARN, Step: step, Err: err}
		}
		if err := f.checkAfter(r, step); err != nil {
			return &StepFailedError{FunctionARN: r.FunctionARN, Step: step, Err: err}
		}
	}
	return nil
}

// invoke calls the invoker, turning a panic into a failed step the way a
// crashed Lambda function fails its invocation.
func (f *Fake) invoke(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("function crashed: %v", p)
		}
	}()
	return f.opts.Invoker.Invoke(ctx, fn, ev)
}

// checkAfter applies the service's own checks after a step succeeded.
func (f *Fake) checkAfter(r *Rotation, step rotation.Step) error {
	f.mu.Lock()
	defer f.mu.Unlock()
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
			ok := false
			for _, o := range f.rotations {
				if o.VersionID == r.VersionID && v.RotationToken != "" {
					o.mu.Lock()
					ok = ok || slices.Contains(o.tokens, v.RotationToken)
					o.mu.Unlock()
				}
			}
			if !ok {
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
		r.mu.Lock()
		r.cancelled = true
		r.mu.Unlock()
	}
	return out, nil
}

// Rotations returns every rotation started so far, oldest first.
func (f *Fake) Rotations() []*Rotation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rotations)
}

// Rotation returns the rotation with ClientRequestToken versionID.
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

// Wait blocks until no rotation is running.
func (f *Fake) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Rotate calls RotateSecret and waits for that rotation to finish. The
// error is RotateSecret's, or the rotation's final error.
func (f *Fake) Rotate(ctx context.Context, in *secretsmanager.RotateSecretInput) (*Rotation, error) {
	out, err := f.RotateSecret(ctx, in)
	if err != nil {
		return nil, err
	}
	r, ok := f.Rotation(aws.ToString(out.VersionId))
	if !ok {
		return nil, errors.New("rotationtest: rotation not found")
	}
	return r, r.Wait(ctx)
}

// RunDue starts every scheduled rotation whose NextRotationDate has been
// reached on the fake's clock, reattempting a rotation whose AWSPENDING
// version is still in place, and waits for them all. Advance a
// ManualClock, then call RunDue. It returns the rotations it ran.
func (f *Fake) RunDue(ctx context.Context) ([]*Rotation, error) {
	f.mu.Lock()
	now := f.now()
	var started []*Rotation
	for _, s := range f.secrets {
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
		started = append(started, f.start(s, token, s.RotationLambdaARN, false))
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
