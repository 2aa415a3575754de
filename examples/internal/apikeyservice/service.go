// Package apikeyservice is a small but real API-key service and the client
// that rotates its keys, shared by the examples.
//
// The service (Service) is an http.Handler, meant for httptest.NewServer or
// any other listener. Clients authenticate every request with two headers,
// X-Api-Key-Id and X-Api-Key. A key can list, mint and revoke the keys of
// the account, and at most MaxActive keys are active at once, as with most
// SaaS providers. Keys are stored hashed and compared in constant time.
//
//	GET    /v1/ping        200 {"ok": true, "key_id": "..."}: does this key authenticate?
//	GET    /v1/keys        200 {"keys": [{"id": "...", "created": "<RFC 3339>"}]}
//	POST   /v1/keys        201 {"id": "...", "key": "...", "created": "..."}; 409 at the limit
//	DELETE /v1/keys/{id}   204, also when the key does not exist
//
// Errors are JSON, {"error": "<text>"}: 401 for a missing or unknown key,
// 404 for an unknown path, 405 for a wrong method, 409 at the key limit.
//
// The client (Provider) implements strategy.KeyProvider over that API for a
// secret of the shape {"endpoint", "key_id", "api_key"}.
package apikeyservice

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Request headers that carry a key.
const (
	HeaderKeyID = "X-Api-Key-Id"
	HeaderKey   = "X-Api-Key"
)

// ErrLimit is returned by Service.Bootstrap when MaxActive keys are active.
var ErrLimit = errors.New("apikeyservice: limit of active keys reached")

// Service is an API-key service. It is safe for concurrent use. Create one
// with New.
type Service struct {
	maxActive int
	now       func() time.Time
	mux       *http.ServeMux

	mu      sync.Mutex
	keys    map[string]record // by key id
	maxEver int               // the most keys ever active at once
	refused int               // mints refused at the limit
}

type record struct {
	hash    [sha256.Size]byte
	created time.Time
}

// New returns a service that allows at most maxActive active keys (2 if
// maxActive < 1). It has no key: mint the first with Bootstrap.
func New(maxActive int) *Service {
	if maxActive < 1 {
		maxActive = 2
	}
	s := &Service{maxActive: maxActive, now: time.Now, keys: map[string]record{}}
	s.mux = s.routes()
	return s
}

// MaxActive returns the limit of active keys.
func (s *Service) MaxActive() int { return s.maxActive }

// Bootstrap mints a key without authentication, the way an operator creates
// the first key in a provider's console. It fails with ErrLimit at the
// limit.
func (s *Service) Bootstrap() (id, key string, err error) {
	id, key, _, err = s.mint()
	return id, key, err
}

func (s *Service) mint() (id, key string, created time.Time, err error) {
	id, key = "key-"+randomHex(8), "sk_"+randomHex(24)
	created = s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) >= s.maxActive {
		s.refused++
		return "", "", time.Time{}, ErrLimit
	}
	s.keys[id] = record{hash: sha256.Sum256([]byte(key)), created: created}
	s.maxEver = max(s.maxEver, len(s.keys))
	return id, key, created, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24+)
	return hex.EncodeToString(b)
}

// Authenticate reports whether key is the active key id.
func (s *Service) Authenticate(id, key string) bool {
	h := sha256.Sum256([]byte(key))
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.keys[id]
	return ok && id != "" && key != "" && subtle.ConstantTimeCompare(rec.hash[:], h[:]) == 1
}

// Active returns the number of active keys.
func (s *Service) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// ActiveIDs returns the ids of the active keys, sorted.
func (s *Service) ActiveIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.keys))
	for id := range s.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// MaxEverActive returns the most keys that were ever active at once. The
// service never lets it exceed MaxActive; tests assert it as a guard.
func (s *Service) MaxEverActive() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxEver
}

// Refused returns how many mint requests were refused at the limit.
func (s *Service) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// ServeHTTP serves the API described in the package documentation.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func (s *Service) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ping", s.authenticated(s.ping))
	mux.Handle("GET /v1/keys", s.authenticated(s.list))
	mux.Handle("POST /v1/keys", s.authenticated(s.create))
	mux.Handle("DELETE /v1/keys/{id}", s.authenticated(s.revoke))
	for path, allow := range map[string]string{"/v1/ping": "GET", "/v1/keys": "GET, POST", "/v1/keys/{id}": "DELETE"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such resource")
	})
	return mux
}

// authenticated runs next only for a request that carries an active key.
func (s *Service) authenticated(next func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderKeyID)
		if !s.Authenticate(id, r.Header.Get(HeaderKey)) {
			w.Header().Set("WWW-Authenticate", `ApiKey realm="apikeyservice"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid API key")
			return
		}
		next(w, r, id)
	})
}

func (s *Service) ping(w http.ResponseWriter, _ *http.Request, id string) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "key_id": id})
}

// KeyInfo is an active key as GET /v1/keys lists it.
type KeyInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

func (s *Service) list(w http.ResponseWriter, _ *http.Request, _ string) {
	s.mu.Lock()
	keys := make([]KeyInfo, 0, len(s.keys))
	for id, rec := range s.keys {
		keys = append(keys, KeyInfo{ID: id, Created: rec.created})
	}
	s.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Service) create(w http.ResponseWriter, _ *http.Request, _ string) {
	id, key, created, err := s.mint()
	if err != nil {
		writeError(w, http.StatusConflict, "limit of active keys reached; revoke one first")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "key": key, "created": created})
}

func (s *Service) revoke(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("id")
	s.mu.Lock()
	delete(s.keys, id)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
