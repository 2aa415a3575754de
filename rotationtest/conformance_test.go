package rotationtest_test

// The conformance suite is itself tested the way testing/fstest is: three
// toy target services with correct rotators must pass it, and deliberately
// broken rotators must each be caught by the rule that exists for their
// bug.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

// --- toy target services ---

// errAuth is what the toy services answer to a wrong credential.
var errAuth = errors.New("authentication failed")

// confDB is a toy database: users and their passwords. A user without a
// password cannot log in. It is safe for concurrent use.
type confDB struct {
	mu sync.Mutex
	pw map[string]string
}

func newConfDB(users map[string]string) *confDB { return &confDB{pw: users} }

func (d *confDB) login(user, pw string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.pw[user]; !ok || p == "" || p != pw {
		return fmt.Errorf("user %s: %w", user, errAuth)
	}
	return nil
}

// change sets user's password to newPW, authenticating with oldPW, as
// ALTER USER does when a user changes its own password.
func (d *confDB) change(user, oldPW, newPW string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.pw[user]; p == "" || p != oldPW {
		return fmt.Errorf("user %s: %w", user, errAuth)
	}
	d.pw[user] = newPW
	return nil
}

// adminSet sets user's password (or, with "", revokes it), authenticating
// as an administrator.
func (d *confDB) adminSet(admin, adminPW, user, pw string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.pw[admin]; p == "" || p != adminPW || admin != "admin" {
		return fmt.Errorf("admin %s: %w", admin, errAuth)
	}
	d.pw[user] = pw
	return nil
}

// set changes a password directly, bypassing authentication (what a
// broken rotator with too many privileges does).
func (d *confDB) set(user, pw string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pw[user] = pw
}

// credentials returns the username and password fields of s.
func credentials(s *rotation.Secret) (user, pw string, err error) {
	if user, err = s.Get("username"); err != nil {
		return "", "", err
	}
	if pw, err = s.Get("password"); err != nil {
		return "", "", err
	}
	return user, pw, nil
}

// probeDB is a Fixture.Probe for a confDB.
func probeDB(db *confDB) func(context.Context, *rotation.Secret) error {
	return func(_ context.Context, s *rotation.Secret) error {
		user, pw, err := credentials(s)
		if err != nil {
			return err
		}
		return db.login(user, pw)
	}
}

func newPassword() (string, error) { return rotation.PasswordPolicy{}.Generate() }

// confProvider is a toy API-key provider: it mints keys, each tagged with
// the secret version it was minted for, and allows at most limit active
// keys. It is safe for concurrent use.
type confProvider struct {
	mu    sync.Mutex
	limit int
	keys  []confKey
}

type confKey struct {
	id, secret, version string
	active              bool
}

var errKeyLimit = errors.New("active key limit reached")

func (p *confProvider) activeLocked() int {
	n := 0
	for _, k := range p.keys {
		if k.active {
			n++
		}
	}
	return n
}

// mint creates a key for version.
func (p *confProvider) mint(version string) (id, secret string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.activeLocked(); n >= p.limit {
		return "", "", fmt.Errorf("%w: %d active, limit %d", errKeyLimit, n, p.limit)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	id = fmt.Sprintf("key-%04d", len(p.keys)+1)
	secret = hex.EncodeToString(b)
	p.keys = append(p.keys, confKey{id: id, secret: secret, version: version, active: true})
	return id, secret, nil
}

// active returns the active keys, oldest first.
func (p *confProvider) active() []confKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []confKey
	for _, k := range p.keys {
		if k.active {
			out = append(out, k)
		}
	}
	return out
}

// revoke deactivates key id; revoking an inactive or unknown key succeeds.
func (p *confProvider) revoke(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.keys {
		if p.keys[i].id == id {
			p.keys[i].active = false
		}
	}
}

func (p *confProvider) auth(id, secret string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.keys {
		if k.id == id && k.active && k.secret == secret {
			return nil
		}
	}
	return fmt.Errorf("key %s: %w", id, errAuth)
}

func (p *confProvider) activeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.activeLocked()
}

// keyOf returns the key id and secret fields of s.
func keyOf(s *rotation.Secret) (id, secret string, err error) {
	if id, err = s.Get("keyId"); err != nil {
		return "", "", err
	}
	if secret, err = s.Get("apiKey"); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// keyIDOf returns the key id of s, or "" for nil.
func keyIDOf(s *rotation.Secret) string {
	if s == nil {
		return ""
	}
	id, _, _ := s.Lookup("keyId")
	return id
}

// --- (a) single user ---

// singleUser changes one user's password in place.
type singleUser struct{ db *confDB }

func (r singleUser) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	pw, err := newPassword()
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{"password": pw})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

