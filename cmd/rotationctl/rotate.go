package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/rotationkit/rotation"
)

// followEvent is one observed change of a rotation.
type followEvent struct {
	After   string `json:"after"` // time since the rotation started
	Step    string `json:"step"`
	Message string `json:"message"`
}

type followOutput struct {
	Secret    string        `json:"secret"`
	ARN       string        `json:"arn"`
	VersionID string        `json:"versionId"`
	TestOnly  bool          `json:"testOnly"`
	Outcome   string        `json:"outcome"` // started, succeeded, failed, abandoned, timed-out, tested
	Events    []followEvent `json:"events,omitempty"`
	Advice    string        `json:"advice,omitempty"`
}

func (a *app) rotate(ctx context.Context, args []string) error {
	return a.startRotation(ctx, "rotate", "rotate SECRET [--wait] [--timeout 15m]", args, false)
}

func (a *app) test(ctx context.Context, args []string) error {
	return a.startRotation(ctx, "test", "test SECRET [--timeout 15m]", args, true)
}

func (a *app) startRotation(ctx context.Context, name, synopsis string, args []string, testOnly bool) error {
	var c common
	fs := newFlagSet(name, synopsis, &c)
	wait := testOnly
	if !testOnly {
		fs.BoolVar(&wait, "wait", false, "follow the rotation until it succeeds or fails")
	}
	timeout := fs.Duration("timeout", 15*time.Minute, "how long to follow the rotation before calling it failed")
	poll := fs.Duration("poll", 2*time.Second, "how often to read the secret's versions while following")
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
	if *poll <= 0 || *timeout <= 0 {
		return fmt.Errorf("%w: --poll and --timeout must be positive", errUsage)
	}
	cl, err := a.clients(ctx, &c)
	if err != nil {
		return err
	}
	in := &secretsmanager.RotateSecretInput{SecretId: aws.String(secret)}
	if testOnly {
		in.RotateImmediately = aws.Bool(false)
	}
	out, err := cl.sm.RotateSecret(ctx, in)
	if err != nil {
		var ire *types.InvalidRequestException
		if errors.As(err, &ire) {
			if d, derr := rotation.Diagnose(ctx, cl.sm, secret); derr == nil && d.Incomplete() {
				return failf("secret %s: RotateSecret refused: %v\n%s", secret, err, d.Advice())
			}
		}
		return fmt.Errorf("secret %s: RotateSecret: %w", secret, err)
	}
	res := &followOutput{Secret: secret, ARN: aws.ToString(out.ARN), VersionID: aws.ToString(out.VersionId), TestOnly: testOnly, Outcome: "started"}
	if !wait {
		if c.output == "json" {
			return printJSON(a.stdout, res)
		}
		fmt.Fprintf(a.stdout, "Rotation of %s started: version %s. Follow it with: rotationctl status %s\n", res.ARN, res.VersionID, secret)
		return nil
	}
	emit := func(ev followEvent) {
		res.Events = append(res.Events, ev)
		if c.output == "table" {
			fmt.Fprintf(a.stdout, "%8s  %-13s %s\n", ev.After, ev.Step, ev.Message)
		}
	}
	if c.output == "table" {
		what := "Rotation"
		if testOnly {
			what = "Test rotation (testSecret only, on a copy of AWSCURRENT)"
		}
		fmt.Fprintf(a.stdout, "%s of %s started: version %s\n", what, res.ARN, res.VersionID)
	}
	ferr := a.follow(ctx, cl.sm, secret, res, testOnly, *timeout, *poll, emit)
	if c.output == "json" {
		if err := printJSON(a.stdout, res); err != nil {
			return err
		}
	} else if res.Advice != "" {
		fmt.Fprintf(a.stdout, "\n%s\n", res.Advice)
	}
	return ferr
}

// follow reads the secret's versions every poll until the rotation of
// res.VersionID ends, reporting each change. Secrets Manager's API shows a
// rotation only through labels: the step that failed and why are in the
// function's log and in the RotationFailed event.
func (a *app) follow(ctx context.Context, sm *secretsmanager.Client, secret string, res *followOutput, testOnly bool, timeout, poll time.Duration, emit func(followEvent)) error {
	start := a.now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	ver := res.VersionID
	since := func() string { return a.now().Sub(start).Round(time.Second).String() }
	stored := false
	seen := false
	for {
		d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secret)})
		if err != nil {
			return fmt.Errorf("secret %s: DescribeSecret: %w", secret, err)
		}
		v := labelsOf(d.VersionIdsToStages)
		switch {
		case v.has(ver, rotation.StageCurrent) && !testOnly:
			if !stored {
				emit(followEvent{since(), "createSecret", "value stored as AWSPENDING"})
			}
			emit(followEvent{since(), "finishSecret", "AWSCURRENT moved to version " + ver + "; the rotation succeeded"})
			res.Outcome = "succeeded"
			return nil
		case v.has(ver, rotation.StagePending):
			if !seen {
				seen = true
				if testOnly {
					emit(followEvent{since(), "testSecret", "running on version " + ver + " (a copy of AWSCURRENT)"})
				} else {
					emit(followEvent{since(), "createSecret", "AWSPENDING placeholder on version " + ver + "; waiting for the function to store the new value"})
				}
			}
			if !stored && !testOnly {
				_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret), VersionId: aws.String(ver)})
				var nf *types.ResourceNotFoundException
				switch {
				case err == nil:
					stored = true
					emit(followEvent{since(), "createSecret", "value stored as AWSPENDING; setSecret, testSecret and finishSecret next"})
				case errors.As(err, &nf):
				default:
					return fmt.Errorf("secret %s: GetSecretValue of version %s: %w", secret, ver, err)
				}
			}
		case testOnly:
			emit(followEvent{since(), "testSecret", "finished: Secrets Manager removed the test version"})
			res.Outcome = "tested"
			res.Advice = "Secrets Manager's API does not report whether testSecret passed: the function's log (the step record with outcome) and the TestRotationSucceeded or TestRotationFailed event in CloudTrail do."
			return nil
		default:
			emit(followEvent{since(), "abandoned", "AWSPENDING left version " + ver + " before it became AWSCURRENT (a manual write or label move, or the function removed it)"})
			res.Outcome = "abandoned"
			return failf("secret %s: the rotation to version %s was abandoned", secret, ver)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("secret %s: %w", secret, ctx.Err())
		case <-deadline.C:
			res.Outcome = "timed-out"
			step := "createSecret (no value stored yet)"
			if stored {
				step = "setSecret, testSecret or finishSecret (the value is stored)"
			}
			if diag, err := rotation.Diagnose(ctx, sm, secret); err == nil {
				res.Advice = diag.Advice()
			}
			return failf("secret %s: the rotation to version %s did not finish within %s; it is stuck at %s. The cause is in the function's log (CloudWatch Logs, the step record with outcome \"failed\") and in the RotationFailed event; Secrets Manager reattempts it in the next window",
				secret, ver, timeout, step)
		case <-tick.C:
		}
	}
}
