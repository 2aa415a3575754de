package strategy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/strategy"
)

// This file holds the in-memory target services the strategy tests rotate
// against. Each enforces its rules strictly and keeps plain data a test can
// inspect. Their errors name users and key ids, never a password or key.

var (
	errAuth       = errors.New("authentication failed")
	errWrongHost  = errors.New("the credential is for another host")
	errNoUser     = errors.New("no such user")
	errKeyLimit   = errors.New("toy provider: active key limit reached")
	errNotAllowed = errors.New("permission denied")
)

// creds reads the username and password of a secret, and its host.
func creds(s *rotation.Secret) (host, user, pw string, err error) {
	if s == nil {
		return "", "", "", errors.New("no credential")
	}
	if host, _, err = s.Lookup("host"); err != nil {
		return "", "", "", err
	}
	if user, err = s.Get("username"); err != nil {
		return "", "", "", err
	}
	if pw, err = s.Get("password"); err != nil {
		return "", "", "", err
	}
	return host, user, pw, nil
}

// passwordDB is a database with one password per user, for SingleUser.
// Changing a password requires logging in: as the user itself with its
// current password, or as an admin. It never creates users.
type passwordDB struct {
	host string

	mu      sync.Mutex
	users   map[string]string // user -> password
	admins  map[string]string // admin user -> password
	changes []string          // "user by user" or "user by admin:name", in order
	tests   int
}

func newPasswordDB(host string, users map[string]string) *passwordDB {
	return &passwordDB{host: host, users: users, admins: map[string]string{}}
}

// loginLocked authenticates s against table; the caller holds d.mu.
func (d *passwordDB) loginLocked(table map[string]string, s *rotation.Secret) (string, error) {
	host, user, pw, err := creds(s)
	if err != nil {
		return "", err
	}
	if host != d.host {
		return "", fmt.Errorf("user %q: %w", user, errWrongHost)
	}
	if want, ok := table[user]; !ok || want != pw {
		return "", fmt.Errorf("user %q: %w", user, errAuth)
	}
	return user, nil
}

// Test implements strategy.PasswordService.
func (d *passwordDB) Test(ctx context.Context, s *rotation.Secret) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tests++
	_, err := d.loginLocked(d.users, s)
	return err
}

// Change implements strategy.PasswordService.
func (d *passwordDB) Change(ctx context.Context, req *strategy.ChangeRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, target, pw, err := creds(req.New)
	if err != nil {
		return err
	}
	if _, ok := d.users[target]; !ok {
		return fmt.Errorf("user %q: %w", target, errNoUser)
	}
	by := ""
	if req.LoginIsAdmin {
		admin, err := d.loginLocked(d.admins, req.Login)
		if err != nil {
			return fmt.Errorf("admin login: %w", err)
		}
		by = "admin:" + admin
	} else {
		user, err := d.loginLocked(d.users, req.Login)
		if err != nil {
			return fmt.Errorf("login: %w", err)
		}
		if user != target {
			return fmt.Errorf("user %q cannot change the password of %q: %w", user, target, errNotAllowed)
		}
		by = user
	}
	d.users[target] = pw
	d.changes = append(d.changes, target+" by "+by)
	return nil
}

func (d *passwordDB) password(user string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.users[user]
}

func (d *passwordDB) changeLog() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.changes)
}

// The probes below authenticate a value as a client would, reading the
// fields themselves and comparing with the service's data directly: the
// conformance suite's Probe must not share code with the Test the strategy
// calls, or a broken Test would blind it.

// probe authenticates s as a client of passwordDB would.
func (d *passwordDB) probe(_ context.Context, s *rotation.Secret) error {
	return probeUser(s, d.host, func(user string) (string, bool) {
		d.mu.Lock()
		defer d.mu.Unlock()
		pw, ok := d.users[user]
		return pw, ok
	})
}

// probe authenticates s as a client of userDB would.
func (d *userDB) probe(_ context.Context, s *rotation.Secret) error {
	return probeUser(s, d.host, func(user string) (string, bool) {
		d.mu.Lock()
		defer d.mu.Unlock()
		u, ok := d.users[user]
		if !ok {
			return "", false
		}
		return u.Password, true
	})
}

