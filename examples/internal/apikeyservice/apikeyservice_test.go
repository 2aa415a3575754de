package apikeyservice_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/apikeyservice"
)

func secret(endpoint, id, key string) *rotation.Secret {
	return rotation.NewString(fmt.Sprintf(`{"endpoint":%q,"key_id":%q,"api_key":%q}`, endpoint, id, key))
}

func start(t *testing.T, maxActive int) (*apikeyservice.Service, *httptest.Server, *rotation.Secret) {
	t.Helper()
	svc := apikeyservice.New(maxActive)
	ts := httptest.NewServer(svc)
	t.Cleanup(ts.Close)
	id, key, err := svc.Bootstrap()
	if err != nil {
		t.Fatal(err)
	}
	return svc, ts, secret(ts.URL, id, key)
}

func TestProviderAgainstService(t *testing.T) {
	ctx := context.Background()
	svc, ts, cur := start(t, 2)
	p := apikeyservice.Provider{HTTP: ts.Client()}

	if err := p.Test(ctx, cur); err != nil {
		t.Fatalf("Test(bootstrap key) = %v", err)
	}
	fields, err := p.Mint(ctx, cur)
	if err != nil {
		t.Fatalf("Mint = %v", err)
	}
	minted, err := cur.With(fields)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Test(ctx, minted); err != nil {
		t.Errorf("Test(minted key) = %v", err)
	}
	// At the limit the service refuses a third key.
	if _, err := p.Mint(ctx, cur); !errors.Is(err, apikeyservice.ErrKeyLimit) {
		t.Errorf("third Mint = %v, want ErrKeyLimit", err)
	}
	keys, err := p.List(ctx, minted)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
		if k.Created.IsZero() {
			t.Errorf("key %s has no creation time", k.ID)
		}
	}
	if want := svc.ActiveIDs(); !slices.Equal(ids, want) {
		t.Errorf("List = %v, want %v", ids, want)
	}
	oldID, _ := cur.Get("key_id")
	for range 2 { // revoking twice succeeds: the second is a no-op
		if err := p.Revoke(ctx, minted, oldID); err != nil {
			t.Errorf("Revoke = %v", err)
		}
	}
	if err := p.Test(ctx, cur); !errors.Is(err, apikeyservice.ErrUnauthorized) {
		t.Errorf("Test(revoked key) = %v, want ErrUnauthorized", err)
	}
	if got := svc.MaxEverActive(); got != 2 {
		t.Errorf("MaxEverActive = %d, want 2", got)
	}
	if got := svc.Refused(); got != 1 {
		t.Errorf("Refused = %d, want 1", got)
	}
}

func TestServiceRejects(t *testing.T) {
	svc, ts, cur := start(t, 2)
	id, _ := cur.Get("key_id")
	key, _ := cur.Get("api_key")
	for _, tc := range []struct {
		method, path string
		id, key      string
		want         int
	}{
		{"GET", "/v1/ping", "", "", http.StatusUnauthorized},
		{"GET", "/v1/ping", id, "sk_wrong", http.StatusUnauthorized},
		{"GET", "/v1/ping", "key-other", key, http.StatusUnauthorized},
		{"GET", "/v1/ping", id, key, http.StatusOK},
		{"PUT", "/v1/keys", id, key, http.StatusMethodNotAllowed},
		{"GET", "/v2/keys", id, key, http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		req.Header.Set("X-Api-Key-Id", tc.id)
		req.Header.Set("X-Api-Key", tc.key)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s (id %q) = %d, want %d", tc.method, tc.path, tc.id, resp.StatusCode, tc.want)
		}
	}
	if _, _, err := svc.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Bootstrap(); !errors.Is(err, apikeyservice.ErrLimit) {
		t.Errorf("Bootstrap at the limit = %v, want ErrLimit", err)
	}
}

func TestCheckEndpoint(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://keys.example.com":         true,
		"https://keys.example.com/base/":   true,
		"http://127.0.0.1:8080":            true,
		"http://[::1]:8080":                true,
		"http://localhost:8080":            true,
		"http://keys.example.com":          false,
		"ftp://keys.example.com":           false,
		"keys.example.com":                 false,
		"/v1":                              false,
		"https://user:pw@keys.example.com": false,
		"https://keys.example.com/?a=b":    false,
		"https://keys.example.com/#x":      false,
		"https://bad host":                 false,
	} {
		_, err := apikeyservice.CheckEndpoint(raw)
		if (err == nil) != ok {
			t.Errorf("CheckEndpoint(%q) = %v, want ok=%v", raw, err, ok)
		}
		if err != nil && strings.Contains(err.Error(), raw) {
			t.Errorf("CheckEndpoint(%q) quotes the URL: %v", raw, err)
		}
	}
}

// TestProviderNeverFollowsRedirects checks that a key is never sent to the
// address a redirect names, whatever the caller's client would do.
func TestProviderNeverFollowsRedirects(t *testing.T) {
	var leaked atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "" {
			leaked.Add(1)
		}
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/v1/ping", http.StatusTemporaryRedirect))
	defer redirector.Close()
	p := apikeyservice.Provider{HTTP: &http.Client{}} // follows redirects by default
	err := p.Test(context.Background(), secret(redirector.URL, "key-1", "sk_secret_value"))
	if err == nil || !strings.Contains(err.Error(), "status 307") {
		t.Errorf("Test through a redirect = %v, want a status 307 error", err)
	}
	if leaked.Load() != 0 {
		t.Error("the key was sent to the redirect's target")
	}
}

// TestProviderErrorsNeverQuoteTheKey feeds answers that echo the request
// back and checks that no error carries the key.
func TestProviderErrorsNeverQuoteTheKey(t *testing.T) {
	const key = "sk_do_not_print_me_0123456789"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"bad key %s"}`, r.Header.Get("X-Api-Key"))
	}))
	defer echo.Close()
	p := apikeyservice.Provider{}
	s := secret(echo.URL, "key-1", key)
	ctx := context.Background()
	_, err1 := p.Mint(ctx, s)
	_, err2 := p.List(ctx, s)
	err3 := p.Revoke(ctx, s, "key-2")
	err4 := p.Test(ctx, s)
	for _, err := range []error{err1, err2, err3, err4} {
		if err == nil {
			t.Error("a call to a failing service succeeded")
			continue
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("error quotes the key: %v", err)
		}
	}
}
