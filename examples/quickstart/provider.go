package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/strategy"
)

// provider implements strategy.KeyProvider for the key service's HTTP API.
// The secret holds {"endpoint", "key_id", "api_key"}.
type provider struct {
	http *http.Client
}

var errUnauthorized = errors.New("the key service rejected the key (401)")

func (p provider) do(ctx context.Context, s *rotation.Secret, method, path string, out any) error {
	endpoint, err := s.Get("endpoint")
	if err != nil {
		return err
	}
	id, err := s.Get("key_id")
	if err != nil {
		return err
	}
	key, err := s.Get("api_key")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint+path, nil)
	if err != nil {
		return fmt.Errorf("field \"endpoint\" is not a usable URL")
	}
	req.Header.Set("X-Api-Key-Id", id)
	req.Header.Set("X-Api-Key", key)
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return errUnauthorized
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s %s: the service answered something that is not the expected JSON", method, path)
		}
	}
	return nil
}

func (p provider) Mint(ctx context.Context, current *rotation.Secret) (map[string]any, error) {
	var out struct{ ID, Key string }
	if err := p.do(ctx, current, http.MethodPost, "/v1/keys", &out); err != nil {
		return nil, err
	}
	if out.ID == "" || out.Key == "" {
		return nil, errors.New("mint: the service returned an empty key")
	}
	return map[string]any{"key_id": out.ID, "api_key": out.Key}, nil
}

func (p provider) List(ctx context.Context, current *rotation.Secret) ([]strategy.Key, error) {
	var out []struct {
		ID      string    `json:"id"`
		Created time.Time `json:"created"`
	}
	if err := p.do(ctx, current, http.MethodGet, "/v1/keys", &out); err != nil {
		return nil, err
	}
	keys := make([]strategy.Key, len(out))
	for i, k := range out {
		keys[i] = strategy.Key{ID: k.ID, Created: k.Created}
	}
	return keys, nil
}

func (p provider) Revoke(ctx context.Context, current *rotation.Secret, id string) error {
	return p.do(ctx, current, http.MethodDelete, "/v1/keys/"+url.PathEscape(id), nil)
}

func (p provider) Test(ctx context.Context, s *rotation.Secret) error {
	return p.do(ctx, s, http.MethodGet, "/v1/ping", nil)
}
