// Package schedule validates Secrets Manager RotationRules and computes
// rotation windows from them, in UTC, under a clock the caller controls.
//
// It is what the project's fake Secrets Manager uses for RotateSecret's
// RotationRules and for DescribeSecret's NextRotationDate. It uses only the
// standard library and holds no global state. A *Schedule never changes after
// Parse returns it, so it is safe for concurrent use.
//
// # Rules
//
// Exactly one of AutomaticallyAfterDays (1-1000) and ScheduleExpression must
// be set. Duration, if set, is the length of the rotation window in whole
// hours ("3h").
//
// ScheduleExpression is one of:
//
//   - rate(N hours) or rate(N days). The unit may be hour, hours, day or
//     days. N is at least 4 for hours and at most 999 for days.
//   - cron(Minutes Hours Day-of-month Month Day-of-week Year), EventBridge
//     syntax with Secrets Manager's restrictions. Minutes must be 0 and Year
//     must be *. Exactly one of Day-of-month and Day-of-week is ?. Fields
//     accept single values, lists (a,b), ranges (a-b), increments (a/n, */n,
//     /n, a-b/n) and *. Months may be JAN-DEC. Days of the week are 1-7 or
//     SUN-SAT, where 1 is Sunday. Day-of-month also accepts L (last day), nW
//     (the weekday nearest day n) and LW (the last weekday). Day-of-week also
//     accepts L (Saturday), nL (the last day n of the month) and n#k (the
//     k-th day n of the month). Names are case-insensitive. Hour increments
//     start again each day: hours */5 means 0, 5, 10, 15 and 20 every day.
//
// Rotation may happen at most every four hours. For rate that means N >= 4
// hours. For cron it means two firing hours on the same day must be at least
// four hours apart. The gap across midnight is not checked: cron(0 2/10 * *
// ? *) fires at 2, 12 and 22, and AWS documents that schedule as valid.
//
// # Windows
//
// A window opens on the hour. By default it stays open for one hour when the
// schedule fires more than once a day (rate in hours, or a cron with several
// hours). Otherwise it stays open until the end of the UTC day (rate in days,
// AutomaticallyAfterDays, or a cron with one hour). Duration replaces the
// default. It must be at least 1h. It must not reach the next UTC day
// (start hour + Duration <= 24) or the next window (Duration <= the gap to the
// next firing hour).
//
// NextWindow returns the first window that opens strictly after the given
// instant.
//
//   - AutomaticallyAfterDays N and rate(N days): windows open at 00:00 UTC on
//     the day of the last rotation plus k*N days (k = 1, 2, ...). The real
//     service adds N days to the date of the last rotation and then picks an
//     hour inside that day at random. This package returns the whole window
//     and leaves the choice of an instant to the caller.
//   - rate(N hours): windows open at the hour of the last rotation plus k*N
//     hours. A window is cut short at the next UTC midnight, because with
//     this anchor the start hour is only known at run time. AWS's guide says
//     that rate windows "start at midnight", but it does not say how an hourly
//     rate lines up with the last rotation. This anchor is this package's
//     choice (unconfirmed).
//   - cron: windows open at each firing time.
//
// If the secret has never been rotated (lastRotated is the zero time), rate
// and AutomaticallyAfterDays schedules count from after instead.
//
// # Errors
//
// Parse returns a *Error whose Code is the exception name the fake should
// send:
//
//   - ValidationException for values that break the API model's own
//     constraints. AutomaticallyAfterDays must be in 1-1000. Duration must be
//     2-3 characters of [0-9h]. ScheduleExpression must be 1-256 characters
//     of [0-9A-Za-z()#?*-/, ]. The message uses the AWS front end's "N
//     validation error(s) detected: Value 'v' at 'rotationRules.x' failed to
//     satisfy constraint: ..." form. It is known that the service sends
//     ValidationException for model violations. It is unconfirmed that it
//     does so for these three members: moto and LocalStack answer
//     AutomaticallyAfterDays out of range with InvalidParameterException
//     "RotationRules.AutomaticallyAfterDays must be within 1-1000.".
//   - InvalidParameterException for every other problem. The code is
//     confirmed for AutomaticallyAfterDays together with ScheduleExpression;
//     that message is AWS's own. The code for the other cases, and all other
//     message texts, are this package's wording (unconfirmed).
//
// # Unconfirmed choices
//
// No public source settles the following. Each choice is the more
// permissive one, so that configurations that work against AWS also work
// against the fake:
//
//   - rate accepts hour/hours/day/days whatever N is. EventBridge requires
//     the singular exactly when N is 1, but the Secrets Manager guide lists
//     the four units without that rule.
//   - rate in hours has no upper bound below 999 days (23976 hours).
//   - Hours accept lists, ranges and * like the other fields. The Secrets
//     Manager guide only shows single values and increments.
//   - W in Day-of-month is accepted. EventBridge supports it, but the Secrets
//     Manager guide does not list it.
//   - Duration is accepted with AutomaticallyAfterDays. Such a window opens
//     at 00:00 UTC.
//   - Whitespace between cron fields may be repeated. The keywords rate,
//     cron and the rate units are case-sensitive.
//
// Two choices are stricter than EventBridge:
//
//   - Ranges must not wrap (5-1 is rejected).
//   - A cron that never matches a date, such as cron(0 0 30 2 ? *), is
//     rejected, because it has no next window to report.
//
// AutomaticallyAfterDays 0 means "unset", because Rules uses Go zero values.
// An explicit 0 on the wire, which AWS rejects, must be caught by the caller
// before it builds a Rules value.
package schedule