// Set logs in with the pending password (done already), else the current
// one, else the previous one, and changes the password to the pending one.
func (r singleUser) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	user, newPW, err := credentials(req.Pending)
	if err != nil {
		return nil, err
	}
	if r.db.login(user, newPW) == nil {
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
		if _, oldPW, err := credentials(s); err == nil && r.db.change(user, oldPW, newPW) == nil {
			return &rotation.SetResponse{}, nil
		}
	}
	return nil, fmt.Errorf("user %s: neither the pending, current nor previous password logs in", user)
}

func (r singleUser) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	user, pw, err := credentials(req.Pending)
	if err != nil {
		return nil, err
	}
	if err := r.db.login(user, pw); err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, nil
}

// --- (b) alternating users ---

// alternating changes the password of the user that is not current,
// through an administrator whose credentials are in the secret named by
// the masterarn field. Users app and app_clone both exist beforehand.
type alternating struct {
	db     *confDB
	client rotation.Client // to read the admin secret
}

func otherUser(user string) string {
	if base, ok := strings.CutSuffix(user, "_clone"); ok {
		return base
	}
	return user + "_clone"
}

func (r alternating) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	user, err := cur.Get("username")
	if err != nil {
		return nil, err
	}
	pw, err := newPassword()
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{"username": otherUser(user), "password": pw})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

// admin reads the administrator's credentials afresh (never cached: they
// rotate too).
func (r alternating) admin(ctx context.Context, s *rotation.Secret) (user, pw string, err error) {
	arn, err := s.Get("masterarn")
	if err != nil {
		return "", "", err
	}
	out, err := r.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", "", fmt.Errorf("reading the admin secret: %w", err)
	}
	if out.SecretString == nil {
		return "", "", errors.New("the admin secret is binary")
	}
	return credentials(rotation.NewString(*out.SecretString))
}

func (r alternating) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	user, pw, err := credentials(req.Pending)
	if err != nil {
		return nil, err
	}
	if r.db.login(user, pw) == nil {
		return &rotation.SetResponse{}, nil
	}
	admin, adminPW, err := r.admin(ctx, req.Pending)
	if err != nil {
		return nil, err
	}
	if err := r.db.adminSet(admin, adminPW, user, pw); err != nil {
		return nil, err
	}
	return &rotation.SetResponse{}, nil
}

func (r alternating) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	user, pw, err := credentials(req.Pending)
	if err != nil {
		return nil, err
	}
	if err := r.db.login(user, pw); err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, nil
}

// --- (c) two keys ---

// twoKeys rotates API keys minted by a provider that allows two active
// keys. Create revokes orphans (keys that neither AWSCURRENT nor
// AWSPREVIOUS holds, minted for another version by a retried or
// overlapping createSecret whose value was never stored), then, at the
// limit, the AWSPREVIOUS key (which becomes the key older than AWSPREVIOUS
// when this rotation finishes), then mints. Keys minted for this very
// version are left alone: they may belong to an overlapping invocation
// about to store its value; Discard revokes the ones certainly not stored,
// and Finish the rest. Finish revokes every key but AWSCURRENT's and
// AWSPREVIOUS's, so the replaced key stays valid until the next rotation.
type twoKeys struct{ p *confProvider }

func (r twoKeys) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	curID := keyIDOf(cur)
	prev, err := req.Previous(ctx)
	if err != nil {
		return nil, err
	}
	prevID := keyIDOf(prev)
	n := 0
	for _, k := range r.p.active() {
		switch {
		case k.id == curID || k.id == prevID || k.version == req.VersionID:
			n++
		default:
			r.p.revoke(k.id) // an orphan
		}
	}
	if n >= r.p.limit && prevID != "" && prevID != curID {
		r.p.revoke(prevID)
	}
	id, secret, err := r.p.mint(req.VersionID)
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{"keyId": id, "apiKey": secret})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

// Discard revokes a minted key whose value was certainly never stored.
func (r twoKeys) Discard(ctx context.Context, req *rotation.DiscardRequest) error {
	if id := keyIDOf(req.Discarded); id != "" {
		r.p.revoke(id)
	}
	return nil
}

// Set does nothing: a minted key works from the start.
func (r twoKeys) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	return &rotation.SetResponse{}, nil
}

