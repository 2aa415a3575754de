package localsm

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// The errors the fake returns are the SDK's modelled types (for example
// *types.ResourceNotFoundException), so code under test matches them with
// errors.As exactly as it would against AWS, both in memory and over HTTP.
// Errors AWS sends that the Secrets Manager model does not define
// (AccessDeniedException, ValidationException, ThrottlingException) are
// *smithy.GenericAPIError values with that code.

func errNotFoundSecret() error {
	return &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
}

func errNotFoundVersionID(id string) error {
	return &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value for VersionId: " + id)}
}

func errNotFoundStage(stage string) error {
	return &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value for staging label: " + stage)}
}

func errInvalidRequest(format string, args ...any) error {
	return &types.InvalidRequestException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errInvalidParameter(format string, args ...any) error {
	return &types.InvalidParameterException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errResourceExists(format string, args ...any) error {
	return &types.ResourceExistsException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errLimitExceeded(format string, args ...any) error {
	return &types.LimitExceededException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errInvalidNextToken() error {
	return &types.InvalidNextTokenException{Message: aws.String("The NextToken value is invalid.")}
}

func errValidation(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

func errAccessDenied(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

func errMarkedForDeletion() error {
	return errInvalidRequest("You can't perform this operation on the secret because it was marked for deletion.")
}

// ErrorCode returns the AWS error code of err (for example
// "ResourceNotFoundException") and true, or "" and false if err is not an
// AWS API error.
func ErrorCode(err error) (string, bool) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), true
	}
	return "", false
}
