package rotationtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
)

// HandleFunc is a rotation function's entry point: what lambda.Start gets,
// such as rotation.Handler.Handle.
type HandleFunc func(ctx context.Context, event events.SecretsManagerSecretRotationEvent) error

// Fixture is what the conformance suite needs to exercise one rotator:
// the secret to seed, the handler under test and a probe of the real
// target service. A Factory builds a fresh one for every rule.
type Fixture struct {
	// Secret is the initial AWSCURRENT SecretString. It must authenticate
	// against the target when the fixture is returned.
	Secret string

	// Others are extra secrets to create first, by name (for example the
	// admin secret an alternating-users secret names in its masterarn
	// field; see ExampleCheck_alternatingUsers).
	Others map[string]string

	// NewHandler builds the handler under test. It must use client for
	// every Secrets Manager call (the suite counts calls and injects faults
	// there), pass on the context each invocation gets (the suite uses it
	// to hold one of two overlapping invocations at its first write), and
	// log only to logger (the suite checks it for leaks).
	NewHandler func(client rotation.Client, logger *slog.Logger) (HandleFunc, error)

	// Probe tries a secret value against the real target service and
	// returns nil if it authenticates. It must be safe for concurrent use.
	//
	// Every rule trusts the Probe, so it must be written independently of
	// the rotator: it proves a login at the target with exactly the value
	// it is given (connect and authenticate, call an endpoint that needs
	// the key), and it never calls the rotator's Test or shares code with
	// it. A Probe that reuses Test, or checks only the shape of the value,
	// makes every rule pass for a rotator that changes nothing. Before the
	// rules the suite checks that the Probe accepts the initial secret and
	// rejects it with a credential field changed in one character and with
	// random credentials for the same user; a Probe that accepts them is a
	// fixture error.
	Probe func(ctx context.Context, secret *rotation.Secret) error

	// ZeroDowntime declares that the rotator promises zero downtime:
	// AWSCURRENT and AWSPREVIOUS keep authenticating throughout (alternating
	// users, two keys). Single-user rotators leave it false; the suite then
	// measures their failure window instead. It also says what the outcome
	// rules expect after a rotation: with ZeroDowntime exactly two values
	// (AWSCURRENT and AWSPREVIOUS) authenticate and the user name may
	// change; without it only AWSCURRENT does, and the replaced value must
	// fail.
	ZeroDowntime bool

	// MaxCalls, if positive, is the most Secrets Manager calls a clean
	// rotation may make.
	MaxCalls int

	// CredentialFields names the fields of Secret (a JSON object) that
	// hold the credential the rotator makes anew at every rotation: a
	// password, an API key's secret, a private key. Each must change at
	// every rotation, never repeat and be strong; the Probe must reject a
	// value with any of them altered. Default: the string and number
	// fields the leak check counts as credentials ("password",
	// "api_key", "client_secret", "private_key", ...) except those that
	// name a place (ending in "url", "uri", "arn", "endpoint" or "host"),
	// or the whole value when Secret is not a JSON object.
	CredentialFields []string

	// MayChange names the fields besides the credential that a rotation
	// may rewrite (a connection string that embeds the password, a key's
	// id); every other field must be carried over unchanged, and none may
	// be dropped. Default: fields whose name ends in "id" or starts with
	// "public" (a key id, a public key) and, when ZeroDowntime is set, the
	// user name ("username" or "user").
	MayChange []string

	// MinStrength is the least estimated strength, in bits, of a
	// generated credential field, estimated from its length and the kinds
	// of character seen (default 128). Set it lower for a service that
	// cannot take such credentials, or negative to turn the check off.
	MinStrength int

	// Neighbour, if set, is the AWSCURRENT value of a second secret on the
	// same target, which the rotator under test does not own (another
	// application's user or key). The suite stores it and, after rotating
	// the secret under test several times, requires it to still
	// authenticate.
	Neighbour string

	// Exempt turns off outcome rules that do not fit the target, by rule
	// name, each with the reason (for example a provider that keeps a
	// replaced secret valid for a grace period exempts
	// "old-credentials-retired"). The protocol rules cannot be turned off.
	Exempt map[string]string

	// Close, if set, releases the fixture's resources.
	Close func()
}

// Factory builds a fresh fixture. Each rule calls it once.
type Factory func(ctx context.Context) (*Fixture, error)

// Violation is one broken rule.
type Violation struct {
	Rule   string // the rule's name
	Reason string // why the rule exists
	Err    error  // what went wrong
}

// Error implements error.
func (v *Violation) Error() string {
	return fmt.Sprintf("rule %s (%s): %v", v.Rule, v.Reason, v.Err)
}

// Unwrap returns what went wrong.
func (v *Violation) Unwrap() error { return v.Err }

// Report holds the figures the suite measures.
type Report struct {
	// Calls is the number of Secrets Manager calls of one clean rotation.
	Calls int
	// CallsByOp breaks Calls down by operation.
	CallsByOp map[string]int
	// Probes and ProbeFailures count what a client authenticating with
	// AWSCURRENT saw during repeated rotations (after one re-fetch).
	Probes, ProbeFailures int
	// FailureWindow is the longest time during which a client holding a
	// fresh AWSCURRENT could not authenticate (single-user rotators).
	FailureWindow time.Duration
	// Labels are the secret's labels after the clean rotations of rule
	// rotates, as "version[STAGES] ...".
	Labels string
	// Events are the service's events (RotationStarted, RotationFailed
	// with its step, ...) during rule rotates.
	Events []localsm.Event
	// Skipped lists the rules that did not run, as "rule: why" (exempted
	// by the fixture, or nothing to check, such as no Neighbour).
	Skipped []string
}

