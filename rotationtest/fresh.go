package rotationtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/rotationkit/rotation"
)

// A rotation function must keep no state between invocations: on Lambda,
// the next step may run in a new execution environment (a cold start).
// In one test process, a package-level map filled in createSecret and
// read in setSecret works. FreshHandler and FreshProcess make the suite
// see such state.

// FreshHandler makes the suite call Fixture.NewHandler for every
// invocation, so that state kept in the handler or the Rotator it builds
// (a map in a struct field) does not survive from one step to the next.
// Package-level variables still do: see FreshProcess.
func FreshHandler() SuiteOption { return func(c *suiteConfig) { c.fresh.handler = true } }

// FreshProcess makes the suite run every invocation of the rotation
// function in a new child process: the test binary itself (os.Args[0]),
// re-run with -test.run selecting t (the test that calls Run or Check,
// and passes its own t here) and a marker after "--" on its command line.
// In the child, the same test function runs again up to its Run or Check
// call, which recognises the marker, calls the Factory once, builds the
// handler with Fixture.NewHandler and runs the one invocation, reaching
// the fake Secrets Manager in the parent through the client it is given
// (faults, call counts and the overlap rule's write gate still apply)
// and logging to the parent; then t is skipped in the child. No package
// state survives from one step to the next, as on Lambda after a cold
// start.
//
// Requirements: the handler the child's fixture builds must reach the same
// target as the parent's (a real server, or the address held in the
// secret value), so a target that lives in the test process's memory
// cannot be used; the code before Run or Check in the test function (and
// TestMain, if the package has one) runs again in every child, so keep it
// cheap; only one Run or Check per test may use FreshProcess; t must be
// the test that calls Run or Check. It is not available on Windows (the
// child reaches the parent through inherited file descriptors). Each invocation starts a process, so the rules
// that make hundreds of invocations (faults, overlapping-invocations,
// clients-keep-working) are not run with FreshProcess: run the suite
// without it as well. The child's standard output and error are part of
// the leak check.
func FreshProcess(t testing.TB) SuiteOption {
	name := t.Name()
	return func(c *suiteConfig) { c.fresh.process, c.fresh.t, c.fresh.name = true, t, name }
}

// freshConfig is the part of suiteConfig set by FreshHandler and
// FreshProcess.
type freshConfig struct {
	handler bool
	process bool
	t       testing.TB
	name    string
}

// freshProcessSkips are the rules not run with FreshProcess.
var freshProcessSkips = map[string]bool{"faults": true, "overlapping-invocations": true, "clients-keep-working": true}

// skips reports whether the rule named r is not run with c.
func (c suiteConfig) skips(r string) bool { return c.fresh.process && freshProcessSkips[r] }

// envExtra is the part of a rule's world that the leak capture and the
// fresh modes need.
type envExtra struct {
	global      *syncBuffer // the standard log's and slog.Default()'s output
	childOutput []string    // guarded by env.mu
	fresh       freshConfig
	logger      *slog.Logger
}

// invokeHandler runs one invocation of the handler under test, as the
// suite's options say.
func (e *env) invokeHandler(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	switch {
	case e.fresh.process:
		return e.invokeChild(ctx, ev)
	case e.fresh.handler:
		h, err := e.fx.NewHandler(e.handlerClient(), e.logger)
		if err != nil {
			return fmt.Errorf("rotationtest: NewHandler (FreshHandler): %w", err)
		}
		return h(ctx, ev)
	}
	return e.handle(ctx, ev)
}

// childMarker follows "--" on a child's command line, then the name of
// the test that runs the suite.
const childMarker = "rotationtest-fresh-process"

// childOf returns the test name the command line asks this process to
// serve as a child, if any.
func childOf(args []string) (string, bool) {
	for i, a := range args {
		if a == "--" && i+2 < len(args) && args[i+1] == childMarker {
			return args[i+2], true
		}
	}
	return "", false
}

// served is set once this process has served its invocation as a child.
var served atomic.Bool

// serveIfChild, when this process is a FreshProcess child started for the
// test running the suite, serves the one invocation and skips the test.
// It returns normally (and the suite runs) in any other process.
func serveIfChild(factory Factory, o suiteConfig) {
	if !o.fresh.process {
		return
	}
	name, ok := childOf(os.Args)
	if !ok {
		return
	}
	if name != o.fresh.name || served.Swap(true) {
		o.fresh.t.Skip("rotationtest: FreshProcess child process, serving another test")
	}
	serveChild(factory)
	o.fresh.t.Skip("rotationtest: FreshProcess child process served its invocation")
}

// Messages between parent and child, one JSON document per line. The
// child writes requests on fd 3 and reads answers on fd 4, and logs on
// fd 5.
type childStart struct {
	Event    events.SecretsManagerSecretRotationEvent
	Deadline time.Time
}

