package dbsecret

import (
	"strings"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
)

func TestTestRetryFromEnv(t *testing.T) {
	for _, tt := range []struct {
		env          map[string]string
		wantAttempts int
		wantBackoff  time.Duration
		wantErr      string
	}{
		{env: nil, wantAttempts: 1, wantBackoff: time.Second},
		{env: map[string]string{EnvTestAttempts: "5", EnvTestBackoff: "250ms"}, wantAttempts: 5, wantBackoff: 250 * time.Millisecond},
		{env: map[string]string{EnvTestAttempts: "0"}, wantErr: EnvTestAttempts},
		{env: map[string]string{EnvTestAttempts: "many"}, wantErr: EnvTestAttempts},
		{env: map[string]string{EnvTestBackoff: "-1s"}, wantErr: EnvTestBackoff},
		{env: map[string]string{EnvTestBackoff: "2h"}, wantErr: EnvTestBackoff},
	} {
		opt, err := TestRetryFromEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want one naming %s", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tt.env, err)
			continue
		}
		var o rotation.Options
		opt(&o)
		if o.TestAttempts != tt.wantAttempts || o.TestBackoff != tt.wantBackoff {
			t.Errorf("%v: attempts %d backoff %v, want %d %v", tt.env, o.TestAttempts, o.TestBackoff, tt.wantAttempts, tt.wantBackoff)
		}
	}
}
