// Package authserver is a small OAuth 2.0 authorization server for the
// oauth example's tests: it issues access tokens with the
// client-credentials grant (RFC 6749 section 4.4) to confidential clients
// that authenticate with client_secret_basic or client_secret_post
// (section 2.3.1), and it has a client-management API through which a
// client rotates its own secrets, with at most MaxSecrets active at once.
//
//	POST   /oauth2/token                          grant_type=client_credentials
//	GET    /api/whoami                            Authorization: Bearer <access token>
//	GET    /clients/{client_id}/secrets           200 {"secrets": [{"id", "created"}]}
//	POST   /clients/{client_id}/secrets           201 {"id", "secret", "created"}; 409 at the limit
//	DELETE /clients/{client_id}/secrets/{id}      204, also when the secret does not exist
//
// The management API authenticates the client with HTTP Basic, encoded as
// for client_secret_basic, and a client may manage only its own secrets.
// Secrets are stored hashed and compared in constant time.
package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// MaxSecrets is the most secrets a client may have active; default 2.
	MaxSecrets int
	// TokenTTL is the lifetime of an access token; default 1 hour.
	TokenTTL time.Duration
}

// ErrLimit is returned by AddSecret when the client has MaxSecrets active
// secrets.
var ErrLimit = errors.New("authserver: limit of active client secrets reached")

// Server is the authorization server, an http.Handler. It is safe for
// concurrent use.
type Server struct {
	opts Options
	mux  *http.ServeMux
	now  func() time.Time

	mu      sync.Mutex
	clients map[string]*client
	tokens  map[[sha256.Size]byte]issued
	issued  int // tokens issued
	refused int // secret creations refused at the limit
}

type client struct {
	secrets map[string]secretRecord // by secret id
	maxEver int
}

type secretRecord struct {
	hash    [sha256.Size]byte
	created time.Time
}

type issued struct {
	clientID, secretID string
	expires            time.Time
}

// New returns a server with no clients.
func New(opts Options) *Server {
	if opts.MaxSecrets < 1 {
		opts.MaxSecrets = 2
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	s := &Server{opts: opts, now: time.Now, clients: map[string]*client{}, tokens: map[[sha256.Size]byte]issued{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("GET /api/whoami", s.whoami)
	mux.HandleFunc("GET /clients/{client_id}/secrets", s.managed(s.listSecrets))
	mux.HandleFunc("POST /clients/{client_id}/secrets", s.managed(s.createSecret))
	mux.HandleFunc("DELETE /clients/{client_id}/secrets/{id}", s.managed(s.deleteSecret))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
	})
	s.mux = mux
	return s
}

// ServeHTTP serves the endpoints listed in the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// MaxSecrets returns the limit of active secrets per client.
func (s *Server) MaxSecrets() int { return s.opts.MaxSecrets }

func randomString(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return prefix + hex.EncodeToString(b)
}

// RegisterClient creates a confidential client with one secret, as an
// administrator does in the server's console.
func (s *Server) RegisterClient() (clientID, secretID, secret string) {
	clientID = randomString("client-", 6)
	s.mu.Lock()
	s.clients[clientID] = &client{secrets: map[string]secretRecord{}}
	s.mu.Unlock()
	secretID, secret, _, err := s.AddSecret(clientID)
	if err != nil {
		panic(err) // a new client has no secret yet
	}
	return clientID, secretID, secret
}

// AddSecret creates a secret for clientID without authentication (as an
// administrator), failing with ErrLimit at the limit.
func (s *Server) AddSecret(clientID string) (id, secret string, created time.Time, err error) {
	id, secret = randomString("cs-", 8), randomString("", 32)
	created = s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		return "", "", time.Time{}, errors.New("authserver: no such client")
	}
	if len(c.secrets) >= s.opts.MaxSecrets {
		s.refused++
		return "", "", time.Time{}, ErrLimit
	}
	c.secrets[id] = secretRecord{hash: sha256.Sum256([]byte(secret)), created: created}
	c.maxEver = max(c.maxEver, len(c.secrets))
	return id, secret, created, nil
}

// Active returns the number of active secrets of clientID.
func (s *Server) Active(clientID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[clientID]; ok {
		return len(c.secrets)
	}
	return 0
}

// MaxEverActive returns the most secrets clientID ever had active at once.
func (s *Server) MaxEverActive(clientID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[clientID]; ok {
		return c.maxEver
	}
	return 0
}

// Refused returns how many secret creations were refused at the limit.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Issued returns how many access tokens the server issued.
func (s *Server) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// authenticate returns the id of the secret of clientID that matches
// secret, or false.
func (s *Server) authenticate(clientID, secret string) (string, bool) {
	if clientID == "" || secret == "" {
		return "", false
	}
	h := sha256.Sum256([]byte(secret))
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		return "", false
	}
	found := ""
	for id, rec := range c.secrets {
		if subtle.ConstantTimeCompare(rec.hash[:], h[:]) == 1 {
			found = id
		}
	}
	return found, found != ""
}

