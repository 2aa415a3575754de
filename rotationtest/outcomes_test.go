package rotationtest_test

// Broken rotators for each class of bug the outcome rules and the Probe
// sanity check exist for (issue 10, classes 1 to 8), each of which the
// protocol rules alone let through or catch only by accident.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	mrand "math/rand"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

// withFixture returns f with edit applied to every fixture it builds.
func withFixture(f rotationtest.Factory, edit func(*rotationtest.Fixture)) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		fx, err := f(ctx)
		if err != nil {
			return nil, err
		}
		edit(fx)
		return fx, nil
	}
}

// --- a database whose users may hold several passwords (Redis ACLs,
// MySQL dual passwords) ---

type multiDB struct {
	mu sync.Mutex
	pw map[string][]string
}

func (d *multiDB) login(user, pw string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if pw == "" || !slices.Contains(d.pw[user], pw) {
		return fmt.Errorf("user %s: %w", user, errAuth)
	}
	return nil
}

// add gives user one more password, keeping the others (ACL SETUSER
// without resetpass).
func (d *multiDB) add(user, pw string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pw[user] = append(d.pw[user], pw)
}

func (d *multiDB) probe(_ context.Context, s *rotation.Secret) error {
	user, pw, err := credentials(s)
	if err != nil {
		return err
	}
	return d.login(user, pw)
}

// addingRotator adds the pending password to the pending user instead of
// replacing the old one; with alternate set it alternates between app and
// app_clone.
type addingRotator struct {
	db        *multiDB
	alternate bool
}

func (r addingRotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	user, err := current.Get("username")
	if err != nil {
		return nil, err
	}
	pw, err := newPassword()
	if err != nil {
		return nil, err
	}
	if r.alternate {
		user = otherUser(user)
	}
	p, err := current.With(map[string]any{"username": user, "password": pw})
	return &rotation.CreateResponse{Pending: p}, err
}

func (r addingRotator) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	user, pw, err := credentials(req.Pending)
	if err != nil {
		return nil, err
	}
	if r.db.login(user, pw) != nil {
		r.db.add(user, pw)
	}
	return &rotation.SetResponse{}, nil
}

func (r addingRotator) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	user, pw, err := credentials(req.Pending)
	if err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, r.db.login(user, pw)
}

func multiFactory(alternate bool) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := &multiDB{pw: map[string][]string{"app": {"app-password-1"}, "app_clone": {"clone-password-1"}}}
		return &rotationtest.Fixture{
			Secret: `{"username":"app","password":"app-password-1","host":"db.internal"}`,
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				return newHandler(c, l, addingRotator{db, alternate}, nil)
			},
			Probe:        db.probe,
			ZeroDowntime: alternate,
		}, nil
	}
}

// --- broken single-user rotators built on the toy database ---

// createFunc makes the pending value from the current one.
type createFunc func(req *rotation.CreateRequest) (*rotation.Secret, error)

// customCreate is a single-user rotator whose Create is replaced.
type customCreate struct {
	singleUser
	create createFunc
}

func (r customCreate) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	p, err := r.create(req)
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

func withCreate(create func(db *confDB) createFunc) dbRotator {
	return func(db *confDB, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
		return customCreate{singleUser{db}, create(db)}
	}
}

// misspeltCreate writes the new password under "passwrod".
func misspeltCreate(*confDB) createFunc {
	return func(req *rotation.CreateRequest) (*rotation.Secret, error) {
		pw, err := newPassword()
		if err != nil {
			return nil, err
		}
		current, err := req.Current(context.Background())
		if err != nil {
			return nil, err
		}
		return current.With(map[string]any{"passwrod": pw})
	}
}

// rebuildingCreate builds the pending value from scratch with only the
// user name and password, dropping every other field.
func rebuildingCreate(*confDB) createFunc {
	return func(req *rotation.CreateRequest) (*rotation.Secret, error) {
		current, err := req.Current(context.Background())
		if err != nil {
			return nil, err
		}
		user, err := current.Get("username")
		if err != nil {
			return nil, err
		}
		pw, err := newPassword()
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(map[string]string{"username": user, "password": pw})
		return rotation.NewString(string(b)), err
	}
}

