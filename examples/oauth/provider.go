package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/safehttp"
	"github.com/rotationkit/rotation/strategy"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The fields of the secret. Other fields are carried over unchanged.
const (
	fieldTokenURL      = "token_url"      // the authorization server's token endpoint
	fieldManagementURL = "management_url" // the client's secret collection at the client-management API
	fieldClientID      = "client_id"
	fieldClientSecret  = "client_secret"
	fieldSecretID      = "secret_id" // the id the management API gives client_secret
)

// Errors callers can branch on with errors.Is.
var (
	// errUnauthorized means the management API rejected the client's
	// credentials (401).
	errUnauthorized = errors.New("the client-management API rejected the client credentials (401)")
	// errSecretLimit means the server refused a new secret at its limit (409).
	errSecretLimit = errors.New("the client-management API is at its limit of active client secrets (409)")
)

// clientSecrets implements strategy.KeyProvider for an OAuth 2.0 client's
// secrets:
//
//   - Mint creates a secret with POST {management_url}, authenticating with
//     the current client_id and client_secret (HTTP Basic, encoded as RFC
//     6749 section 2.3.1 says), and expects 201 {"id", "secret"}.
//   - List reads GET {management_url}: 200 {"secrets": [{"id", "created"}]}.
//   - Revoke sends DELETE {management_url}/{id}: 204 or 200; 404 counts as
//     already revoked.
//   - Test obtains an access token from token_url with the
//     client-credentials grant (golang.org/x/oauth2/clientcredentials),
//     authenticating with the secret under test as client_secret_basic or
//     client_secret_post.
//
// It is safe for concurrent use and keeps no state. Errors name the
// operation, the HTTP status and the OAuth error code, never a secret, a
// token, a response body or a URL. Redirects are never followed.
type clientSecrets struct {
	// http bounds every request with its Timeout.
	http *http.Client
	// authStyle is how Test authenticates at the token endpoint:
	// oauth2.AuthStyleInHeader (client_secret_basic) or
	// oauth2.AuthStyleInParams (client_secret_post).
	authStyle oauth2.AuthStyle
}

var _ strategy.KeyProvider = clientSecrets{}

// oauthClient holds the fields of one secret value.
type oauthClient struct {
	tokenURL, managementURL *url.URL
	id, secret              string
}

func readClient(s *rotation.Secret) (*oauthClient, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: no secret", rotation.ErrInvalidSecret)
	}
	var c oauthClient
	var err error
	if c.id, err = s.Get(fieldClientID); err != nil {
		return nil, err
	}
	if c.secret, err = s.Get(fieldClientSecret); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name  string
		dst   **url.URL
		query bool
	}{
		{fieldTokenURL, &c.tokenURL, true},
		{fieldManagementURL, &c.managementURL, false},
	} {
		raw, err := s.Get(f.name)
		if err != nil {
			return nil, err
		}
		if *f.dst, err = safehttp.CheckURL(raw, f.query); err != nil {
			return nil, fmt.Errorf("%w: field %q %v", rotation.ErrInvalidSecret, f.name, err)
		}
	}
	return &c, nil
}

// manage sends one request to the client-management API and decodes a
// JSON answer into out. ok lists the statuses that count as success.
func (p clientSecrets) manage(ctx context.Context, s *rotation.Secret, method, op string, elem string, out any, ok ...int) error {
	c, err := readClient(s)
	if err != nil {
		return err
	}
	u := c.managementURL
	if elem != "" {
		u = u.JoinPath(url.PathEscape(elem))
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%s: cannot build the request", op)
	}
	// RFC 6749 section 2.3.1: each part form-urlencoded, then HTTP Basic.
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	req.Header.Set("Accept", "application/json")
	status, body, err := safehttp.Do(p.http, req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch {
	case status == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w", op, errUnauthorized)
	case status == http.StatusConflict:
		return fmt.Errorf("%s: %w", op, errSecretLimit)
	case !slices.Contains(ok, status):
		return fmt.Errorf("%s: the client-management API answered status %d", op, status)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s: the client-management API answered status %d with a body that is not the expected JSON", op, status)
		}
	}
	return nil
}

// Mint creates a client secret, authenticating with current.
func (p clientSecrets) Mint(ctx context.Context, current *rotation.Secret) (map[string]any, error) {
	var out struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := p.manage(ctx, current, http.MethodPost, "create client secret", "", &out, http.StatusCreated, http.StatusOK); err != nil {
		return nil, err
	}
	if out.ID == "" || out.Secret == "" {
		return nil, errors.New("create client secret: the client-management API answered without a secret id or secret")
	}
	return map[string]any{fieldSecretID: out.ID, fieldClientSecret: out.Secret}, nil
}

// List returns the client's active secrets, authenticating with current.
func (p clientSecrets) List(ctx context.Context, current *rotation.Secret) ([]strategy.Key, error) {
	var out struct {
		Secrets *[]struct {
			ID      string    `json:"id"`
			Created time.Time `json:"created"`
		} `json:"secrets"`
	}
	if err := p.manage(ctx, current, http.MethodGet, "list client secrets", "", &out, http.StatusOK); err != nil {
		return nil, err
	}
	if out.Secrets == nil {
		return nil, errors.New("list client secrets: the client-management API answered without a secret list")
	}
	keys := make([]strategy.Key, 0, len(*out.Secrets))
	for _, s := range *out.Secrets {
		if s.ID == "" {
			return nil, errors.New("list client secrets: the client-management API listed a secret without an id")
		}
		keys = append(keys, strategy.Key{ID: s.ID, Created: s.Created})
	}
	return keys, nil
}

// Revoke deletes client secret id, authenticating with current. A secret
// that no longer exists counts as revoked.
func (p clientSecrets) Revoke(ctx context.Context, current *rotation.Secret, id string) error {
	if id == "" || id == "." || id == ".." {
		return errors.New("delete client secret: the secret id is not a usable path element")
	}
	return p.manage(ctx, current, http.MethodDelete, "delete client secret "+id, id, nil,
		http.StatusNoContent, http.StatusOK, http.StatusNotFound)
}

// Test obtains an access token with the client-credentials grant using s.
// It changes nothing at the server beyond issuing a token.
func (p clientSecrets) Test(ctx context.Context, s *rotation.Secret) error {
	c, err := readClient(s)
	if err != nil {
		return err
	}
	cfg := clientcredentials.Config{
		ClientID:     c.id,
		ClientSecret: c.secret,
		TokenURL:     c.tokenURL.String(),
		AuthStyle:    p.authStyle,
	}
	tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, safehttp.Client(p.http)))
	if err != nil {
		return tokenError(err)
	}
	if !tok.Valid() {
		return errors.New("token endpoint: the answer holds no usable access token")
	}
	return nil
}

// oauthErrorCodes are the error codes of RFC 6749 section 5.2. Other codes
// are not repeated: the text comes from the server.
var oauthErrorCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true,
}

// tokenError describes a failed token request without the server's body,
// its error_description or the token endpoint's URL.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if oauthErrorCodes[re.ErrorCode] {
			return fmt.Errorf("token endpoint: status %d, error %s", status, re.ErrorCode)
		}
		if status/100 == 2 {
			return fmt.Errorf("token endpoint: status %d with an error or unparseable answer", status)
		}
		return fmt.Errorf("token endpoint: status %d", status)
	}
	var ue *url.Error
	if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("token endpoint: %w", safehttp.TransportError(err))
	}
	// The library's own messages ("server response missing access_token",
	// "cannot parse json: ...") quote nothing from the answer but a
	// character at most.
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Errorf("token endpoint: the answer is not a usable token response: %s", msg)
}
