package rotationtest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

// serveDB serves db over HTTP, so that a rotation function running in a
// child process (FreshProcess) reaches the same target: POST /login
// (user, password) and POST /change (user, old, new) answer 204 or 401.
func serveDB(t testing.TB, db *confDB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		var err error
		switch r.URL.Path {
		case "/login":
			err = db.login(r.PostForm.Get("user"), r.PostForm.Get("password"))
		case "/change":
			err = db.change(r.PostForm.Get("user"), r.PostForm.Get("old"), r.PostForm.Get("new"))
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, "denied", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// remote is a client of a served confDB at the endpoint a secret names.
func remote(ctx context.Context, s *rotation.Secret, path string, form url.Values) error {
	endpoint, err := s.Get("endpoint")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return errAuth
	}
	return nil
}

// packageCache is the bug FreshProcess exists for: state kept in a
// package-level variable between invocations.
var packageCache sync.Map // version id -> new password

// remoteSingleUser is a single-user rotator of a served confDB. With
// cache set, Create remembers the new password in a package-level map and
// Set takes it from there instead of from the pending value; with
// handlerCache set, it keeps it in a map of the Rotator value.
type remoteSingleUser struct {
	cache        bool
	handlerCache *sync.Map
}

func (r remoteSingleUser) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	pw, err := newPassword()
	if err != nil {
		return nil, err
	}
	if r.cache {
		packageCache.Store(req.VersionID, pw)
	}
	if r.handlerCache != nil {
		r.handlerCache.Store(req.VersionID, pw)
	}
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	p, err := current.With(map[string]any{"password": pw})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

func (r remoteSingleUser) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	user, newPW, err := credentials(req.Pending)
	if err != nil {
		return nil, err
	}
	for _, m := range []*sync.Map{&packageCache, r.handlerCache} {
		if m == &packageCache && !r.cache || m == nil {
			continue
		}
		v, ok := m.Load(req.VersionID)
		if !ok {
			return nil, fmt.Errorf("no new password remembered for version %s", req.VersionID)
		}
		newPW = v.(string)
	}
	if remote(ctx, req.Pending, "/login", url.Values{"user": {user}, "password": {newPW}}) == nil {
		return &rotation.SetResponse{}, nil
	}
	for _, get := range []func(context.Context) (*rotation.Secret, error){req.Current, req.Previous} {
		s, err := get(ctx)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		_, oldPW, err := credentials(s)
		if err == nil && remote(ctx, req.Pending, "/change", url.Values{"user": {user}, "old": {oldPW}, "new": {newPW}}) == nil {
			return &rotation.SetResponse{}, nil
		}
	}
	return nil, fmt.Errorf("user %s: neither the pending, current nor previous password logs in", user)
}

func (r remoteSingleUser) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	user, pw, err := credentials(req.Pending)
	if err != nil {
		return nil, err
	}
	if err := remote(ctx, req.Pending, "/login", url.Values{"user": {user}, "password": {pw}}); err != nil {
		return nil, fmt.Errorf("%w: %w", rotation.ErrTestFailed, err)
	}
	return &rotation.TestResponse{}, nil
}

// remoteFactory is a single-user fixture whose target is served over
// HTTP at the address the secret holds. newRotator is called by every
// NewHandler.
func remoteFactory(t testing.TB, newRotator func() rotation.Rotator) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := newConfDB(map[string]string{"app": "initial-password-1"})
		endpoint := serveDB(t, db)
		return &rotationtest.Fixture{
			Secret: fmt.Sprintf(`{"username":"app","password":"initial-password-1","endpoint":%q}`, endpoint),
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				return newHandler(c, l, newRotator(), nil)
			},
			Probe: probeDB(db),
		}, nil
	}
}

func TestFreshProcessCatchesPackageState(t *testing.T) {
	_, err := rotationtest.Check(t.Context(), remoteFactory(t, func() rotation.Rotator { return remoteSingleUser{cache: true} }), rotationtest.FreshProcess(t))
	byRule, others := violationsByRule(err)
	for _, e := range others {
		t.Errorf("Check returned an error that is not a *Violation: %v", e)
	}
	if len(byRule["rotates"]) == 0 {
		t.Fatalf("FreshProcess did not catch state kept in a package-level map; violations: %v", err)
	}
	if all := fmt.Sprint(byRule["rotates"]); !strings.Contains(all, "no new password remembered") {
		t.Errorf("the violation does not show the rotator's own error: %s", all)
	}
}

// TestRunFreshProcess runs the suite with FreshProcess through Run, in a
// subtest, as users write it.
func TestRunFreshProcess(t *testing.T) {
	t.Run("remote single user", func(t *testing.T) {
		rotationtest.Run(t, remoteFactory(t, func() rotation.Rotator { return remoteSingleUser{} }), rotationtest.FreshProcess(t))
	})
}

// TestStateModes shows what each mode sees: package-level state passes
// without FreshProcess (the blind spot it exists for), state kept in the
// Rotator value is caught by FreshHandler.
func TestStateModes(t *testing.T) {
	pkg := func() rotation.Rotator { return remoteSingleUser{cache: true} }
	handler := func() rotation.Rotator { return remoteSingleUser{handlerCache: &sync.Map{}} }
	tests := []struct {
		name   string
		mk     func() rotation.Rotator
		opts   []rotationtest.SuiteOption
		caught bool
	}{
		{"package state, one handler", pkg, nil, false},
		{"package state, FreshHandler", pkg, []rotationtest.SuiteOption{rotationtest.FreshHandler()}, false},
		{"handler state, one handler", handler, nil, false},
		{"handler state, FreshHandler", handler, []rotationtest.SuiteOption{rotationtest.FreshHandler()}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := rotationtest.Check(t.Context(), remoteFactory(t, tt.mk), tt.opts...)
			byRule, _ := violationsByRule(err)
			if got := len(byRule["rotates"]) > 0; got != tt.caught {
				t.Errorf("caught by rule rotates: %v, want %v; violations: %v", got, tt.caught, err)
			}
		})
	}
}