func (r twoKeys) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	id, secret, err := keyOf(req.Pending)
	if err != nil {
		return nil, err
	}
	if err := r.p.auth(id, secret); err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, nil
}

func (r twoKeys) Finish(ctx context.Context, req *rotation.FinishRequest) (*rotation.FinishResponse, error) {
	keep := map[string]bool{}
	for _, get := range []func(context.Context) (*rotation.Secret, error){req.Current, req.Previous, req.Pending} {
		s, err := get(ctx)
		if err != nil {
			return nil, err
		}
		if id := keyIDOf(s); id != "" {
			keep[id] = true
		}
	}
	for _, k := range r.p.active() {
		if !keep[k.id] {
			r.p.revoke(k.id)
		}
	}
	return &rotation.FinishResponse{}, nil
}

// --- fixtures ---

// wrapFunc wraps the handler under test; a raw handler's bug lives there.
type wrapFunc func(next rotationtest.HandleFunc, c rotation.Client, l *slog.Logger) rotationtest.HandleFunc

// newHandler builds a rotation.Handler for r, logging to l, wrapped by wrap
// if set.
func newHandler(c rotation.Client, l *slog.Logger, r rotation.Rotator, wrap wrapFunc) (rotationtest.HandleFunc, error) {
	h, err := rotation.New(c, r, func(o *rotation.Options) { o.Logger = l })
	if err != nil {
		return nil, err
	}
	if wrap != nil {
		return wrap(h.Handle, c, l), nil
	}
	return h.Handle, nil
}

type dbRotator func(db *confDB, c rotation.Client, l *slog.Logger) rotation.Rotator

// singleUserFactory is a single-user password service: one user, app.
func singleUserFactory(mk dbRotator, wrap wrapFunc) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := newConfDB(map[string]string{"app": "initial-password-1"})
		return &rotationtest.Fixture{
			Secret: `{"username":"app","password":"initial-password-1","host":"db.internal"}`,
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				return newHandler(c, l, mk(db, c, l), wrap)
			},
			Probe: probeDB(db),
		}, nil
	}
}

// alternatingFactory is a zero-downtime service with two users, app and
// app_clone, and an administrator whose secret is conformance/admin.
func alternatingFactory(mk dbRotator, wrap wrapFunc) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := newConfDB(map[string]string{
			"admin":     "admin-password-1",
			"app":       "app-password-1",
			"app_clone": "clone-password-1",
		})
		return &rotationtest.Fixture{
			Secret: `{"username":"app","password":"app-password-1","masterarn":"conformance/admin"}`,
			Others: map[string]string{"conformance/admin": `{"username":"admin","password":"admin-password-1"}`},
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				return newHandler(c, l, mk(db, c, l), wrap)
			},
			Probe:        probeDB(db),
			ZeroDowntime: true,
		}, nil
	}
}

type keyRotator func(p *confProvider, c rotation.Client, l *slog.Logger) rotation.Rotator

// twoKeysFactory is a zero-downtime API-key service whose provider allows
// limit active keys. Every provider built is passed to seen, if set.
func twoKeysFactory(limit int, mk keyRotator, wrap wrapFunc, seen func(*confProvider)) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		p := &confProvider{limit: limit}
		id, secret, err := p.mint("initial")
		if err != nil {
			return nil, err
		}
		if seen != nil {
			seen(p)
		}
		return &rotationtest.Fixture{
			Secret: fmt.Sprintf(`{"keyId":%q,"apiKey":%q}`, id, secret),
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				return newHandler(c, l, mk(p, c, l), wrap)
			},
			Probe: func(_ context.Context, s *rotation.Secret) error {
				id, secret, err := keyOf(s)
				if err != nil {
					return err
				}
				return p.auth(id, secret)
			},
			ZeroDowntime: true,
		}, nil
	}
}

func correctSingleUser(db *confDB, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
	return singleUser{db}
}

func correctAlternating(db *confDB, c rotation.Client, _ *slog.Logger) rotation.Rotator {
	return alternating{db: db, client: c}
}

func correctTwoKeys(p *confProvider, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
	return twoKeys{p}
}

