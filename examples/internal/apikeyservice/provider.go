package apikeyservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rotationkit/rotation"
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
const DefaultTimeout = 10 * time.Second

// maxBody bounds how much of a response is read.
const maxBody = 1 << 20

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

func (p Provider) client() *http.Client {
	var c http.Client
	if p.HTTP != nil {
		c = *p.HTTP
	} else {
		c.Timeout = DefaultTimeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

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
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("is not a URL")
	case u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, errors.New("is not an absolute http(s) URL")
	case u.User != nil:
		return nil, errors.New("must not carry user information")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("must not have a query or fragment")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, errors.New("uses plain http to a host that is not a loopback address; use https")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
	resp, err := p.client().Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, transportError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s: reading the response: %w", op, transportError(err))
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w", op, ErrUnauthorized)
	case resp.StatusCode == http.StatusConflict:
		return fmt.Errorf("%s: %w", op, ErrKeyLimit)
	case resp.StatusCode != want:
		return fmt.Errorf("%s: the service answered status %d, want %d", op, resp.StatusCode, want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s: the service answered status %d with a body that is not the expected JSON", op, resp.StatusCode)
		}
	}
	return nil
}

// transportError drops the URL from a *url.Error (the endpoint is
// configuration, but a log is no place for addresses that may carry more)
// and says plainly when the request timed out.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return fmt.Errorf("the request timed out: %w", err)
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
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
