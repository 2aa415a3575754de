package rotationtest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Violations returns every *Violation in err's tree (as joined by Check),
// in order, or nil if there is none. Errors that are not violations (a
// fixture that could not be built, the end of the context) are left out:
// test them with errors.Is or print err.
func Violations(err error) []*Violation {
	var out []*Violation
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
		case *Violation:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

// String summarizes the report in a few lines, as Run logs it.
func (r Report) String() string {
	var b strings.Builder
	if r.Calls == 0 {
		b.WriteString("Secrets Manager calls per rotation: not measured (the clean rotation of rule rotates failed)")
	} else {
		fmt.Fprintf(&b, "Secrets Manager calls per rotation: %d %v", r.Calls, r.CallsByOp)
	}
	if r.Labels != "" {
		fmt.Fprintf(&b, "\nlabels after rule rotates: %s", r.Labels)
	}
	if len(r.Events) > 0 {
		b.WriteString("\nevents of rule rotates:")
		for _, e := range r.Events {
			fmt.Fprintf(&b, " %s", e.Name)
			if e.Step != "" {
				fmt.Fprintf(&b, "(%s)", e.Step)
			}
		}
	}
	if r.Probes > 0 {
		fmt.Fprintf(&b, "\nclient probes during rotations: %d, failures: %d, longest failure window: %v", r.Probes, r.ProbeFailures, r.FailureWindow)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "\nskipped %s", s)
	}
	return b.String()
}

// StepTimeout bounds each invocation of the rotation function, as the
// Lambda function's timeout does (default 30s; zero or less keeps the
// default). An invocation that runs longer fails its step, and the
// service retries the rotation.
func StepTimeout(d time.Duration) SuiteOption {
	return func(c *suiteConfig) {
		if d > 0 {
			c.stepTimeout = d
		}
	}
}

// RuleTimeout bounds each rule (default 2m; zero or less keeps the
// default), so that a rotator that hangs fails its rule instead of the
// whole test binary.
func RuleTimeout(d time.Duration) SuiteOption {
	return func(c *suiteConfig) {
		if d > 0 {
			c.ruleTimeout = d
		}
	}
}

// checkExempt validates Fixture.Exempt: only the outcome rules, where a
// service may legitimately differ, can be turned off, each with a reason.
func checkExempt(fx *Fixture) error {
	for name, why := range fx.Exempt {
		r, ok := ruleNamed(name)
		switch {
		case !ok:
			return fmt.Errorf("rotationtest: Fixture.Exempt names %q, which is not a rule", name)
		case !r.exemptable:
			return fmt.Errorf("rotationtest: Fixture.Exempt names rule %q, which cannot be turned off (only the outcome rules can)", name)
		case strings.TrimSpace(why) == "":
			return fmt.Errorf("rotationtest: Fixture.Exempt turns off rule %q without a reason", name)
		}
	}
	return nil
}

func ruleNamed(name string) (rule, bool) {
	for _, r := range rules {
		if r.name == name {
			return r, true
		}
	}
	return rule{}, false
}

// skipped reports whether err says the rule did not apply.
func skipped(err error) (string, bool) {
	var na errNotApplicable
	if errors.As(err, &na) {
		return na.why, true
	}
	return "", false
}