func probeUser(s *rotation.Secret, host string, password func(user string) (string, bool)) error {
	var f [3]string
	for i, name := range []string{"host", "username", "password"} {
		v, err := s.Get(name)
		if err != nil {
			return err
		}
		f[i] = v
	}
	if f[0] != host {
		return errWrongHost
	}
	if pw, ok := password(f[1]); !ok || pw == "" || pw != f[2] {
		return fmt.Errorf("user %q: %w", f[1], errAuth)
	}
	return nil
}

// probe authenticates s as a client of keyAPI would.
func (p *keyAPI) probe(_ context.Context, s *rotation.Secret) error {
	id, err := s.Get("key_id")
	if err != nil {
		return err
	}
	secret, err := s.Get("api_key")
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if k, ok := p.keys[id]; !ok || !k.Active || k.Secret != secret {
		return fmt.Errorf("key %q: %w", id, errAuth)
	}
	return nil
}

// dbUser is a user of userDB.
type dbUser struct {
	Password   string
	Privileges []string
}

// userDB is a database with an admin and users, for AlternatingUsers.
// SetPassword logs in as the admin, and creates the user with the
// privileges of the base user when it does not exist and creation is
// allowed.
type userDB struct {
	host        string
	allowCreate bool

	mu        sync.Mutex
	adminUser string
	adminPw   string
	users     map[string]*dbUser
	created   []string // users SetPassword created, in order
	sets      []string // users whose password SetPassword set, in order
}

func newUserDB(host, adminUser, adminPw string, allowCreate bool) *userDB {
	return &userDB{host: host, allowCreate: allowCreate, adminUser: adminUser, adminPw: adminPw, users: map[string]*dbUser{}}
}

func (d *userDB) addUser(name, pw string, privileges ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[name] = &dbUser{Password: pw, Privileges: privileges}
}