// rule is one row of the conformance table.
type rule struct {
	name   string
	reason string
	run    func(ctx context.Context, e *env) error
	// exemptable rules check outcomes at the target, where a service may
	// legitimately differ: Fixture.Exempt can turn them off.
	exemptable bool
}

var rules = []rule{
	{"rotates", "a full rotation succeeds and leaves the labels as the service does", ruleRotates, false},
	{"rotation-token", "createSecret passes the RotationToken, or assumed-role and cross-account rotation fail", ruleRotationToken, false},
	{"labels-move-only-in-finish", "AWSCURRENT moves only in finishSecret, and never before testSecret passed; AWSPENDING is removed by the service, not the function", ruleLabels, false},
	{"replay-steps", "every step invoked twice in a row succeeds and the second changes nothing", ruleReplaySteps, false},
	{"rerun-after-success", "the whole rotation re-run after success is a no-op", ruleRerun, false},
	{"faults", "a fault at any Secrets Manager call, then the service's retry, ends in a working rotation with nothing lost", ruleFaults, false},
	{"crash-after-step", "a function that dies after any step converges on the service's retry", ruleCrash, false},
	{"overlapping-invocations", "two overlapping invocations of the same step converge, whether they run together or one is held at its first write while the other runs", ruleOverlap, false},
	{"failing-test", "a failing testSecret leaves AWSCURRENT where it was (and, for zero-downtime rotators, authenticating)", ruleFailingTest, false},
	{"test-rejects-bad-pending", "testSecret fails when the pending value does not authenticate", ruleTestRejects, false},
	{"test-only", "RotateImmediately=false runs testSecret alone and leaves no trace", ruleTestOnly, false},
	{"clients-keep-working", "a client using AWSCURRENT during repeated rotations never fails (zero-downtime rotators); the failure window is measured otherwise", ruleClients, false},
	{"credential-changed", "every credential field changes at a rotation, and a single-user rotation leaves the old value unable to authenticate", ruleCredentialChanged, true},
	{"old-credentials-retired", "after several rotations only AWSCURRENT (and, for zero downtime, AWSPREVIOUS) authenticate: older credentials are retired", ruleRetired, true},
	{"secret-preserved", "every field but the credential (and those the fixture lets change) is carried over unchanged, or clients lose it", rulePreserved, true},
	{"strong-credentials", "generated credentials never repeat and have the estimated strength required (128 bits by default)", ruleStrong, true},
	{"create-has-no-side-effect", "AWSCURRENT keeps authenticating after createSecret and until setSecret starts, for every strategy", ruleCreateNoSideEffect, true},
	{"neighbours-untouched", "rotating a secret many times leaves another secret's credential on the same target working", ruleNeighbours, true},
	{"test-really-tests", "testSecret fails for the stored pending value with a credential field changed in one character", ruleTestReallyTests, true},
}

// leakRule names the check made after every rule.
const (
	leakRule   = "no-leaks"
	leakReason = "no secret value or RotationToken appears in a log line or an error"
)

// Rules returns the names of the conformance rules, in the order they run,
// each with its one-line reason, as "name: reason".
func Rules() []string {
	out := make([]string, 0, len(rules)+1)
	for _, r := range rules {
		out = append(out, r.name+": "+r.reason)
	}
	return append(out, leakRule+": "+leakReason+" (checked after every rule)")
}

// SuiteOption changes how Run and Check exercise a rotator.
type SuiteOption func(*suiteConfig)

type suiteConfig struct {
	overHTTP    bool
	stepTimeout time.Duration
	ruleTimeout time.Duration
	fresh       freshConfig
}

