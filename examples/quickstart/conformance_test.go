package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/apikeyservice"
	"github.com/rotationkit/rotation/rotationtest"
	"github.com/rotationkit/rotation/strategy"
)

// ping proves the secret's key at the service, independently of the
// provider the rotator uses: a plain GET /v1/ping with the key's headers.
func ping(ctx context.Context, s *rotation.Secret) error {
	var f [3]string
	for i, name := range []string{"endpoint", "key_id", "api_key"} {
		v, err := s.Get(name)
		if err != nil {
			return err
		}
		f[i] = v
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f[0]+"/v1/ping", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Api-Key-Id", f[1])
	req.Header.Set("X-Api-Key", f[2])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping with key %s: status %d", f[1], resp.StatusCode)
	}
	return nil
}

// TestConformance runs the quickstart's rotator (strategy.TwoKeys on the
// API-key service) through the conformance suite, in memory and over HTTP.
func TestConformance(t *testing.T) {
	factory := func(ctx context.Context) (*rotationtest.Fixture, error) {
		keys := apikeyservice.New(2)
		target := httptest.NewServer(keys)
		id, key, err := keys.Bootstrap()
		if err != nil {
			target.Close()
			return nil, err
		}
		secret, err := json.Marshal(map[string]string{"endpoint": target.URL, "key_id": id, "api_key": key})
		if err != nil {
			target.Close()
			return nil, err
		}
		return &rotationtest.Fixture{
			Secret: string(secret),
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				h, err := rotation.New(c, &strategy.TwoKeys{Provider: apikeyservice.Provider{HTTP: target.Client()}},
					func(o *rotation.Options) { o.Logger = l })
				if err != nil {
					return nil, err
				}
				return h.Handle, nil
			},
			Probe:        ping,
			ZeroDowntime: true,
			Close:        target.Close,
		}, nil
	}
	t.Run("in-memory", func(t *testing.T) { rotationtest.Run(t, factory) })
	t.Run("http", func(t *testing.T) { rotationtest.Run(t, factory, rotationtest.OverHTTP()) })
}
