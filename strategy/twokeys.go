package strategy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rotationkit/rotation"
)

// KeyProvider is what TwoKeys needs from a service that mints credentials
// (an API-key service, an OAuth authorization server, an access-key API).
// Implementations must be safe for concurrent use.
type KeyProvider interface {
	// Mint creates a new credential, authenticating with current, and
	// returns the fields to store in the pending value. They must include
	// the key id field (TwoKeys.IDField).
	Mint(ctx context.Context, current *rotation.Secret) (map[string]any, error)

	// List returns the active credentials that belong to this secret,
	// authenticating with current. It must NOT return credentials of other
	// applications or other secrets on the same account: TwoKeys revokes
	// every listed credential that the secret's versions do not hold. Scope
	// it by a name or tag the provider records at Mint.
	List(ctx context.Context, current *rotation.Secret) ([]Key, error)

	// Revoke deactivates credential id. Revoking one that no longer exists
	// must succeed.
	Revoke(ctx context.Context, current *rotation.Secret, id string) error

	// Test returns nil if secret authenticates. It must not change anything.
	Test(ctx context.Context, secret *rotation.Secret) error
}

// Key is an active credential as a provider lists it.
type Key struct {
	ID string
	// Created is when the credential was minted; zero if the provider does
	// not say. A credential with no creation time counts as old, so it is
	// revoked as an orphan: report it whenever the provider can, or an
	// overlapping createSecret may revoke the credential another invocation
	// is about to store, leaving a pending value that never authenticates
	// (Diagnose then shows the rotation stuck; remove AWSPENDING to recover,
	// which is safe for this strategy).
	Created time.Time
}

// TwoKeys rotates provider-minted credentials while keeping the previous
// one valid: clients that cached AWSCURRENT keep working through and after
// a rotation.
//
// Create first revokes orphans: active credentials that neither AWSCURRENT
// nor AWSPREVIOUS holds, minted by an earlier createSecret whose value was
// never stored. An orphan younger than OrphanAge may belong to an
// overlapping invocation that is about to store it, so it is left alone
// (and Create fails with ErrKeyLimit if it is in the way). If the provider
// is still at its limit, Create revokes the AWSPREVIOUS credential, which
// was replaced a whole rotation interval ago: with a limit of two that is
// what makes room, and it is the credential "older than AWSPREVIOUS" once
// this rotation finishes. It never revokes AWSCURRENT. Only then does it
// mint. When the minted value is not stored, Discard revokes it at once.
// Finish revokes every credential but the new AWSCURRENT and AWSPREVIOUS,
// so the credential just replaced stays valid until the next rotation (on
// a late replay of finishSecret it leaves young credentials alone, as
// Create does).
type TwoKeys struct {
	Provider KeyProvider

	// IDField names the field holding the credential's id; default "key_id".
	IDField string

	// MaxActive is the provider's limit of active credentials; default 2.
	MaxActive int

	// OrphanAge is how old an unreferenced credential must be before
	// Create revokes it; default 15 minutes, the longest a Lambda
	// invocation can run.
	OrphanAge time.Duration

	// Now is the clock compared with Key.Created; default time.Now.
	Now func() time.Time
}

var (
	_ rotation.Rotator   = (*TwoKeys)(nil)
	_ rotation.Finisher  = (*TwoKeys)(nil)
	_ rotation.Discarder = (*TwoKeys)(nil)
)

// Validate reports a configuration that cannot work, naming the field.
// rotation.New calls it.
func (k *TwoKeys) Validate() error {
	switch {
	case k == nil:
		return errors.New("strategy: TwoKeys is nil")
	case k.Provider == nil:
		return errors.New("strategy: TwoKeys.Provider is nil")
	case k.MaxActive == 1 || k.MaxActive < 0:
		return errors.New("strategy: TwoKeys.MaxActive must be at least 2 (AWSCURRENT and the new credential); 0 means 2")
	}
	return nil
}

func (k *TwoKeys) orphanAge() time.Duration {
	if k.OrphanAge <= 0 {
		return 15 * time.Minute
	}
	return k.OrphanAge
}

func (k *TwoKeys) now() time.Time {
	if k.Now == nil {
		return time.Now()
	}
	return k.Now()
}

// ErrKeyLimit means the provider is at its limit of active credentials and
// none can be revoked safely.
var ErrKeyLimit = errors.New("provider's active credential limit reached")

func (k *TwoKeys) idField() string { return orDefault(k.IDField, "key_id") }

func (k *TwoKeys) maxActive() int {
	if k.MaxActive <= 0 {
		return 2
	}
	return k.MaxActive
}

// keyID returns the credential id held by s, or "" for nil.
func (k *TwoKeys) keyID(s *rotation.Secret) (string, error) {
	if s == nil {
		return "", nil
	}
	return s.Get(k.idField())
}

