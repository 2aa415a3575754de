package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/rotationkit/rotation/internal/schedule"
)

// avoidList collects repeated --avoid options.
type avoidList []*hours

func (l *avoidList) String() string { return "" }

func (l *avoidList) Set(s string) error {
	h, err := parseHours(s)
	if err != nil {
		return err
	}
	*l = append(*l, h)
	return nil
}

type enableOutput struct {
	Secret          string   `json:"secret"`
	ARN             string   `json:"arn"`
	Function        string   `json:"function"`
	Rules           string   `json:"rules"`
	RotateNow       bool     `json:"rotateNow"`
	VersionID       string   `json:"versionId,omitempty"`
	PolicyCheck     string   `json:"policyCheck"`
	NextWindows     []window `json:"nextWindows"`
	AvoidedConflict int      `json:"windowsInAvoidedHours"`
}

func (a *app) enable(ctx context.Context, args []string) error {
	var c common
	fs := newFlagSet("enable", "enable SECRET --function ARN (--every 30d | --schedule EXPR) [--window 4h] [--avoid SPEC]... [--force] [--no-rotate-now]", &c)
	function := fs.String("function", "", "`ARN` of the rotation function")
	every := fs.String("every", "", "rotate every N days: `Nd`, 1d to 1000d (AutomaticallyAfterDays)")
	expr := fs.String("schedule", "", "schedule `expression`: rate(N hours|days) or cron(...)")
	win := fs.String("window", "", "window `length` in whole hours, e.g. 4h (default: the service's)")
	var avoid avoidList
	fs.Var(&avoid, "avoid", "`hours` windows must stay out of, e.g. 'Mon-Fri 08:00-18:00 Europe/Berlin' (repeatable)")
	force := fs.Bool("force", false, "enable even when windows fall in --avoid hours or the function's policy check fails")
	noRotateNow := fs.Bool("no-rotate-now", false, "do not rotate now; the first rotation happens in the first window")
	check := fs.Int("check-windows", 60, "how many upcoming windows to check against --avoid")
	show := fs.Int("show-windows", 5, "how many upcoming windows to print")
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
	if *function == "" {
		return fmt.Errorf("%w: --function is required", errUsage)
	}
	if *check < 1 || *check > 10000 || *show < 0 {
		return fmt.Errorf("%w: --check-windows must be 1 to 10000 and --show-windows at least 0", errUsage)
	}
	var rules schedule.Rules
	switch {
	case (*every == "") == (*expr == ""):
		return fmt.Errorf("%w: give exactly one of --every and --schedule", errUsage)
	case *every != "":
		n, err := strconv.ParseInt(strings.TrimSuffix(*every, "d"), 10, 64)
		if err != nil || !strings.HasSuffix(*every, "d") {
			return fmt.Errorf("%w: --every %q: want a number of days such as 30d", errUsage, *every)
		}
		rules.AutomaticallyAfterDays = n
	default:
		rules.ScheduleExpression = *expr
	}
	rules.Duration = *win
	// The same validator as the local Secrets Manager's: a rule it accepts
	// is one the service accepts, checked before any call.
	sch, err := schedule.Parse(rules)
	if err != nil {
		return fmt.Errorf("%w: secret %s: rotation rules %s rejected: %v", errUsage, secret, describeRules(rules), err)
	}

	cl, err := a.clients(ctx, &c)
	if err != nil {
		return err
	}
	d, err := cl.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secret)})
	if err != nil {
		return fmt.Errorf("secret %s: DescribeSecret: %w", secret, err)
	}
	now := a.now().UTC()
	last := timeOf(d.LastRotatedDate)
	if !*noRotateNow {
		last = now
	}
	ws := nextWindows(sch, now, last, max(*check, *show))
	cs := conflicts(ws[:min(*check, len(ws))], avoid)
	if len(cs) > 0 && !*force {
		return failf("secret %s: %d of the next %d windows of %s fall in the hours to avoid; the first: %s. Choose a cron() schedule and --window outside those hours, or pass --force",
			secret, len(cs), min(*check, len(ws)), describeRules(rules), cs[0])
	}
	for _, cf := range cs {
		fmt.Fprintf(a.stderr, "warning: secret %s: %s (--force)\n", secret, cf)
	}

	policy := "skipped: --endpoint-url is set and --lambda-endpoint-url is not"
	if cl.lambda != nil {
		verdict, err := checkInvokePolicy(ctx, cl.lambda, *function, aws.ToString(d.ARN))
		var cf *checkFailed
		switch {
		case errors.As(err, &cf) && *force:
			fmt.Fprintf(a.stderr, "warning: secret %s: %v (--force)\n", secret, err)
			policy = "failed (forced): " + err.Error()
		case err != nil:
			return fmt.Errorf("secret %s: %w", secret, err)
		default:
			policy = verdict
			if strings.HasPrefix(verdict, "warning") || strings.HasPrefix(verdict, "not checked") {
				fmt.Fprintf(a.stderr, "secret %s: function policy %s\n", secret, verdict)
			}
		}
	}

	in := &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(secret),
		RotationLambdaARN: aws.String(*function),
		RotationRules:     rulesIn(rules),
		RotateImmediately: aws.Bool(!*noRotateNow),
	}
	out, err := cl.sm.RotateSecret(ctx, in)
	if err != nil {
		return fmt.Errorf("secret %s: RotateSecret: %w", secret, err)
	}
	res := enableOutput{
		Secret:          secret,
		ARN:             aws.ToString(out.ARN),
		Function:        *function,
		Rules:           describeRules(rules),
		RotateNow:       !*noRotateNow,
		VersionID:       aws.ToString(out.VersionId),
		PolicyCheck:     policy,
		NextWindows:     ws[:min(*show, len(ws))],
		AvoidedConflict: len(cs),
	}
	if c.output == "json" {
		return printJSON(a.stdout, res)
	}
	fmt.Fprintf(a.stdout, "Rotation enabled for %s: %s, function %s.\n", res.ARN, res.Rules, res.Function)
	if res.RotateNow {
		fmt.Fprintf(a.stdout, "A rotation started now (version %s); see it with: rotationctl status %s\n", res.VersionID, secret)
	} else {
		fmt.Fprintf(a.stdout, "Secrets Manager tested the function (testSecret on a copy of AWSCURRENT); the first rotation happens in the first window.\n")
	}
	fmt.Fprintf(a.stdout, "Function policy: %s\n", policy)
	if len(avoid) > 0 {
		fmt.Fprintf(a.stdout, "Checked %d windows against %s: %d conflict(s).\n", min(*check, len(ws)), avoidSpecs(avoid), len(cs))
	}
	t := newTable(a.stdout, "NEXT WINDOW OPENS (UTC)", "CLOSES (UTC)", localHeader(avoid))
	for _, w := range res.NextWindows {
		local := ""
		if len(avoid) > 0 {
			local = w.Start.In(avoid[0].loc).Format("Mon 2006-01-02 15:04 MST")
		}
		t.row(w.Start.Format("Mon 2006-01-02 15:04"), w.End.Format("Mon 2006-01-02 15:04"), local)
	}
	return t.flush()
}