// violationsByRule returns the *Violation values joined in err, by rule,
// and the joined errors that are not violations.
func violationsByRule(err error) (map[string][]*rotationtest.Violation, []error) {
	byRule := map[string][]*rotationtest.Violation{}
	if err == nil {
		return byRule, nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var others []error
	for _, e := range errs {
		var v *rotationtest.Violation
		if errors.As(e, &v) {
			byRule[v.Rule] = append(byRule[v.Rule], v)
		} else {
			others = append(others, e)
		}
	}
	return byRule, others
}

func ruleNames(m map[string][]*rotationtest.Violation) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// --- correct rotators pass ---

func TestConformingRotators(t *testing.T) {
	var mu sync.Mutex
	var providers []*confProvider
	seen := func(p *confProvider) {
		mu.Lock()
		defer mu.Unlock()
		providers = append(providers, p)
	}
	tests := []struct {
		name    string
		factory rotationtest.Factory
		check   func(t *testing.T, rep rotationtest.Report)
	}{
		{"single-user", singleUserFactory(correctSingleUser, nil), func(t *testing.T, rep rotationtest.Report) {
			if rep.Calls == 0 || rep.Calls > 9 {
				t.Errorf("Report.Calls = %d %v, want 1 to 9", rep.Calls, rep.CallsByOp)
			}
			// Between setSecret and finishSecret the old password no longer
			// works and AWSCURRENT still holds it: the suite must see that.
			if rep.Probes == 0 || rep.ProbeFailures == 0 {
				t.Errorf("Report.Probes = %d, ProbeFailures = %d; want the single-user failure window measured", rep.Probes, rep.ProbeFailures)
			}
		}},
		{"alternating-users", alternatingFactory(correctAlternating, nil), func(t *testing.T, rep rotationtest.Report) {
			if rep.Probes == 0 || rep.ProbeFailures != 0 || rep.FailureWindow != 0 {
				t.Errorf("Report.Probes = %d, ProbeFailures = %d, FailureWindow = %v; want probes and no failure", rep.Probes, rep.ProbeFailures, rep.FailureWindow)
			}
		}},
		{"two-keys", twoKeysFactory(2, correctTwoKeys, nil, nil), func(t *testing.T, rep rotationtest.Report) {
			if rep.Probes == 0 || rep.ProbeFailures != 0 {
				t.Errorf("Report.Probes = %d, ProbeFailures = %d; want probes and no failure", rep.Probes, rep.ProbeFailures)
			}
		}},
		// With room for a third key, nothing but the rotator's own cleanup
		// keeps orphans away: see the check at the end.
		{"two-keys-roomy-provider", twoKeysFactory(3, correctTwoKeys, nil, seen), func(t *testing.T, rep rotationtest.Report) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			t.Run("Run", func(t *testing.T) { rotationtest.Run(t, tt.factory) })
			t.Run("RunOverHTTP", func(t *testing.T) { rotationtest.Run(t, tt.factory, rotationtest.OverHTTP()) })
			t.Run("Check", func(t *testing.T) {
				rep, err := rotationtest.Check(t.Context(), tt.factory)
				if err != nil {
					t.Errorf("Check found violations of a correct rotator:\n%v", err)
				}
				tt.check(t, rep)
			})
		})
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if len(providers) == 0 {
			t.Error("no two-key provider was built")
		}
		for i, p := range providers {
			// Orphans were cleaned up although the provider had room for
			// them: each rule ends with two keys active at most
			// (AWSCURRENT's and AWSPREVIOUS's, or AWSCURRENT's and a failed
			// rotation's pending one).
			if n := p.activeCount(); n > 2 {
				t.Errorf("provider %d: %d keys active at the end of its rule, want at most 2", i, n)
			}
		}
	})
}

// --- broken rotators are caught ---

// brokenSingleUser is a single-user rotator with one hook per bug.
type brokenSingleUser struct {
	singleUser
	client rotation.Client
	logger *slog.Logger

	moveCurrentInSet bool // moves AWSCURRENT to the new version in setSecret
	logPassword      bool // logs the new password in setSecret
	quotedPassword   bool // adds a quote and a backslash to new passwords
	testAlwaysPasses bool // swallows a failing test
	createSetsTarget bool // Create changes the target's password itself
}

func (r brokenSingleUser) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	resp, err := r.singleUser.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	if r.quotedPassword {
		_, pw, _ := credentials(resp.Pending)
		if resp.Pending, err = resp.Pending.With(map[string]any{"password": pw + `"q\b`}); err != nil {
			return nil, err
		}
	}
	if r.createSetsTarget {
		// "Pre-provision" the new password at once. Of two overlapping
		// creates, the target keeps one password and Secrets Manager
		// stores the other.
		user, pw, _ := credentials(resp.Pending)
		r.db.set(user, pw)
	}
	return resp, nil
}

