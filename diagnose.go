package rotation

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Diagnosis describes where a secret's rotation stands. Diagnose builds it
// from what Secrets Manager reports; it never holds a secret value.
type Diagnosis struct {
	SecretARN       string
	RotationEnabled bool
	Current         string // version id labelled AWSCURRENT ("" if none)
	Previous        string // version id labelled AWSPREVIOUS ("" if none)
	// Pending is the version id labelled AWSPENDING on a version other than
	// AWSCURRENT: a rotation that has not finished. "" if none.
	Pending string
	// PendingHasValue reports whether createSecret stored the pending
	// value (false: only the service's placeholder exists).
	PendingHasValue bool
}

// Incomplete reports whether a rotation is unfinished. While it is,
// RotateSecret refuses to start another ("A previous rotation isn't
// complete") and the service reattempts this one.
func (d *Diagnosis) Incomplete() bool { return d.Pending != "" }

// Advice says, in a few sentences, what the state means and how to
// recover from it. It never contains a secret value.
func (d *Diagnosis) Advice() string {
	var b strings.Builder
	switch {
	case !d.Incomplete():
		b.WriteString("No rotation is in progress.")
	case !d.PendingHasValue:
		fmt.Fprintf(&b, "A rotation to version %s is incomplete and createSecret never stored its value (the function failed or was not invoked at createSecret), so the target service was not changed. "+
			"RotateSecret refuses to start another rotation until it completes; Secrets Manager reattempts it, with the same version, in the next rotation window. "+
			"Fix the cause (the function's log names the failing step) and wait for the window, or abandon the rotation safely by removing the label, then call RotateSecret: "+
			"aws secretsmanager update-secret-version-stage --secret-id %s --version-stage AWSPENDING --remove-from-version-id %s", d.Pending, d.SecretARN, d.Pending)
	default:
		fmt.Fprintf(&b, "A rotation to version %s is incomplete: its value is stored but it was never made AWSCURRENT (setSecret, testSecret or finishSecret failed). "+
			"With single-user rotation the target may already accept only the new value, so clients using AWSCURRENT may be failing now: do NOT abandon the rotation by removing AWSPENDING, or the working value is lost. "+
			"Fix the cause (the function's log names the failing step) and let Secrets Manager reattempt it in the next rotation window; or, once you have checked that the pending value authenticates, complete it by hand: "+
			"aws secretsmanager update-secret-version-stage --secret-id %s --version-stage AWSCURRENT --move-to-version-id %s --remove-from-version-id %s. "+
			"Removing AWSPENDING (update-secret-version-stage --version-stage AWSPENDING --remove-from-version-id %s) is safe only for alternating-users and two-key rotation, where AWSCURRENT was never changed.",
			d.Pending, d.SecretARN, d.Pending, d.Current, d.Pending)
	}
	if !d.RotationEnabled {
		b.WriteString(" Rotation is not enabled for this secret.")
	}
	return b.String()
}

// DiagnoseClient is the part of the Secrets Manager API Diagnose uses;
// Client and *secretsmanager.Client satisfy it.
type DiagnoseClient interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Diagnose reads a secret's labels and reports where its rotation stands:
// whether a rotation is incomplete, whether its pending value was stored,
// and how to recover. It makes one DescribeSecret call, and one
// GetSecretValue call when a rotation is incomplete.
func Diagnose(ctx context.Context, c DiagnoseClient, secretID string) (*Diagnosis, error) {
	out, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secretID)})
	if err != nil {
		return nil, fmt.Errorf("DescribeSecret: %w", err)
	}
	v := versions(out.VersionIdsToStages)
	d := &Diagnosis{SecretARN: aws.ToString(out.ARN), RotationEnabled: aws.ToBool(out.RotationEnabled)}
	d.Current, _ = v.Holder(StageCurrent)
	d.Previous, _ = v.Holder(StagePrevious)
	if p, ok := v.Holder(StagePending); ok && p != d.Current {
		d.Pending = p
		_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID), VersionId: aws.String(p)})
		switch {
		case err == nil:
			d.PendingHasValue = true
		case isNotFound(err):
		default:
			return nil, fmt.Errorf("GetSecretValue version %s: %w", p, err)
		}
	}
	return d, nil
}
