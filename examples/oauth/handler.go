package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/strategy"
	"golang.org/x/oauth2"
)

// settings is the function's configuration, read from the environment once
// in main. Everything about the client lives in the secret itself.
type settings struct {
	// HTTPTimeout bounds each request to the authorization server
	// (OAUTH_HTTP_TIMEOUT, a Go duration; default 10s). Keep it well under
	// the Lambda timeout so a hanging server fails the step cleanly.
	HTTPTimeout time.Duration
	// AuthStyle is how testSecret authenticates at the token endpoint
	// (OAUTH_TOKEN_AUTH_METHOD: client_secret_basic, the default, or
	// client_secret_post).
	AuthStyle oauth2.AuthStyle
	// MaxSecrets is the server's limit of active secrets per client
	// (OAUTH_MAX_SECRETS; default 2).
	MaxSecrets int
}

// Environment variables the function reads.
const (
	envHTTPTimeout = "OAUTH_HTTP_TIMEOUT"
	envAuthMethod  = "OAUTH_TOKEN_AUTH_METHOD"
	envMaxSecrets  = "OAUTH_MAX_SECRETS"
)

// loadSettings reads the settings through getenv (os.Getenv in main) and
// validates them, naming the variable at fault.
func loadSettings(getenv func(string) string) (settings, error) {
	s := settings{HTTPTimeout: 10 * time.Second, AuthStyle: oauth2.AuthStyleInHeader, MaxSecrets: 2}
	if v := getenv(envHTTPTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 5*time.Minute {
			return settings{}, fmt.Errorf("%s=%q: want a positive duration of at most 5m, such as 10s", envHTTPTimeout, v)
		}
		s.HTTPTimeout = d
	}
	switch v := getenv(envAuthMethod); v {
	case "", "client_secret_basic":
	case "client_secret_post":
		s.AuthStyle = oauth2.AuthStyleInParams
	default:
		return settings{}, fmt.Errorf("%s=%q: want client_secret_basic or client_secret_post", envAuthMethod, v)
	}
	if v := getenv(envMaxSecrets); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 100 {
			return settings{}, fmt.Errorf("%s=%q: want an integer from 2 to 100", envMaxSecrets, v)
		}
		s.MaxSecrets = n
	}
	return s, nil
}

// newHandler builds the rotation handler: the two-key strategy over the
// client's secrets at the authorization server. main and the tests build it
// the same way.
func newHandler(client rotation.Client, s settings, httpClient *http.Client, logger *slog.Logger) (*rotation.Handler, error) {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	hc := *httpClient
	hc.Timeout = s.HTTPTimeout
	return rotation.New(client,
		&strategy.TwoKeys{
			Provider:  clientSecrets{http: &hc, authStyle: s.AuthStyle},
			IDField:   fieldSecretID,
			MaxActive: s.MaxSecrets,
		},
		func(o *rotation.Options) { o.Logger = logger })
}