// Test implements strategy.UserService.
func (d *userDB) Test(ctx context.Context, s *rotation.Secret) error {
	host, user, pw, err := creds(s)
	if err != nil {
		return err
	}
	if host != d.host {
		return fmt.Errorf("user %q: %w", user, errWrongHost)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if u, ok := d.users[user]; !ok || u.Password != pw {
		return fmt.Errorf("user %q: %w", user, errAuth)
	}
	return nil
}

// SetPassword implements strategy.UserService.
func (d *userDB) SetPassword(ctx context.Context, req *strategy.SetPasswordRequest) error {
	host, admin, adminPw, err := creds(req.Login)
	if err != nil {
		return fmt.Errorf("admin credential: %w", err)
	}
	_, user, pw, err := creds(req.Pending)
	if err != nil {
		return err
	}
	if user != req.User {
		return fmt.Errorf("the pending value names %q, the request %q", user, req.User)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if host != d.host {
		return fmt.Errorf("admin %q: %w", admin, errWrongHost)
	}
	if admin != d.adminUser || adminPw != d.adminPw {
		return fmt.Errorf("admin %q: %w", admin, errAuth)
	}
	u, ok := d.users[user]
	if !ok {
		if !d.allowCreate {
			return fmt.Errorf("user %q: %w (creating users is not allowed)", user, errNoUser)
		}
		base, ok := d.users[req.Base]
		if !ok {
			return fmt.Errorf("base user %q: %w", req.Base, errNoUser)
		}
		u = &dbUser{Privileges: slices.Clone(base.Privileges)}
		d.users[user] = u
		d.created = append(d.created, user)
	}
	u.Password = pw
	d.sets = append(d.sets, user)
	return nil
}

// userSnapshot is the plain-data state of a userDB.
type userSnapshot struct {
	Users   map[string]dbUser
	Created []string
	Sets    []string
}

func (d *userDB) snapshot() userSnapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := userSnapshot{Users: map[string]dbUser{}, Created: slices.Clone(d.created), Sets: slices.Clone(d.sets)}
	for name, u := range d.users {
		s.Users[name] = dbUser{Password: u.Password, Privileges: slices.Clone(u.Privileges)}
	}
	return s
}

// apiKey is one credential of keyAPI.
type apiKey struct {
	Secret  string
	Created time.Time
	Active  bool
}

// keyAPI is an API-key provider with a hard limit of active keys: Mint
// fails over the limit. List reports creation times from an injectable
// clock; Revoke is idempotent. Every call but Test authenticates with an
// active key.
type keyAPI struct {
	limit int
	now   func() time.Time

	mu        sync.Mutex
	keys      map[string]*apiKey
	seq       int
	maxActive int      // the most keys ever active at once
	refused   int      // Mint calls refused at the limit
	ops       []string // "mint key-0002", "revoke key-0001", "list"
}

func newKeyAPI(limit int, now func() time.Time) *keyAPI {
	return &keyAPI{limit: limit, now: now, keys: map[string]*apiKey{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// addKey creates an active key directly (test setup), bypassing the limit
// check only for its bookkeeping, and returns its id and secret.
func (p *keyAPI) addKey(created time.Time) (id, secret string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.newKeyLocked(created)
}

func (p *keyAPI) newKeyLocked(created time.Time) (id, secret string) {
	p.seq++
	id = fmt.Sprintf("key-%04d", p.seq)
	secret = randomHex(16)
	p.keys[id] = &apiKey{Secret: secret, Created: created, Active: true}
	p.maxActive = max(p.maxActive, p.activeLocked())
	return id, secret
}

func (p *keyAPI) activeLocked() int {
	n := 0
	for _, k := range p.keys {
		if k.Active {
			n++
		}
	}
	return n
}

// authLocked checks that s holds an active key; the caller holds p.mu.
func (p *keyAPI) authLocked(s *rotation.Secret) (string, error) {
	if s == nil {
		return "", errors.New("no credential")
	}
	id, err := s.Get("key_id")
	if err != nil {
		return "", err
	}
	secret, err := s.Get("api_key")
	if err != nil {
		return "", err
	}
	k, ok := p.keys[id]
	if !ok || !k.Active || k.Secret != secret {
		return "", fmt.Errorf("key %q: %w", id, errAuth)
	}
	return id, nil
}

// Mint implements strategy.KeyProvider.
func (p *keyAPI) Mint(ctx context.Context, current *rotation.Secret) (map[string]any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.authLocked(current); err != nil {
		return nil, err
	}
	if p.activeLocked() >= p.limit {
		p.refused++
		return nil, fmt.Errorf("%w (%d)", errKeyLimit, p.limit)
	}
	id, secret := p.newKeyLocked(p.now())
	p.ops = append(p.ops, "mint "+id)
	return map[string]any{"key_id": id, "api_key": secret}, nil
}

// List implements strategy.KeyProvider.
func (p *keyAPI) List(ctx context.Context, current *rotation.Secret) ([]strategy.Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.authLocked(current); err != nil {
		return nil, err
	}
	p.ops = append(p.ops, "list")
	var out []strategy.Key
	for id, k := range p.keys {
		if k.Active {
			out = append(out, strategy.Key{ID: id, Created: k.Created})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Revoke implements strategy.KeyProvider.
func (p *keyAPI) Revoke(ctx context.Context, current *rotation.Secret, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.authLocked(current); err != nil {
		return err
	}
	p.ops = append(p.ops, "revoke "+id)
	if k, ok := p.keys[id]; ok {
		k.Active = false
	}
	return nil
}

// Test implements strategy.KeyProvider.
func (p *keyAPI) Test(ctx context.Context, s *rotation.Secret) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.authLocked(s)
	return err
}

// active returns the ids of the active keys, sorted.
func (p *keyAPI) active() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for id, k := range p.keys {
		if k.Active {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// log returns the operations so far and forgets them.
func (p *keyAPI) takeOps() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ops := p.ops
	p.ops = nil
	return ops
}

func (p *keyAPI) stats() (maxActive, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxActive, p.refused
}
