package apikeyservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/safehttp"
	"github.com/rotationkit/rotation/strategy"
)

// The fields of the secret Provider works with. Other fields are carried
// over unchanged by a rotation.
const (
	FieldEndpoint = "endpoint" // the service's base URL, https (http only for loopback)
	FieldKeyID    = "key_id"   // the key's id; strategy.TwoKeys' default IDField
	FieldKey      = "api_key"  // the key itself
)

// DefaultTimeout bounds each request when Provider.HTTP is nil.
const DefaultTimeout = safehttp.DefaultTimeout

// Errors callers can branch on with errors.Is.
var (
	// ErrUnauthorized means the service rejected the key (401).
	ErrUnauthorized = errors.New("the API-key service rejected the key (401)")
	// ErrKeyLimit means the service refused to mint a key at its limit (409).
	ErrKeyLimit = errors.New("the API-key service is at its limit of active keys (409)")
)

// Provider implements strategy.KeyProvider for the service's HTTP API, for
// a secret holding {"endpoint", "key_id", "api_key"}. It is safe for
// concurrent use and keeps no state.
//
// Errors name the operation and the HTTP status, never a key, a response
// body or the endpoint's URL. Redirects are never followed: they would send
// the key to another address.
type Provider struct {
	// HTTP is the client to use. Its Timeout bounds every request; nil
	// means a client with DefaultTimeout. Its CheckRedirect is replaced by
	// one that refuses redirects.
	HTTP *http.Client
}

var _ strategy.KeyProvider = Provider{}

// credentials reads and checks the secret's fields.
func credentials(s *rotation.Secret) (endpoint *url.URL, id, key string, err error) {
	if s == nil {
		return nil, "", "", fmt.Errorf("%w: no secret", rotation.ErrInvalidSecret)
	}
	raw, err := s.Get(FieldEndpoint)
	if err != nil {
		return nil, "", "", err
	}
	if endpoint, err = CheckEndpoint(raw); err != nil {
		return nil, "", "", fmt.Errorf("%w: field %q %v", rotation.ErrInvalidSecret, FieldEndpoint, err)
	}
	if id, err = s.Get(FieldKeyID); err != nil {
		return nil, "", "", err
	}
	if key, err = s.Get(FieldKey); err != nil {
		return nil, "", "", err
	}
	return endpoint, id, key, nil
}

// CheckEndpoint parses a service's base URL and rejects one a key must not
// be sent to: not absolute, with user information, a query or a fragment,
// or plain http to a host other than a loopback address. Its errors never
// quote the URL.
func CheckEndpoint(raw string) (*url.URL, error) {
	u, err := safehttp.CheckURL(raw, false)
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// do sends one authenticated request and decodes a JSON answer into out.
func (p Provider) do(ctx context.Context, s *rotation.Secret, method, path string, want int, out any) error {
	endpoint, id, key, err := credentials(s)
	if err != nil {
		return err
	}
	op := method + " " + path
	u := endpoint.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%s: cannot build the request", op)
	}
	req.Header.Set(HeaderKeyID, id)
	req.Header.Set(HeaderKey, key)
	req.Header.Set("Accept", "application/json")
	status, body, err := safehttp.Do(p.HTTP, req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch {
	case status == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w", op, ErrUnauthorized)
	case status == http.StatusConflict:
		return fmt.Errorf("%s: %w", op, ErrKeyLimit)
	case status != want:
		return fmt.Errorf("%s: the service answered status %d, want %d", op, status, want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s: the service answered status %d with a body that is not the expected JSON", op, status)
		}
	}
	return nil
}

// Mint creates a key, authenticating with current.
func (p Provider) Mint(ctx context.Context, current *rotation.Secret) (map[string]any, error) {
	var out struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if err := p.do(ctx, current, http.MethodPost, "/v1/keys", http.StatusCreated, &out); err != nil {
		return nil, err
	}
	if out.ID == "" || out.Key == "" {
		return nil, errors.New("POST /v1/keys: the service answered without a key id or key")
	}
	return map[string]any{FieldKeyID: out.ID, FieldKey: out.Key}, nil
}

// List returns the active keys, authenticating with current.
func (p Provider) List(ctx context.Context, current *rotation.Secret) ([]strategy.Key, error) {
	var out struct {
		Keys *[]KeyInfo `json:"keys"`
	}
	if err := p.do(ctx, current, http.MethodGet, "/v1/keys", http.StatusOK, &out); err != nil {
		return nil, err
	}
	if out.Keys == nil {
		return nil, errors.New("GET /v1/keys: the service answered without a key list")
	}
	keys := make([]strategy.Key, 0, len(*out.Keys))
	for _, k := range *out.Keys {
		if k.ID == "" {
			return nil, errors.New("GET /v1/keys: the service listed a key without an id")
		}
		keys = append(keys, strategy.Key{ID: k.ID, Created: k.Created})
	}
	return keys, nil
}

// Revoke deactivates key id, authenticating with current. Revoking a key
// that does not exist succeeds.
func (p Provider) Revoke(ctx context.Context, current *rotation.Secret, id string) error {
	if id == "" || id == "." || id == ".." {
		return errors.New("DELETE /v1/keys/{id}: the key id is not a usable path element")
	}
	return p.do(ctx, current, http.MethodDelete, "/v1/keys/"+url.PathEscape(id), http.StatusNoContent, nil)
}

// Test returns nil if s authenticates. It changes nothing.
func (p Provider) Test(ctx context.Context, s *rotation.Secret) error {
	var out struct {
		OK bool `json:"ok"`
	}
	if err := p.do(ctx, s, http.MethodGet, "/v1/ping", http.StatusOK, &out); err != nil {
		return err
	}
	if !out.OK {
		return errors.New("GET /v1/ping: the service did not confirm the key")
	}
	return nil
}
