package schedule

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Rules mirrors the API's RotationRulesType. A zero field means the member
// is absent.
type Rules struct {
	// AutomaticallyAfterDays is the number of days between rotations,
	// 1-1000. 0 means unset.
	AutomaticallyAfterDays int64
	// ScheduleExpression is a "rate(...)" or "cron(...)" expression. ""
	// means unset.
	ScheduleExpression string
	// Duration is the window length as "<n>h", for example "3h". "" means
	// the default window.
	Duration string
}

// kind is the shape of a parsed schedule.
type kind uint8

const (
	kindDays      kind = iota // AutomaticallyAfterDays
	kindRateDays              // rate(N days)
	kindRateHours             // rate(N hours)
	kindCron                  // cron(...)
)

// Limits from the API model and the Secrets Manager user guide.
const (
	minDays          = 1
	maxDays          = 1000 // AutomaticallyAfterDays
	maxRateDays      = 999  // rate(N days)
	minRateHours     = 4    // rotation at most every four hours
	maxRateHours     = maxRateDays * 24
	minDurationLen   = 2
	maxDurationLen   = 3
	maxExpressionLen = 256
	hoursPerDay      = 24
)

// Patterns the API model states for the members, quoted in
// ValidationException messages.
const (
	durationPattern   = `[0-9h]+`
	expressionPattern = `[0-9A-Za-z\(\)#\?\*\-\/, ]+`
)

// Schedule is a validated set of rotation rules. Parse makes one; it never
// changes afterwards and is safe for concurrent use.
type Schedule struct {
	rules Rules
	kind  kind
	every int64     // days (kindDays, kindRateDays) or hours (kindRateHours)
	cron  *cronSpec // kindCron only
	// window is the window length in hours. 0 means the window lasts until
	// the end of the UTC day it opens on.
	window int64
}

// Parse validates r as RotateSecret does and returns the schedule it
// describes. On failure the error is a *Error whose Code names the AWS
// exception for that failure (see the package documentation). Parse never
// panics, whatever r holds.
func Parse(r Rules) (*Schedule, error) {
	if vs := modelViolations(r); len(vs) > 0 {
		return nil, validationError(vs)
	}
	hasDays := r.AutomaticallyAfterDays != 0
	hasExpr := r.ScheduleExpression != ""
	switch {
	case hasDays && hasExpr:
		// AWS's own text, recorded in terraform-provider-aws#33329.
		return nil, invalidParameter("You cannot specify both rotation frequency and schedule expression together.")
	case !hasDays && !hasExpr:
		return nil, invalidParameter("RotationRules must specify either AutomaticallyAfterDays or ScheduleExpression.")
	}

	s := &Schedule{rules: r}
	if hasDays {
		s.kind, s.every = kindDays, r.AutomaticallyAfterDays
	} else if err := s.parseExpression(r.ScheduleExpression); err != nil {
		return nil, err
	}
	if err := s.setWindow(r.Duration); err != nil {
		return nil, err
	}
	return s, nil
}

// modelViolations checks the constraints the API model itself declares,
// which the AWS front end enforces before the service sees the request.
func modelViolations(r Rules) []violation {
	var vs []violation
	if d := r.AutomaticallyAfterDays; d != 0 {
		v := strconv.FormatInt(d, 10)
		const m = "rotationRules.automaticallyAfterDays"
		if d < minDays {
			vs = append(vs, violation{v, m, "Member must have value greater than or equal to 1"})
		} else if d > maxDays {
			vs = append(vs, violation{v, m, "Member must have value less than or equal to 1000"})
		}
	}
	if d := r.Duration; d != "" {
		const m = "rotationRules.duration"
		if n := javaLen(d); n < minDurationLen {
			vs = append(vs, violation{d, m, "Member must have length greater than or equal to 2"})
		} else if n > maxDurationLen {
			vs = append(vs, violation{d, m, "Member must have length less than or equal to 3"})
		}
		if !onlyBytes(d, isDurationByte) {
			vs = append(vs, violation{d, m, "Member must satisfy regular expression pattern: " + durationPattern})
		}
	}
	if e := r.ScheduleExpression; e != "" {
		const m = "rotationRules.scheduleExpression"
		if javaLen(e) > maxExpressionLen {
			vs = append(vs, violation{e, m, "Member must have length less than or equal to 256"})
		}
		if !onlyBytes(e, isExpressionByte) {
			vs = append(vs, violation{e, m, "Member must satisfy regular expression pattern: " + expressionPattern})
		}
	}
	return vs
}

