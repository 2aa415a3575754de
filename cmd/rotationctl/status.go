package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/internal/schedule"
)

// Health verdicts, worst last. A verdict in problemHealth fails the check
// (exit 1); "error" is an API error (exit 2).
const (
	healthOK              = "ok"
	healthDisabled        = "disabled"         // rotation is off: not a failure
	healthRotating        = "rotating"         // AWSPENDING younger than --stuck-after
	healthOverdue         = "overdue"          // the window passed without a rotation
	healthNoFunction      = "no-function"      // rotation on, no function configured
	healthFunctionMissing = "function-missing" // the configured function does not exist
	healthFailed          = "failed"           // pending value stored, never made current
	healthStuck           = "stuck"            // orphaned AWSPENDING placeholder
	healthError           = "error"
)

var problemHealth = map[string]bool{
	healthOverdue: true, healthNoFunction: true, healthFunctionMissing: true,
	healthFailed: true, healthStuck: true,
}

// secretStatus is one line of the status report. It holds no secret value.
type secretStatus struct {
	Name            string              `json:"name"`
	ARN             string              `json:"arn"`
	RotationEnabled bool                `json:"rotationEnabled"`
	Rules           string              `json:"rules,omitempty"`
	Function        string              `json:"function,omitempty"`
	LastRotated     *time.Time          `json:"lastRotated,omitempty"`
	NextRotation    *time.Time          `json:"nextRotation,omitempty"`
	Labels          map[string][]string `json:"labels"`
	Health          string              `json:"health"`
	Problems        []string            `json:"problems,omitempty"`
	Advice          string              `json:"advice,omitempty"`
	PendingSince    *time.Time          `json:"pendingSince,omitempty"`
}

type statusSummary struct {
	Total    int            `json:"total"`
	ByHealth map[string]int `json:"byHealth"`
}

type statusOutput struct {
	Secrets []*secretStatus `json:"secrets"`
	Summary statusSummary   `json:"summary"`
}

// statusRun is the state of one status command.
type statusRun struct {
	a          *app
	sm         *secretsmanager.Client
	lambda     lambdaAPI
	now        time.Time
	stuckAfter time.Duration

	functions sync.Map // ARN -> *functionCheck
}

type functionCheck struct {
	once    sync.Once
	missing bool
	err     error
}