func (r brokenSingleUser) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	if r.logPassword {
		user, pw, _ := credentials(req.Pending)
		r.logger.InfoContext(ctx, "changing password", "user", user, "password", pw)
	}
	resp, err := r.singleUser.Set(ctx, req)
	if err != nil || !r.moveCurrentInSet {
		return resp, err
	}
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	// The password is changed, so "publish" it at once.
	_, err = r.client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:            aws.String(req.SecretARN),
		VersionStage:        aws.String(string(rotation.StageCurrent)),
		MoveToVersionId:     aws.String(req.VersionID),
		RemoveFromVersionId: aws.String(cur.VersionID()),
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (r brokenSingleUser) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	resp, err := r.singleUser.Test(ctx, req)
	if err != nil && r.testAlwaysPasses {
		r.logger.WarnContext(ctx, "pending password does not log in yet; assuming it will")
		return &rotation.TestResponse{}, nil
	}
	return resp, err
}

// broken returns a dbRotator for a brokenSingleUser configured by set.
func broken(set func(*brokenSingleUser)) dbRotator {
	return func(db *confDB, c rotation.Client, l *slog.Logger) rotation.Rotator {
		r := &brokenSingleUser{singleUser: singleUser{db}, client: c, logger: l}
		set(r)
		return *r
	}
}

// revokingAlternating changes the pending user's password and, "for
// safety", revokes the current user's in setSecret.
type revokingAlternating struct{ alternating }

func (r revokingAlternating) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	if _, err := r.alternating.Set(ctx, req); err != nil {
		return nil, err
	}
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	user, err := cur.Get("username")
	if err != nil {
		return nil, err
	}
	admin, adminPW, err := r.admin(ctx, req.Pending)
	if err != nil {
		return nil, err
	}
	return &rotation.SetResponse{}, r.db.adminSet(admin, adminPW, user, "")
}

// revokingTwoKeys revokes every key but the pending one in setSecret, the
// live key included.
type revokingTwoKeys struct{ twoKeys }

func (r revokingTwoKeys) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	keep := keyIDOf(req.Pending)
	for _, k := range r.p.active() {
		if k.id != keep {
			r.p.revoke(k.id)
		}
	}
	return &rotation.SetResponse{}, nil
}

// greedyTwoKeys makes room the simple way: before minting it revokes every
// key but AWSCURRENT's, including one an overlapping createSecret for the
// same version has just minted and is about to store.
type greedyTwoKeys struct{ p *confProvider }

func (r greedyTwoKeys) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	curID := keyIDOf(cur)
	for _, k := range r.p.active() {
		if k.id != curID {
			r.p.revoke(k.id)
		}
	}
	id, secret, err := r.p.mint(req.VersionID)
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{"keyId": id, "apiKey": secret})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

func (r greedyTwoKeys) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	return twoKeys(r).Set(ctx, req)
}

func (r greedyTwoKeys) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	return twoKeys(r).Test(ctx, req)
}

func (r greedyTwoKeys) Finish(ctx context.Context, req *rotation.FinishRequest) (*rotation.FinishResponse, error) {
	return twoKeys(r).Finish(ctx, req)
}

// newVersionID returns a random ClientRequestToken.
func newVersionID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// regenerateOnReplay is a raw handler's bug: a createSecret that finds a
// pending value already stored "refreshes" it, storing a brand-new version
// with a new password that takes AWSPENDING.
func regenerateOnReplay(next rotationtest.HandleFunc, c rotation.Client, _ *slog.Logger) rotationtest.HandleFunc {
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		if ev.Step != string(rotation.StepCreate) {
			return next(ctx, ev)
		}
		if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionId: aws.String(ev.ClientRequestToken)}); err != nil {
			return next(ctx, ev)
		}
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ev.SecretID)})
		if err != nil {
			return err
		}
		pw, err := newPassword()
		if err != nil {
			return err
		}
		fresh, err := rotation.NewString(aws.ToString(out.SecretString)).With(map[string]any{"password": pw})
		if err != nil {
			return err
		}
		val, _ := fresh.SecretString()
		_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(ev.SecretID),
			ClientRequestToken: aws.String(newVersionID()),
			SecretString:       aws.String(val),
			VersionStages:      []string{string(rotation.StagePending)},
			RotationToken:      aws.String(ev.RotationToken),
		})
		return err
	}
}