func suiteOptions(opts []SuiteOption) suiteConfig {
	c := suiteConfig{stepTimeout: 30 * time.Second, ruleTimeout: ruleTimeout}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// OverHTTP makes the handler under test reach the fake through a real
// *secretsmanager.Client over loopback HTTP (see Server.Client), instead
// of calling the fake in memory, so the SDK's serialization and error
// decoding are part of what is tested. Faults are still injected between
// the handler and the client.
func OverHTTP() SuiteOption { return func(c *suiteConfig) { c.overHTTP = true } }

// ruleTimeout bounds each rule by default (see RuleTimeout), so that a
// rotator that hangs fails its rule instead of the whole test binary.
const ruleTimeout = 2 * time.Minute

// closeGrace bounds how long the suite waits, after a rule and with every
// invocation's context cancelled, for the rotation function to return.
// A function that honours its context returns at once; one still running
// after closeGrace is reported as a violation of the rule and left behind.
const closeGrace = 3 * time.Second

// Run runs every conformance rule as a subtest of t, each with a fresh
// fixture from factory and a timeout, and logs the figures it measures.
// A fixture that cannot be built fails the subtest with t.Fatal; a broken
// rule is reported with t.Error as a *Violation's text.
//
// The leak check (rule no-leaks, after every rule) reads the logger the
// handler is given, the errors it returns, and what it writes with the
// standard log package or slog.Default(): while a rule runs both are
// redirected to the suite (and passed on to their previous output), then
// restored. Concurrent Runs share that redirection safely, but a test that
// changes log's output or slog.Default() while a Run is going races with
// it. It looks for every secret value, RotationToken and credential field
// (pass, pwd, secret, token, key, private, credential; nested too; strings
// and numbers) in the forms of package internal/redact: raw, quoted,
// JSON-, URL-, SQL- and backslash-escaped, base64 at any alignment, hex,
// and any 12-character run of a credential of 16 or more characters.
//
// What the suite cannot catch: data races inside the rotator (run the test
// with -race); faults in calls the rotator makes to services other than
// Secrets Manager (inject those in the fixture's own target); leaks
// through anything but the logger it is given, the errors it returns, the
// standard log package and slog.Default() (os.Stdout, os.Stderr, a metrics
// label); a value transformed beyond the forms above (hashed, encrypted,
// split); a value that was generated but never stored and then leaked;
// values shorter than 8 characters, which cannot be told apart from
// ordinary log text; and state kept between invocations, unless
// FreshHandler (state in the handler or Rotator value) or FreshProcess
// (package-level state too) is given: by default the handler is built once
// and every step runs in the test process, where such state survives,
// while on Lambda the next step may run after a cold start. The outcome
// rules see only what the Probe sees: a Probe that is not independent of
// the rotator defeats them (the sanity check catches one that accepts
// altered or random credentials, not every way a Probe can be wrong);
// credential fields nested inside objects are not analysed (name them in
// CredentialFields only at the top level); damage to other users or keys
// on the target is seen only through Fixture.Neighbour; strength is
// estimated from the characters seen, so a value that looks random but is
// predictable (a time-seeded generator producing distinct values) passes.
func Run(t *testing.T, factory Factory, opts ...SuiteOption) {
	t.Helper()
	o := suiteOptions(opts)
	serveIfChild(factory, o)
	var mu sync.Mutex
	var rep Report
	var badProbe bool
	for i, r := range rules {
		if badProbe {
			break
		}
		if o.skips(r.name) {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			t.Helper()
			ctx, cancel := context.WithTimeout(t.Context(), o.ruleTimeout)
			defer cancel()
			e, err := newEnv(ctx, factory, o, i == 0)
			if err != nil {
				if errors.Is(err, errProbe) {
					badProbe = true
					t.Fatalf("fixture: %v\n(the remaining rules were not run)", err)
				}
				t.Fatalf("fixture: %v", err)
			}
			closed := false
			defer func() {
				if !closed {
					_ = e.close()
				}
			}()
			if why, ok := e.fx.Exempt[r.name]; ok {
				mu.Lock()
				rep.Skipped = append(rep.Skipped, r.name+": exempted by the fixture: "+why)
				mu.Unlock()
				// Logged, not skipped: the rule was declared inapplicable,
				// which is a pass, and a skip would read as a test that did
				// not run.
				t.Logf("exempted by the fixture: %s", why)
				return
			}
			for _, err := range e.runRule(ctx, r) {
				if why, ok := skipped(err); ok {
					mu.Lock()
					rep.Skipped = append(rep.Skipped, r.name+": "+why)
					mu.Unlock()
					t.Logf("not applicable: %s", why)
					continue
				}
				t.Errorf("%v", err)
			}
			closed = true
			if err := e.close(); err != nil {
				t.Errorf("%v", &Violation{Rule: r.name, Reason: r.reason, Err: err})
			}
			mu.Lock()
			e.report.mergeInto(&rep)
			mu.Unlock()
		})
	}
	t.Logf("%v", rep)
}

// Check runs every rule, each with a fresh fixture from factory and a
// timeout, and returns the figures it measured and every violation joined
// (each a *Violation naming its rule), or nil if the rotator conforms.
// errors.As(err, &v) finds the first violation; a non-nil err also has an
// Unwrap() []error method that lists them all:
//
//	_, err := rotationtest.Check(ctx, factory)
//	if err != nil {
//		for _, err := range err.(interface{ Unwrap() []error }).Unwrap() {
//			var v *rotationtest.Violation
//			if errors.As(err, &v) {
//				fmt.Println(v.Rule)
//			}
//		}
//	}
//
// A fixture that cannot be built is reported as an error that is not a
// *Violation, joined with the violations found so far; the remaining rules
// are not run. So is the end of ctx: Check then stops after the rule it
// was running, and the error matches ctx.Err(). See Run for what the suite
// cannot catch.
func Check(ctx context.Context, factory Factory, opts ...SuiteOption) (Report, error) {
	o := suiteOptions(opts)
	serveIfChild(factory, o)
	var errs []error
	var rep Report
	for i, r := range rules {
		if o.skips(r.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("rotationtest: Check stopped before rule %s: %w", r.name, err))
			return rep, errors.Join(errs...)
		}
		rctx, cancel := context.WithTimeout(ctx, o.ruleTimeout)
		e, err := newEnv(rctx, factory, o, i == 0)
		if err != nil {
			cancel()
			errs = append(errs, fmt.Errorf("rotationtest: fixture for rule %s: %w", r.name, err))
			return rep, errors.Join(errs...)
		}
		if why, ok := e.fx.Exempt[r.name]; ok {
			rep.Skipped = append(rep.Skipped, r.name+": exempted by the fixture: "+why)
		} else {
			for _, err := range e.runRule(rctx, r) {
				if why, ok := skipped(err); ok {
					rep.Skipped = append(rep.Skipped, r.name+": "+why)
				} else {
					errs = append(errs, err)
				}
			}
		}
		e.report.mergeInto(&rep)
		if err := e.close(); err != nil {
			errs = append(errs, &Violation{Rule: r.name, Reason: r.reason, Err: err})
		}
		cancel()
	}
	return rep, errors.Join(errs...)
}

// runRule runs r and the leak check that follows every rule, returning
// the violations as *Violation values.
func (e *env) runRule(ctx context.Context, r rule) []error {
	var errs []error
	if err := r.run(ctx, e); err != nil {
		if _, ok := skipped(err); ok {
			errs = append(errs, err)
		} else {
			errs = append(errs, &Violation{Rule: r.name, Reason: r.reason, Err: err})
		}
	}
	if err := e.leaks(); err != nil {
		errs = append(errs, &Violation{Rule: leakRule, Reason: leakReason, Err: fmt.Errorf("during %s: %w", r.name, err)})
	}
	return errs
}

func (r *Report) mergeInto(dst *Report) {
	if r.Calls > 0 {
		dst.Calls = r.Calls
		dst.CallsByOp = r.CallsByOp
	}
	dst.Probes += r.Probes
	dst.ProbeFailures += r.ProbeFailures
	dst.FailureWindow = max(dst.FailureWindow, r.FailureWindow)
	if r.Labels != "" {
		dst.Labels, dst.Events = r.Labels, r.Events
	}
}