func (a *app) status(ctx context.Context, args []string) error {
	var c common
	fs := newFlagSet("status", "status [SECRET... | --prefix P | --all]", &c)
	all := fs.Bool("all", false, "every secret in the account and region")
	prefix := fs.String("prefix", "", "secrets whose name starts with `P`")
	stuckAfter := fs.Duration("stuck-after", time.Hour, "an unfinished rotation older than this is stuck or failed, not running")
	pos, err := parse(fs, args, a.stderr)
	if err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{*all, *prefix != "", len(pos) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: give SECRET arguments, --prefix or --all (exactly one of them)", errUsage)
	}
	cl, err := a.clients(ctx, &c)
	if err != nil {
		return err
	}
	r := &statusRun{a: a, sm: cl.sm, now: a.now().UTC(), stuckAfter: *stuckAfter}
	if cl.lambda != nil {
		r.lambda = cl.lambda
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Secrets to examine: list entries (with their metadata) or names.
	type item struct {
		entry *types.SecretListEntry
		id    string
	}
	items := make(chan item, 256)
	var total atomic.Int64
	var listErr error
	go func() {
		defer close(items)
		if len(pos) > 0 {
			total.Store(int64(len(pos)))
			for _, id := range pos {
				select {
				case items <- item{id: id}:
				case <-ctx.Done():
					return
				}
			}
			return
		}
		in := &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(100)}
		if *prefix != "" {
			in.Filters = []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{*prefix}}}
		}
		p := secretsmanager.NewListSecretsPaginator(r.sm, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				listErr = fmt.Errorf("ListSecrets: %w", err)
				return
			}
			total.Add(int64(len(page.SecretList)))
			for i := range page.SecretList {
				e := &page.SecretList[i]
				if *prefix != "" && !strings.HasPrefix(aws.ToString(e.Name), *prefix) {
					continue // the name filter also matches words inside names
				}
				select {
				case items <- item{entry: e}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()

	prog := a.newProgress(&c, "status")
	var mu sync.Mutex
	var results []*secretStatus
	var wg sync.WaitGroup
	for range c.concurrency {
		wg.Go(func() {
			for it := range items {
				var s *secretStatus
				if it.entry != nil {
					s = r.examine(ctx, it.entry, nil, "")
				} else {
					s = r.examineID(ctx, it.id)
				}
				mu.Lock()
				results = append(results, s)
				done := len(results)
				mu.Unlock()
				prog.update(done, int(total.Load()))
			}
		})
	}
	wg.Wait()
	prog.done()
	if listErr != nil {
		return listErr
	}
	sort.Slice(results, func(i, j int) bool {
		if results[i].Name != results[j].Name {
			return results[i].Name < results[j].Name
		}
		return results[i].ARN < results[j].ARN
	})
	out := statusOutput{Secrets: results, Summary: statusSummary{Total: len(results), ByHealth: map[string]int{}}}
	problems, errs := 0, 0
	for _, s := range results {
		out.Summary.ByHealth[s.Health]++
		if problemHealth[s.Health] {
			problems++
		}
		if s.Health == healthError {
			errs++
		}
	}
	if c.output == "json" {
		if err := printJSON(a.stdout, out); err != nil {
			return err
		}
	} else if err := printStatusTable(a.stdout, out); err != nil {
		return err
	}
	switch {
	case errs > 0:
		return fmt.Errorf("%d of %d secrets could not be examined (see their problems)", errs, len(results))
	case problems > 0:
		return failf("%d of %d secrets need attention", problems, len(results))
	}
	return nil
}

func printStatusTable(w io.Writer, out statusOutput) error {
	t := newTable(w, "NAME", "ROTATION", "RULE", "LAST ROTATED", "NEXT ROTATION", "LABELS", "HEALTH")
	for _, s := range out.Secrets {
		on := "off"
		if s.RotationEnabled {
			on = "on"
		}
		t.row(s.Name, on, s.Rules, fmtTime(deref(s.LastRotated)), fmtTime(deref(s.NextRotation)), labels(s.Labels).short(), s.Health)
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, s := range out.Secrets {
		if len(s.Problems) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%s): %s\n", s.Name, s.Health, strings.Join(s.Problems, "; "))
		if s.Advice != "" {
			fmt.Fprintf(w, "  %s\n", s.Advice)
		}
	}
	var parts []string
	for _, h := range []string{healthOK, healthDisabled, healthRotating, healthOverdue, healthNoFunction, healthFunctionMissing, healthFailed, healthStuck, healthError} {
		if n := out.Summary.ByHealth[h]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, h))
		}
	}
	fmt.Fprintf(w, "\n%d secrets: %s\n", out.Summary.Total, strings.Join(parts, ", "))
	return nil
}

func deref(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}

func ptr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// examineID describes a secret named on the command line, then examines it.
func (r *statusRun) examineID(ctx context.Context, id string) *secretStatus {
	d, err := r.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		return &secretStatus{Name: id, Health: healthError, Problems: []string{"DescribeSecret: " + err.Error()}}
	}
	e := &types.SecretListEntry{
		ARN: d.ARN, Name: d.Name, RotationEnabled: d.RotationEnabled, RotationLambdaARN: d.RotationLambdaARN,
		RotationRules: d.RotationRules, LastRotatedDate: d.LastRotatedDate, NextRotationDate: d.NextRotationDate,
		SecretVersionsToStages: d.VersionIdsToStages,
	}
	return r.examine(ctx, e, d, id)
}

// listed answers Diagnose's DescribeSecret from metadata already fetched
// (a ListSecrets entry carries the labels), so a healthy secret costs no
// call of its own; GetSecretValue goes to Secrets Manager.
type listed struct {
	rotation.DiagnoseClient
	out *secretsmanager.DescribeSecretOutput
}

func (l listed) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return l.out, nil
}