// removePendingInFinish "cleans up" AWSPENDING after finishSecret.
func removePendingInFinish(next rotationtest.HandleFunc, c rotation.Client, _ *slog.Logger) rotationtest.HandleFunc {
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		if err := next(ctx, ev); err != nil || ev.Step != string(rotation.StepFinish) {
			return err
		}
		d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
		if err != nil {
			return err
		}
		if !slices.Contains(d.VersionIdsToStages[ev.ClientRequestToken], string(rotation.StagePending)) {
			return nil
		}
		_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId:            aws.String(ev.SecretID),
			VersionStage:        aws.String(string(rotation.StagePending)),
			RemoveFromVersionId: aws.String(ev.ClientRequestToken),
		})
		return err
	}
}

// ignoreRotationToken drops the RotationToken, so PutSecretValue is called
// without it, as every public rotator did.
func ignoreRotationToken(next rotationtest.HandleFunc, _ rotation.Client, _ *slog.Logger) rotationtest.HandleFunc {
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		ev.RotationToken = ""
		return next(ctx, ev)
	}
}

// rejectFinishedRetry fails a finishSecret for a version that is already
// AWSCURRENT instead of treating it as done.
func rejectFinishedRetry(next rotationtest.HandleFunc, c rotation.Client, _ *slog.Logger) rotationtest.HandleFunc {
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		if ev.Step == string(rotation.StepFinish) {
			d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
			if err != nil {
				return err
			}
			if slices.Contains(d.VersionIdsToStages[ev.ClientRequestToken], string(rotation.StageCurrent)) {
				return fmt.Errorf("version %s is already AWSCURRENT: nothing to finish", ev.ClientRequestToken)
			}
		}
		return next(ctx, ev)
	}
}

// tokenInError puts the whole event, RotationToken included, in its errors.
func tokenInError(next rotationtest.HandleFunc, _ rotation.Client, _ *slog.Logger) rotationtest.HandleFunc {
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		if err := next(ctx, ev); err != nil {
			return fmt.Errorf("rotation event %+v: %w", ev, err)
		}
		return nil
	}
}

// brokenRotators are the bugs the suite exists to catch, each with the
// rules that must report it.
var brokenRotators = []struct {
	name    string
	factory rotationtest.Factory
	want    []string
}{
	{"regenerates the pending value on replay",
		singleUserFactory(correctSingleUser, regenerateOnReplay),
		[]string{"replay-steps"}},
	{"removes AWSPENDING in finishSecret",
		singleUserFactory(correctSingleUser, removePendingInFinish),
		[]string{"labels-move-only-in-finish"}},
	{"moves AWSCURRENT in setSecret, before testing",
		singleUserFactory(broken(func(r *brokenSingleUser) { r.moveCurrentInSet = true }), nil),
		[]string{"labels-move-only-in-finish"}},
	{"logs the password",
		singleUserFactory(broken(func(r *brokenSingleUser) { r.logPassword = true }), nil),
		[]string{"no-leaks"}},
	{"logs a password the log handler must quote",
		singleUserFactory(broken(func(r *brokenSingleUser) { r.logPassword, r.quotedPassword = true, true }), nil),
		[]string{"no-leaks"}},
	{"revokes the live user in setSecret",
		alternatingFactory(func(db *confDB, c rotation.Client, _ *slog.Logger) rotation.Rotator {
			return revokingAlternating{alternating{db: db, client: c}}
		}, nil),
		[]string{"failing-test", "clients-keep-working"}},
	{"revokes the live key in setSecret",
		twoKeysFactory(2, func(p *confProvider, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
			return revokingTwoKeys{twoKeys{p}}
		}, nil, nil),
		[]string{"failing-test", "clients-keep-working"}},
	{"ignores the RotationToken",
		singleUserFactory(correctSingleUser, ignoreRotationToken),
		[]string{"rotation-token"}},
	{"returns success from a failing test",
		singleUserFactory(broken(func(r *brokenSingleUser) { r.testAlwaysPasses = true }), nil),
		[]string{"test-rejects-bad-pending"}},
	{"changes the target in createSecret, unsafe when two overlap",
		singleUserFactory(broken(func(r *brokenSingleUser) { r.createSetsTarget = true }), nil),
		[]string{"overlapping-invocations"}},
	{"revokes an overlapping createSecret's key before minting",
		twoKeysFactory(2, func(p *confProvider, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
			return greedyTwoKeys{p}
		}, nil, nil),
		[]string{"overlapping-invocations"}},
	{"fails a retried finishSecret for a version already current",
		singleUserFactory(correctSingleUser, rejectFinishedRetry),
		[]string{"rerun-after-success", "replay-steps"}},
	{"puts the RotationToken in an error",
		singleUserFactory(correctSingleUser, tokenInError),
		[]string{"no-leaks"}},
}