// javaLen counts UTF-16 code units, as the AWS front end (Java) measures
// string length.
func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func onlyBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isDurationByte(c byte) bool { return isDigit(c) || c == 'h' }

func isExpressionByte(c byte) bool {
	switch {
	case isDigit(c), 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		return true
	}
	return strings.IndexByte("()#?*-/, ", c) >= 0
}

// parseExpression fills s from a rate() or cron() expression.
func (s *Schedule) parseExpression(expr string) error {
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		return s.parseRate(expr, expr[len("rate("):len(expr)-1])
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		c, err := parseCron(expr, expr[len("cron("):len(expr)-1])
		if err != nil {
			return err
		}
		s.kind, s.cron = kindCron, c
		return nil
	}
	return invalidParameter("Invalid ScheduleExpression %s: use rate(value unit) or cron(Minutes Hours Day-of-month Month Day-of-week Year).", expr)
}

func (s *Schedule) parseRate(expr, body string) error {
	value, unit, ok := strings.Cut(body, " ")
	n, okNum := atoi(value)
	if !ok || !okNum {
		return invalidParameter("Invalid rate expression %s: use rate(value unit) with a positive whole number and the unit hour, hours, day or days.", expr)
	}
	switch unit {
	case "hour", "hours":
		switch {
		case n < minRateHours:
			return invalidParameter("Invalid rate expression %s: you can rotate a secret at most every 4 hours.", expr)
		case n > maxRateHours:
			return invalidParameter("Invalid rate expression %s: the rotation interval can be at most 999 days.", expr)
		}
		s.kind, s.every = kindRateHours, n
	case "day", "days":
		switch {
		case n < 1:
			return invalidParameter("Invalid rate expression %s: the value must be a positive whole number.", expr)
		case n > maxRateDays:
			return invalidParameter("Invalid rate expression %s: the rotation interval can be at most 999 days.", expr)
		}
		s.kind, s.every = kindRateDays, n
	default:
		return invalidParameter("Invalid rate expression %s: the unit must be hour, hours, day or days.", expr)
	}
	return nil
}

