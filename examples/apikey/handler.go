package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/apikeyservice"
	"github.com/rotationkit/rotation/strategy"
)

// settings is the function's configuration, read from the environment once
// in main. Everything about the target lives in the secret itself.
type settings struct {
	// HTTPTimeout bounds each request to the API-key service
	// (APIKEY_HTTP_TIMEOUT, a Go duration; default 10s). Keep it well under
	// the Lambda timeout so a hanging service fails the step cleanly.
	HTTPTimeout time.Duration
	// MaxActive is the service's limit of active keys (APIKEY_MAX_ACTIVE;
	// default 2).
	MaxActive int
}

// Environment variables the function reads.
const (
	envHTTPTimeout = "APIKEY_HTTP_TIMEOUT"
	envMaxActive   = "APIKEY_MAX_ACTIVE"
)

// loadSettings reads the settings through getenv (os.Getenv in main) and
// validates them, naming the variable at fault.
func loadSettings(getenv func(string) string) (settings, error) {
	s := settings{HTTPTimeout: apikeyservice.DefaultTimeout, MaxActive: 2}
	if v := getenv(envHTTPTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 5*time.Minute {
			return settings{}, fmt.Errorf("%s=%q: want a positive duration of at most 5m, such as 10s", envHTTPTimeout, v)
		}
		s.HTTPTimeout = d
	}
	if v := getenv(envMaxActive); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 100 {
			return settings{}, fmt.Errorf("%s=%q: want an integer from 2 to 100", envMaxActive, v)
		}
		s.MaxActive = n
	}
	return s, nil
}

// newHandler builds the rotation handler: the two-key strategy over the
// API-key service's HTTP API. main and the tests build it the same way.
func newHandler(client rotation.Client, s settings, httpClient *http.Client, logger *slog.Logger) (*rotation.Handler, error) {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	hc := *httpClient
	hc.Timeout = s.HTTPTimeout
	return rotation.New(client,
		&strategy.TwoKeys{
			Provider:  apikeyservice.Provider{HTTP: &hc},
			IDField:   apikeyservice.FieldKeyID,
			MaxActive: s.MaxActive,
		},
		func(o *rotation.Options) { o.Logger = logger })
}