// functionARN is the rotation function's ARN in the suite's fake.
const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:rotator-under-test"

// env is one rule's world: a fresh fake, the fixture and its handler.
type env struct {
	server *localsm.Server // when the suite runs over HTTP
	fx     *Fixture
	shape  shape
	fake   *localsm.Fake
	client *FaultClient
	handle HandleFunc
	arn    string

	logs *syncBuffer

	mu     sync.Mutex
	inv    localsm.Invoker // the invoker the fake uses now
	errs   []string        // every error text the handler returned
	tokens []needle        // every RotationToken the handler was sent
	sent   map[string]bool
	report Report

	envExtra
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newEnv builds a rule's world; with sanity it also checks that the
// fixture's Probe is a real check.
func newEnv(ctx context.Context, factory Factory, o suiteConfig, sanity bool) (*env, error) {
	fx, err := factory(ctx)
	if err != nil {
		return nil, err
	}
	if fx == nil || fx.NewHandler == nil || fx.Probe == nil || fx.Secret == "" {
		if fx != nil && fx.Close != nil {
			fx.Close()
		}
		return nil, errors.New("rotationtest: a Fixture needs Secret, NewHandler and Probe")
	}
	f, err := shapeOf(fx)
	if err == nil {
		err = checkExempt(fx)
	}
	if err != nil {
		if fx.Close != nil {
			fx.Close()
		}
		return nil, err
	}
	e := &env{fx: fx, shape: f, logs: &syncBuffer{}}
	e.fresh = o.fresh
	e.startCapture()
	e.fake = localsm.New(localsm.Options{
		StrictRotationToken: true,
		RotationAttempts:    4,
		StepTimeout:         o.stepTimeout,
		Invoker: localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			e.addToken(ev, "sent by the service")
			e.mu.Lock()
			inv := e.inv
			e.mu.Unlock()
			return inv.Invoke(ctx, fn, ev)
		}),
	})
	for _, name := range sortedKeys(fx.Others) {
		if _, err := e.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(fx.Others[name])}); err != nil {
			e.close()
			return nil, fmt.Errorf("rotationtest: creating secret %q: %w", name, err)
		}
	}
	if fx.Neighbour != "" {
		if _, err := e.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(neighbourName), SecretString: aws.String(fx.Neighbour)}); err != nil {
			e.close()
			return nil, fmt.Errorf("rotationtest: creating the neighbour secret: %w", err)
		}
	}
	out, err := e.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("conformance/secret"), SecretString: aws.String(fx.Secret)})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("rotationtest: creating the secret: %w", err)
	}
	e.arn = aws.ToString(out.ARN)
	if o.overHTTP {
		e.server = localsm.NewServer(e.fake)
		e.client = NewFaultClient(e.server.Client())
	} else {
		e.client = NewFaultClient(e.fake)
	}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.logger = logger
	h, err := fx.NewHandler(e.handlerClient(), logger)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("rotationtest: NewHandler: %w", err)
	}
	e.handle = h
	e.setInvoker(nil)
	if err := fx.Probe(ctx, rotation.NewString(fx.Secret)); err != nil {
		e.close()
		return nil, fmt.Errorf("rotationtest: the fixture's initial secret does not authenticate: %w", err)
	}
	if fx.Neighbour != "" {
		if err := fx.Probe(ctx, rotation.NewString(fx.Neighbour)); err != nil {
			e.close()
			return nil, fmt.Errorf("rotationtest: the fixture's Neighbour does not authenticate: %w", err)
		}
	}
	if sanity {
		if err := checkProbe(ctx, fx, f); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// addToken remembers ev's RotationToken for the leak check. The fake
// forgets the tokens of finished rotations, so the suite keeps its own
// record of every token the handler saw.
func (e *env) addToken(ev events.SecretsManagerSecretRotationEvent, how string) {
	if ev.RotationToken == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sent[ev.RotationToken] {
		return
	}
	if e.sent == nil {
		e.sent = map[string]bool{}
	}
	e.sent[ev.RotationToken] = true
	e.tokens = append(e.tokens, needle{ev.RotationToken, fmt.Sprintf("a RotationToken %s (for version %s)", how, short(ev.ClientRequestToken)), true})
}

// close ends the rule's world. The rule is over, so rotations still
// running are stopped and their invocations' contexts cancelled; close
// then waits at most closeGrace for the rotation function to return. If
// it does not (it ignores its context), close reports that instead of
// hanging, and leaves it running.
func (e *env) close() error {
	e.fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	var err error
	if e.fake.Wait(ctx) != nil {
		err = fmt.Errorf("the rotation function was still running %v after the rule ended and its context was cancelled: it must return when its context is done (the suite stopped waiting for it)", closeGrace)
	}
	if e.server != nil {
		e.server.Close()
	}
	if e.fx.Close != nil {
		e.fx.Close()
	}
	e.stopCapture()
	return err
}

// base is the invoker that calls the handler under test, recording the
// error texts it returns and recovering panics.
func (e *env) base() localsm.Invoker {
	return localsm.InvokerFunc(func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("handler panicked: %v", p)
			}
			if err != nil {
				e.mu.Lock()
				e.errs = append(e.errs, err.Error())
				e.mu.Unlock()
			}
		}()
		return e.invokeHandler(ctx, ev)
	})
}

// setInvoker makes the fake invoke wrap(base), or base if wrap is nil.
func (e *env) setInvoker(wrap func(localsm.Invoker) localsm.Invoker) {
	inv := e.base()
	if wrap != nil {
		inv = wrap(inv)
	}
	e.mu.Lock()
	e.inv = inv
	e.mu.Unlock()
}