func TestBrokenRotatorsAreCaught(t *testing.T) {
	for _, tt := range brokenRotators {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := rotationtest.Check(t.Context(), tt.factory)
			if err == nil {
				t.Fatalf("Check found no violation; want %v", tt.want)
			}
			byRule, others := violationsByRule(err)
			for _, e := range others {
				t.Errorf("Check returned an error that is not a *Violation: %v", e)
			}
			for _, rule := range tt.want {
				if len(byRule[rule]) == 0 {
					t.Errorf("rule %s did not catch it; the rules that did: %v\n%v", rule, ruleNames(byRule), err)
				}
			}
			for rule, vs := range byRule {
				for _, v := range vs {
					if v.Rule != rule || v.Reason == "" || v.Err == nil || !strings.HasPrefix(v.Error(), "rule "+rule+" (") {
						t.Errorf("malformed violation %#v: %v", v, v)
					}
				}
			}
			t.Logf("caught by %v", ruleNames(byRule))
		})
	}
}

// TestViolationsExplain checks that a violation says what went wrong in
// terms a rotator's author can act on.
func TestViolationsExplain(t *testing.T) {
	tests := []struct {
		name    string
		factory rotationtest.Factory
		rule    string
		want    []string
	}{
		{"pending removed", singleUserFactory(correctSingleUser, removePendingInFinish), "labels-move-only-in-finish",
			[]string{"finishSecret removed AWSPENDING"}},
		{"current moved early", singleUserFactory(broken(func(r *brokenSingleUser) { r.moveCurrentInSet = true }), nil), "labels-move-only-in-finish",
			[]string{"AWSCURRENT moved during setSecret"}},
		{"password logged", singleUserFactory(broken(func(r *brokenSingleUser) { r.logPassword = true }), nil), "no-leaks",
			[]string{"the handler's log contains", `field "password" of version`}},
		{"token in error", singleUserFactory(correctSingleUser, tokenInError), "no-leaks",
			[]string{"an error the handler returned contains", "RotationToken"}},
		{"lost update", singleUserFactory(broken(func(r *brokenSingleUser) { r.createSetsTarget = true }), nil), "overlapping-invocations",
			[]string{"two overlapping createSecret invocations, staggered"}},
		{"live user revoked", alternatingFactory(func(db *confDB, c rotation.Client, _ *slog.Logger) rotation.Rotator {
			return revokingAlternating{alternating{db: db, client: c}}
		}, nil), "clients-keep-working",
			[]string{"client attempts with AWSCURRENT failed", "promises zero downtime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := rotationtest.Check(t.Context(), tt.factory)
			byRule, _ := violationsByRule(err)
			var texts []string
			for _, v := range byRule[tt.rule] {
				texts = append(texts, v.Error())
			}
			all := strings.Join(texts, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("violations of %s do not say %q:\n%s", tt.rule, w, all)
				}
			}
			// The explanation never quotes a secret value.
			for _, secret := range []string{"initial-password-1", "app-password-1", "admin-password-1"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("a violation quotes a secret value: %v", err)
				}
			}
		})
	}
}

func TestRules(t *testing.T) {
	rules := rotationtest.Rules()
	want := []string{
		"rotates", "rotation-token", "labels-move-only-in-finish", "replay-steps",
		"rerun-after-success", "faults", "crash-after-step", "overlapping-invocations",
		"failing-test", "test-rejects-bad-pending", "test-only", "clients-keep-working",
		"credential-changed", "old-credentials-retired", "secret-preserved", "strong-credentials",
		"create-has-no-side-effect", "neighbours-untouched", "test-really-tests", "no-leaks",
	}
	var got []string
	for _, r := range rules {
		name, reason, ok := strings.Cut(r, ": ")
		if !ok || reason == "" {
			t.Errorf("rule %q has no reason", r)
		}
		got = append(got, name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Rules() names = %v, want %v", got, want)
	}
}

// TestMaxCalls checks that a fixture's call budget is enforced.
func TestMaxCalls(t *testing.T) {
	factory := func(ctx context.Context) (*rotationtest.Fixture, error) {
		fx, err := singleUserFactory(correctSingleUser, nil)(ctx)
		if err != nil {
			return nil, err
		}
		fx.MaxCalls = 5
		return fx, nil
	}
	rep, err := rotationtest.Check(t.Context(), factory)
	byRule, others := violationsByRule(err)
	if len(others) != 0 || len(byRule) != 1 || len(byRule["rotates"]) != 1 {
		t.Fatalf("Check = %v; want one violation, of rule rotates", err)
	}
	if want := fmt.Sprintf("a rotation made %d Secrets Manager calls", rep.Calls); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "more than the 5 allowed") {
		t.Errorf("Check = %v; want it to say %q and name the budget", err, want)
	}
}