// heldID returns the credential id s holds, or "" for nil or a value
// without one (a version from before this strategy was used, which then
// protects nothing).
func (k *TwoKeys) heldID(s *rotation.Secret) string {
	if s == nil {
		return ""
	}
	id, _, _ := s.Lookup(k.idField())
	return id
}

// Create revokes orphans (and, at the limit, the AWSPREVIOUS credential),
// then mints a credential into the pending value.
func (k *TwoKeys) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	curID, err := k.keyID(cur)
	if err != nil {
		return nil, err
	}
	prev, err := req.Previous(ctx)
	if err != nil {
		return nil, err
	}
	prevID := k.heldID(prev)
	active, err := k.Provider.List(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	if !slices.ContainsFunc(active, func(key Key) bool { return key.ID == curID }) {
		return nil, fmt.Errorf("the AWSCURRENT credential (field %q) is not active at the provider; refusing to mint", k.idField())
	}
	n := 0
	young := 0
	now := k.now()
	for _, key := range active {
		switch {
		case key.ID == curID || (key.ID == prevID && prevID != ""):
			n++
		case !key.Created.IsZero() && now.Sub(key.Created) < k.orphanAge():
			n++
			young++
		default:
			if err := k.Provider.Revoke(ctx, cur, key.ID); err != nil {
				return nil, fmt.Errorf("revoke orphaned credential: %w", err)
			}
		}
	}
	if n >= k.maxActive() {
		if prevID == "" || prevID == curID || !slices.ContainsFunc(active, func(key Key) bool { return key.ID == prevID }) {
			return nil, fmt.Errorf("%w: %d active (%d minted in the last %v by another invocation, not yet stored), limit %d", ErrKeyLimit, n, young, k.orphanAge(), k.maxActive())
		}
		if err := k.Provider.Revoke(ctx, cur, prevID); err != nil {
			return nil, fmt.Errorf("revoke the AWSPREVIOUS credential to make room: %w", err)
		}
	}
	fields, err := k.Provider.Mint(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("mint credential: %w", err)
	}
	if _, ok := fields[k.idField()]; !ok {
		return nil, fmt.Errorf("mint credential: the provider returned no %q field", k.idField())
	}
	p, err := cur.With(fields)
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

// Set does nothing: a minted credential is valid from the start.
func (k *TwoKeys) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	if _, err := k.keyID(req.Pending); err != nil {
		return nil, err
	}
	return &rotation.SetResponse{}, nil
}

// Test checks that the pending credential authenticates.
func (k *TwoKeys) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	if err := k.Provider.Test(ctx, req.Pending); err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, nil
}

// Finish revokes every active credential except AWSCURRENT, AWSPREVIOUS
// and a newer rotation's AWSPENDING. On a late replay (AWSPENDING no longer
// on this version) it also spares credentials younger than OrphanAge: one
// may have been minted by a newer rotation's createSecret that has not yet
// stored it, and revoking it would leave that rotation's pending value
// dead, failing testSecret on every retry.
func (k *TwoKeys) Finish(ctx context.Context, req *rotation.FinishRequest) (*rotation.FinishResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	curID, err := k.keyID(cur)
	if err != nil {
		return nil, err
	}
	// List before reading the other labels: a credential minted after the
	// list is not in it, and one minted before it is either stored as
	// AWSPENDING by the time the labels are read, or young.
	active, err := k.Provider.List(ctx, cur)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	prev, err := req.Previous(ctx)
	if err != nil {
		return nil, err
	}
	prevID := k.heldID(prev)
	pend, err := req.Pending(ctx)
	if err != nil {
		return nil, err
	}
	pendID := k.heldID(pend)
	// While AWSPENDING is on this version no newer rotation has begun.
	ours := pend != nil && pend.VersionID() == req.VersionID
	now := k.now()
	for _, key := range active {
		if key.ID == curID || key.ID == prevID || key.ID == pendID {
			continue
		}
		if !ours && !key.Created.IsZero() && now.Sub(key.Created) < k.orphanAge() {
			continue
		}
		if err := k.Provider.Revoke(ctx, cur, key.ID); err != nil {
			return nil, fmt.Errorf("revoke credential older than AWSPREVIOUS: %w", err)
		}
	}
	return &rotation.FinishResponse{}, nil
}

// Discard revokes a minted credential that was never stored.
func (k *TwoKeys) Discard(ctx context.Context, req *rotation.DiscardRequest) error {
	id, err := k.keyID(req.Discarded)
	if err != nil {
		return err
	}
	if err := k.Provider.Revoke(ctx, req.Current, id); err != nil {
		return fmt.Errorf("revoke unstored credential: %w", err)
	}
	return nil
}
