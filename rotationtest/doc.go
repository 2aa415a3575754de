// Package rotationtest tests Secrets Manager rotation functions without
// AWS: a conformance suite that checks a rotator against every rule of the
// rotation protocol in one call, and fault-injecting wrappers. The local
// Secrets Manager the suite runs on (the fake, its HTTP server, the
// invokers and the rotation driver) is package
// [github.com/rotationkit/rotation/localsm].
//
// # Faults
//
// Faults are small named wrappers, in the manner of testing/iotest. A
// [FaultClient] wraps any rotation.Client, counts its calls, and applies
// [Fault] values: [Fail] the n-th call of an operation with an error
// ([ErrThrottling], [ErrInternal], context.DeadlineExceeded, ...), [Lose]
// a response (the call takes effect, the caller sees [ErrLostResponse]),
// [Delay] a call (honouring the context's deadline). Invoker wrappers
// misbehave the way the service and Lambda do: [CrashAfter] a step has
// done its work, [FailStep], [SkipStep], [Overlap] two invocations of a
// step, [Replay] every step. Every helper counts the same way: n is the
// 1-based index of the call or invocation it affects, and 0 affects every
// one.
//
// # The conformance suite
//
// [Run] and [Check] take a [Factory] that builds a [Fixture]: the secret to
// seed, the handler under test (built on the client and logger the suite
// passes in) and a Probe that tries a value against the real target. Each
// rule gets a fresh fixture. Run makes every rule a subtest; Check returns
// every violation joined, each a [*Violation] naming its rule, plus a
// [Report] of the figures measured (calls per rotation, the single-user
// failure window). A user's test is about a dozen lines:
//
//	func TestRotator(t *testing.T) {
//		rotationtest.Run(t, func(ctx context.Context) (*rotationtest.Fixture, error) {
//			db := newTestDB(t) // the target service, fresh for every rule
//			return &rotationtest.Fixture{
//				Secret: db.Secret(), // {"username": ..., "password": ...}
//				NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
//					h, err := rotation.New(c, myRotator{db.Addr()}, func(o *rotation.Options) { o.Logger = l })
//					if err != nil {
//						return nil, err
//					}
//					return h.Handle, nil
//				},
//				Probe: db.Login, // func(ctx, *rotation.Secret) error
//			}, nil
//		})
//	}
//
// Set Fixture.ZeroDowntime for alternating-users and two-key rotators: the
// suite then also requires AWSCURRENT and AWSPREVIOUS to keep
// authenticating throughout.
//
// # The Probe
//
// Every rule trusts Fixture.Probe to say whether a value authenticates, so
// the Probe must be written independently of the rotator: it proves a
// login at the target with exactly the value it is given, and it never
// calls the rotator's Test or shares code with it. Before the rules the
// suite checks that the Probe accepts the initial secret and rejects it
// with a credential field changed in one character, and with random
// credentials for the same user; a Probe that accepts either is reported
// as a fixture error and no rule runs.
//
// # Outcomes
//
// The outcome rules look at the target rather than at Secrets Manager.
// They need to know which fields are the credential
// (Fixture.CredentialFields, by default the fields named like one) and
// which other fields a rotation may rewrite (Fixture.MayChange, by default
// key ids, public keys and, for zero-downtime rotators, the user name).
// Fixture.MinStrength sets the least estimated strength of a generated
// credential, Fixture.Neighbour gives another secret on the same target
// that must survive, and Fixture.Exempt turns off an outcome rule that does
// not fit the service, with the reason.
//
// The rules, in the order they run ([Rules] lists them with their reasons):
//
//	rotates                     a full rotation succeeds; labels end as the service leaves them
//	rotation-token              createSecret passes the RotationToken to PutSecretValue
//	labels-move-only-in-finish  AWSCURRENT moves only in finishSecret; the function never removes AWSPENDING
//	replay-steps                every step invoked twice succeeds and the second changes nothing
//	rerun-after-success         the whole rotation re-run after success is a no-op
//	faults                      a throttle, 500, lost response or timeout at any call, then the retry, converges
//	crash-after-step            a function that dies after any step converges on the retry
//	overlapping-invocations     two overlapping invocations of a step converge, also in the lost-update order
//	failing-test                a failing testSecret leaves AWSCURRENT in place (and working, for zero downtime)
//	test-rejects-bad-pending    testSecret fails for a pending value that does not authenticate
//	test-only                   RotateImmediately=false runs testSecret alone and leaves no trace
//	clients-keep-working        a client on AWSCURRENT never fails (zero downtime), or the window is measured
//	credential-changed          every credential field changes; for single user the old value stops working
//	old-credentials-retired     after several rotations only AWSCURRENT (and AWSPREVIOUS, zero downtime) work
//	secret-preserved            fields other than the credential (and MayChange) are carried over unchanged
//	strong-credentials          generated credentials never repeat and are strong enough (128 bits default)
//	create-has-no-side-effect   AWSCURRENT still authenticates after createSecret, until setSecret starts
//	neighbours-untouched        another secret on the same target (Fixture.Neighbour) still authenticates
//	test-really-tests           testSecret fails for the pending value with a credential field altered
//	no-leaks                    no secret value or RotationToken in the log (given, std log, slog.Default) or an error, in any form (after every rule)
//
// What the suite cannot catch is listed in Run's documentation: data races
// inside the rotator (run with -race), faults in the rotator's calls to
// services other than Secrets Manager, leaks through channels other than
// the logger and errors it is given, the standard log package and
// slog.Default(), and state kept between invocations unless [FreshHandler]
// or [FreshProcess] is given.
package rotationtest