// rotate runs one rotation and waits for it.
func (e *env) rotate(ctx context.Context, immediately bool) (*localsm.Rotation, error) {
	in := &secretsmanager.RotateSecretInput{SecretId: aws.String(e.arn), RotationLambdaARN: aws.String(functionARN)}
	if !immediately {
		in.RotateImmediately = aws.Bool(false)
	}
	return e.fake.Rotate(ctx, in)
}

func (e *env) secret() localsm.Secret {
	s, _ := e.fake.Secret(e.arn)
	return s
}

// value returns the value of v as a rotation.Secret.
func toSecret(v localsm.Version) *rotation.Secret {
	if v.SecretString != nil {
		return rotation.NewString(*v.SecretString)
	}
	return rotation.NewBinary(v.SecretBinary)
}

// labels returns a compact, deterministic view of the labels.
func labelsOf(s localsm.Secret) string {
	var parts []string
	for _, v := range s.Versions {
		if !v.Deprecated() {
			st := slices.Clone(v.Stages)
			sort.Strings(st)
			parts = append(parts, short(v.ID)+"["+strings.Join(st, ",")+"]")
		}
	}
	return strings.Join(parts, " ")
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// checkRotated verifies the state after a successful rotation from the
// version oldCurrent to newID: labels, and that AWSCURRENT (and for
// zero-downtime rotators AWSPREVIOUS) authenticate.
func (e *env) checkRotated(ctx context.Context, oldCurrent, newID string) error {
	s := e.secret()
	var errs []error
	cur, ok := s.Staged(string(rotation.StageCurrent))
	switch {
	case !ok:
		errs = append(errs, errors.New("no version is AWSCURRENT"))
	case cur.ID != newID:
		errs = append(errs, fmt.Errorf("AWSCURRENT is on %s, want the rotated version %s (labels: %s)", short(cur.ID), short(newID), labelsOf(s)))
	}
	if prev, ok := s.Staged(string(rotation.StagePrevious)); !ok || prev.ID != oldCurrent {
		errs = append(errs, fmt.Errorf("AWSPREVIOUS is not on the replaced version %s (labels: %s)", short(oldCurrent), labelsOf(s)))
	}
	if p, ok := s.Staged(string(rotation.StagePending)); ok && !p.HasStage(string(rotation.StageCurrent)) {
		errs = append(errs, fmt.Errorf("AWSPENDING left on %s after success (labels: %s)", short(p.ID), labelsOf(s)))
	}
	if ok {
		if err := e.fx.Probe(ctx, toSecret(cur)); err != nil {
			errs = append(errs, fmt.Errorf("AWSCURRENT does not authenticate: %w", err))
		}
	}
	if e.fx.ZeroDowntime {
		if prev, ok := s.Staged(string(rotation.StagePrevious)); ok {
			if err := e.fx.Probe(ctx, toSecret(prev)); err != nil {
				errs = append(errs, fmt.Errorf("AWSPREVIOUS no longer authenticates, but the rotator promises zero downtime: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

func (e *env) currentID() string {
	v, _ := e.secret().Staged(string(rotation.StageCurrent))
	return v.ID
}

// rotateAndCheck runs a rotation that must succeed and checks the result.
func (e *env) rotateAndCheck(ctx context.Context) error {
	old := e.currentID()
	r, err := e.rotate(ctx, true)
	if err != nil {
		return fmt.Errorf("rotation failed: %w", err)
	}
	return e.checkRotated(ctx, old, r.VersionID)
}

func ruleRotates(ctx context.Context, e *env) error {
	defer func() { e.report.Labels, e.report.Events = labelsOf(e.secret()), e.fake.Events() }()
	e.client.Arm()
	if err := e.rotateAndCheck(ctx); err != nil {
		return err
	}
	e.report.Calls = e.client.Calls()
	e.report.CallsByOp = e.client.CallsByOp()
	if e.fx.MaxCalls > 0 && e.report.Calls > e.fx.MaxCalls {
		return fmt.Errorf("a rotation made %d Secrets Manager calls %v, more than the %d allowed", e.report.Calls, e.report.CallsByOp, e.fx.MaxCalls)
	}
	// A second rotation from the rotated state must work too.
	return e.rotateAndCheck(ctx)
}

func ruleRotationToken(ctx context.Context, e *env) error {
	r, err := e.rotate(ctx, true)
	if err != nil {
		if strings.Contains(err.Error(), "was not created by Lambda") {
			return errors.New("the pending version was written without the event's RotationToken")
		}
		return fmt.Errorf("rotation failed: %w", err)
	}
	v, ok := e.secret().Version(r.VersionID)
	if !ok || v.RotationToken == "" {
		return errors.New("the pending version was written without a RotationToken")
	}
	return nil
}

// ruleLabels checks the labels after every step of a rotation: AWSCURRENT
// stays put until finishSecret (even when a step fails), and AWSPENDING
// stays on the new version, finishSecret included.
func ruleLabels(ctx context.Context, e *env) error {
	old := e.currentID()
	var mu sync.Mutex
	var errs []error
	e.setInvoker(func(inv localsm.Invoker) localsm.Invoker {
		return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			err := inv.Invoke(ctx, fn, ev)
			step := rotation.Step(ev.Step)
			if err != nil && step == rotation.StepFinish {
				return err
			}
			s := e.secret()
			cur, _ := s.Staged(string(rotation.StageCurrent))
			pend, hasPending := s.Staged(string(rotation.StagePending))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case step == rotation.StepFinish:
				if cur.ID != ev.ClientRequestToken {
					errs = append(errs, fmt.Errorf("after finishSecret AWSCURRENT is on %s, not the new version (labels: %s)", short(cur.ID), labelsOf(s)))
				}
				if !hasPending || pend.ID != ev.ClientRequestToken {
					errs = append(errs, fmt.Errorf("finishSecret removed AWSPENDING; the service removes it, and a function that does signals an abandoned rotation (labels: %s)", labelsOf(s)))
				}
			case cur.ID != old:
				what := "during"
				if err != nil {
					what = "in a failing"
				}
				errs = append(errs, fmt.Errorf("AWSCURRENT moved %s %s, before the rotation was tested and finished (labels: %s)", what, ev.Step, labelsOf(s)))
				old = cur.ID // report each move once
			case err == nil && (!hasPending || pend.ID != ev.ClientRequestToken):
				errs = append(errs, fmt.Errorf("AWSPENDING is not on the new version after %s (labels: %s)", ev.Step, labelsOf(s)))
			}
			return err
		})
	})
	_, rerr := e.rotate(ctx, true)
	e.setInvoker(nil)
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 && rerr != nil {
		return fmt.Errorf("rotation failed: %w", rerr)
	}
	return errors.Join(errs...)
}

// snapshot is the state a replayed step must not change: every version's
// value and labels, and whether the pending value authenticates.
func (e *env) snapshot(ctx context.Context) string {
	s := e.secret()
	var b strings.Builder
	for _, v := range s.Versions {
		st := slices.Clone(v.Stages)
		sort.Strings(st)
		val := "placeholder"
		if !v.Placeholder() {
			val = fmt.Sprintf("value#%08x", fnv32(toSecretBytes(v)))
		}
		fmt.Fprintf(&b, "%s %s [%s]; ", short(v.ID), val, strings.Join(st, ","))
	}
	return b.String()
}

func toSecretBytes(v localsm.Version) []byte {
	if v.SecretString != nil {
		return []byte(*v.SecretString)
	}
	return v.SecretBinary
}

func fnv32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func ruleReplaySteps(ctx context.Context, e *env) error {
	var mu sync.Mutex
	var errs []error
	e.setInvoker(func(inv localsm.Invoker) localsm.Invoker {
		return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			if err := inv.Invoke(ctx, fn, ev); err != nil {
				return err
			}
			before := e.snapshot(ctx)
			err := inv.Invoke(ctx, fn, ev)
			after := e.snapshot(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s invoked a second time failed: %w", ev.Step, err))
			}
			if before != after {
				errs = append(errs, fmt.Errorf("%s invoked a second time changed the secret:\n  before: %s\n  after:  %s", ev.Step, before, after))
			}
			return err
		})
	})
	old := e.currentID()
	r, rerr := e.rotate(ctx, true)
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if rerr != nil {
		return fmt.Errorf("rotation failed: %w", rerr)
	}
	return e.checkRotated(ctx, old, r.VersionID)
}

func ruleRerun(ctx context.Context, e *env) error {
	old := e.currentID()
	r, err := e.rotate(ctx, true)
	if err != nil {
		return fmt.Errorf("rotation failed: %w", err)
	}
	before := e.snapshot(ctx)
	var errs []error
	for _, step := range rotation.Steps() {
		ev := events.SecretsManagerSecretRotationEvent{Step: string(step), SecretID: e.arn, ClientRequestToken: r.VersionID, RotationToken: newToken()}
		e.addToken(ev, "of a re-run step")
		if err := e.base().Invoke(ctx, functionARN, ev); err != nil {
			errs = append(errs, fmt.Errorf("%s re-run after success failed: %w", step, err))
		}
	}
	if after := e.snapshot(ctx); after != before {
		errs = append(errs, fmt.Errorf("re-running the rotation changed the secret:\n  before: %s\n  after:  %s", before, after))
	}
	if err := e.checkRotated(ctx, old, r.VersionID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// faultKinds are injected at every call position in turn.
var faultKinds = []struct {
	name  string
	fault func(n int) Fault
}{
	{"throttling", func(n int) Fault { return Fail("", n, ErrThrottling) }},
	{"internal-error", func(n int) Fault { return Fail("", n, ErrInternal) }},
	{"lost-response", func(n int) Fault { return Lose("", n) }},
	{"deadline", func(n int) Fault { return Fail("", n, context.DeadlineExceeded) }},
}

func ruleFaults(ctx context.Context, e *env) error {
	e.client.Arm()
	if err := e.rotateAndCheck(ctx); err != nil {
		return fmt.Errorf("clean rotation: %w", err)
	}
	ops := e.client.sequence()
	var errs []error
	for _, k := range faultKinds {
		for n := 1; n <= len(ops); n++ {
			e.client.Arm(k.fault(n))
			if err := e.rotateAndCheck(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s at call %d of %d (%s): %w", k.name, n, len(ops), ops[n-1], err))
				e.client.Arm()
				if e.clearPending(ctx) != nil {
					return errors.Join(errs...)
				}
			}
		}
	}
	e.client.Arm()
	return errors.Join(errs...)
}

func ruleCrash(ctx context.Context, e *env) error {
	var errs []error
	for _, step := range rotation.Steps() {
		old := e.currentID()
		e.setInvoker(func(inv localsm.Invoker) localsm.Invoker { return CrashAfter(inv, step, 1) })
		r, err := e.rotate(ctx, true)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("crash after %s: the retried rotation did not converge: %w", step, err))
			e.setInvoker(nil)
			if e.clearPending(ctx) != nil {
				return errors.Join(errs...)
			}
		case r.Attempts() < 2:
			errs = append(errs, fmt.Errorf("crash after %s: the service did not need to retry (the crash was not observed)", step))
		default:
			if err := e.checkRotated(ctx, old, r.VersionID); err != nil {
				errs = append(errs, fmt.Errorf("crash after %s: %w", step, err))
			}
		}
	}
	e.setInvoker(nil)
	return errors.Join(errs...)
}

// ruleOverlap runs, for every step, one rotation in which two invocations
// of the step run concurrently, and one in which they are staggered: the
// second starts while the first is held just before its first Secrets
// Manager write, and the first then writes first. The staggered order is
// the lost update that free-running goroutines hit only by chance (say,
// each createSecret changes the target and the first to write wins), so
// the rule catches it every time.
func ruleOverlap(ctx context.Context, e *env) error {
	var errs []error
	kinds := []struct {
		name string
		wrap func(localsm.Invoker, rotation.Step) localsm.Invoker
	}{
		{"concurrent", func(inv localsm.Invoker, step rotation.Step) localsm.Invoker { return Overlap(inv, step, 1) }},
		{"staggered (the second starts while the first is about to write; the first writes first)", staggered},
	}
	for _, k := range kinds {
		for _, step := range rotation.Steps() {
			old := e.currentID()
			e.setInvoker(func(inv localsm.Invoker) localsm.Invoker { return k.wrap(inv, step) })
			r, err := e.rotate(ctx, true)
			if err != nil {
				errs = append(errs, fmt.Errorf("two overlapping %s invocations, %s: the rotation did not converge: %w", step, k.name, err))
				e.setInvoker(nil)
				if e.clearPending(ctx) != nil {
					return errors.Join(errs...)
				}
				continue
			}
			if err := e.checkRotated(ctx, old, r.VersionID); err != nil {
				errs = append(errs, fmt.Errorf("two overlapping %s invocations, %s: %w", step, k.name, err))
			}
		}
	}
	e.setInvoker(nil)
	return errors.Join(errs...)
}

// clearPending removes AWSPENDING left by a rotation that failed, as an
// operator would, so that the next rotation of a rule can start.
func (e *env) clearPending(ctx context.Context) error {
	p, ok := e.secret().Staged(string(rotation.StagePending))
	if !ok || p.HasStage(string(rotation.StageCurrent)) {
		return nil
	}
	_, err := e.fake.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(e.arn), VersionStage: aws.String(string(rotation.StagePending)), RemoveFromVersionId: aws.String(p.ID),
	})
	return err
}

