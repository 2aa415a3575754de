package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"github.com/rotationkit/rotation/strategy"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// keyValue is a two-keys secret value.
func keyValue(id, secret string) string {
	return `{"service":"toy","key_id":"` + id + `","api_key":"` + secret + `"}`
}

// keyRole describes one key a test seeds at the provider.
type keyRole struct {
	label   string        // "prev", "cur", "pending" (stored in that version), or "" for unlabelled
	age     time.Duration // how long before the test's start it was minted
	zero    bool          // the provider does not report when it was minted
	revoked bool          // no longer active
}

// keyWorld is a world rotating a toyKeyAPI secret with TwoKeys.
type keyWorld struct {
	*world
	p     *keyAPI
	clock *localsm.ManualClock
	ids   []string // the seeded keys' ids, in the order given
}

// newKeyWorld seeds the provider with keys and the secret with a version
// per labelled key; placeholder adds an empty AWSPENDING version
// tokPending (a rotation about to run createSecret). wrap, if set, wraps
// the provider the strategy sees.
func newKeyWorld(t *testing.T, limit int, tk strategy.TwoKeys, keys []keyRole, pendingPlaceholder string, wrap func(strategy.KeyProvider) strategy.KeyProvider) *keyWorld {
	t.Helper()
	clock := localsm.NewManualClock(epoch)
	p := newKeyAPI(limit, clock.Now)
	kw := &keyWorld{p: p, clock: clock}
	var versions []localsm.Version
	tokens := map[string]string{"prev": tokPrev, "cur": tokCur, "pending": tokPending}
	stages := map[string]string{"prev": "AWSPREVIOUS", "cur": "AWSCURRENT", "pending": "AWSPENDING"}
	for _, k := range keys {
		created := epoch.Add(-k.age)
		if k.zero {
			created = time.Time{}
		}
		p.mu.Lock()
		id, secret := p.newKeyLocked(created)
		if k.revoked {
			p.keys[id].Active = false
		}
		p.mu.Unlock()
		kw.ids = append(kw.ids, id)
		if k.label != "" {
			versions = append(versions, ver(tokens[k.label], keyValue(id, secret), stages[k.label]))
		}
	}
	if pendingPlaceholder != "" {
		versions = append(versions, placeholder(pendingPlaceholder))
	}
	var provider strategy.KeyProvider = p
	if wrap != nil {
		provider = wrap(p)
	}
	tk.Provider = provider
	tk.Now = clock.Now
	kw.world = newWorld(t, nil, func(rotation.Client) rotation.Rotator { return &tk }, versions...)
	p.takeOps()
	return kw
}

// named replaces the seeded keys' ids in ops by k0, k1, ... and later
// minted ones by new1, new2, ... so expectations read plainly.
func (kw *keyWorld) named(ops []string) []string {
	names := map[string]string{}
	for i, id := range kw.ids {
		names[id] = fmt.Sprintf("k%d", i)
	}
	n := 0
	var out []string
	for _, op := range ops {
		verb, id, _ := strings.Cut(op, " ")
		if id != "" {
			if _, ok := names[id]; !ok {
				n++
				names[id] = fmt.Sprintf("new%d", n)
			}
			op = verb + " " + names[id]
		}
		out = append(out, op)
	}
	return out
}

func (kw *keyWorld) activeNamed() []string {
	names := map[string]string{}
	for i, id := range kw.ids {
		names[id] = fmt.Sprintf("k%d", i)
	}
	var out []string
	for _, id := range kw.p.active() {
		if n, ok := names[id]; ok {
			out = append(out, n)
		} else {
			out = append(out, "new")
		}
	}
	return out
}