// resolvingCreate "helpfully" replaces the host name with an address.
func resolvingCreate(*confDB) createFunc {
	return func(req *rotation.CreateRequest) (*rotation.Secret, error) {
		pw, err := newPassword()
		if err != nil {
			return nil, err
		}
		current, err := req.Current(context.Background())
		if err != nil {
			return nil, err
		}
		return current.With(map[string]any{"password": pw, "host": "10.0.0.7"})
	}
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// timeSeededCreate generates 32 characters with math/rand seeded with the
// time in seconds.
func timeSeededCreate(*confDB) createFunc {
	return func(req *rotation.CreateRequest) (*rotation.Secret, error) {
		rng := mrand.New(mrand.NewSource(time.Now().Unix()))
		b := make([]byte, 32)
		for i := range b {
			b[i] = alnum[rng.Intn(len(alnum))]
		}
		current, err := req.Current(context.Background())
		if err != nil {
			return nil, err
		}
		return current.With(map[string]any{"password": string(b)})
	}
}

// digitsCreate generates 8 random digits.
func digitsCreate(*confDB) createFunc {
	return func(req *rotation.CreateRequest) (*rotation.Secret, error) {
		n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
		if err != nil {
			return nil, err
		}
		current, err := req.Current(context.Background())
		if err != nil {
			return nil, err
		}
		return current.With(map[string]any{"password": fmt.Sprintf("%08d", n)})
	}
}

// flipFlopCreate alternates between two strong passwords generated once,
// when the rotator is built.
func flipFlopCreate(*confDB) createFunc {
	a, _ := newPassword()
	b, _ := newPassword()
	return func(req *rotation.CreateRequest) (*rotation.Secret, error) {
		current, err := req.Current(context.Background())
		if err != nil {
			return nil, err
		}
		pw, err := current.Get("password")
		if err != nil {
			return nil, err
		}
		next := a
		if pw == a {
			next = b
		}
		return current.With(map[string]any{"password": next})
	}
}

// noopSetTrustingTest is a single-user rotator whose Set does nothing
// ("the password is synced later") and whose Test only checks that the
// pending value has a user name and a password.
type noopSetTrustingTest struct{ singleUser }

func (noopSetTrustingTest) Set(context.Context, *rotation.SetRequest) (*rotation.SetResponse, error) {
	return &rotation.SetResponse{}, nil
}

func (noopSetTrustingTest) Test(_ context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	if _, _, err := credentials(req.Pending); err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, nil
}

// userOnlyTest is a single-user rotator whose Test only checks that the
// pending user exists.
type userOnlyTest struct{ singleUser }

func (r userOnlyTest) Test(_ context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	user, err := req.Pending.Get("username")
	if err != nil {
		return nil, err
	}
	r.db.mu.Lock()
	defer r.db.mu.Unlock()
	if _, ok := r.db.pw[user]; !ok {
		return nil, fmt.Errorf("user %s: %w", user, errAuth)
	}
	return &rotation.TestResponse{}, nil
}

// --- broken alternating-users rotators ---

// currentUserCreate "pre-provisions" the new password in Create, on the
// current user instead of the alternate.
type currentUserCreate struct{ alternating }

func (r currentUserCreate) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	resp, err := r.alternating.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	user, err := current.Get("username")
	if err != nil {
		return nil, err
	}
	_, pw, err := credentials(resp.Pending)
	if err != nil {
		return nil, err
	}
	admin, adminPW, err := r.admin(ctx, current)
	if err != nil {
		return nil, err
	}
	return resp, r.db.adminSet(admin, adminPW, user, pw)
}

// sweepingAlternating "cleans up stale users" in Finish: it revokes the
// password of every user but the admin and the two the secret uses,
// another application's user included.
type sweepingAlternating struct{ alternating }

func (r sweepingAlternating) Finish(ctx context.Context, req *rotation.FinishRequest) (*rotation.FinishResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	user, err := cur.Get("username")
	if err != nil {
		return nil, err
	}
	admin, adminPW, err := r.admin(ctx, cur)
	if err != nil {
		return nil, err
	}
	r.db.mu.Lock()
	var others []string
	for u := range r.db.pw {
		if u != admin && u != user && u != otherUser(user) {
			others = append(others, u)
		}
	}
	r.db.mu.Unlock()
	for _, u := range others {
		if err := r.db.adminSet(admin, adminPW, u, ""); err != nil {
			return nil, err
		}
	}
	return &rotation.FinishResponse{}, nil
}

// alternatingWithNeighbour is alternatingFactory's service with another
// application's user, other_app, whose secret is the fixture's Neighbour.
func alternatingWithNeighbour(mk dbRotator) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := newConfDB(map[string]string{
			"admin":     "admin-password-1",
			"app":       "app-password-1",
			"app_clone": "clone-password-1",
			"other_app": "other-password-1",
		})
		return &rotationtest.Fixture{
			Secret:    `{"username":"app","password":"app-password-1","masterarn":"conformance/admin"}`,
			Others:    map[string]string{"conformance/admin": `{"username":"admin","password":"admin-password-1"}`},
			Neighbour: `{"username":"other_app","password":"other-password-1"}`,
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				return newHandler(c, l, mk(db, c, l), nil)
			},
			Probe:        probeDB(db),
			ZeroDowntime: true,
		}, nil
	}
}