// gateKey is the context key of a writeGate.
type gateKey struct{}

// writeGate holds one invocation at its first Secrets Manager write until
// released.
type writeGate struct {
	once    sync.Once
	arrived chan struct{} // closed when the invocation reaches its first write
	release chan struct{} // closed to let it go on
}

func newWriteGate() *writeGate {
	return &writeGate{arrived: make(chan struct{}), release: make(chan struct{})}
}

// gatedClient is the client the handler under test gets. It forwards to
// the FaultClient, holding a write of an invocation whose context carries
// a writeGate (the handler must pass on the context it is given; one that
// does not is simply not held).
type gatedClient struct{ next rotation.Client }

func (c gatedClient) hold(ctx context.Context) error {
	g, ok := ctx.Value(gateKey{}).(*writeGate)
	if !ok {
		return nil
	}
	first := false
	g.once.Do(func() { first = true; close(g.arrived) })
	if !first {
		return nil
	}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c gatedClient) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return c.next.DescribeSecret(ctx, in, optFns...)
}

func (c gatedClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return c.next.GetSecretValue(ctx, in, optFns...)
}

func (c gatedClient) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if err := c.hold(ctx); err != nil {
		return nil, err
	}
	return c.next.PutSecretValue(ctx, in, optFns...)
}

func (c gatedClient) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	if err := c.hold(ctx); err != nil {
		return nil, err
	}
	return c.next.UpdateSecretVersionStage(ctx, in, optFns...)
}

// staggerWait bounds how long the second staggered invocation may take to
// reach its first write; it runs out only when the second waits for
// something the held first one owns (a lock), and then the first is let go.
const staggerWait = time.Second

// staggered returns an Invoker that, on the first invocation of step,
// starts invocation A and holds it at its first Secrets Manager write,
// then starts invocation B and lets it run to its own first write (or to
// its end), then lets A finish, then B. The step fails if either fails.
func staggered(inv localsm.Invoker, step rotation.Step) localsm.Invoker {
	var count atomic.Int64
	return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
		if rotation.Step(ev.Step) != step || count.Add(1) != 1 {
			return inv.Invoke(ctx, fn, ev)
		}
		start := func(g *writeGate) <-chan error {
			done := make(chan error, 1)
			go func() { done <- inv.Invoke(context.WithValue(ctx, gateKey{}, g), fn, ev) }()
			return done
		}
		wait := func(g *writeGate, done <-chan error, timeout <-chan time.Time) (error, bool) {
			select {
			case <-g.arrived:
				return nil, false
			case err := <-done:
				return err, true
			case <-timeout:
			case <-ctx.Done():
			}
			return nil, false
		}
		ga, gb := newWriteGate(), newWriteGate()
		doneA := start(ga)
		errA, finishedA := wait(ga, doneA, nil)
		doneB := start(gb)
		t := time.NewTimer(staggerWait)
		errB, finishedB := wait(gb, doneB, t.C)
		t.Stop()
		close(ga.release)
		if !finishedA {
			errA = <-doneA
		}
		close(gb.release)
		if !finishedB {
			errB = <-doneB
		}
		return errors.Join(errA, errB)
	})
}

var errTestFailedInjected = errors.New("rotationtest: testSecret failed (injected)")

