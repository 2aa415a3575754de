package dbsecret

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rotationkit/rotation"
)

// Environment variables for testSecret's retry policy, for databases
// behind replicas or proxies (RDS Proxy, PgBouncer, read replicas) where a
// password change takes a moment to be accepted everywhere.
const (
	EnvTestAttempts = "TEST_SECRET_ATTEMPTS" // how many logins testSecret tries; default 1
	EnvTestBackoff  = "TEST_SECRET_BACKOFF"  // wait before the second, doubled after; default 1s
)

// TestRetryFromEnv reads EnvTestAttempts and EnvTestBackoff through lookup
// (os.LookupEnv) and returns the rotation.Options setting them. Errors name
// the variable.
func TestRetryFromEnv(lookup func(string) (string, bool)) (func(*rotation.Options), error) {
	attempts, backoff := 1, time.Second
	if v, ok := lookup(EnvTestAttempts); ok && strings.TrimSpace(v) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 20 {
			return nil, fmt.Errorf("%s must be a whole number from 1 to 20", EnvTestAttempts)
		}
		attempts = n
	}
	if v, ok := lookup(EnvTestBackoff); ok && strings.TrimSpace(v) != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 || d > time.Minute {
			return nil, fmt.Errorf("%s must be a duration from 1ms to 1m, such as 2s", EnvTestBackoff)
		}
		backoff = d
	}
	return func(o *rotation.Options) {
		o.TestAttempts = attempts
		o.TestBackoff = backoff
	}, nil
}
