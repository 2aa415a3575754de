package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// lambdaAPI is the part of the Lambda API rotationctl uses.
type lambdaAPI interface {
	GetPolicy(ctx context.Context, in *lambda.GetPolicyInput, optFns ...func(*lambda.Options)) (*lambda.GetPolicyOutput, error)
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
}

const secretsManagerPrincipal = "secretsmanager.amazonaws.com"

// policyDoc is the part of an IAM resource policy the check reads.
type policyDoc struct {
	Statement []struct {
		Sid       string          `json:"Sid"`
		Effect    string          `json:"Effect"`
		Principal json.RawMessage `json:"Principal"`
		Action    json.RawMessage `json:"Action"`
		Condition map[string]map[string]json.RawMessage
	} `json:"Statement"`
}

// strs decodes a string or a list of strings.
func strs(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

// checkInvokePolicy checks that the function's resource policy lets
// Secrets Manager invoke it. It returns a verdict to print, a
// *checkFailed when the policy certainly does not allow it, or an API
// error. A caller that may not read the policy gets a "not checked"
// verdict: the check is advisory.
func checkInvokePolicy(ctx context.Context, l lambdaAPI, function, secretARN string) (string, error) {
	out, err := l.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(function)})
	var nf *lambdatypes.ResourceNotFoundException
	var ae smithy.APIError
	switch {
	case errors.As(err, &nf):
		// Either the function or its policy is missing.
		if _, ferr := l.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(function)}); errors.As(ferr, &nf) {
			return "", failf("function %s does not exist", function)
		}
		return "", failf("function %s has no resource policy, so Secrets Manager cannot invoke it: aws lambda add-permission --function-name %s --statement-id SecretsManagerInvoke --action lambda:InvokeFunction --principal %s --source-account ACCOUNT",
			function, function, secretsManagerPrincipal)
	case errors.As(err, &ae) && (ae.ErrorCode() == "AccessDeniedException" || ae.ErrorCode() == "AccessDenied"):
		return "not checked: not allowed to read the function's policy (lambda:GetPolicy)", nil
	case err != nil:
		return "", fmt.Errorf("function %s: GetPolicy: %w", function, err)
	}
	var doc policyDoc
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc); err != nil {
		return "", fmt.Errorf("function %s: the resource policy is not valid JSON: %v", function, err)
	}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" || !allowsInvoke(strs(st.Action)) || !principalIs(st.Principal, secretsManagerPrincipal) {
			continue
		}
		if _, ok := conditionKey(st.Condition, "aws:SourceAccount"); !ok {
			if _, ok := conditionKey(st.Condition, "aws:SourceArn"); !ok {
				return "warning: statement " + st.Sid + " lets any account's Secrets Manager invoke the function; add an aws:SourceAccount condition", nil
			}
		}
		return "ok: statement " + st.Sid + " allows " + secretsManagerPrincipal + " to invoke it", nil
	}
	return "", failf("the resource policy of function %s has no statement allowing %s to call lambda:InvokeFunction", function, secretsManagerPrincipal)
}

func allowsInvoke(actions []string) bool {
	for _, a := range actions {
		switch strings.ToLower(a) {
		case "lambda:invokefunction", "lambda:*", "*":
			return true
		}
	}
	return false
}

func principalIs(raw json.RawMessage, service string) bool {
	var p struct {
		Service json.RawMessage `json:"Service"`
	}
	if json.Unmarshal(raw, &p) != nil || p.Service == nil {
		return false
	}
	for _, s := range strs(p.Service) {
		if s == service {
			return true
		}
	}
	return false
}

func conditionKey(cond map[string]map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	for _, kv := range cond {
		for k, v := range kv {
			if strings.EqualFold(k, key) {
				return v, true
			}
		}
	}
	return nil, false
}
