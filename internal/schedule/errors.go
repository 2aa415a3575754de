package schedule

import (
	"fmt"
	"strings"
)

// Exception names Parse puts in Error.Code.
const (
	// CodeInvalidParameter is the exception for rules that fit the API
	// model but that the service rejects.
	CodeInvalidParameter = "InvalidParameterException"
	// CodeValidation is the exception for values that break the API
	// model's length, pattern or range constraints.
	CodeValidation = "ValidationException"
)

// Error is the error Parse returns for invalid rules. Code is the AWS
// exception name that a fake service should send in "__type". Message is the
// text for "Message".
type Error struct {
	Code    string // CodeInvalidParameter or CodeValidation
	Message string // human-readable reason
}

// Error returns e.Message.
func (e *Error) Error() string { return e.Message }

func invalidParameter(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParameter, Message: fmt.Sprintf(format, args...)}
}

// violation is one broken model constraint, in the AWS front end's words.
type violation struct {
	value      string // the offending value as the caller sent it
	member     string // e.g. "rotationRules.duration"
	constraint string // e.g. "Member must have length less than or equal to 3"
}

// validationError joins violations the way the AWS front end does:
// "2 validation errors detected: Value 'x' at 'm' failed to satisfy
// constraint: c; Value ...".
func validationError(vs []violation) *Error {
	var b strings.Builder
	if len(vs) == 1 {
		b.WriteString("1 validation error detected: ")
	} else {
		fmt.Fprintf(&b, "%d validation errors detected: ", len(vs))
	}
	for i, v := range vs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "Value '%s' at '%s' failed to satisfy constraint: %s", v.value, v.member, v.constraint)
	}
	return &Error{Code: CodeValidation, Message: b.String()}
}