func ruleFailingTest(ctx context.Context, e *env) error {
	before, _ := e.secret().Staged(string(rotation.StageCurrent))
	e.setInvoker(func(inv localsm.Invoker) localsm.Invoker {
		return FailStep(inv, rotation.StepTest, 0, errTestFailedInjected)
	})
	_, err := e.rotate(ctx, true)
	e.setInvoker(nil)
	if err == nil {
		return errors.New("the rotation succeeded although every testSecret failed")
	}
	s := e.secret()
	after, ok := s.Staged(string(rotation.StageCurrent))
	if !ok || after.ID != before.ID {
		return fmt.Errorf("AWSCURRENT moved although testSecret failed (labels: %s)", labelsOf(s))
	}
	if e.fx.ZeroDowntime {
		if err := e.fx.Probe(ctx, toSecret(after)); err != nil {
			return fmt.Errorf("AWSCURRENT stopped authenticating before the new value was tested (a live credential was changed or revoked in setSecret): %w", err)
		}
	}
	return nil
}

func ruleTestRejects(ctx context.Context, e *env) error {
	// Skip setSecret: unless createSecret alone made the value valid (as
	// when a provider mints it), testSecret must now fail.
	var mu sync.Mutex
	var verdict error
	var pendingWorks, tested bool
	e.setInvoker(func(inv localsm.Invoker) localsm.Invoker {
		skip := SkipStep(inv, rotation.StepSet, 0)
		return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			if rotation.Step(ev.Step) != rotation.StepTest {
				return skip.Invoke(ctx, fn, ev)
			}
			v, ok := e.secret().Version(ev.ClientRequestToken)
			works := ok && !v.Placeholder() && e.fx.Probe(ctx, toSecret(v)) == nil
			err := inv.Invoke(ctx, fn, ev)
			mu.Lock()
			defer mu.Unlock()
			if !tested {
				tested, pendingWorks, verdict = true, works, err
			}
			return errTestFailedInjected // stop here: this rule is about the verdict
		})
	})
	_, _ = e.rotate(ctx, true)
	e.setInvoker(nil)
	mu.Lock()
	defer mu.Unlock()
	if !tested {
		return errors.New("testSecret was never reached")
	}
	if !pendingWorks && verdict == nil {
		return errors.New("testSecret reported success for a pending value that does not authenticate")
	}
	if pendingWorks && verdict != nil {
		return fmt.Errorf("testSecret failed for a pending value that authenticates: %w", verdict)
	}
	return nil
}

func ruleTestOnly(ctx context.Context, e *env) error {
	before := e.snapshot(ctx)
	r, err := e.rotate(ctx, false)
	if err != nil {
		return fmt.Errorf("the test-only invocation failed: %w", err)
	}
	if !r.TestOnly {
		return errors.New("the fake did not run a test-only rotation")
	}
	if after := e.snapshot(ctx); after != before {
		return fmt.Errorf("the test-only invocation left a trace:\n  before: %s\n  after:  %s", before, after)
	}
	cur, _ := e.secret().Staged(string(rotation.StageCurrent))
	if err := e.fx.Probe(ctx, toSecret(cur)); err != nil {
		return fmt.Errorf("AWSCURRENT stopped authenticating after a test-only invocation: %w", err)
	}
	return nil
}

// prober is a client that reads AWSCURRENT, uses it, and re-fetches once
// on an authentication failure, the way a caching client behaves.
type prober struct {
	e *env

	mu           sync.Mutex
	cached       *rotation.Secret
	probes       int
	failures     int
	longest      time.Duration
	failingSince time.Time
	firstErr     error
}

func (p *prober) fetch(ctx context.Context) {
	out, err := p.e.fake.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(p.e.arn)})
	if err != nil {
		return
	}
	if out.SecretString != nil {
		p.cached = rotation.NewString(*out.SecretString)
	} else {
		p.cached = rotation.NewBinary(out.SecretBinary)
	}
}

func (p *prober) probe(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cached == nil {
		p.fetch(ctx)
	}
	p.probes++
	err := p.e.fx.Probe(ctx, p.cached)
	if err != nil {
		p.fetch(ctx)
		err = p.e.fx.Probe(ctx, p.cached)
	}
	now := time.Now()
	if err != nil {
		p.failures++
		if p.firstErr == nil {
			p.firstErr = err
		}
		if p.failingSince.IsZero() {
			p.failingSince = now
		}
	} else if !p.failingSince.IsZero() {
		p.longest = max(p.longest, now.Sub(p.failingSince))
		p.failingSince = time.Time{}
	}
}

// ruleClients runs a prober concurrently with repeated rotations, and also
// between every two steps, so that a window in which AWSCURRENT fails is
// seen however fast the rotation runs.
func ruleClients(ctx context.Context, e *env) error {
	const rotations = 3
	p := &prober{e: e}
	e.setInvoker(func(inv localsm.Invoker) localsm.Invoker {
		return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			p.probe(ctx)
			err := inv.Invoke(ctx, fn, ev)
			p.probe(ctx)
			return err
		})
	})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.probe(ctx)
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var rerr error
	for i := 0; i < rotations && rerr == nil; i++ {
		rerr = e.rotateAndCheck(ctx)
	}
	close(stop)
	<-done
	e.setInvoker(nil)
	p.probe(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failingSince.IsZero() {
		p.longest = max(p.longest, time.Since(p.failingSince))
	}
	e.report.Probes, e.report.ProbeFailures, e.report.FailureWindow = p.probes, p.failures, p.longest
	var errs []error
	if e.fx.ZeroDowntime && p.failures > 0 {
		errs = append(errs, fmt.Errorf("%d of %d client attempts with AWSCURRENT failed during %d rotations (longest window %v), but the rotator promises zero downtime; first failure: %w", p.failures, p.probes, rotations, p.longest, p.firstErr))
	}
	return errors.Join(append(errs, rerr)...)
}

// newToken returns a fresh RotationToken-like value for a re-run step.
func newToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("rotationtest: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// handlerClient is the client the handler under test is given: faults are
// injected below it, overlapping writes are held by it, and testSecret can
// be handed an altered pending value through it.
func (e *env) handlerClient() rotation.Client {
	return alteringClient{gatedClient{next: e.client}}
}
