package schedule

import (
	"strings"
	"time"
)

// cronSpec is a parsed cron() expression. Minutes are always 0 and Year is
// always *, so neither is stored.
type cronSpec struct {
	hours  []int    // firing hours, ascending and distinct, never empty
	months [13]bool // 1-12
	dom    *domSpec // nil when Day-of-month is ?
	dow    *dowSpec // nil when Day-of-week is ?
}

// domSpec is a Day-of-month field.
type domSpec struct {
	days        [32]bool // plain days 1-31
	nearest     [32]bool // nW: the weekday nearest day n
	last        bool     // L: the last day of the month
	lastWeekday bool     // LW: the last weekday of the month
}

// dowSpec is a Day-of-week field. Indexes are EventBridge days: 1 is Sunday,
// 7 is Saturday.
type dowSpec struct {
	days [8]bool    // every such day
	last [8]bool    // nL: the last such day of the month
	nth  [8][6]bool // n#k: the k-th (1-5) such day of the month
}

// cronField describes one numeric cron field.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i; nil if the field has none
}

var (
	hoursField = cronField{name: "Hours", min: 0, max: 23}
	domField   = cronField{name: "Day-of-month", min: 1, max: 31}
	monthField = cronField{name: "Month", min: 1, max: 12,
		names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	dowField = cronField{name: "Day-of-week", min: 1, max: 7,
		names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
)

// searchDays bounds every search for a matching day. The Gregorian calendar,
// weekdays included, repeats every 400 years (146097 days). So a cron that
// matches any day matches one in every span of that many days. The slack
// covers a partly used first month.
const searchDays = 146097 + 62

func cronError(expr, format string, args ...any) *Error {
	return invalidParameter("Invalid cron expression "+expr+": "+format, args...)
}

// parseCron parses the body of cron(...). expr is the whole expression, used
// in messages.
func parseCron(expr, body string) (*cronSpec, *Error) {
	fs := strings.Fields(body)
	if len(fs) != 6 {
		return nil, cronError(expr, "it must have 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), not %d.", len(fs))
	}
	if fs[0] != "0" {
		return nil, cronError(expr, "Minutes must be 0, because rotation windows open on the hour.")
	}
	if fs[5] != "*" {
		return nil, cronError(expr, "Year must be *.")
	}

	c := &cronSpec{}
	var hours [24]bool
	if err := hoursField.parseList(expr, fs[1], hours[:], nil); err != nil {
		return nil, err
	}
	for h, ok := range hours {
		if ok {
			c.hours = append(c.hours, h)
		}
	}
	if err := monthField.parseList(expr, fs[3], c.months[:], nil); err != nil {
		return nil, err
	}

	domAny, dowAny := fs[2] == "?", fs[4] == "?"
	switch {
	case domAny && dowAny:
		return nil, cronError(expr, "only one of Day-of-month and Day-of-week can be ?.")
	case !domAny && !dowAny:
		return nil, cronError(expr, "you can't set both Day-of-month and Day-of-week; use ? in one of them.")
	case dowAny:
		c.dom = &domSpec{}
		if err := domField.parseList(expr, fs[2], c.dom.days[:], c.dom.special(expr)); err != nil {
			return nil, err
		}
	default:
		c.dow = &dowSpec{}
		if err := dowField.parseList(expr, fs[4], c.dow.days[:], c.dow.special(expr)); err != nil {
			return nil, err
		}
	}

	for i := 1; i < len(c.hours); i++ {
		if c.hours[i]-c.hours[i-1] < minRateHours {
			return nil, cronError(expr, "it fires at %02d:00 and %02d:00 UTC; you can rotate a secret at most every 4 hours.", c.hours[i-1], c.hours[i])
		}
	}
	if _, ok := c.next(time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC).Add(-time.Hour)); !ok {
		return nil, cronError(expr, "it never matches a date.")
	}
	return c, nil
}

// parseList parses a comma-separated field into set, indexed by value.
// special, if not nil, gets each element first and reports whether it
// handled it.
func (f cronField) parseList(expr, text string, set []bool, special func(string) (bool, *Error)) *Error {
	if text == "?" {
		return cronError(expr, "? is only allowed in Day-of-month or Day-of-week.")
	}
	for elem := range strings.SplitSeq(text, ",") {
		if special != nil {
			handled, err := special(elem)
			if err != nil {
				return err
			}
			if handled {
				continue
			}
		}
		if err := f.parseElem(expr, elem, set); err != nil {
			return err
		}
	}
	return nil
}

// parseElem parses one list element: *, v, a-b, or any of those except v
// followed by /step ("/step" alone means "from the minimum").
func (f cronField) parseElem(expr, elem string, set []bool) *Error {
	lo, hi, step := f.min, f.max, 1
	rng, stepText, hasStep := strings.Cut(elem, "/")
	if hasStep {
		n, ok := atoi(stepText)
		if !ok || n < 1 || n > int64(f.max) {
			return cronError(expr, "%s increment %q must be a number from 1 to %d.", f.name, elem, f.max)
		}
		step = int(n)
	}
	switch {
	case rng == "*":
	case rng == "" && hasStep:
	default:
		a, b, isRange := strings.Cut(rng, "-")
		var ok bool
		if lo, ok = f.value(a); !ok {
			return f.badValue(expr, elem)
		}
		switch {
		case isRange:
			if hi, ok = f.value(b); !ok {
				return f.badValue(expr, elem)
			}
			if lo > hi {
				return cronError(expr, "%s range %q must not run backwards.", f.name, elem)
			}
		case !hasStep:
			hi = lo
		}
	}
	for v := lo; v <= hi; v += step {
		set[v] = true
	}
	return nil
}

func (f cronField) badValue(expr, elem string) *Error {
	if f.names != nil {
		return cronError(expr, "%s value %q must be %d-%d or %s-%s.", f.name, elem, f.min, f.max, f.names[0], f.names[len(f.names)-1])
	}
	return cronError(expr, "%s value %q must be %d-%d.", f.name, elem, f.min, f.max)
}

// value parses a number in [min, max] or, case-insensitively, a name.
func (f cronField) value(s string) (int, bool) {
	if n, ok := atoi(s); ok {
		if n < int64(f.min) || n > int64(f.max) {
			return 0, false
		}
		return int(n), true
	}
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + i, true
		}
	}
	return 0, false
}