// examine builds a secret's status from its metadata, with Diagnose for
// the verdict on an unfinished rotation.
func (r *statusRun) examine(ctx context.Context, e *types.SecretListEntry, d *secretsmanager.DescribeSecretOutput, id string) *secretStatus {
	s := &secretStatus{
		Name:            aws.ToString(e.Name),
		ARN:             aws.ToString(e.ARN),
		RotationEnabled: aws.ToBool(e.RotationEnabled),
		Rules:           describeRules(rulesOf(e.RotationRules)),
		Function:        aws.ToString(e.RotationLambdaARN),
		LastRotated:     ptr(timeOf(e.LastRotatedDate)),
		NextRotation:    ptr(timeOf(e.NextRotationDate)),
		Labels:          e.SecretVersionsToStages,
		Health:          healthOK,
	}
	if s.Labels == nil {
		s.Labels = map[string][]string{}
	}
	if id == "" {
		id = s.ARN
	}
	if d == nil {
		d = &secretsmanager.DescribeSecretOutput{ARN: e.ARN, Name: e.Name, RotationEnabled: e.RotationEnabled, VersionIdsToStages: e.SecretVersionsToStages}
	}
	fail := func(health, problem string) {
		if !problemHealth[s.Health] && s.Health != healthError {
			s.Health = health
		}
		s.Problems = append(s.Problems, problem)
	}
	diag, err := rotation.Diagnose(ctx, listed{DiagnoseClient: r.sm, out: d}, id)
	if err != nil {
		s.Health = healthError
		s.Problems = append(s.Problems, err.Error())
		return s
	}
	if diag.Incomplete() {
		since, err := r.pendingSince(ctx, id, diag.Pending)
		switch {
		case err != nil:
			s.Health = healthError
			s.Problems = append(s.Problems, err.Error())
			return s
		case !since.IsZero() && r.now.Sub(since) < r.stuckAfter:
			s.Health = healthRotating
		case diag.PendingHasValue:
			fail(healthFailed, fmt.Sprintf("rotation to version %s stored its value but never finished (setSecret, testSecret or finishSecret failed)", diag.Pending))
			s.Advice = diag.Advice()
		default:
			fail(healthStuck, fmt.Sprintf("AWSPENDING is on version %s, which holds no value: createSecret never completed", diag.Pending))
			s.Advice = diag.Advice()
		}
		s.PendingSince = ptr(since)
	}
	if !s.RotationEnabled {
		if s.Health == healthOK {
			s.Health = healthDisabled
		}
		return s
	}
	if s.Function == "" {
		fail(healthNoFunction, "rotation is on but no rotation function is configured")
	} else if r.lambda != nil {
		if missing, err := r.functionMissing(ctx, s.Function); err != nil {
			s.Problems = append(s.Problems, "could not check the function: "+err.Error())
		} else if missing {
			fail(healthFunctionMissing, "the rotation function "+s.Function+" does not exist")
		}
	}
	if s.Health == healthOK || s.Health == healthRotating {
		if late := r.overdue(e); late > 0 && s.Health == healthOK {
			fail(healthOverdue, fmt.Sprintf("the rotation window opening %s passed %s ago without a rotation", fmtTime(*s.NextRotation), late.Round(time.Minute)))
		}
	}
	return s
}

// overdue returns how long ago the window at NextRotationDate closed, or
// 0 if it has not closed (or no rotation is scheduled).
func (r *statusRun) overdue(e *types.SecretListEntry) time.Duration {
	next := timeOf(e.NextRotationDate)
	if next.IsZero() {
		return 0
	}
	end := next.Add(24 * time.Hour) // the longest window
	if sch, err := schedule.Parse(rulesOf(e.RotationRules)); err == nil {
		if s, e := sch.NextWindow(next.Add(-time.Second), timeOf(e.LastRotatedDate)); s.Equal(next) {
			end = e
		}
	}
	if late := r.now.Sub(end); late > 0 {
		return late
	}
	return 0
}

// pendingSince returns when the pending version was created.
func (r *statusRun) pendingSince(ctx context.Context, id, version string) (time.Time, error) {
	p := secretsmanager.NewListSecretVersionIdsPaginator(r.sm, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(id)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("ListSecretVersionIds: %w", err)
		}
		for _, v := range page.Versions {
			if aws.ToString(v.VersionId) == version {
				return timeOf(v.CreatedDate), nil
			}
		}
	}
	return time.Time{}, nil
}

// functionMissing reports whether the function does not exist, asking
// Lambda once per function for the whole run.
func (r *statusRun) functionMissing(ctx context.Context, arn string) (bool, error) {
	v, _ := r.functions.LoadOrStore(arn, &functionCheck{})
	fc := v.(*functionCheck)
	fc.once.Do(func() {
		_, err := r.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn)})
		var nf *lambdatypes.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
			fc.missing = true
		case err != nil:
			fc.err = fmt.Errorf("GetFunction: %w", err)
		}
	})
	return fc.missing, fc.err
}