type childRequest struct {
	Op string          `json:",omitempty"` // a rotation.Client method
	In json.RawMessage `json:",omitempty"`
	// MaxAttempts is the SDK attempts the call's options allow (0: the
	// client's own), so that a handler's per-call retry settings (its
	// writes go out with retries off) apply in the parent too.
	MaxAttempts int     `json:",omitempty"`
	Done        bool    `json:",omitempty"` // the invocation returned
	Err         *string `json:",omitempty"` // its error, with Done
}

type childAnswer struct {
	Out json.RawMessage `json:",omitempty"`
	Err *wireError      `json:",omitempty"`
}

// wireError carries a Secrets Manager error to the child with what the
// handler may branch on: the API error's code and fault, or a context
// error.
type wireError struct {
	Kind    string // "api", "deadline", "canceled" or "other"
	Code    string `json:",omitempty"`
	Message string
	Fault   smithy.ErrorFault `json:",omitempty"`
}

func toWire(err error) *wireError {
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae):
		return &wireError{Kind: "api", Code: ae.ErrorCode(), Message: ae.ErrorMessage(), Fault: ae.ErrorFault()}
	case errors.Is(err, context.DeadlineExceeded):
		return &wireError{Kind: "deadline", Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &wireError{Kind: "canceled", Message: err.Error()}
	}
	return &wireError{Kind: "other", Message: err.Error()}
}

func (w *wireError) toError() error {
	m := &w.Message
	switch w.Kind {
	case "deadline":
		return fmt.Errorf("%s: %w", w.Message, context.DeadlineExceeded)
	case "canceled":
		return fmt.Errorf("%s: %w", w.Message, context.Canceled)
	case "other":
		return errors.New(w.Message)
	}
	switch w.Code {
	case "ResourceNotFoundException":
		return &types.ResourceNotFoundException{Message: m}
	case "ResourceExistsException":
		return &types.ResourceExistsException{Message: m}
	case "InvalidRequestException":
		return &types.InvalidRequestException{Message: m}
	case "InvalidParameterException":
		return &types.InvalidParameterException{Message: m}
	case "LimitExceededException":
		return &types.LimitExceededException{Message: m}
	case "InternalServiceError":
		return &types.InternalServiceError{Message: m}
	case "DecryptionFailure":
		return &types.DecryptionFailure{Message: m}
	case "EncryptionFailure":
		return &types.EncryptionFailure{Message: m}
	}
	return &smithy.GenericAPIError{Code: w.Code, Message: w.Message, Fault: w.Fault}
}

// callFromChild runs one Secrets Manager call a child asked for, with the
// invocation's context.
func callFromChild(ctx context.Context, c rotation.Client, op string, in json.RawMessage, maxAttempts int) (any, error) {
	var opts []func(*secretsmanager.Options)
	if maxAttempts > 0 {
		opts = append(opts, func(o *secretsmanager.Options) { o.RetryMaxAttempts = maxAttempts })
	}
	switch op {
	case "DescribeSecret":
		var v secretsmanager.DescribeSecretInput
		if err := json.Unmarshal(in, &v); err != nil {
			return nil, err
		}
		return c.DescribeSecret(ctx, &v, opts...)
	case "GetSecretValue":
		var v secretsmanager.GetSecretValueInput
		if err := json.Unmarshal(in, &v); err != nil {
			return nil, err
		}
		return c.GetSecretValue(ctx, &v, opts...)
	case "PutSecretValue":
		var v secretsmanager.PutSecretValueInput
		if err := json.Unmarshal(in, &v); err != nil {
			return nil, err
		}
		return c.PutSecretValue(ctx, &v, opts...)
	case "UpdateSecretVersionStage":
		var v secretsmanager.UpdateSecretVersionStageInput
		if err := json.Unmarshal(in, &v); err != nil {
			return nil, err
		}
		return c.UpdateSecretVersionStage(ctx, &v, opts...)
	}
	return nil, fmt.Errorf("rotationtest: unknown operation %q from a child process", op)
}

// childTimeout bounds an invocation in a child when the rule's context
// has no deadline.
const childTimeout = 30 * time.Second

