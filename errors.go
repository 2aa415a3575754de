package rotation

import (
	"errors"
	"fmt"
)

// Sentinel errors callers can branch on with errors.Is. Errors returned by
// Handler.Handle wrap one of these where the condition applies.
var (
	// ErrInvalidEvent means the rotation event is malformed: a required
	// field is empty or a value has the wrong shape. No API call was made.
	ErrInvalidEvent = errors.New("invalid rotation event")

	// ErrUnknownStep means the event's Step is not one of the four steps.
	ErrUnknownStep = errors.New("unknown rotation step")

	// ErrRotationDisabled means the secret does not have rotation enabled.
	ErrRotationDisabled = errors.New("rotation is not enabled for the secret")

	// ErrVersionNotFound means the event's ClientRequestToken names no
	// version of the secret (for example a token from another secret).
	ErrVersionNotFound = errors.New("version not found for the secret")

	// ErrNotPending means the event's version exists but carries neither
	// AWSPENDING nor AWSCURRENT, so this rotation is not in progress.
	ErrNotPending = errors.New("version is not staged as AWSPENDING")

	// ErrInvalidSecret means a secret value could not be used: it is not a
	// JSON object, a required field is missing or has the wrong type, or it
	// is binary where a string was expected. The error never quotes the value.
	ErrInvalidSecret = errors.New("invalid secret value")

	// ErrNoCurrent means the secret has no AWSCURRENT version with a value.
	ErrNoCurrent = errors.New("secret has no AWSCURRENT value")

	// ErrTestFailed means the Rotator's test of the pending value failed.
	ErrTestFailed = errors.New("pending secret failed its test")
)

// StepError is the error Handler.Handle returns when a step fails. It names
// the step, the secret and the version being rotated, and wraps the cause.
// It never carries a secret value or the RotationToken.
type StepError struct {
	Step      Step   // the step that failed; empty if the event was unparseable
	SecretARN string // the SecretId from the event
	VersionID string // the ClientRequestToken from the event
	Err       error  // the cause
}

// Error implements error.
func (e *StepError) Error() string {
	step := string(e.Step)
	if step == "" {
		step = "rotation"
	}
	return fmt.Sprintf("%s for secret %q version %q: %v", step, e.SecretARN, e.VersionID, e.Err)
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }
