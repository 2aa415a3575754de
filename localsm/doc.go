// Package localsm is a local AWS Secrets Manager: an in-memory fake that
// rotates secrets the way the service does, the same fake served over HTTP
// for the AWS SDKs and the AWS CLI, and the invokers that reach rotation
// functions. It does not import package testing: cmd/secretsmanager-local
// serves it, and tests use it directly or through the conformance suite in
// package rotationtest.
//
// # The fake
//
// A [Fake] is an in-memory Secrets Manager. Its methods have exactly the
// signatures of *secretsmanager.Client's (CreateSecret, DescribeSecret,
// GetSecretValue, PutSecretValue, UpdateSecretVersionStage, RotateSecret,
// ListSecrets and the rest), so it satisfies [rotation.Client] and any
// narrow interface written for the real client, and it answers with the
// SDK's own error types (*types.ResourceNotFoundException and so on), to be
// matched with errors.As as against AWS. It follows the label rules AWS
// validated: AWSPREVIOUS follows AWSCURRENT, a label lives on one version,
// unlabelled versions are deprecated, a manual write abandons a rotation.
//
// Its state is plain data: a [Secret] with its [Version] values. Seed one
// with [Fake.Seed] to start from a state the API cannot reach, and read
// copies back with [Fake.Secret] and [Fake.Secrets]; [Fake.Calls] counts
// the calls per operation and [Fake.Events] lists the CloudTrail-style
// events (RotationStarted, RotationFailed, ...).
//
// The same fake is served over HTTP with [NewServer], in the manner of
// httptest: [Server.Client] returns a real *secretsmanager.Client aimed at
// it, and Server.URL serves the AWS CLI, boto3 or any SDK speaking the
// awsJson1_1 protocol ([NewHandler] gives the bare http.Handler).
//
// # Rotating
//
// [Fake.RotateSecret] does what the service does: it checks the request,
// creates the AWSPENDING placeholder, and invokes the rotation function in
// the background for createSecret, setSecret, testSecret and finishSecret,
// each with a fresh RotationToken, retrying the whole rotation when a step
// fails ([Options].RotationAttempts) and removing AWSPENDING after
// success. [Fake.Rotate] starts a rotation and waits for it;
// [Fake.Wait] waits for every rotation; RotateImmediately=false runs
// testSecret alone. Set [Options].StrictRotationToken to fail a
// pending version written without the RotationToken, as AWS does for
// assumed-role and cross-account rotation.
//
// The function is reached through an [Invoker], given in [Options] or set
// later with [Fake.SetInvoker] when the function is built on the fake (as
// httptest's unstarted server resolves the same order): [HandlerInvoker]
// calls a rotation.Handler's Handle method in process, [Functions] routes
// by function ARN, and [LambdaInvoker] posts to the Lambda Invoke API of
// the Lambda Runtime Interface Emulator running the real binary (or another
// unauthenticated local endpoint: it does not sign requests).
//
// Schedules run on the fake's [Clock]: give it a [ManualClock], configure
// RotationRules, [ManualClock.Advance] past NextRotationDate and call
// [Fake.RunDue] to run every rotation that is due, as the service would.
package localsm
