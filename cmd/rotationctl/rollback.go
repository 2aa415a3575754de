package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
)

// Strategies, as --strategy and the secret's strategyTag name them.
const (
	strategySingle      = "single"
	strategyAlternating = "alternating"
	strategyTwoKeys     = "two-keys"
)

// strategyTag is the tag that tells rotationctl which strategy rotates a
// secret, for the procedures that depend on it. The example templates
// set it.
const strategyTag = "rotation:strategy"

type labelChange struct {
	Secret string `json:"secret"`
	ARN    string `json:"arn"`
	Action string `json:"action"`
	Before labels `json:"before"`
	After  labels `json:"after,omitempty"`
}

func (a *app) rollback(ctx context.Context, args []string) error {
	return a.labelProcedure(ctx, "rollback", args)
}

func (a *app) unstick(ctx context.Context, args []string) error {
	return a.labelProcedure(ctx, "unstick", args)
}

func (a *app) labelProcedure(ctx context.Context, name string, args []string) error {
	var c common
	fs := newFlagSet(name, name+" SECRET [--yes] [--strategy single|alternating|two-keys]", &c)
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	strategy := fs.String("strategy", "", "the rotation strategy of the secret: single, alternating or two-keys (default: the secret's "+strategyTag+" tag)")
	pos, err := parse(fs, args, a.stderr)
	if err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	secret, err := secretArg(pos)
	if err != nil {
		return err
	}
	switch *strategy {
	case "", strategySingle, strategyAlternating, strategyTwoKeys:
	default:
		return fmt.Errorf("%w: --strategy must be single, alternating or two-keys, not %q", errUsage, *strategy)
	}
	cl, err := a.clients(ctx, &c)
	if err != nil {
		return err
	}
	d, err := cl.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secret)})
	if err != nil {
		return fmt.Errorf("secret %s: DescribeSecret: %w", secret, err)
	}
	if *strategy == "" {
		for _, t := range d.Tags {
			if aws.ToString(t.Key) == strategyTag {
				*strategy = aws.ToString(t.Value)
			}
		}
	}
	res := &labelChange{Secret: secret, ARN: aws.ToString(d.ARN), Before: labelsOf(d.VersionIdsToStages)}
	v := labelsOf(d.VersionIdsToStages)
	cur, _ := v.holder(rotation.StageCurrent)
	var in *secretsmanager.UpdateSecretVersionStageInput
	if name == "rollback" {
		if pending, ok := v.holder(rotation.StagePending); ok && pending != cur {
			return failf("secret %s: a rotation is in flight (AWSPENDING on version %s): let it finish or fail, or run rotationctl unstick, before rolling back", secret, pending)
		}
		prev, ok := v.holder(rotation.StagePrevious)
		if !ok {
			return failf("secret %s: no version is labelled AWSPREVIOUS: there is nothing to roll back to", secret)
		}
		switch *strategy {
		case strategySingle:
			return failf("secret %s: single-user rotation changed the password in place: the AWSPREVIOUS value no longer works on the target, so moving AWSCURRENT back would break every client. The safe path is to rotate forward: rotationctl rotate %s --wait", secret, secret)
		case strategyAlternating, strategyTwoKeys:
		default:
			return failf("secret %s: rollback needs to know whether AWSPREVIOUS still works: pass --strategy (alternating and two-keys keep it working; single does not) or tag the secret %s", secret, strategyTag)
		}
		res.Action = fmt.Sprintf("move AWSCURRENT from version %s back to version %s (AWSPREVIOUS); Secrets Manager moves AWSPREVIOUS to %s", cur, prev, cur)
		in = &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(secret), VersionStage: aws.String(string(rotation.StageCurrent)),
			MoveToVersionId: aws.String(prev), RemoveFromVersionId: aws.String(cur),
		}
	} else {
		diag, err := rotation.Diagnose(ctx, cl.sm, secret)
		if err != nil {
			return fmt.Errorf("secret %s: %w", secret, err)
		}
		if !diag.Incomplete() {
			res.Action = "none: no rotation is unfinished"
			if c.output == "json" {
				return printJSON(a.stdout, res)
			}
			fmt.Fprintf(a.stdout, "%s: nothing to unstick: no version other than AWSCURRENT carries AWSPENDING.\n", secret)
			return nil
		}
		if diag.PendingHasValue && *strategy != strategyAlternating && *strategy != strategyTwoKeys {
			return failf("secret %s: the pending version %s holds a value, so the target may already use it; removing AWSPENDING is safe only for alternating-users and two-key rotation (pass --strategy or tag the secret %s).\n%s", secret, diag.Pending, strategyTag, diag.Advice())
		}
		res.Action = fmt.Sprintf("remove AWSPENDING from version %s", diag.Pending)
		in = &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(secret), VersionStage: aws.String(string(rotation.StagePending)),
			RemoveFromVersionId: aws.String(diag.Pending),
		}
	}
	if c.output == "table" {
		fmt.Fprintf(a.stdout, "%s: %s\n\nBefore:\n", res.ARN, res.Action)
		printLabels(a.stdout, res.Before)
	}
	if !*yes && !a.confirm(fmt.Sprintf("%s %s: %s. Proceed? [y/N] ", name, secret, res.Action)) {
		return failf("secret %s: not confirmed; nothing changed", secret)
	}
	if _, err := cl.sm.UpdateSecretVersionStage(ctx, in); err != nil {
		return fmt.Errorf("secret %s: UpdateSecretVersionStage: %w", secret, err)
	}
	after, err := cl.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secret)})
	if err != nil {
		return fmt.Errorf("secret %s: done, but DescribeSecret failed afterwards: %w", secret, err)
	}
	res.After = labelsOf(after.VersionIdsToStages)
	if c.output == "json" {
		return printJSON(a.stdout, res)
	}
	fmt.Fprintf(a.stdout, "\nAfter:\n")
	printLabels(a.stdout, res.After)
	return nil
}

func printLabels(w io.Writer, l labels) {
	t := newTable(w, "LABEL", "VERSION")
	for _, r := range l.rows() {
		t.row(r[0], r[1])
	}
	_ = t.flush()
}

// confirm asks on standard error and reads the answer from standard input.
func (a *app) confirm(prompt string) bool {
	fmt.Fprint(a.stderr, prompt)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
