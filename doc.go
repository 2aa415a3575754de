// Package rotation is a library for writing AWS Secrets Manager rotation
// functions in Go. It owns the bookkeeping every rotation function repeats
// (event validation, version and label checks, idempotency, the
// RotationToken) so that a user writes only how to change a credential on
// their service and how to test it.
//
// # The protocol
//
// Secrets Manager rotates a secret by invoking the rotation function four
// times with the same ClientRequestToken, which is the id of the new
// version. Before the first step the service creates that version with no
// value, labelled AWSPENDING (the placeholder).
//
//	createSecret   store the new value in the placeholder (AWSPENDING)
//	setSecret      make the target service accept the pending value
//	testSecret     prove the pending value works
//	finishSecret   move AWSCURRENT to the new version; AWSPREVIOUS follows
//
// After finishSecret succeeds the service removes AWSPENDING itself. A
// failing step stops the attempt and the service later retries the whole
// rotation, so every step runs more than once.
//
// # What the Handler does
//
// A Handler validates the event (unknown steps and empty fields are
// rejected before any API call), checks that the event's version is staged
// (and, in createSecret and finishSecret, that rotation is enabled), and
// treats a version that is already AWSCURRENT as done, for every step. In createSecret it reuses a pending
// value that is already stored (never regenerating it) and passes the
// RotationToken to PutSecretValue, which assumed-role and cross-account
// rotation require. In finishSecret it moves AWSCURRENT from the version
// that actually holds it and never touches AWSPENDING. A complete rotation
// costs eight Secrets Manager calls: createSecret and finishSecret call
// DescribeSecret (checking that rotation is enabled and the version is
// staged), createSecret reads the new version and AWSCURRENT and writes the
// pending value, setSecret and testSecret each read the pending value and
// check its labels from that same response, and finishSecret moves the
// label. Values a Rotator asks for lazily cost one GetSecretValue each on
// first use: AWSCURRENT in Set or Test, AWSPREVIOUS, or AWSPENDING in
// Finish. A single-user Set that logs in with the current value therefore
// makes it nine.
//
// # What a Rotator does
//
// A Rotator supplies Create (make the pending value from the current one),
// Set (make the service accept it) and Test (prove it works); a Rotator
// that also implements Finisher is called after AWSCURRENT moves. Each
// method must be safe to call again: see the Rotator documentation for the
// contract of each. The strategy package provides ready-made Rotators for
// single-user, alternating-users and two-key rotation.
//
// # When a rotation fails
//
// A failing step leaves the new version labelled AWSPENDING (with or
// without a stored value) and RotateSecret then refuses to start another
// rotation ("A previous rotation isn't complete"); the service reattempts
// the same version in the next rotation window, and every step of the
// Handler is safe to run again. The returned *StepError names the step,
// and Diagnose reports where the rotation stands and how to recover:
// abandoning it (removing AWSPENDING) is safe when no pending value was
// stored, but not once a single-user rotation may have changed the
// target, where the rotation must be completed instead. The Handler itself
// never removes AWSPENDING.
//
// # Secrets never leak
//
// A Secret formats as its version and labels only: fmt, slog and
// encoding/json all show [REDACTED] in place of the value. Errors carry the
// step, the secret ARN and the version id, never a value or the
// RotationToken. Passwords are generated with crypto/rand by
// PasswordPolicy, with the options of the GetRandomPassword API.
//
// # A minimal main
//
//	func main() {
//		logger := lambdacontext.NewLogger() // request id on every record
//		cfg, err := config.LoadDefaultConfig(context.Background())
//		if err != nil {
//			logger.Error("loading the AWS configuration", "error", err)
//			os.Exit(1)
//		}
//		h, err := rotation.New(secretsmanager.NewFromConfig(cfg), myRotator{},
//			func(o *rotation.Options) { o.Logger = logger })
//		if err != nil {
//			logger.Error("building the rotation handler", "error", err)
//			os.Exit(1)
//		}
//		lambda.Start(h.Handle)
//	}
//
// The Handler logs with the invocation's context, so a logger from
// aws-lambda-go's lambdacontext.NewLogger puts the request id on every
// record and takes its level from the function's logging configuration.
//
// Test a Rotator with the rotationtest package: its fake Secrets Manager
// rotates the way the service does, and its conformance suite replays
// steps, injects faults and crashes, and checks that nothing leaks.
package rotation