// --- broken two-key rotators ---

// neverRevokes mints a key in Create and never revokes one.
type neverRevokes struct{ twoKeys }

func (r neverRevokes) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	id, secret, err := r.p.mint(req.VersionID)
	if err != nil {
		return nil, err
	}
	current, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	p, err := current.With(map[string]any{"keyId": id, "apiKey": secret})
	return &rotation.CreateResponse{Pending: p}, err
}

func (neverRevokes) Finish(context.Context, *rotation.FinishRequest) (*rotation.FinishResponse, error) {
	return &rotation.FinishResponse{}, nil
}

// idOnlyTest is a two-key rotator whose Test only checks that the key id
// is active at the provider.
type idOnlyTest struct{ twoKeys }

func (r idOnlyTest) Test(_ context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	id := keyIDOf(req.Pending)
	for _, k := range r.p.active() {
		if k.id == id {
			return &rotation.TestResponse{}, nil
		}
	}
	return nil, fmt.Errorf("key %s: %w", id, errAuth)
}

// twoKeysWithNeighbour is twoKeysFactory's provider with a key of another
// application minted first: the toy twoKeys rotator's cleanup (revoke
// every key the secret does not hold) is not scoped to the secret.
func twoKeysWithNeighbour(limit int, mk keyRotator) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		p := &confProvider{limit: limit}
		nid, nsecret, err := p.mint("another application")
		if err != nil {
			return nil, err
		}
		fx, err := twoKeysFactory(limit, mk, nil, nil)(ctx)
		if err != nil {
			return nil, err
		}
		// Rebuild the fixture on p, which holds the neighbour's key.
		id, secret, err := p.mint("initial")
		if err != nil {
			return nil, err
		}
		fx.Secret = fmt.Sprintf(`{"keyId":%q,"apiKey":%q}`, id, secret)
		fx.Neighbour = fmt.Sprintf(`{"keyId":%q,"apiKey":%q}`, nid, nsecret)
		fx.NewHandler = func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
			return newHandler(c, l, mk(p, c, l), nil)
		}
		fx.Probe = func(_ context.Context, s *rotation.Secret) error {
			id, secret, err := keyOf(s)
			if err != nil {
				return err
			}
			return p.auth(id, secret)
		}
		return fx, nil
	}
}

// --- probes that prove nothing ---

// shapeProbe accepts any value with a user name and a password of 8
// characters or more.
func shapeProbe(_ context.Context, s *rotation.Secret) error {
	_, pw, err := credentials(s)
	if err == nil && len(pw) < 8 {
		err = errors.New("password too short")
	}
	return err
}

// probeIsTest is the natural first draft: the rotator's own Test, here
// one that checks the shape of the value, as the Probe.
func probeIsTest(ctx context.Context) (*rotationtest.Fixture, error) {
	db := newConfDB(map[string]string{"app": "initial-password-1"})
	r := noopSetTrustingTest{singleUser{db}}
	return &rotationtest.Fixture{
		Secret: `{"username":"app","password":"initial-password-1","host":"db.internal"}`,
		NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
			return newHandler(c, l, r, nil)
		},
		Probe: func(ctx context.Context, s *rotation.Secret) error {
			_, err := r.Test(ctx, &rotation.TestRequest{Pending: s})
			return err
		},
	}, nil
}

// probeSanity stands for the check made before the rules: it reports a
// fixture error, not a violation.
const probeSanity = "probe-sanity"