// atoi parses a non-empty string of ASCII digits. It rejects signs, spaces
// and values too large to matter (more than 9 digits).
func atoi(s string) (int64, bool) {
	if s == "" || len(s) > 9 || !onlyBytes(s, isDigit) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// setWindow validates Duration against the schedule and records the window
// length.
func (s *Schedule) setWindow(duration string) error {
	hourly := s.kind == kindRateHours || (s.kind == kindCron && len(s.cron.hours) > 1)
	if duration == "" {
		if hourly {
			s.window = 1
		}
		return nil
	}
	// The model pattern [0-9h]+ lets through "hh" or "1h2"; the service wants
	// digits followed by a single h.
	digits, ok := strings.CutSuffix(duration, "h")
	n, okNum := atoi(digits)
	if !ok || !okNum {
		return invalidParameter("Invalid Duration %s: use a whole number of hours followed by h, for example 3h.", duration)
	}
	if n < 1 {
		return invalidParameter("Invalid Duration %s: the rotation window must be at least 1 hour.", duration)
	}
	switch s.kind {
	case kindDays, kindRateDays:
		// Windows open at midnight.
		if n > hoursPerDay {
			return invalidParameter("Invalid Duration %s: the rotation window opens at 00:00 UTC and must not extend into the next UTC day.", duration)
		}
	case kindRateHours:
		if n > s.every {
			return invalidParameter("Invalid Duration %s: the rotation window must not extend into the next rotation window, %d hours later.", duration, s.every)
		}
		if n > hoursPerDay {
			return invalidParameter("Invalid Duration %s: the rotation window must not extend into the next UTC day.", duration)
		}
	case kindCron:
		hs := s.cron.hours
		if last := hs[len(hs)-1]; int64(last)+n > hoursPerDay {
			return invalidParameter("Invalid Duration %s: the rotation window opening at %02d:00 UTC must not extend into the next UTC day.", duration, last)
		}
		for i := 1; i < len(hs); i++ {
			if gap := int64(hs[i] - hs[i-1]); n > gap {
				return invalidParameter("Invalid Duration %s: the rotation window opening at %02d:00 UTC must not extend into the next rotation window at %02d:00 UTC.", duration, hs[i-1], hs[i])
			}
		}
	}
	s.window = n
	return nil
}

// Rules returns the rules s was parsed from.
func (s *Schedule) Rules() Rules {
	if s == nil {
		return Rules{}
	}
	return s.rules
}

// String describes the schedule for logs and test failures: the schedule
// expression or "AutomaticallyAfterDays=N", then " Duration=<d>" when a
// Duration was given.
func (s *Schedule) String() string {
	if s == nil {
		return "<nil>"
	}
	var b strings.Builder
	if s.rules.ScheduleExpression != "" {
		b.WriteString(s.rules.ScheduleExpression)
	} else {
		b.WriteString("AutomaticallyAfterDays=")
		b.WriteString(strconv.FormatInt(s.rules.AutomaticallyAfterDays, 10))
	}
	if s.rules.Duration != "" {
		b.WriteString(" Duration=")
		b.WriteString(s.rules.Duration)
	}
	return b.String()
}

const (
	secondsPerHour = 60 * 60
	secondsPerDay  = hoursPerDay * secondsPerHour
)

// NextWindow returns the first rotation window that opens strictly after
// after. start is when the window opens and end is when it closes. Both are
// in UTC, and start is always on the hour.
//
// Rate and AutomaticallyAfterDays schedules count from lastRotated. Windows
// open every interval after the hour (for rate in hours) or the UTC day (for
// days) of lastRotated, and NextWindow skips any that open at or before
// after. A zero lastRotated means the secret was never rotated, and counting
// starts from after instead. cron schedules ignore lastRotated. The package
// documentation describes windows in full.
func (s *Schedule) NextWindow(after, lastRotated time.Time) (start, end time.Time) {
	if s == nil {
		return time.Time{}, time.Time{}
	}
	after = after.UTC()
	anchor := lastRotated
	if anchor.IsZero() {
		anchor = after
	}
	switch s.kind {
	case kindDays, kindRateDays:
		start = nextAligned(floorDiv(anchor.Unix(), secondsPerDay)*secondsPerDay, s.every*secondsPerDay, after)
	case kindRateHours:
		start = nextAligned(floorDiv(anchor.Unix(), secondsPerHour)*secondsPerHour, s.every*secondsPerHour, after)
	case kindCron:
		var ok bool
		if start, ok = s.cron.next(after); !ok {
			// Unreachable: Parse rejects expressions that never match.
			return time.Time{}, time.Time{}
		}
	}
	midnight := time.Unix((floorDiv(start.Unix(), secondsPerDay)+1)*secondsPerDay, 0).UTC()
	if s.window == 0 {
		return start, midnight
	}
	end = start.Add(time.Duration(s.window) * time.Hour)
	if end.After(midnight) {
		// Only rate in hours gets here: its start hour depends on
		// lastRotated, so Parse cannot rule this out.
		end = midnight
	}
	return start, end
}

// nextAligned returns the first anchor+k*step (k >= 1), in Unix seconds, that
// is strictly after after.
func nextAligned(anchor, step int64, after time.Time) time.Time {
	k := int64(1)
	if a := after.Unix(); anchor+step <= a {
		// anchor+k*step > a  <=>  k > (a-anchor)/step.
		k = floorDiv(a-anchor, step) + 1
	}
	return time.Unix(anchor+k*step, 0).UTC()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