// childPattern returns the -test.run pattern that selects exactly the
// test named name.
func childPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// invokeChild runs one invocation in a child process.
func (e *env) invokeChild(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) (err error) {
	if runtime.GOOS == "windows" {
		return errors.New("rotationtest: FreshProcess is not available on Windows")
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(childTimeout)
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer reqR.Close()
	ansR, ansW, err := os.Pipe()
	if err != nil {
		reqW.Close()
		return err
	}
	defer ansW.Close()
	logR, logW, err := os.Pipe()
	if err != nil {
		reqW.Close()
		ansR.Close()
		return err
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+childPattern(e.fresh.name), "-test.count=1",
		"-test.timeout="+time.Until(deadline).Round(time.Second).String(), "--", childMarker, e.fresh.name)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.ExtraFiles = []*os.File{reqW, ansR, logW}
	cmd.WaitDelay = closeGrace
	startErr := cmd.Start()
	reqW.Close()
	ansR.Close()
	logW.Close()
	if startErr != nil {
		logR.Close()
		return fmt.Errorf("rotationtest: starting a child process (FreshProcess): %w", startErr)
	}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		_, _ = io.Copy(e.logs, logR)
		logR.Close()
	}()
	result, served := e.serveParent(ctx, ev, deadline, reqR, ansW)
	ansW.Close()
	waitErr := cmd.Wait()
	<-logsDone
	e.mu.Lock()
	e.childOutput = append(e.childOutput, out.String())
	e.mu.Unlock()
	switch {
	case served:
		return result
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("rotationtest: the child process (FreshProcess) exited without running the invocation (%v); check that the test calling Run or Check passes its own t to FreshProcess and calls it in the child too; its output:\n%s", waitErr, tail(out.String(), 2000))
}

// serveParent answers a child's Secrets Manager calls until it reports
// the invocation's result.
func (e *env) serveParent(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, deadline time.Time, req io.Reader, ans io.Writer) (error, bool) {
	enc := json.NewEncoder(ans)
	if enc.Encode(childStart{Event: ev, Deadline: deadline}) != nil {
		return nil, false
	}
	sc := bufio.NewScanner(req)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	client := e.handlerClient()
	for sc.Scan() {
		var r childRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("rotationtest: unreadable message from a child process: %w", err), true
		}
		if r.Done {
			if r.Err == nil {
				return nil, true
			}
			return errors.New(*r.Err), true
		}
		var a childAnswer
		out, err := callFromChild(ctx, client, r.Op, r.In, r.MaxAttempts)
		if err != nil {
			a.Err = toWire(err)
		} else if a.Out, err = json.Marshal(out); err != nil {
			a.Err = toWire(err)
		}
		if enc.Encode(a) != nil {
			return nil, false
		}
	}
	return nil, false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// pipeClient is the rotation.Client a child's handler gets: each call is
// made by the parent.
type pipeClient struct {
	mu  sync.Mutex
	enc *json.Encoder
	dec *json.Decoder
}

func (c *pipeClient) do(op string, in any, optFns []func(*secretsmanager.Options), out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var o secretsmanager.Options
	for _, fn := range optFns {
		fn(&o)
	}
	if err := c.enc.Encode(childRequest{Op: op, In: raw, MaxAttempts: o.RetryMaxAttempts}); err != nil {
		return fmt.Errorf("rotationtest: child process: sending %s: %w", op, err)
	}
	var a childAnswer
	if err := c.dec.Decode(&a); err != nil {
		return fmt.Errorf("rotationtest: child process: reading the answer to %s: %w", op, err)
	}
	if a.Err != nil {
		return a.Err.toError()
	}
	return json.Unmarshal(a.Out, out)
}

func (c *pipeClient) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	var out secretsmanager.DescribeSecretOutput
	if err := c.do("DescribeSecret", in, optFns, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *pipeClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	var out secretsmanager.GetSecretValueOutput
	if err := c.do("GetSecretValue", in, optFns, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *pipeClient) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	var out secretsmanager.PutSecretValueOutput
	if err := c.do("PutSecretValue", in, optFns, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *pipeClient) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	var out secretsmanager.UpdateSecretVersionStageOutput
	if err := c.do("UpdateSecretVersionStage", in, optFns, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// serveChild runs the one invocation the parent sends, in this child
// process.
func serveChild(factory Factory) {
	reqW := os.NewFile(3, "rotationtest-requests")
	ansR := os.NewFile(4, "rotationtest-answers")
	logW := os.NewFile(5, "rotationtest-log")
	defer reqW.Close()
	defer ansR.Close()
	defer logW.Close()
	enc := json.NewEncoder(reqW)
	dec := json.NewDecoder(ansR)
	finish := func(err error) {
		var msg *string
		if err != nil {
			s := err.Error()
			msg = &s
		}
		_ = enc.Encode(childRequest{Done: true, Err: msg})
	}
	var start childStart
	if err := dec.Decode(&start); err != nil {
		finish(fmt.Errorf("rotationtest: child process: reading the event: %w", err))
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), start.Deadline)
	defer cancel()
	// Whatever the handler writes with the standard log package or
	// slog.Default() goes to the parent's leak check too.
	log.SetOutput(logW)
	slog.SetDefault(slog.New(slog.NewTextHandler(logW, &slog.HandlerOptions{Level: slog.LevelDebug})))
	logger := slog.New(slog.NewTextHandler(logW, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fx, err := factory(ctx)
	if err != nil {
		finish(fmt.Errorf("rotationtest: child process: fixture: %w", err))
		return
	}
	if fx == nil || fx.NewHandler == nil {
		finish(errors.New("rotationtest: child process: the fixture has no NewHandler"))
		return
	}
	if fx.Close != nil {
		defer fx.Close()
	}
	h, err := fx.NewHandler(&pipeClient{enc: enc, dec: dec}, logger)
	if err != nil {
		finish(fmt.Errorf("rotationtest: child process: NewHandler: %w", err))
		return
	}
	finish(runRecovered(ctx, h, start.Event))
}

func runRecovered(ctx context.Context, h HandleFunc, ev events.SecretsManagerSecretRotationEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, ev)
}