// outcomeBugs are the broken rotators of issue 10's classes 1 to 8, each
// with the rules (or probeSanity) that must report it.
var outcomeBugs = []struct {
	class   int
	name    string
	factory rotationtest.Factory
	want    []string
}{
	{1, "the Probe is the rotator's own Test", probeIsTest, []string{probeSanity}},
	{1, "the Probe checks only the shape of the value",
		withFixture(singleUserFactory(correctSingleUser, nil), func(fx *rotationtest.Fixture) { fx.Probe = shapeProbe }),
		[]string{probeSanity}},

	{2, "writes the new password under a misspelt field",
		singleUserFactory(withCreate(misspeltCreate), nil), []string{"credential-changed"}},
	{2, "Set is a no-op and Test trusts the value",
		singleUserFactory(func(db *confDB, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
			return noopSetTrustingTest{singleUser{db}}
		}, nil), []string{"credential-changed", "rotates"}},

	{3, "alternating users whose old password stays valid (a password added, not replaced)",
		multiFactory(true), []string{"old-credentials-retired"}},
	{3, "single user adding a password instead of replacing it",
		multiFactory(false), []string{"credential-changed", "old-credentials-retired"}},
	{3, "two keys never revoked",
		twoKeysFactory(10, func(p *confProvider, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
			return neverRevokes{twoKeys{p}}
		}, nil, nil), []string{"old-credentials-retired"}},

	{4, "Create rebuilds the secret with only username and password",
		singleUserFactory(withCreate(rebuildingCreate), nil), []string{"secret-preserved"}},
	{4, "Create rewrites the host field",
		singleUserFactory(withCreate(resolvingCreate), nil), []string{"secret-preserved"}},

	{5, "math/rand seeded with the time",
		singleUserFactory(withCreate(timeSeededCreate), nil), []string{"strong-credentials"}},
	{5, "8 random digits",
		singleUserFactory(withCreate(digitsCreate), nil), []string{"strong-credentials"}},
	{5, "two fixed passwords in turn",
		singleUserFactory(withCreate(flipFlopCreate), nil), []string{"strong-credentials"}},

	{6, "single-user Create changes the live password",
		singleUserFactory(broken(func(r *brokenSingleUser) { r.createSetsTarget = true }), nil),
		[]string{"create-has-no-side-effect"}},
	{6, "alternating Create sets the new password on the current user",
		alternatingFactory(func(db *confDB, c rotation.Client, _ *slog.Logger) rotation.Rotator {
			return currentUserCreate{alternating{db: db, client: c}}
		}, nil), []string{"create-has-no-side-effect"}},

	{7, "a key cleanup not scoped to the secret revokes another application's key",
		twoKeysWithNeighbour(3, correctTwoKeys), []string{"neighbours-untouched"}},
	{7, "a user cleanup not scoped to the secret revokes another application's user",
		alternatingWithNeighbour(func(db *confDB, c rotation.Client, _ *slog.Logger) rotation.Rotator {
			return sweepingAlternating{alternating{db: db, client: c}}
		}), []string{"neighbours-untouched"}},

	{8, "two-key Test checks only that the key id exists",
		twoKeysFactory(2, func(p *confProvider, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
			return idOnlyTest{twoKeys{p}}
		}, nil, nil), []string{"test-really-tests"}},
	{8, "single-user Test checks only that the user exists",
		singleUserFactory(func(db *confDB, _ rotation.Client, _ *slog.Logger) rotation.Rotator {
			return userOnlyTest{singleUser{db}}
		}, nil), []string{"test-really-tests"}},
}

func TestOutcomeBugsAreCaught(t *testing.T) {
	var mu sync.Mutex
	caught := map[int]int{}
	total := map[int]int{}
	for _, tt := range outcomeBugs {
		total[tt.class]++
		t.Run(fmt.Sprintf("class%d/%s", tt.class, tt.name), func(t *testing.T) {
			t.Parallel()
			_, err := rotationtest.Check(t.Context(), tt.factory)
			if err == nil {
				t.Fatalf("Check found nothing; want %v", tt.want)
			}
			vs := rotationtest.Violations(err)
			byRule := map[string]bool{}
			for _, v := range vs {
				byRule[v.Rule] = true
			}
			if len(vs) == 0 && strings.Contains(err.Error(), "the fixture's Probe accepts") {
				byRule[probeSanity] = true
				for _, w := range []string{"independently of the rotator", "never the rotator's Test"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("the Probe error does not advise %q: %v", w, err)
					}
				}
			}
			ok := true
			for _, w := range tt.want {
				if !byRule[w] {
					ok = false
					t.Errorf("%s did not catch it; caught by %v:\n%v", w, keys(byRule), err)
				}
			}
			if ok {
				mu.Lock()
				caught[tt.class]++
				mu.Unlock()
			}
			t.Logf("caught by %v", keys(byRule))
		})
	}
	t.Cleanup(func() {
		var classes []int
		for c := range total {
			classes = append(classes, c)
		}
		sort.Ints(classes)
		for _, c := range classes {
			t.Logf("class %d: %d of %d broken rotators caught by the intended rule", c, caught[c], total[c])
		}
	})
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestNeighbourNoFalsePositive: a correct rotator with a neighbour on its
// target passes every rule, neighbours-untouched included.
func TestNeighbourNoFalsePositive(t *testing.T) {
	rep, err := rotationtest.Check(t.Context(), alternatingWithNeighbour(correctAlternating))
	if err != nil {
		t.Fatalf("Check found violations of a correct rotator:\n%v", err)
	}
	for _, s := range rep.Skipped {
		if strings.HasPrefix(s, "neighbours-untouched") {
			t.Errorf("neighbours-untouched was skipped: %s", s)
		}
	}
}