// Authenticate reports whether secret is an active secret of clientID.
func (s *Server) Authenticate(clientID, secret string) bool {
	_, ok := s.authenticate(clientID, secret)
	return ok
}

// basicCredentials decodes an Authorization: Basic header the way RFC 6749
// section 2.3.1 encodes client credentials: each part form-urlencoded, then
// joined with ":" and base64-encoded. ok is false when there is no Basic
// header; err reports a malformed one.
func basicCredentials(r *http.Request) (id, secret string, ok bool, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "", false, nil
	}
	scheme, enc, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false, nil
	}
	raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if derr != nil {
		return "", "", true, errors.New("malformed Basic credentials")
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", true, errors.New("malformed Basic credentials")
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return "", "", true, errors.New("malformed Basic credentials")
	}
	if secret, err = url.QueryUnescape(p); err != nil {
		return "", "", true, errors.New("malformed Basic credentials")
	}
	return id, secret, true, nil
}

// tokenError writes an RFC 6749 section 5.2 error response.
func tokenError(w http.ResponseWriter, status int, code, description string, basic bool) {
	if status == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="authserver", charset="UTF-8"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// token implements the token endpoint for the client-credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded", false)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "malformed form body", false)
		return
	}
	form := r.PostForm
	for _, p := range []string{"grant_type", "client_id", "client_secret", "scope"} {
		if len(form[p]) > 1 {
			tokenError(w, http.StatusBadRequest, "invalid_request", "parameter "+p+" is repeated", false)
			return
		}
	}
	if r.URL.Query().Has("client_secret") {
		tokenError(w, http.StatusBadRequest, "invalid_request", "client credentials must not be sent in the URL", false)
		return
	}
	id, secret, basic, err := basicCredentials(r)
	if err != nil {
		tokenError(w, http.StatusUnauthorized, "invalid_client", err.Error(), true)
		return
	}
	switch {
	case basic && form.Has("client_secret"):
		tokenError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method, not two", false)
		return
	case basic && form.Has("client_id") && form.Get("client_id") != id:
		tokenError(w, http.StatusBadRequest, "invalid_request", "client_id does not match the Authorization header", false)
		return
	case !basic:
		id, secret = form.Get("client_id"), form.Get("client_secret")
		if id == "" || secret == "" {
			tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication is required", true)
			return
		}
	}
	secretID, ok := s.authenticate(id, secret)
	if !ok {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed", basic)
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing", false)
		return
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported", false)
		return
	}
	tok := randomString("at-", 24)
	s.mu.Lock()
	s.tokens[sha256.Sum256([]byte(tok))] = issued{clientID: id, secretID: secretID, expires: s.now().Add(s.opts.TokenTTL)}
	s.issued++
	s.mu.Unlock()
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(s.opts.TokenTTL / time.Second)}
	if sc := form.Get("scope"); sc != "" {
		resp["scope"] = sc
	}
	writeJSON(w, http.StatusOK, resp)
}

// whoami is a protected resource: it names the client a bearer token was
// issued to.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.mu.Lock()
	is, ok := s.tokens[sha256.Sum256([]byte(tok))]
	s.mu.Unlock()
	if !strings.EqualFold(scheme, "Bearer") || !ok || s.now().After(is.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="authserver", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"client_id": is.clientID})
}

// managed authenticates a management request with the client's own
// credentials (HTTP Basic) and checks it names that client.
func (s *Server) managed(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, secret, basic, err := basicCredentials(r)
		if err != nil || !basic || !s.Authenticate(id, secret) {
			w.Header().Set("WWW-Authenticate", `Basic realm="authserver", charset="UTF-8"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		}
		if r.PathValue("client_id") != id {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "a client may manage only its own secrets"})
			return
		}
		next(w, r, id)
	}
}

// SecretInfo is an active secret as the management API lists it.
type SecretInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

func (s *Server) listSecrets(w http.ResponseWriter, _ *http.Request, clientID string) {
	s.mu.Lock()
	c := s.clients[clientID]
	list := make([]SecretInfo, 0, len(c.secrets))
	for id, rec := range c.secrets {
		list = append(list, SecretInfo{ID: id, Created: rec.created})
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	writeJSON(w, http.StatusOK, map[string]any{"secrets": list})
}

func (s *Server) createSecret(w http.ResponseWriter, _ *http.Request, clientID string) {
	id, secret, created, err := s.AddSecret(clientID)
	if err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "limit of active client secrets reached; delete one first"})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "secret": secret, "created": created})
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request, clientID string) {
	id := r.PathValue("id")
	s.mu.Lock()
	delete(s.clients[clientID].secrets, id)
	for k, is := range s.tokens {
		if is.clientID == clientID && is.secretID == id {
			delete(s.tokens, k) // tokens die with the secret that obtained them
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
