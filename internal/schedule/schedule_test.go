package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// at parses "2006-01-02T15:04" (or with seconds) as UTC.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			return v
		}
	}
	t.Fatalf("bad test time %q", s)
	return time.Time{}
}

func mustParse(t testing.TB, r Rules) *Schedule {
	t.Helper()
	s, err := Parse(r)
	if err != nil {
		t.Fatalf("Parse(%+v): %v", r, err)
	}
	return s
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		r    Rules
		want string // String()
	}{
		{"days min", Rules{AutomaticallyAfterDays: 1}, "AutomaticallyAfterDays=1"},
		{"days max", Rules{AutomaticallyAfterDays: 1000}, "AutomaticallyAfterDays=1000"},
		{"days with 24h window", Rules{AutomaticallyAfterDays: 30, Duration: "24h"}, "AutomaticallyAfterDays=30 Duration=24h"},
		{"rate 4 hours is the minimum", Rules{ScheduleExpression: "rate(4 hours)"}, "rate(4 hours)"},
		{"rate hours with window equal to interval", Rules{ScheduleExpression: "rate(6 hours)", Duration: "6h"}, "rate(6 hours) Duration=6h"},
		{"rate 48 hours with 24h window", Rules{ScheduleExpression: "rate(48 hours)", Duration: "24h"}, "rate(48 hours) Duration=24h"},
		{"rate 1 day", Rules{ScheduleExpression: "rate(1 day)"}, "rate(1 day)"},
		{"rate singular/plural not enforced", Rules{ScheduleExpression: "rate(2 day)"}, "rate(2 day)"},
		{"rate 999 days", Rules{ScheduleExpression: "rate(999 days)", Duration: "1h"}, "rate(999 days) Duration=1h"},
		{"rate leading zero", Rules{ScheduleExpression: "rate(010 days)"}, "rate(010 days)"},
		// Every example from the Secrets Manager user guide.
		{"guide every 8h from midnight", Rules{ScheduleExpression: "cron(0 /8 * * ? *)"}, "cron(0 /8 * * ? *)"},
		{"guide every 8h from 8", Rules{ScheduleExpression: "cron(0 8/8 * * ? *)"}, "cron(0 8/8 * * ? *)"},
		{"guide every 10h from 2", Rules{ScheduleExpression: "cron(0 2/10 * * ? *)"}, "cron(0 2/10 * * ? *)"},
		{"guide 4/12", Rules{ScheduleExpression: "cron(0 4/12 * * ? *)"}, "cron(0 4/12 * * ? *)"},
		{"guide daily 10:00", Rules{ScheduleExpression: "cron(0 10 * * ? *)"}, "cron(0 10 * * ? *)"},
		{"guide saturdays", Rules{ScheduleExpression: "cron(0 18 ? * SAT *)"}, "cron(0 18 ? * SAT *)"},
		{"guide first of month", Rules{ScheduleExpression: "cron(0 8 1 * ? *)"}, "cron(0 8 1 * ? *)"},
		{"guide quarterly first sunday", Rules{ScheduleExpression: "cron(0 1 ? 1/3 SUN#1 *)"}, "cron(0 1 ? 1/3 SUN#1 *)"},
		{"guide last day", Rules{ScheduleExpression: "cron(0 17 L * ? *)"}, "cron(0 17 L * ? *)"},
		{"guide weekdays", Rules{ScheduleExpression: "cron(0 8 ? * MON-FRI *)"}, "cron(0 8 ? * MON-FRI *)"},
		{"guide 1st and 15th", Rules{ScheduleExpression: "cron(0 16 1,15 * ? *)"}, "cron(0 16 1,15 * ? *)"},
		{"guide first sunday", Rules{ScheduleExpression: "cron(0 0 ? * SUN#1 *)"}, "cron(0 0 ? * SUN#1 *)"},
		{"guide every 11 months", Rules{ScheduleExpression: "cron(0 0 ? 1/11 2#1 *)"}, "cron(0 0 ? 1/11 2#1 *)"},
		{"hours list 4h apart", Rules{ScheduleExpression: "cron(0 1,5,9 * * ? *)", Duration: "4h"}, "cron(0 1,5,9 * * ? *) Duration=4h"},
		{"daily window to midnight", Rules{ScheduleExpression: "cron(0 20 * * ? *)", Duration: "4h"}, "cron(0 20 * * ? *) Duration=4h"},
		{"names lower case", Rules{ScheduleExpression: "cron(0 3 ? jan,jul tue#2 *)"}, "cron(0 3 ? jan,jul tue#2 *)"},
		{"month range with names", Rules{ScheduleExpression: "cron(0 3 1 MAR-MAY ? *)"}, "cron(0 3 1 MAR-MAY ? *)"},
		{"dom range with step", Rules{ScheduleExpression: "cron(0 3 1-20/5 * ? *)"}, "cron(0 3 1-20/5 * ? *)"},
		{"dow last thursday", Rules{ScheduleExpression: "cron(0 0 ? * 5L *)"}, "cron(0 0 ? * 5L *)"},
		{"dow named last", Rules{ScheduleExpression: "cron(0 0 ? * SUNL *)"}, "cron(0 0 ? * SUNL *)"},
		{"dow L alone", Rules{ScheduleExpression: "cron(0 0 ? * L *)"}, "cron(0 0 ? * L *)"},
		{"dom W", Rules{ScheduleExpression: "cron(0 0 15W * ? *)"}, "cron(0 0 15W * ? *)"},
		{"dom LW", Rules{ScheduleExpression: "cron(0 0 LW * ? *)"}, "cron(0 0 LW * ? *)"},
		{"dom 31 in some months only", Rules{ScheduleExpression: "cron(0 0 31 * ? *)"}, "cron(0 0 31 * ? *)"},
		{"feb 29", Rules{ScheduleExpression: "cron(0 0 29 2 ? *)"}, "cron(0 0 29 2 ? *)"},
		{"fifth friday of february", Rules{ScheduleExpression: "cron(0 0 ? 2 6#5 *)"}, "cron(0 0 ? 2 6#5 *)"},
		{"hours star step 5", Rules{ScheduleExpression: "cron(0 */5 * * ? *)"}, "cron(0 */5 * * ? *)"},
		{"extra spaces", Rules{ScheduleExpression: "cron(0  3 * *  ? *)"}, "cron(0  3 * *  ? *)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.r)
			if got := s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := s.Rules(); got != tt.r {
				t.Errorf("Rules() = %+v, want %+v", got, tt.r)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	const (
		ipe = CodeInvalidParameter
		ve  = CodeValidation
	)
	long := "cron(0 0 " + strings.Repeat("1,", 120) + "1 * ? *)"
	if n := len(long); n != 257 {
		t.Fatalf("test setup: long expression has %d characters, want 257", n)
	}
	tests := []struct {
		name string
		r    Rules
		code string
		msg  string // substring of Message
	}{
		// Presence.
		{"both", Rules{AutomaticallyAfterDays: 7, ScheduleExpression: "rate(7 days)"}, ipe, "You cannot specify both rotation frequency and schedule expression together."},
		{"neither", Rules{}, ipe, "either AutomaticallyAfterDays or ScheduleExpression"},
		{"duration only", Rules{Duration: "2h"}, ipe, "either AutomaticallyAfterDays or ScheduleExpression"},

		// Model constraints.
		{"days negative", Rules{AutomaticallyAfterDays: -1}, ve, "1 validation error detected: Value '-1' at 'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"days 1001", Rules{AutomaticallyAfterDays: 1001}, ve, "Member must have value less than or equal to 1000"},
		{"duration too short", Rules{AutomaticallyAfterDays: 1, Duration: "h"}, ve, "Value 'h' at 'rotationRules.duration' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"duration 100h", Rules{AutomaticallyAfterDays: 1, Duration: "100h"}, ve, "Member must have length less than or equal to 3"},
		{"duration bad char", Rules{AutomaticallyAfterDays: 1, Duration: "3m"}, ve, "Member must satisfy regular expression pattern: [0-9h]+"},
		{"duration two violations", Rules{AutomaticallyAfterDays: 1, Duration: "3 hours"}, ve, "2 validation errors detected: "},
		{"expression too long", Rules{ScheduleExpression: long}, ve, "at 'rotationRules.scheduleExpression' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"expression bad char", Rules{ScheduleExpression: "rate(7 days);"}, ve, `Member must satisfy regular expression pattern: [0-9A-Za-z\(\)#\?\*\-\/, ]+`},
		{"expression non-ascii", Rules{ScheduleExpression: "rate(7 däys)"}, ve, "regular expression pattern"},
		{"three violations", Rules{AutomaticallyAfterDays: 0 - 5, Duration: "xx", ScheduleExpression: "@daily"}, ve, "3 validation errors detected"},

		// Duration, semantically.
		{"duration hh", Rules{AutomaticallyAfterDays: 1, Duration: "hh"}, ipe, "Invalid Duration hh"},
		{"duration h1", Rules{AutomaticallyAfterDays: 1, Duration: "h1"}, ipe, "Invalid Duration h1"},
		{"duration 1h1", Rules{AutomaticallyAfterDays: 1, Duration: "1h1"}, ipe, "Invalid Duration 1h1"},
		{"duration 0h", Rules{AutomaticallyAfterDays: 1, Duration: "0h"}, ipe, "at least 1 hour"},
		{"duration 00h", Rules{ScheduleExpression: "rate(1 day)", Duration: "00h"}, ipe, "at least 1 hour"},
		{"days window into next day", Rules{AutomaticallyAfterDays: 1, Duration: "25h"}, ipe, "next UTC day"},
		{"rate days window into next day", Rules{ScheduleExpression: "rate(3 days)", Duration: "99h"}, ipe, "next UTC day"},
		{"rate hours window into next window", Rules{ScheduleExpression: "rate(4 hours)", Duration: "5h"}, ipe, "next rotation window"},
		{"rate hours window over a day", Rules{ScheduleExpression: "rate(48 hours)", Duration: "25h"}, ipe, "next UTC day"},
		{"cron daily window into next day", Rules{ScheduleExpression: "cron(0 22 * * ? *)", Duration: "3h"}, ipe, "opening at 22:00 UTC must not extend into the next UTC day"},
		{"cron hourly last window into next day", Rules{ScheduleExpression: "cron(0 2/10 * * ? *)", Duration: "3h"}, ipe, "opening at 22:00 UTC must not extend into the next UTC day"},
		{"cron hourly window into next window", Rules{ScheduleExpression: "cron(0 0,4,12 * * ? *)", Duration: "5h"}, ipe, "opening at 00:00 UTC must not extend into the next rotation window at 04:00 UTC"},

		// rate().
		{"rate 3 hours", Rules{ScheduleExpression: "rate(3 hours)"}, ipe, "at most every 4 hours"},
		{"rate 1 hour", Rules{ScheduleExpression: "rate(1 hour)"}, ipe, "at most every 4 hours"},
		{"rate 0 days", Rules{ScheduleExpression: "rate(0 days)"}, ipe, "positive whole number"},
		{"rate 1000 days", Rules{ScheduleExpression: "rate(1000 days)"}, ipe, "at most 999 days"},
		{"rate too many hours", Rules{ScheduleExpression: "rate(23977 hours)"}, ipe, "at most 999 days"},
		{"rate minutes", Rules{ScheduleExpression: "rate(300 minutes)"}, ipe, "unit must be hour, hours, day or days"},
		{"rate weeks", Rules{ScheduleExpression: "rate(1 week)"}, ipe, "unit must be"},
		{"rate no unit", Rules{ScheduleExpression: "rate(5)"}, ipe, "Invalid rate expression rate(5)"},
		{"rate negative", Rules{ScheduleExpression: "rate(-5 days)"}, ipe, "Invalid rate expression"},
		{"rate two spaces", Rules{ScheduleExpression: "rate(5  days)"}, ipe, "unit must be"},
		{"rate upper case unit", Rules{ScheduleExpression: "rate(5 DAYS)"}, ipe, "unit must be"},
		{"rate empty", Rules{ScheduleExpression: "rate()"}, ipe, "Invalid rate expression"},
		{"rate huge", Rules{ScheduleExpression: "rate(99999999999999999999 days)"}, ipe, "Invalid rate expression"},

		// Neither rate nor cron.
		{"upper case keyword", Rules{ScheduleExpression: "RATE(5 days)"}, ipe, "Invalid ScheduleExpression RATE(5 days)"},
		{"unclosed", Rules{ScheduleExpression: "cron(0 0 * * ? *"}, ipe, "Invalid ScheduleExpression"},
		{"plain words", Rules{ScheduleExpression: "every day"}, ipe, "Invalid ScheduleExpression"},

		// cron() structure.
		{"cron five fields", Rules{ScheduleExpression: "cron(0 0 * * ?)"}, ipe, "6 fields"},
		{"cron seven fields", Rules{ScheduleExpression: "cron(0 0 0 * * ? *)"}, ipe, "6 fields"},
		{"cron empty", Rules{ScheduleExpression: "cron()"}, ipe, "6 fields"},
		{"cron minutes 30", Rules{ScheduleExpression: "cron(30 0 * * ? *)"}, ipe, "Minutes must be 0"},
		{"cron minutes star", Rules{ScheduleExpression: "cron(* 0 * * ? *)"}, ipe, "Minutes must be 0"},
		{"cron year", Rules{ScheduleExpression: "cron(0 0 * * ? 2030)"}, ipe, "Year must be *"},
		{"cron both days set", Rules{ScheduleExpression: "cron(0 0 * * * *)"}, ipe, "can't set both Day-of-month and Day-of-week"},
		{"cron both days ?", Rules{ScheduleExpression: "cron(0 0 ? * ? *)"}, ipe, "only one of Day-of-month and Day-of-week can be ?"},
		{"cron ? in hours", Rules{ScheduleExpression: "cron(0 ? * * ? *)"}, ipe, "? is only allowed"},
		{"cron ? in month", Rules{ScheduleExpression: "cron(0 0 1 ? ? *)"}, ipe, "? is only allowed"},
		{"cron ? in list", Rules{ScheduleExpression: "cron(0 0 1,? * ? *)"}, ipe, `Day-of-month value "?"`},

		// cron() frequency.
		{"cron every hour", Rules{ScheduleExpression: "cron(0 * * * ? *)"}, ipe, "at most every 4 hours"},
		{"cron every 3 hours", Rules{ScheduleExpression: "cron(0 */3 * * ? *)"}, ipe, "fires at 00:00 and 03:00 UTC"},
		{"cron hours list too close", Rules{ScheduleExpression: "cron(0 10,13 * * ? *)"}, ipe, "at most every 4 hours"},
		{"cron hours range", Rules{ScheduleExpression: "cron(0 8-17 * * ? *)"}, ipe, "at most every 4 hours"},

		// cron() values.
		{"cron hour 24", Rules{ScheduleExpression: "cron(0 24 * * ? *)"}, ipe, `Hours value "24" must be 0-23`},
		{"cron hour name", Rules{ScheduleExpression: "cron(0 MON * * ? *)"}, ipe, "Hours value"},
		{"cron dom 0", Rules{ScheduleExpression: "cron(0 0 0 * ? *)"}, ipe, "Day-of-month value"},
		{"cron dom 32", Rules{ScheduleExpression: "cron(0 0 32 * ? *)"}, ipe, `Day-of-month value "32" must be 1-31`},
		{"cron month 13", Rules{ScheduleExpression: "cron(0 0 1 13 ? *)"}, ipe, "Month value"},
		{"cron month bad name", Rules{ScheduleExpression: "cron(0 0 1 FOO ? *)"}, ipe, "must be 1-12 or JAN-DEC"},
		{"cron dow 0", Rules{ScheduleExpression: "cron(0 0 ? * 0 *)"}, ipe, "must be 1-7 or SUN-SAT"},
		{"cron dow 8", Rules{ScheduleExpression: "cron(0 0 ? * 8 *)"}, ipe, "Day-of-week value"},
		{"cron backwards range", Rules{ScheduleExpression: "cron(0 0 ? * FRI-MON *)"}, ipe, "must not run backwards"},
		{"cron empty list item", Rules{ScheduleExpression: "cron(0 0 1,,2 * ? *)"}, ipe, "Day-of-month value"},
		{"cron open range", Rules{ScheduleExpression: "cron(0 0 1- * ? *)"}, ipe, "Day-of-month value"},
		{"cron step 0", Rules{ScheduleExpression: "cron(0 0/0 * * ? *)"}, ipe, "increment"},
		{"cron step too big", Rules{ScheduleExpression: "cron(0 0/24 * * ? *)"}, ipe, "increment"},
		{"cron step empty", Rules{ScheduleExpression: "cron(0 0/ * * ? *)"}, ipe, "increment"},
		{"cron double step", Rules{ScheduleExpression: "cron(0 0/4/2 * * ? *)"}, ipe, "increment"},
		{"cron step base out of range", Rules{ScheduleExpression: "cron(0 30/4 * * ? *)"}, ipe, "Hours value"},

		// cron() special characters.
		{"cron L in hours", Rules{ScheduleExpression: "cron(0 L * * ? *)"}, ipe, "Hours value"},
		{"cron L in month", Rules{ScheduleExpression: "cron(0 0 1 L ? *)"}, ipe, "Month value"},
		{"cron dom W alone", Rules{ScheduleExpression: "cron(0 0 W * ? *)"}, ipe, "nW"},
		{"cron dom 32W", Rules{ScheduleExpression: "cron(0 0 32W * ? *)"}, ipe, "nW"},
		{"cron dom L-3", Rules{ScheduleExpression: "cron(0 0 L-3 * ? *)"}, ipe, "Day-of-month value"},
		{"cron # in dom", Rules{ScheduleExpression: "cron(0 0 1#2 * ? *)"}, ipe, "Day-of-month value"},
		{"cron dow #6", Rules{ScheduleExpression: "cron(0 0 ? * MON#6 *)"}, ipe, "day#n"},
		{"cron dow #0", Rules{ScheduleExpression: "cron(0 0 ? * 2#0 *)"}, ipe, "day#n"},
		{"cron dow L#2", Rules{ScheduleExpression: "cron(0 0 ? * L#2 *)"}, ipe, "day#n"},
		{"cron dow 8L", Rules{ScheduleExpression: "cron(0 0 ? * 8L *)"}, ipe, "dayL"},
		{"cron W in dow", Rules{ScheduleExpression: "cron(0 0 ? * 2W *)"}, ipe, "Day-of-week value"},

		// cron() that never fires.
		{"cron february 30", Rules{ScheduleExpression: "cron(0 0 30 2 ? *)"}, ipe, "never matches a date"},
		{"cron april 31", Rules{ScheduleExpression: "cron(0 0 31 APR ? *)"}, ipe, "never matches a date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.r)
			if err == nil {
				t.Fatalf("Parse(%+v) = %v, want %s error", tt.r, s, tt.code)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%+v) error %T %v, want *Error", tt.r, err, err)
			}
			if e.Code != tt.code {
				t.Errorf("Code = %q, want %q (message %q)", e.Code, tt.code, e.Message)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("Message = %q, want it to contain %q", e.Message, tt.msg)
			}
			if err.Error() != e.Message {
				t.Errorf("Error() = %q, want Message %q", err.Error(), e.Message)
			}
		})
	}
}

func TestNextWindow(t *testing.T) {
	tests := []struct {
		name        string
		r           Rules
		after       string
		lastRotated string // "" means never rotated
		start, end  string
	}{
		// AutomaticallyAfterDays: the UTC day of lastRotated + N days.
		{"days", Rules{AutomaticallyAfterDays: 30}, "2024-01-15T13:45", "2024-01-15T13:45", "2024-02-14T00:00", "2024-02-15T00:00"},
		{"days duration", Rules{AutomaticallyAfterDays: 30, Duration: "3h"}, "2024-01-15T13:45", "2024-01-15T13:45", "2024-02-14T00:00", "2024-02-14T03:00"},
		{"days never rotated", Rules{AutomaticallyAfterDays: 10}, "2024-03-10T08:30", "", "2024-03-20T00:00", "2024-03-21T00:00"},
		{"days missed windows skipped", Rules{AutomaticallyAfterDays: 7}, "2024-01-20T05:00", "2024-01-01T23:59", "2024-01-22T00:00", "2024-01-23T00:00"},
		{"days after at window start", Rules{AutomaticallyAfterDays: 7}, "2024-01-08T00:00", "2024-01-01T12:00", "2024-01-15T00:00", "2024-01-16T00:00"},
		{"days after just before window", Rules{AutomaticallyAfterDays: 7}, "2024-01-07T23:59:59.999", "2024-01-01T12:00", "2024-01-08T00:00", "2024-01-09T00:00"},
		{"days leap day", Rules{AutomaticallyAfterDays: 1}, "2024-02-28T10:00", "2024-02-28T10:00", "2024-02-29T00:00", "2024-03-01T00:00"},
		{"days no leap day", Rules{AutomaticallyAfterDays: 1}, "2023-02-28T10:00", "2023-02-28T10:00", "2023-03-01T00:00", "2023-03-02T00:00"},
		{"days across year", Rules{AutomaticallyAfterDays: 1000}, "2024-01-01T00:00", "2024-01-01T00:00", "2026-09-27T00:00", "2026-09-28T00:00"},
		{"days last rotated in the future", Rules{AutomaticallyAfterDays: 2}, "2024-01-01T00:00", "2024-01-05T06:00", "2024-01-07T00:00", "2024-01-08T00:00"},
		{"days before 1970", Rules{AutomaticallyAfterDays: 3}, "1969-12-30T12:00", "1969-12-30T12:00", "1970-01-02T00:00", "1970-01-03T00:00"},

		// rate(N days) behaves like AutomaticallyAfterDays.
		{"rate days", Rules{ScheduleExpression: "rate(10 days)"}, "2024-02-25T18:00", "2024-02-25T18:00", "2024-03-06T00:00", "2024-03-07T00:00"},
		{"rate days duration", Rules{ScheduleExpression: "rate(1 day)", Duration: "2h"}, "2024-12-31T22:00", "2024-12-31T21:00", "2025-01-01T00:00", "2025-01-01T02:00"},

		// rate(N hours): the hour of lastRotated + k*N hours, 1 h window.
		{"rate hours", Rules{ScheduleExpression: "rate(12 hours)"}, "2024-05-01T07:20", "2024-05-01T07:20", "2024-05-01T19:00", "2024-05-01T20:00"},
		{"rate hours never rotated", Rules{ScheduleExpression: "rate(4 hours)"}, "2024-05-01T07:20", "", "2024-05-01T11:00", "2024-05-01T12:00"},
		{"rate hours skips missed", Rules{ScheduleExpression: "rate(4 hours)"}, "2024-05-01T16:00", "2024-05-01T07:20", "2024-05-01T19:00", "2024-05-01T20:00"},
		{"rate hours duration", Rules{ScheduleExpression: "rate(6 hours)", Duration: "6h"}, "2024-05-01T01:00", "2024-05-01T01:00", "2024-05-01T07:00", "2024-05-01T13:00"},
		{"rate hours window cut at midnight", Rules{ScheduleExpression: "rate(12 hours)", Duration: "12h"}, "2024-05-01T07:20", "2024-05-01T07:20", "2024-05-01T19:00", "2024-05-02T00:00"},
		{"rate hours across midnight", Rules{ScheduleExpression: "rate(5 hours)"}, "2024-05-01T21:00", "2024-05-01T21:30", "2024-05-02T02:00", "2024-05-02T03:00"},

		// cron: windows open at each firing time.
		{"cron 4/12", Rules{ScheduleExpression: "cron(0 4/12 * * ? *)"}, "2024-01-01T05:00", "", "2024-01-01T16:00", "2024-01-01T17:00"},
		{"cron strictly after", Rules{ScheduleExpression: "cron(0 4/12 * * ? *)"}, "2024-01-01T16:00", "", "2024-01-02T04:00", "2024-01-02T05:00"},
		{"cron ignores lastRotated", Rules{ScheduleExpression: "cron(0 4/12 * * ? *)"}, "2024-01-01T05:00", "2023-06-01T00:00", "2024-01-01T16:00", "2024-01-01T17:00"},
		{"cron hours reset each day", Rules{ScheduleExpression: "cron(0 2/10 * * ? *)"}, "2024-01-01T22:30", "", "2024-01-02T02:00", "2024-01-02T03:00"},
		{"cron */5 resets", Rules{ScheduleExpression: "cron(0 */5 * * ? *)"}, "2024-01-01T20:00", "", "2024-01-02T00:00", "2024-01-02T01:00"},
		{"cron /8", Rules{ScheduleExpression: "cron(0 /8 * * ? *)"}, "2024-01-01T08:00", "", "2024-01-01T16:00", "2024-01-01T17:00"},
		{"cron hourly duration", Rules{ScheduleExpression: "cron(0 0,12 * * ? *)", Duration: "12h"}, "2024-01-01T00:00", "", "2024-01-01T12:00", "2024-01-02T00:00"},
		{"cron daily default window", Rules{ScheduleExpression: "cron(0 10 * * ? *)"}, "2024-01-01T10:00", "", "2024-01-02T10:00", "2024-01-03T00:00"},
		{"cron daily duration", Rules{ScheduleExpression: "cron(0 10 * * ? *)", Duration: "2h"}, "2024-01-01T09:59", "", "2024-01-01T10:00", "2024-01-01T12:00"},
		{"cron daily at 23", Rules{ScheduleExpression: "cron(0 23 * * ? *)"}, "2024-01-01T00:00", "", "2024-01-01T23:00", "2024-01-02T00:00"},
		{"cron saturday", Rules{ScheduleExpression: "cron(0 18 ? * SAT *)"}, "2024-01-01T00:00", "", "2024-01-06T18:00", "2024-01-07T00:00"},
		{"cron weekdays over weekend", Rules{ScheduleExpression: "cron(0 8 ? * MON-FRI *)"}, "2024-01-05T09:00", "", "2024-01-08T08:00", "2024-01-09T00:00"},
		{"cron dow list step", Rules{ScheduleExpression: "cron(0 8 ? * 1/2 *)"}, "2024-01-01T00:00", "", "2024-01-02T08:00", "2024-01-03T00:00"}, // Sun, Tue, Thu, Sat
		{"cron dow L is saturday", Rules{ScheduleExpression: "cron(0 8 ? * L *)"}, "2024-01-01T00:00", "", "2024-01-06T08:00", "2024-01-07T00:00"},
		{"cron month boundary", Rules{ScheduleExpression: "cron(0 8 1 * ? *)"}, "2024-01-31T12:00", "", "2024-02-01T08:00", "2024-02-02T00:00"},
		{"cron year boundary", Rules{ScheduleExpression: "cron(0 0 1 1 ? *)"}, "2024-06-01T00:00", "", "2025-01-01T00:00", "2025-01-02T00:00"},
		{"cron list of days", Rules{ScheduleExpression: "cron(0 16 1,15 * ? *)"}, "2024-01-15T16:00", "", "2024-02-01T16:00", "2024-02-02T00:00"},
		{"cron dom range step", Rules{ScheduleExpression: "cron(0 3 1-20/5 * ? *)"}, "2024-01-16T04:00", "", "2024-02-01T03:00", "2024-02-02T00:00"}, // 1, 6, 11, 16
		{"cron months by name", Rules{ScheduleExpression: "cron(0 12 1 JAN,JUL ? *)"}, "2024-01-01T12:00", "", "2024-07-01T12:00", "2024-07-02T00:00"},
		{"cron month step", Rules{ScheduleExpression: "cron(0 1 ? 1/3 SUN#1 *)"}, "2024-01-08T00:00", "", "2024-04-07T01:00", "2024-04-08T00:00"},
		{"cron last day leap year", Rules{ScheduleExpression: "cron(0 17 L * ? *)"}, "2024-02-01T00:00", "", "2024-02-29T17:00", "2024-03-01T00:00"},
		{"cron last day common year", Rules{ScheduleExpression: "cron(0 17 L * ? *)"}, "2023-02-01T00:00", "", "2023-02-28T17:00", "2023-03-01T00:00"},
		{"cron last day then next month", Rules{ScheduleExpression: "cron(0 17 L * ? *)"}, "2024-02-29T18:00", "", "2024-03-31T17:00", "2024-04-01T00:00"},
		{"cron 31st skips short months", Rules{ScheduleExpression: "cron(0 0 31 * ? *)"}, "2024-03-31T01:00", "", "2024-05-31T00:00", "2024-06-01T00:00"},
		{"cron feb 29 next leap year", Rules{ScheduleExpression: "cron(0 0 29 2 ? *)"}, "2024-03-01T00:00", "", "2028-02-29T00:00", "2028-03-01T00:00"},
		{"cron feb 29 skips 2100", Rules{ScheduleExpression: "cron(0 0 29 2 ? *)"}, "2096-03-01T00:00", "", "2104-02-29T00:00", "2104-03-01T00:00"},
		{"cron last thursday", Rules{ScheduleExpression: "cron(0 0 ? * 5L *)"}, "2024-01-01T00:00", "", "2024-01-25T00:00", "2024-01-26T00:00"},
		{"cron last sunday by name", Rules{ScheduleExpression: "cron(0 0 ? * SUNL *)"}, "2024-03-01T00:00", "", "2024-03-31T00:00", "2024-04-01T00:00"},
		{"cron second tuesday", Rules{ScheduleExpression: "cron(0 0 ? * 3#2 *)"}, "2024-01-01T00:00", "", "2024-01-09T00:00", "2024-01-10T00:00"},
		{"cron fifth tuesday", Rules{ScheduleExpression: "cron(0 0 ? * TUE#5 *)"}, "2024-01-30T00:00", "", "2024-04-30T00:00", "2024-05-01T00:00"},
		{"cron fifth friday of february", Rules{ScheduleExpression: "cron(0 0 ? 2 6#5 *)"}, "2024-01-01T00:00", "", "2036-02-29T00:00", "2036-03-01T00:00"},
		{"cron W saturday to friday", Rules{ScheduleExpression: "cron(0 0 15W * ? *)"}, "2024-06-01T00:00", "", "2024-06-14T00:00", "2024-06-15T00:00"},
		{"cron W sunday to monday", Rules{ScheduleExpression: "cron(0 0 15W * ? *)"}, "2024-09-01T00:00", "", "2024-09-16T00:00", "2024-09-17T00:00"},
		{"cron W weekday stays", Rules{ScheduleExpression: "cron(0 0 15W * ? *)"}, "2024-01-01T00:00", "", "2024-01-15T00:00", "2024-01-16T00:00"},
		{"cron 1W stays in month", Rules{ScheduleExpression: "cron(0 0 1W * ? *)"}, "2024-05-31T00:00", "", "2024-06-03T00:00", "2024-06-04T00:00"},
		{"cron LW saturday", Rules{ScheduleExpression: "cron(0 0 LW * ? *)"}, "2024-08-01T00:00", "", "2024-08-30T00:00", "2024-08-31T00:00"},
		{"cron LW sunday", Rules{ScheduleExpression: "cron(0 0 LW * ? *)"}, "2024-03-01T00:00", "", "2024-03-29T00:00", "2024-03-30T00:00"},
		{"cron after in other zone", Rules{ScheduleExpression: "cron(0 4/12 * * ? *)"}, "2024-01-01T05:00", "", "2024-01-01T16:00", "2024-01-01T17:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.r)
			var last time.Time
			if tt.lastRotated != "" {
				last = at(t, tt.lastRotated)
			}
			after := at(t, tt.after)
			if tt.name == "cron after in other zone" {
				after = after.In(time.FixedZone("UTC-7", -7*60*60))
			}
			start, end := s.NextWindow(after, last)
			wantStart, wantEnd := at(t, tt.start), at(t, tt.end)
			if !start.Equal(wantStart) || !end.Equal(wantEnd) {
				t.Errorf("%v NextWindow(%s, %q) = [%s, %s), want [%s, %s)", s, tt.after, tt.lastRotated,
					start.Format(time.RFC3339), end.Format(time.RFC3339), wantStart.Format(time.RFC3339), wantEnd.Format(time.RFC3339))
			}
			if start.Location() != time.UTC || end.Location() != time.UTC {
				t.Errorf("NextWindow returned times in %v and %v, want UTC", start.Location(), end.Location())
			}
		})
	}
}

// TestNextWindowSequence walks a schedule for a while and checks the
// properties every window must have.
func TestNextWindowSequence(t *testing.T) {
	for _, r := range []Rules{
		{AutomaticallyAfterDays: 3, Duration: "5h"},
		{ScheduleExpression: "rate(7 hours)", Duration: "7h"},
		{ScheduleExpression: "rate(2 days)"},
		{ScheduleExpression: "cron(0 2/10 * * ? *)", Duration: "2h"},
		{ScheduleExpression: "cron(0 6 ? * MON#1,FRIL *)"},
		{ScheduleExpression: "cron(0 0,20 1W,15,L FEB-APR ? *)", Duration: "4h"},
	} {
		s := mustParse(t, r)
		t.Run(s.String(), func(t *testing.T) {
			after := at(t, "2023-12-30T13:37")
			last := after
			var prevEnd time.Time
			for range 200 {
				start, end := s.NextWindow(after, last)
				switch {
				case !start.After(after):
					t.Fatalf("%v: window [%v, %v) does not open after %v", s, start, end, after)
				case !end.After(start):
					t.Fatalf("%v: window [%v, %v) is empty", s, start, end)
				case start.Truncate(time.Hour) != start:
					t.Fatalf("%v: window opens at %v, not on the hour", s, start)
				case start.Before(prevEnd):
					t.Fatalf("%v: window [%v, %v) overlaps the previous one ending %v", s, start, end, prevEnd)
				case end.Sub(start.Truncate(24*time.Hour)) > 24*time.Hour:
					t.Fatalf("%v: window [%v, %v) extends into the next UTC day", s, start, end)
				}
				// Rotate at the start of the window, then ask again.
				after, last, prevEnd = start, start, end
			}
		})
	}
}

func TestNilSchedule(t *testing.T) {
	var s *Schedule
	if got := s.String(); got != "<nil>" {
		t.Errorf("String() = %q, want <nil>", got)
	}
	if start, end := s.NextWindow(time.Now(), time.Time{}); !start.IsZero() || !end.IsZero() {
		t.Errorf("NextWindow = %v, %v, want zero times", start, end)
	}
	if got := s.Rules(); got != (Rules{}) {
		t.Errorf("Rules() = %+v, want zero", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := mustParse(t, Rules{ScheduleExpression: "cron(0 4/12 ? * MON-FRI *)"})
	after := at(t, "2024-01-01T00:00")
	want, _ := s.NextWindow(after, time.Time{})
	done := make(chan time.Time)
	for range 8 {
		go func() {
			got, _ := s.NextWindow(after, time.Time{})
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; !got.Equal(want) {
			t.Errorf("concurrent NextWindow = %v, want %v", got, want)
		}
	}
}
