package authserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rotationkit/rotation/examples/oauth/internal/authserver"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func start(t *testing.T) (*authserver.Server, *httptest.Server) {
	t.Helper()
	s := authserver.New(authserver.Options{})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// token obtains an access token with the x/oauth2 client, as relying
// parties do.
func token(t *testing.T, ts *httptest.Server, id, secret string, style oauth2.AuthStyle) (*oauth2.Token, error) {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: ts.URL + "/oauth2/token", AuthStyle: style}
	return cfg.Token(context.WithValue(context.Background(), oauth2.HTTPClient, ts.Client()))
}

func TestClientCredentialsGrant(t *testing.T) {
	s, ts := start(t)
	id, _, secret := s.RegisterClient()
	for _, style := range []struct {
		name  string
		style oauth2.AuthStyle
	}{{"client_secret_basic", oauth2.AuthStyleInHeader}, {"client_secret_post", oauth2.AuthStyleInParams}} {
		tok, err := token(t, ts, id, secret, style.style)
		if err != nil {
			t.Fatalf("%s: %v", style.name, err)
		}
		if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
			t.Errorf("%s: token type %q, expiry %v", style.name, tok.TokenType, tok.Expiry)
		}
		req, _ := http.NewRequest("GET", ts.URL+"/api/whoami", nil)
		tok.SetAuthHeader(req)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var who struct {
			ClientID string `json:"client_id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&who)
		resp.Body.Close()
		if resp.StatusCode != 200 || who.ClientID != id {
			t.Errorf("%s: whoami = %d %q, want 200 %q", style.name, resp.StatusCode, who.ClientID, id)
		}
		if _, err := token(t, ts, id, secret+"x", style.style); err == nil {
			t.Errorf("%s: a wrong secret obtained a token", style.name)
		}
	}
}

// TestTokenEndpointErrors checks the RFC 6749 section 5.2 answers.
func TestTokenEndpointErrors(t *testing.T) {
	s, ts := start(t)
	id, _, secret := s.RegisterClient()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	badBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":wrong"))
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	for _, tc := range []struct {
		name, auth, body, ctype string
		status                  int
		code                    string
		challenge               bool
	}{
		{"basic", basic, form("grant_type", "client_credentials"), "", 200, "", false},
		{"post", "", form("grant_type", "client_credentials", "client_id", id, "client_secret", secret), "", 200, "", false},
		{"two methods", basic, form("grant_type", "client_credentials", "client_id", id, "client_secret", secret), "", 400, "invalid_request", false},
		{"wrong basic", badBasic, form("grant_type", "client_credentials"), "", 401, "invalid_client", true},
		{"wrong post", "", form("grant_type", "client_credentials", "client_id", id, "client_secret", "wrong"), "", 401, "invalid_client", false},
		{"no credentials", "", form("grant_type", "client_credentials"), "", 401, "invalid_client", true},
		{"other grant", basic, form("grant_type", "password", "username", "u", "password", "p"), "", 400, "unsupported_grant_type", false},
		{"no grant", basic, "", "", 400, "invalid_request", false},
		{"json body", basic, `{"grant_type":"client_credentials"}`, "application/json", 400, "invalid_request", false},
		{"repeated parameter", basic, "grant_type=client_credentials&grant_type=client_credentials", "", 400, "invalid_request", false},
	} {
		req, _ := http.NewRequest("POST", ts.URL+"/oauth2/token", strings.NewReader(tc.body))
		if tc.ctype == "" {
			tc.ctype = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", tc.ctype)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error       string `json:"error"`
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || body.Error != tc.code {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, body.Error, tc.status, tc.code)
		}
		if got := resp.Header.Get("WWW-Authenticate") != ""; got != tc.challenge {
			t.Errorf("%s: WWW-Authenticate present = %v, want %v", tc.name, got, tc.challenge)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", tc.name, cc)
		}
		if (tc.status == 200) != (body.AccessToken != "") {
			t.Errorf("%s: access_token present = %v", tc.name, body.AccessToken != "")
		}
	}
}

func TestManagementAPI(t *testing.T) {
	s, ts := start(t)
	id, secretID, secret := s.RegisterClient()
	other, _, otherSecret := s.RegisterClient()
	do := func(method, path, user, pass string) (int, map[string]any) {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	coll := "/clients/" + id + "/secrets"
	if st, _ := do("GET", coll, id, "wrong"); st != 401 {
		t.Errorf("list with a wrong secret = %d, want 401", st)
	}
	if st, _ := do("GET", coll, other, otherSecret); st != 403 {
		t.Errorf("list another client's secrets = %d, want 403", st)
	}
	st, m := do("POST", coll, id, secret)
	if st != 201 || m["id"] == "" || m["secret"] == "" {
		t.Fatalf("create = %d %v", st, m != nil)
	}
	newSecret := m["secret"].(string)
	if st, _ := do("POST", coll, id, secret); st != 409 {
		t.Errorf("a third secret = %d, want 409", st)
	}
	if got := s.MaxEverActive(id); got != 2 {
		t.Errorf("MaxEverActive = %d, want 2", got)
	}
	// The new secret works; deleting the old one (twice) stops it working.
	for range 2 {
		if st, _ := do("DELETE", coll+"/"+secretID, id, newSecret); st != 204 {
			t.Errorf("delete = %d, want 204", st)
		}
	}
	if s.Authenticate(id, secret) || !s.Authenticate(id, newSecret) {
		t.Error("after deleting the old secret, the old one still works or the new one does not")
	}
	st, m = do("GET", coll, id, newSecret)
	if list, _ := m["secrets"].([]any); st != 200 || len(list) != 1 {
		t.Errorf("list = %d %v, want one secret", st, m)
	}
}
