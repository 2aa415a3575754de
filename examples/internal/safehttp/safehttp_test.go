package safehttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rotationkit/rotation/examples/internal/safehttp"
)

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		raw        string
		allowQuery bool
		ok         bool
	}{
		{"https://keys.example.com/v1", false, true},
		{"http://127.0.0.1:8080", false, true},
		{"http://[::1]:8080", false, true},
		{"http://localhost", false, true},
		{"http://keys.example.com", false, false},
		{"https://user:pw@keys.example.com", false, false},
		{"https://keys.example.com/?a=b", false, false},
		{"https://keys.example.com/?a=b", true, true},
		{"https://keys.example.com/#f", true, false},
		{"ftp://keys.example.com", false, false},
		{"/relative", false, false},
	} {
		_, err := safehttp.CheckURL(tc.raw, tc.allowQuery)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q, %v) = %v, want ok=%v", tc.raw, tc.allowQuery, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "example.com") {
			t.Errorf("CheckURL(%q) quotes the URL: %v", tc.raw, err)
		}
	}
}

func TestDo(t *testing.T) {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed to %s", r.URL.Path)
	}))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, elsewhere.URL+"/secret-path", http.StatusTemporaryRedirect)
		case "/big":
			_, _ = w.Write(make([]byte, safehttp.MaxBody+100))
		case "/hang":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	do := func(c *http.Client, path string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return safehttp.Do(c, req)
	}

	if status, _, err := do(&http.Client{}, "/redirect"); err != nil || status != http.StatusTemporaryRedirect {
		t.Errorf("redirect: status %d, %v; want 307 and no error", status, err)
	}
	if _, body, err := do(nil, "/big"); err != nil || len(body) != safehttp.MaxBody {
		t.Errorf("big body: %d bytes, %v; want %d", len(body), err, safehttp.MaxBody)
	}
	_, _, err := do(&http.Client{Timeout: 100 * time.Millisecond}, "/hang")
	if err == nil || !strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), "/hang") {
		t.Errorf("hanging server: %v; want a timeout naming no URL", err)
	}
}
