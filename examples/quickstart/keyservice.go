package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// keyService is a small API-key service: clients authenticate with a key
// id and key, and a key can list, mint and revoke keys. At most maxActive
// keys are active at once, like most SaaS providers.
type keyService struct {
	maxActive int

	mu      sync.Mutex
	keys    map[string]keyRecord
	maxEver int // the most keys ever active at once
}

type keyRecord struct {
	key     string
	created time.Time
}

func newKeyService(maxActive int) *keyService {
	return &keyService{maxActive: maxActive, keys: map[string]keyRecord{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// mint creates a key without authentication: used once to bootstrap.
func (s *keyService) mint() (id, key string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) >= s.maxActive {
		return "", "", fmt.Errorf("limit of %d active keys reached", s.maxActive)
	}
	id, key = "key-"+randomHex(6), randomHex(24)
	s.keys[id] = keyRecord{key: key, created: time.Now()}
	s.maxEver = max(s.maxEver, len(s.keys))
	return id, key, nil
}

func (s *keyService) authenticate(r *http.Request) bool {
	id, key := r.Header.Get("X-Api-Key-Id"), r.Header.Get("X-Api-Key")
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.keys[id]
	return ok && subtle.ConstantTimeCompare([]byte(rec.key), []byte(key)) == 1
}

func (s *keyService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authenticate(r) {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/ping":
		fmt.Fprint(w, `{"ok":true}`)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/keys":
		type entry struct {
			ID      string    `json:"id"`
			Created time.Time `json:"created"`
		}
		s.mu.Lock()
		list := make([]entry, 0, len(s.keys))
		for id, rec := range s.keys {
			list = append(list, entry{id, rec.created})
		}
		s.mu.Unlock()
		sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
		_ = json.NewEncoder(w).Encode(list)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/keys":
		id, key, err := s.mint()
		if err != nil {
			http.Error(w, `{"error":"limit reached"}`, http.StatusConflict)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "key": key})
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v1/keys/"):
		s.mu.Lock()
		delete(s.keys, strings.TrimPrefix(r.URL.Path, "/v1/keys/"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
	}
}

func (s *keyService) active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}
