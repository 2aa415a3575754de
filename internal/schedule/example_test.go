package schedule_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/rotationkit/rotation/internal/schedule"
)

func Example() {
	s, err := schedule.Parse(schedule.Rules{ScheduleExpression: "cron(0 4/12 * * ? *)", Duration: "2h"})
	if err != nil {
		panic(err)
	}
	now := time.Date(2024, time.January, 1, 5, 0, 0, 0, time.UTC)
	start, end := s.NextWindow(now, time.Time{})
	fmt.Println(s, "opens", start.Format(time.RFC3339), "closes", end.Format(time.RFC3339))

	_, err = schedule.Parse(schedule.Rules{ScheduleExpression: "rate(2 hours)"})
	var e *schedule.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code)
	}
	// Output:
	// cron(0 4/12 * * ? *) Duration=2h opens 2024-01-01T16:00:00Z closes 2024-01-01T18:00:00Z
	// InvalidParameterException
}
