package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rotationkit/rotation/internal/schedule"
)

// hours is a weekly span of local time to keep rotation windows out of,
// such as business hours: "Mon-Fri 08:00-18:00 Europe/Berlin".
type hours struct {
	spec       string
	days       [7]bool // by time.Weekday
	start, end int     // minutes after local midnight; end <= start crosses midnight
	loc        *time.Location
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseHours parses "DAYS HH:MM-HH:MM ZONE". DAYS is a day (Mon), a range
// (Mon-Fri, Fri-Mon), a comma-separated list of those, or "daily". ZONE
// is an IANA time zone name ("Europe/Berlin", "UTC").
func parseHours(spec string) (*hours, error) {
	f := strings.Fields(spec)
	if len(f) != 3 {
		return nil, fmt.Errorf("--avoid %q: want 'DAYS HH:MM-HH:MM ZONE', for example 'Mon-Fri 08:00-18:00 Europe/Berlin'", spec)
	}
	h := &hours{spec: spec}
	if err := h.parseDays(f[0]); err != nil {
		return nil, fmt.Errorf("--avoid %q: %v", spec, err)
	}
	from, to, ok := strings.Cut(f[1], "-")
	if !ok {
		return nil, fmt.Errorf("--avoid %q: times %q: want HH:MM-HH:MM", spec, f[1])
	}
	var err error
	if h.start, err = parseClock(from); err != nil {
		return nil, fmt.Errorf("--avoid %q: %v", spec, err)
	}
	if h.end, err = parseClock(to); err != nil {
		return nil, fmt.Errorf("--avoid %q: %v", spec, err)
	}
	if h.start == h.end {
		return nil, fmt.Errorf("--avoid %q: the span %s is empty", spec, f[1])
	}
	if h.loc, err = time.LoadLocation(f[2]); err != nil {
		return nil, fmt.Errorf("--avoid %q: unknown time zone %q", spec, f[2])
	}
	return h, nil
}

func (h *hours) parseDays(s string) error {
	if strings.EqualFold(s, "daily") || s == "*" {
		for i := range h.days {
			h.days[i] = true
		}
		return nil
	}
	for part := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		d1, ok1 := weekdays[strings.ToLower(a)]
		d2, ok2 := d1, true
		if isRange {
			d2, ok2 = weekdays[strings.ToLower(b)]
		}
		if !ok1 || !ok2 {
			return fmt.Errorf("days %q: want Mon, Mon-Fri, Sat,Sun or daily", s)
		}
		for d := d1; ; d = (d + 1) % 7 {
			h.days[d] = true
			if d == d2 {
				break
			}
		}
	}
	return nil
}

func parseClock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(mm) != 2 || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("time %q: want HH:MM, 00:00 to 24:00", s)
	}
	return h*60 + m, nil
}

// overlap returns the first span of h that intersects [start, end), in
// h's time zone, and whether there is one. Spans are computed per local
// date, so daylight-saving changes move them as they move the office.
func (h *hours) overlap(start, end time.Time) (from, to time.Time, ok bool) {
	ls := start.In(h.loc)
	// A span that starts the day before can reach into the window when it
	// crosses midnight.
	day := time.Date(ls.Year(), ls.Month(), ls.Day()-1, 0, 0, 0, 0, h.loc)
	for ; day.Before(end); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, h.loc) {
		if !h.days[day.Weekday()] {
			continue
		}
		from = time.Date(day.Year(), day.Month(), day.Day(), h.start/60, h.start%60, 0, 0, h.loc)
		endDay := day.Day()
		if h.end <= h.start {
			endDay++
		}
		to = time.Date(day.Year(), day.Month(), endDay, h.end/60, h.end%60, 0, 0, h.loc)
		if from.Before(end) && start.Before(to) {
			return from, to, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// window is one rotation window, in UTC.
type window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// nextWindows returns the first n windows of sch that open after after,
// assuming each rotation happens in its window (so schedules counted from
// the last rotation keep their rhythm).
func nextWindows(sch *schedule.Schedule, after, lastRotated time.Time, n int) []window {
	var ws []window
	for range n {
		s, e := sch.NextWindow(after, lastRotated)
		if s.IsZero() {
			break
		}
		ws = append(ws, window{Start: s, End: e})
		after = s
	}
	return ws
}

// conflict is a rotation window that meets the hours to avoid.
type conflict struct {
	window
	hours    *hours
	from, to time.Time // the span of hours it meets, local time
}

func (c conflict) String() string {
	return fmt.Sprintf("the window %s to %s UTC (%s to %s local) meets %q (%s %s to %s)",
		c.Start.Format("Mon 2006-01-02 15:04"), c.End.Format("15:04"),
		c.Start.In(c.hours.loc).Format("Mon 15:04"), c.End.In(c.hours.loc).Format("Mon 15:04 MST"),
		c.hours.spec, c.from.Format("Mon 2006-01-02"), c.from.Format("15:04"), c.to.Format("15:04 MST"))
}

// conflicts returns the windows that meet any of hs.
func conflicts(ws []window, hs []*hours) []conflict {
	var out []conflict
	for _, w := range ws {
		for _, h := range hs {
			if from, to, ok := h.overlap(w.Start, w.End); ok {
				out = append(out, conflict{window: w, hours: h, from: from, to: to})
				break
			}
		}
	}
	return out
}