// special handles L, LW and nW.
func (d *domSpec) special(expr string) func(string) (bool, *Error) {
	return func(elem string) (bool, *Error) {
		up := strings.ToUpper(elem)
		switch {
		case up == "L":
			d.last = true
		case up == "LW":
			d.lastWeekday = true
		case strings.HasSuffix(up, "W"):
			n, ok := atoi(up[:len(up)-1])
			if !ok || n < 1 || n > 31 {
				return false, cronError(expr, "Day-of-month %q must be nW with n from 1 to 31.", elem)
			}
			d.nearest[n] = true
		default:
			return false, nil
		}
		return true, nil
	}
}

// special handles L, nL and n#k.
func (w *dowSpec) special(expr string) func(string) (bool, *Error) {
	return func(elem string) (bool, *Error) {
		up := strings.ToUpper(elem)
		if up == "L" {
			w.days[7] = true // the last day of the week: Saturday
			return true, nil
		}
		if day, nth, ok := strings.Cut(up, "#"); ok {
			v, okDay := dowField.value(day)
			k, okNth := atoi(nth)
			if !okDay || !okNth || k < 1 || k > 5 {
				return false, cronError(expr, "Day-of-week %q must be day#n with day 1-7 or SUN-SAT and n from 1 to 5.", elem)
			}
			w.nth[v][k] = true
			return true, nil
		}
		if day, ok := strings.CutSuffix(up, "L"); ok {
			v, okDay := dowField.value(day)
			if !okDay {
				return false, cronError(expr, "Day-of-week %q must be dayL with day 1-7 or SUN-SAT.", elem)
			}
			w.last[v] = true
			return true, nil
		}
		return false, nil
	}
}

// next returns the first firing time strictly after after (which is UTC).
func (c *cronSpec) next(after time.Time) (time.Time, bool) {
	y, m, d := after.Date()
	for scanned := 0; scanned < searchDays; {
		n := daysIn(y, m)
		scanned += n - d + 1
		if c.months[m] {
			mask := c.matchingDays(y, m, n)
			for ; d <= n; d++ {
				if !mask[d] {
					continue
				}
				for _, h := range c.hours {
					if t := time.Date(y, m, d, h, 0, 0, 0, time.UTC); t.After(after) {
						return t, true
					}
				}
			}
		}
		d, m = 1, m+1
		if m > time.December {
			m, y = time.January, y+1
		}
	}
	return time.Time{}, false
}

// matchingDays reports which days of month m of year y (n days long) match
// the day fields.
func (c *cronSpec) matchingDays(y int, m time.Month, n int) (mask [32]bool) {
	first := int(time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()) // 0 is Sunday
	weekday := func(d int) int { return (first + d - 1) % 7 }
	if dom := c.dom; dom != nil {
		for d := 1; d <= n; d++ {
			if dom.days[d] {
				mask[d] = true
			}
			if dom.nearest[d] {
				mask[nearestWeekday(d, n, weekday)] = true
			}
		}
		if dom.last {
			mask[n] = true
		}
		if dom.lastWeekday {
			mask[nearestWeekday(n, n, weekday)] = true
		}
		return mask
	}
	for d := 1; d <= n; d++ {
		w := weekday(d) + 1 // EventBridge numbering, 1 is Sunday
		mask[d] = c.dow.days[w] || (c.dow.last[w] && d+7 > n) || c.dow.nth[w][(d-1)/7+1]
	}
	return mask
}

// nearestWeekday returns the Monday-Friday day nearest day d of a month n
// days long, without leaving the month (Quartz's W rule).
func nearestWeekday(d, n int, weekday func(int) int) int {
	switch weekday(d) {
	case int(time.Saturday):
		if d == 1 {
			return 3 // Monday the 3rd, not Friday of the previous month
		}
		return d - 1
	case int(time.Sunday):
		if d == n {
			return d - 2 // Friday, not Monday of the next month
		}
		return d + 1
	}
	return d
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}