func localHeader(avoid avoidList) string {
	if len(avoid) == 0 {
		return ""
	}
	return "OPENS (" + avoid[0].loc.String() + ")"
}

func avoidSpecs(avoid avoidList) string {
	var s []string
	for _, h := range avoid {
		s = append(s, strconv.Quote(h.spec))
	}
	return strings.Join(s, ", ")
}

func rulesIn(r schedule.Rules) *types.RotationRulesType {
	out := &types.RotationRulesType{}
	if r.AutomaticallyAfterDays != 0 {
		out.AutomaticallyAfterDays = aws.Int64(r.AutomaticallyAfterDays)
	}
	if r.ScheduleExpression != "" {
		out.ScheduleExpression = aws.String(r.ScheduleExpression)
	}
	if r.Duration != "" {
		out.Duration = aws.String(r.Duration)
	}
	return out
}

// describeRules formats rules the way the status table shows them.
func describeRules(r schedule.Rules) string {
	s := r.ScheduleExpression
	if s == "" && r.AutomaticallyAfterDays != 0 {
		s = "every " + strconv.FormatInt(r.AutomaticallyAfterDays, 10) + "d"
	}
	if r.Duration != "" {
		s += " window " + r.Duration
	}
	return s
}

func rulesOf(r *types.RotationRulesType) schedule.Rules {
	if r == nil {
		return schedule.Rules{}
	}
	return schedule.Rules{
		AutomaticallyAfterDays: aws.ToInt64(r.AutomaticallyAfterDays),
		ScheduleExpression:     aws.ToString(r.ScheduleExpression),
		Duration:               aws.ToString(r.Duration),
	}
}