func TestTwoKeysRotations(t *testing.T) {
	kw := newKeyWorld(t, 2, strategy.TwoKeys{}, []keyRole{{label: "cur", age: time.Hour}}, "", nil)
	tokens := []string{tokPending, tokNext, "44444444-4444-4444-8444-444444444444"}
	var got [][]string
	for _, tok := range tokens {
		kw.clock.Advance(24 * time.Hour)
		if err := kw.rotate(tok); err != nil {
			t.Fatalf("rotation %s: %v", tok[:8], err)
		}
		got = append(got, kw.p.takeOps())
		cur, prev := kw.field(rotation.StageCurrent, "key_id"), kw.field(rotation.StagePrevious, "key_id")
		want := []string{prev, cur}
		slices.Sort(want)
		if diff := cmp.Diff(want, kw.p.active()); diff != "" {
			t.Errorf("after rotation %s, active keys are not exactly AWSCURRENT and AWSPREVIOUS (-want +got):\n%s", tok[:8], diff)
		}
	}
	want := [][]string{
		{"list", "mint key-0002", "list"},
		{"list", "revoke key-0001", "mint key-0003", "list"},
		{"list", "revoke key-0002", "mint key-0004", "list"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("provider calls per rotation (-want +got):\n%s", diff)
	}
	if most, refused := kw.p.stats(); most > 2 || refused > 0 {
		t.Errorf("the provider had up to %d active keys and refused %d mints", most, refused)
	}
}

func TestTwoKeysCreate(t *testing.T) {
	const young, old = 5 * time.Minute, 2 * time.Hour
	tests := []struct {
		name       string
		limit      int
		maxActive  int
		keys       []keyRole
		wantOps    []string
		wantErr    error
		wantActive []string // "new" for the minted key
	}{
		{
			name:       "first rotation: mint",
			keys:       []keyRole{{label: "cur", age: old}},
			wantOps:    []string{"list", "mint new1"},
			wantActive: []string{"k0", "new"},
		},
		{
			name:       "old orphan revoked before minting",
			keys:       []keyRole{{label: "cur", age: old}, {age: old}},
			wantOps:    []string{"list", "revoke k1", "mint new1"},
			wantActive: []string{"k0", "new"},
		},
		{
			name:       "orphan with no creation time counts as old",
			keys:       []keyRole{{label: "cur", age: old}, {zero: true}},
			wantOps:    []string{"list", "revoke k1", "mint new1"},
			wantActive: []string{"k0", "new"},
		},
		{
			name:       "at the limit: AWSPREVIOUS revoked to make room",
			keys:       []keyRole{{label: "prev", age: old}, {label: "cur", age: old}},
			wantOps:    []string{"list", "revoke k0", "mint new1"},
			wantActive: []string{"k1", "new"},
		},
		{
			name:       "below the limit: AWSCURRENT and AWSPREVIOUS kept",
			limit:      3,
			maxActive:  3,
			keys:       []keyRole{{label: "prev", age: old}, {label: "cur", age: old}},
			wantOps:    []string{"list", "mint new1"},
			wantActive: []string{"k0", "k1", "new"},
		},
		{
			name:       "below the limit: only the old orphan revoked",
			limit:      3,
			maxActive:  3,
			keys:       []keyRole{{label: "prev", age: old}, {label: "cur", age: old}, {age: old}},
			wantOps:    []string{"list", "revoke k2", "mint new1"},
			wantActive: []string{"k0", "k1", "new"},
		},
		{
			name:       "young orphan in the way: left alone",
			keys:       []keyRole{{label: "cur", age: old}, {age: young}},
			wantOps:    []string{"list"},
			wantErr:    strategy.ErrKeyLimit,
			wantActive: []string{"k0", "k1"},
		},
		{
			name:       "young orphan and AWSPREVIOUS already revoked: left alone",
			keys:       []keyRole{{label: "prev", age: old, revoked: true}, {label: "cur", age: old}, {age: young}},
			wantOps:    []string{"list"},
			wantErr:    strategy.ErrKeyLimit,
			wantActive: []string{"k1", "k2"},
		},
		{
			name:       "young orphan below the limit: kept, mint",
			limit:      3,
			maxActive:  3,
			keys:       []keyRole{{label: "cur", age: old}, {age: young}},
			wantOps:    []string{"list", "mint new1"},
			wantActive: []string{"k0", "k1", "new"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := tt.limit
			if limit == 0 {
				limit = 2
			}
			kw := newKeyWorld(t, limit, strategy.TwoKeys{MaxActive: tt.maxActive}, tt.keys, tokPending, nil)
			before := kw.state()
			err := kw.step(rotation.StepCreate, tokPending)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("createSecret: got %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantOps, kw.named(kw.p.takeOps())); diff != "" {
				t.Errorf("provider calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantActive, kw.activeNamed()); diff != "" {
				t.Errorf("active keys (-want +got):\n%s", diff)
			}
			pending := kw.field(rotation.StagePending, "key_id")
			switch {
			case tt.wantErr != nil:
				if diff := cmp.Diff(before, kw.state()); diff != "" {
					t.Errorf("a refused createSecret changed Secrets Manager (-before +after):\n%s", diff)
				}
			case !slices.Contains(kw.p.active(), pending):
				t.Errorf("the stored AWSPENDING key %q is not active", pending)
			}
		})
	}
}

// TestTwoKeysYoungOrphanAges checks that an orphan left alone while young
// is revoked once older than OrphanAge, and the rotation then proceeds.
func TestTwoKeysYoungOrphanAges(t *testing.T) {
	kw := newKeyWorld(t, 2, strategy.TwoKeys{OrphanAge: 10 * time.Minute},
		[]keyRole{{label: "prev", age: 24 * time.Hour, revoked: true}, {label: "cur", age: 24 * time.Hour}, {age: time.Minute}}, tokPending, nil)
	if err := kw.step(rotation.StepCreate, tokPending); !errors.Is(err, strategy.ErrKeyLimit) {
		t.Fatalf("createSecret with a young orphan: got %v, want ErrKeyLimit", err)
	}
	kw.clock.Advance(8*time.Minute + 59*time.Second)
	if err := kw.step(rotation.StepCreate, tokPending); !errors.Is(err, strategy.ErrKeyLimit) {
		t.Fatalf("createSecret with an orphan just under OrphanAge: got %v, want ErrKeyLimit", err)
	}
	kw.clock.Advance(time.Second)
	if err := kw.steps(tokPending); err != nil {
		t.Fatalf("rotation once the orphan is OrphanAge old: %v", err)
	}
	want := []string{"list", "list", "list", "revoke k2", "mint new1", "list"}
	if diff := cmp.Diff(want, kw.named(kw.p.takeOps())); diff != "" {
		t.Errorf("provider calls (-want +got):\n%s", diff)
	}
}

// TestTwoKeysDiscard checks that a minted key whose PutSecretValue the
// service refused is revoked at once; that one failed write is settled by
// the Handler's retry of the same write; and that when the outcome stays
// unknown the key is not revoked, and is cleaned up as an orphan once old
// enough.
func TestTwoKeysDiscard(t *testing.T) {
	t.Run("refused: revoked", func(t *testing.T) {
		kw := newKeyWorld(t, 2, strategy.TwoKeys{}, []keyRole{{label: "prev"}, {label: "cur"}}, tokPending, nil)
		kw.client.Arm(rotationtest.Fail("PutSecretValue", 0, rotationtest.ErrThrottling))
		err := kw.step(rotation.StepCreate, tokPending)
		if !errors.Is(err, rotationtest.ErrThrottling) {
			t.Fatalf("createSecret: got %v, want the injected ThrottlingException", err)
		}
		if diff := cmp.Diff([]string{"list", "revoke k0", "mint new1", "revoke new1"}, kw.named(kw.p.takeOps())); diff != "" {
			t.Errorf("provider calls (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"k1"}, kw.activeNamed()); diff != "" {
			t.Errorf("active keys (-want +got):\n%s", diff)
		}
		kw.client.Arm()
		if err := kw.step(rotation.StepCreate, tokPending); err != nil {
			t.Fatalf("createSecret retried: %v", err)
		}
		if diff := cmp.Diff([]string{"k1", "new"}, kw.activeNamed()); diff != "" {
			t.Errorf("active keys after the retry (-want +got):\n%s", diff)
		}
	})
	t.Run("one failed write: settled by the retried write", func(t *testing.T) {
		kw := newKeyWorld(t, 2, strategy.TwoKeys{}, []keyRole{{label: "prev"}, {label: "cur"}}, tokPending, nil)
		kw.client.Arm(rotationtest.Fail("PutSecretValue", 1, rotationtest.ErrInternal))
		if err := kw.step(rotation.StepCreate, tokPending); err != nil {
			t.Fatalf("createSecret: %v", err)
		}
		if diff := cmp.Diff([]string{"list", "revoke k0", "mint new1"}, kw.named(kw.p.takeOps())); diff != "" {
			t.Errorf("provider calls (-want +got):\n%s", diff)
		}
	})
	t.Run("outcome unknown: kept until old", func(t *testing.T) {
		kw := newKeyWorld(t, 2, strategy.TwoKeys{}, []keyRole{{label: "prev"}, {label: "cur"}}, tokPending, nil)
		// Both the write and its retry end in a server fault: the value
		// may still land, so the key must not be revoked.
		kw.client.Arm(rotationtest.Fail("PutSecretValue", 0, rotationtest.ErrInternal))
		if err := kw.step(rotation.StepCreate, tokPending); err == nil {
			t.Fatal("createSecret succeeded despite the failed write")
		}
		if diff := cmp.Diff([]string{"list", "revoke k0", "mint new1"}, kw.named(kw.p.takeOps())); diff != "" {
			t.Errorf("provider calls (-want +got):\n%s", diff)
		}
		kw.client.Arm()
		if err := kw.step(rotation.StepCreate, tokPending); !errors.Is(err, strategy.ErrKeyLimit) {
			t.Fatalf("createSecret retried at once: got %v, want ErrKeyLimit (the orphan may still be stored by its invocation)", err)
		}
		kw.clock.Advance(16 * time.Minute)
		if err := kw.steps(tokPending); err != nil {
			t.Fatalf("rotation after OrphanAge: %v", err)
		}
		if most, _ := kw.p.stats(); most > 2 {
			t.Errorf("the provider had %d active keys", most)
		}
	})
}

func TestTwoKeysFinish(t *testing.T) {
	const young, old = 5 * time.Minute, 2 * time.Hour
	tests := []struct {
		name       string
		keys       []keyRole
		newer      bool   // a newer rotation's placeholder holds AWSPENDING
		token      string // the version finishSecret runs for
		wantOps    []string
		wantActive []string
	}{
		{
			name:       "finishing: keeps the new AWSCURRENT and AWSPREVIOUS, revokes an orphan of this rotation",
			keys:       []keyRole{{label: "cur", age: old}, {label: "pending", age: young}, {age: young}},
			token:      tokPending,
			wantOps:    []string{"list", "revoke k2"},
			wantActive: []string{"k0", "k1"},
		},
		{
			name:       "finishing: revokes the key older than AWSPREVIOUS",
			keys:       []keyRole{{label: "prev", age: old}, {label: "cur", age: old}, {label: "pending", age: young}},
			token:      tokPending,
			wantOps:    []string{"list", "revoke k0"},
			wantActive: []string{"k1", "k2"},
		},
		{
			name:       "late replay: keeps a newer rotation's stored AWSPENDING",
			keys:       []keyRole{{label: "prev", age: old}, {label: "cur", age: old}, {label: "pending", age: old}, {age: old}},
			token:      tokCur,
			wantOps:    []string{"list", "revoke k3"},
			wantActive: []string{"k0", "k1", "k2"},
		},
		{
			name:       "late replay: spares a young key a newer createSecret may be storing",
			keys:       []keyRole{{label: "prev", age: old, revoked: true}, {label: "cur", age: old}, {age: time.Second}},
			newer:      true,
			token:      tokCur,
			wantOps:    []string{"list"},
			wantActive: []string{"k1", "k2"},
		},
		{
			name:       "late replay: revokes an old unlabelled key",
			keys:       []keyRole{{label: "cur", age: old}, {age: old}},
			newer:      true,
			token:      tokCur,
			wantOps:    []string{"list", "revoke k1"},
			wantActive: []string{"k0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ph := ""
			if tt.newer {
				ph = tokPending
			}
			kw := newKeyWorld(t, 4, strategy.TwoKeys{MaxActive: 4}, tt.keys, ph, nil)
			if err := kw.step(rotation.StepFinish, tt.token); err != nil {
				t.Fatalf("finishSecret: %v", err)
			}
			if diff := cmp.Diff(tt.wantOps, kw.named(kw.p.takeOps())); diff != "" {
				t.Errorf("provider calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantActive, kw.activeNamed()); diff != "" {
				t.Errorf("active keys (-want +got):\n%s", diff)
			}
			// A replay changes nothing more.
			if err := kw.step(rotation.StepFinish, tt.token); err != nil {
				t.Fatalf("finishSecret replayed: %v", err)
			}
			if diff := cmp.Diff(tt.wantActive, kw.activeNamed()); diff != "" {
				t.Errorf("active keys after a replay (-want +got):\n%s", diff)
			}
		})
	}
}

// hookProvider calls hooks around a KeyProvider's calls.
type hookProvider struct {
	strategy.KeyProvider
	afterList func()
	afterMint func()
}

func (h *hookProvider) List(ctx context.Context, cur *rotation.Secret) ([]strategy.Key, error) {
	keys, err := h.KeyProvider.List(ctx, cur)
	if h.afterList != nil {
		h.afterList()
	}
	return keys, err
}

func (h *hookProvider) Mint(ctx context.Context, cur *rotation.Secret) (map[string]any, error) {
	fields, err := h.KeyProvider.Mint(ctx, cur)
	if h.afterMint != nil {
		h.afterMint()
	}
	return fields, err
}

// TestTwoKeysLateFinishDuringCreate replays the previous rotation's
// finishSecret between a createSecret's Mint and its PutSecretValue. The
// replay must not revoke the key about to be stored, or the new rotation's
// pending value is dead and testSecret fails on every retry.
func TestTwoKeysLateFinishDuringCreate(t *testing.T) {
	var kw *keyWorld
	var once sync.Once
	var replayErr error
	hook := &hookProvider{}
	hook.afterMint = func() {
		once.Do(func() { replayErr = kw.step(rotation.StepFinish, tokCur) })
	}
	kw = newKeyWorld(t, 2, strategy.TwoKeys{}, []keyRole{{label: "prev", age: 24 * time.Hour}, {label: "cur", age: 24 * time.Hour}}, "",
		func(p strategy.KeyProvider) strategy.KeyProvider { hook.KeyProvider = p; return hook })
	if err := kw.rotate(tokPending); err != nil {
		t.Fatalf("rotation with a late finishSecret replay during createSecret: %v", err)
	}
	if replayErr != nil {
		t.Errorf("the late finishSecret replay failed: %v", replayErr)
	}
	if cur := kw.field(rotation.StageCurrent, "key_id"); !slices.Contains(kw.p.active(), cur) {
		t.Errorf("the new AWSCURRENT key %s is not active", cur)
	}
}

// TestTwoKeysOverlappingCreate runs two createSecret invocations for one
// version at once, both listing before either mints: the worst case for
// the provider's limit.
func TestTwoKeysOverlappingCreate(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		keys   []keyRole
		refuse int // mints the provider must refuse
	}{
		{"first rotation, limit 2", 2, []keyRole{{label: "cur", age: time.Hour}}, 1},
		{"at the limit of 2", 2, []keyRole{{label: "prev", age: time.Hour}, {label: "cur", age: time.Hour}}, 1},
		{"limit 3, room for both", 3, []keyRole{{label: "cur", age: time.Hour}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var listed sync.WaitGroup
			listed.Add(2)
			var calls sync.Mutex
			n := 0
			hook := &hookProvider{afterList: func() {
				calls.Lock()
				n++
				first := n <= 2
				calls.Unlock()
				if first {
					listed.Done()
					listed.Wait() // both have listed before either goes on
				}
			}}
			kw := newKeyWorld(t, tt.limit, strategy.TwoKeys{MaxActive: tt.limit}, tt.keys, tokPending,
				func(p strategy.KeyProvider) strategy.KeyProvider { hook.KeyProvider = p; return hook })
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() { errs[i] = kw.step(rotation.StepCreate, tokPending) })
			}
			wg.Wait()
			if errs[0] != nil && errs[1] != nil {
				t.Fatalf("both createSecret invocations failed: %v", errors.Join(errs...))
			}
			for _, step := range []rotation.Step{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
				if err := kw.step(step, tokPending); err != nil {
					t.Fatalf("%s after the overlap: %v", step, err)
				}
			}
			cur := kw.field(rotation.StageCurrent, "key_id")
			if !slices.Contains(kw.p.active(), cur) {
				t.Errorf("the new AWSCURRENT key %s is not active", cur)
			}
			most, refused := kw.p.stats()
			if most > tt.limit {
				t.Errorf("the provider had %d active keys, over its limit of %d", most, tt.limit)
			}
			if refused != tt.refuse {
				t.Errorf("the provider refused %d mints, want %d", refused, tt.refuse)
			}
			if len(kw.p.active()) > 2 {
				t.Errorf("after finishSecret %d keys are active, want AWSCURRENT and AWSPREVIOUS only", len(kw.p.active()))
			}
		})
	}
}

// TestTwoKeysStress rotates many times, each rotation with overlapping
// invocations of one step and one fault at a random Secrets Manager call,
// retried by the fake service. Every rotation must converge, leave
// AWSCURRENT and AWSPREVIOUS working, and the provider must never exceed
// its limit of two.
func TestTwoKeysStress(t *testing.T) {
	const rotations, attempts = 60, 4
	ctx := context.Background()
	clock := localsm.NewManualClock(epoch)
	p := newKeyAPI(2, clock.Now)
	id, secret := p.addKey(clock.Now())

	fns := localsm.Functions{}
	fake := localsm.New(localsm.Options{Invoker: fns, RotationAttempts: attempts})
	if err := fake.Seed(localsm.Secret{Name: secretName, RotationEnabled: aws.Bool(true), RotationLambdaARN: fnARN,
		Versions: []localsm.Version{ver(tokCur, keyValue(id, secret), "AWSCURRENT")}}); err != nil {
		t.Fatal(err)
	}
	client := rotationtest.NewFaultClient(fake)
	h, err := rotation.New(client, &strategy.TwoKeys{Provider: p, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	base := localsm.InvokerFunc(func(ctx context.Context, _ string, ev events.SecretsManagerSecretRotationEvent) error {
		clock.Advance(time.Minute) // each invocation takes a minute
		return h.Handle(ctx, ev)
	})
	var mu sync.Mutex
	var inv localsm.Invoker = base
	fns[fnARN] = localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
		mu.Lock()
		i := inv
		mu.Unlock()
		return i.Invoke(ctx, fn, ev)
	})

	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []func(n int) rotationtest.Fault{
		func(n int) rotationtest.Fault { return rotationtest.Fail("", n, rotationtest.ErrThrottling) },
		func(n int) rotationtest.Fault { return rotationtest.Lose("", n) },
		func(n int) rotationtest.Fault { return rotationtest.Fail("", n, context.DeadlineExceeded) },
	}
	steps := rotation.Steps()
	for i := range rotations {
		clock.Advance(24 * time.Hour)
		step := steps[rng.IntN(len(steps))]
		mu.Lock()
		inv = rotationtest.Overlap(base, step, 1)
		mu.Unlock()
		client.Arm(kinds[rng.IntN(len(kinds))](1 + rng.IntN(16)))
		r, err := fake.Rotate(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(secretName), RotationLambdaARN: aws.String(fnARN)})
		if err != nil {
			t.Fatalf("rotation %d (overlapping %s): did not converge in %d attempts: %v", i, step, attempts, err)
		}
		s, _ := fake.Secret(secretName)
		if v, _ := s.Staged("AWSCURRENT"); v.ID != r.VersionID {
			t.Fatalf("rotation %d: AWSCURRENT is not on the new version", i)
		}
		for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
			v, _ := s.Staged(stage)
			if err := p.Test(ctx, rotation.NewString(aws.ToString(v.SecretString))); err != nil {
				t.Fatalf("rotation %d: %s does not authenticate: %v", i, stage, err)
			}
		}
	}
	most, refused := p.stats()
	if most > 2 {
		t.Errorf("the provider had %d active keys at once, over its limit of 2", most)
	}
	t.Logf("%d rotations; the provider refused %d mints at its limit; most active keys at once: %d", rotations, refused, most)
}