// TestCheckFixtureErrors checks that a factory that fails, or builds an
// incomplete fixture, is reported as an error that is not a violation.
func TestCheckFixtureErrors(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		factory rotationtest.Factory
		wantIs  error
	}{
		{"factory fails", func(context.Context) (*rotationtest.Fixture, error) { return nil, errBoom }, errBoom},
		{"no probe", func(context.Context) (*rotationtest.Fixture, error) {
			return &rotationtest.Fixture{Secret: "x", NewHandler: func(rotation.Client, *slog.Logger) (rotationtest.HandleFunc, error) { return nil, nil }}, nil
		}, nil},
		{"initial secret does not authenticate", func(ctx context.Context) (*rotationtest.Fixture, error) {
			fx, err := singleUserFactory(correctSingleUser, nil)(ctx)
			if err != nil {
				return nil, err
			}
			fx.Secret = `{"username":"app","password":"wrong-password"}`
			return fx, nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rotationtest.Check(t.Context(), tt.factory)
			if err == nil {
				t.Fatal("Check returned nil")
			}
			byRule, others := violationsByRule(err)
			if len(byRule) != 0 || len(others) != 1 {
				t.Errorf("Check = %v; want one error that is not a violation", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Check = %v; want it to wrap %v", err, tt.wantIs)
			}
		})
	}
}

// TestCheckHonoursContext checks that a cancelled context ends Check
// quickly with violations rather than hanging.
func TestCheckHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	_, err := rotationtest.Check(ctx, singleUserFactory(correctSingleUser, nil))
	if err == nil {
		t.Error("Check with a cancelled context returned nil")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Check with a cancelled context took %v", d)
	}
}

// BenchmarkConformanceBattery runs the whole battery for one rotator per
// strategy, against the in-memory fake and over loopback HTTP.
func BenchmarkConformanceBattery(b *testing.B) {
	factories := []struct {
		name    string
		factory rotationtest.Factory
	}{
		{"single-user", singleUserFactory(correctSingleUser, nil)},
		{"alternating-users", alternatingWithNeighbour(correctAlternating)},
		{"two-keys", twoKeysFactory(2, correctTwoKeys, nil, nil)},
	}
	for _, f := range factories {
		for _, mode := range []struct {
			name string
			opts []rotationtest.SuiteOption
		}{{"in-memory", nil}, {"http", []rotationtest.SuiteOption{rotationtest.OverHTTP()}}} {
			b.Run(f.name+"/"+mode.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := rotationtest.Check(context.Background(), f.factory, mode.opts...); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/battery")
			})
		}
	}
}

// TestCheckDoesNotHangOnAHandlerIgnoringItsContext: a rotation function
// that blocks and ignores its context fails its rule, and Check returns
// soon after its context ends, instead of waiting for the function for
// ever.
func TestCheckDoesNotHangOnAHandlerIgnoringItsContext(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	factory := func(ctx context.Context) (*rotationtest.Fixture, error) {
		return &rotationtest.Fixture{
			Secret: "initial-secret-value",
			NewHandler: func(rotation.Client, *slog.Logger) (rotationtest.HandleFunc, error) {
				return func(context.Context, events.SecretsManagerSecretRotationEvent) error {
					<-block // ignores its context
					return nil
				}, nil
			},
			Probe: func(_ context.Context, s *rotation.Secret) error {
				if v, _ := s.SecretString(); v != "initial-secret-value" {
					return errAuth
				}
				return nil
			},
		}, nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	type result struct {
		err error
		d   time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		_, err := rotationtest.Check(ctx, factory)
		done <- result{err, time.Since(start)}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Check still running 30s after a 1s context")
	}
	if res.d > 10*time.Second {
		t.Errorf("Check took %v after a 1s context", res.d)
	}
	byRule, others := violationsByRule(res.err)
	if len(byRule["rotates"]) == 0 || !strings.Contains(res.err.Error(), "still running") {
		t.Errorf("Check = %v; want rule rotates to report the function still running", res.err)
	}
	if !errors.Is(res.err, context.DeadlineExceeded) || len(others) == 0 {
		t.Errorf("Check = %v; want it to report that its context ended", res.err)
	}
}
