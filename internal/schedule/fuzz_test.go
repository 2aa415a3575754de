package schedule

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, that it fails only with a *Error
// carrying one of the two codes, and that every schedule it accepts yields
// well-formed windows.
func FuzzParse(f *testing.F) {
	seeds := []Rules{
		{AutomaticallyAfterDays: 30},
		{AutomaticallyAfterDays: 1, Duration: "24h"},
		{AutomaticallyAfterDays: -7, Duration: "3x"},
		{AutomaticallyAfterDays: 7, ScheduleExpression: "rate(7 days)"},
		{ScheduleExpression: "rate(4 hours)", Duration: "4h"},
		{ScheduleExpression: "rate(999 days)"},
		{ScheduleExpression: "rate(3 hours)"},
		{ScheduleExpression: "cron(0 /8 * * ? *)"},
		{ScheduleExpression: "cron(0 2/10 * * ? *)", Duration: "2h"},
		{ScheduleExpression: "cron(0 1 ? 1/3 SUN#1 *)"},
		{ScheduleExpression: "cron(0 17 L * ? *)"},
		{ScheduleExpression: "cron(0 8 ? * MON-FRI *)"},
		{ScheduleExpression: "cron(0 0 ? * 5L,TUE#5 *)"},
		{ScheduleExpression: "cron(0 0 15W,LW * ? *)"},
		{ScheduleExpression: "cron(0 0 ? 2 6#5 *)"},
		{ScheduleExpression: "cron(0 0 30 2 ? *)"},
		{ScheduleExpression: "cron(0 0-23/4 1-31/2 JAN-DEC/2 ? *)"},
		{ScheduleExpression: "cron(0 0 * * * *)"},
		{ScheduleExpression: "cron(0 0 ? * ? *)", Duration: "hh"},
		{ScheduleExpression: "cron(0 ,,, * * ? *)"},
		{ScheduleExpression: "cron(#/-, ? ? ? ? ?)"},
		{ScheduleExpression: "rate()"},
		{ScheduleExpression: "cron()"},
	}
	for _, r := range seeds {
		f.Add(r.AutomaticallyAfterDays, r.ScheduleExpression, r.Duration)
	}
	times := []time.Time{
		time.Date(2024, time.February, 28, 23, 59, 59, 999, time.UTC),
		time.Date(1969, time.December, 31, 22, 30, 0, 0, time.UTC),
		time.Date(2099, time.December, 31, 0, 0, 0, 0, time.UTC),
	}
	f.Fuzz(func(t *testing.T, days int64, expr, duration string) {
		r := Rules{AutomaticallyAfterDays: days, ScheduleExpression: expr, Duration: duration}
		s, err := Parse(r)
		if err != nil {
			var e *Error
			switch {
			case !errors.As(err, &e):
				t.Fatalf("Parse(%+v) error %T, want *Error", r, err)
			case e.Code != CodeInvalidParameter && e.Code != CodeValidation:
				t.Fatalf("Parse(%+v) Code %q", r, e.Code)
			case e.Message == "":
				t.Fatalf("Parse(%+v) empty Message", r)
			case s != nil:
				t.Fatalf("Parse(%+v) returned a schedule and an error", r)
			}
			return
		}
		if s.String() == "" || s.Rules() != r {
			t.Fatalf("Parse(%+v): String %q, Rules %+v", r, s, s.Rules())
		}
		for _, after := range times {
			for _, last := range []time.Time{{}, after.Add(-36 * time.Hour)} {
				start, end := s.NextWindow(after, last)
				switch {
				case !start.After(after):
					t.Fatalf("%v: window [%v, %v) does not open after %v", s, start, end, after)
				case !end.After(start):
					t.Fatalf("%v: window [%v, %v) is empty", s, start, end)
				case start.Truncate(time.Hour) != start:
					t.Fatalf("%v: window opens at %v, not on the hour", s, start)
				case end.Sub(start.Truncate(24*time.Hour)) > 24*time.Hour:
					t.Fatalf("%v: window [%v, %v) extends into the next UTC day", s, start, end)
				}
			}
		}
	})
}
