package localsm

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The staging labels the fake gives meaning to.
const (
	stageCurrent  = "AWSCURRENT"
	stagePending  = "AWSPENDING"
	stagePrevious = "AWSPREVIOUS"
)

// Limits Secrets Manager enforces, as the fake enforces them.
const (
	maxSecretSize         = 65536 // bytes of SecretString or SecretBinary
	maxStagesPerVersion   = 20
	maxDeprecatedVersions = 100
)

// Secret is the fake's record of one secret. It is plain data: tests build
// one to seed the fake with Fake.Seed and read copies back with Fake.Secret
// and Fake.Secrets. Zero times and nil pointers mean "unset"; the fake omits
// unset fields from its responses as AWS does.
type Secret struct {
	ARN         string
	Name        string
	Description string
	KmsKeyID    string
	Tags        map[string]string

	CreatedDate      time.Time
	LastChangedDate  time.Time
	LastAccessedDate time.Time // day granularity, as AWS reports it
	LastRotatedDate  time.Time
	NextRotationDate time.Time
	DeletedDate      time.Time // when deletion was requested; zero if not
	DeletionDate     time.Time // when the secret will be purged

	// RotationEnabled is nil if rotation was never configured.
	RotationEnabled   *bool
	RotationLambdaARN string
	RotationRules     *RotationRules

	// Versions in creation order, deprecated ones included.
	Versions []Version
}

// RotationRules is the plain-data form of the API's RotationRulesType.
// Zero values mean unset.
type RotationRules struct {
	AutomaticallyAfterDays int64
	ScheduleExpression     string
	Duration               string
}

// Version is one version of a secret.
type Version struct {
	ID           string
	SecretString *string // nil for binary secrets and for the placeholder
	SecretBinary []byte
	Stages       []string // a version with no stages is deprecated
	CreatedDate  time.Time
	LastAccessed time.Time
	// RotationToken is the token the PutSecretValue that wrote the value
	// carried, if any. It is sensitive; the fake never logs it.
	RotationToken string
}

// Placeholder reports whether v is a version with no value: the one
// RotateSecret creates before invoking createSecret.
func (v Version) Placeholder() bool { return v.SecretString == nil && v.SecretBinary == nil }

// Deprecated reports whether v has no staging labels.
func (v Version) Deprecated() bool { return len(v.Stages) == 0 }

// HasStage reports whether v carries stage.
func (v Version) HasStage(stage string) bool { return slices.Contains(v.Stages, stage) }

// Version returns the version with id, and whether it exists.
func (s Secret) Version(id string) (Version, bool) {
	for _, v := range s.Versions {
		if v.ID == id {
			return v, true
		}
	}
	return Version{}, false
}

// Staged returns the version carrying stage, and whether one does.
func (s Secret) Staged(stage string) (Version, bool) {
	for _, v := range s.Versions {
		if v.HasStage(stage) {
			return v, true
		}
	}
	return Version{}, false
}

// Labels returns the non-deprecated versions' labels keyed by version id,
// as DescribeSecret's VersionIdsToStages reports them.
func (s Secret) Labels() map[string][]string {
	m := map[string][]string{}
	for _, v := range s.Versions {
		if !v.Deprecated() {
			m[v.ID] = slices.Clone(v.Stages)
		}
	}
	return m
}

func (s Secret) clone() Secret {
	c := s
	if s.Tags != nil {
		c.Tags = make(map[string]string, len(s.Tags))
		for k, v := range s.Tags {
			c.Tags[k] = v
		}
	}
	if s.RotationEnabled != nil {
		b := *s.RotationEnabled
		c.RotationEnabled = &b
	}
	if s.RotationRules != nil {
		r := *s.RotationRules
		c.RotationRules = &r
	}
	c.Versions = make([]Version, len(s.Versions))
	for i, v := range s.Versions {
		c.Versions[i] = v.clone()
	}
	return c
}

func (v Version) clone() Version {
	c := v
	if v.SecretString != nil {
		s := *v.SecretString
		c.SecretString = &s
	}
	c.SecretBinary = slices.Clone(v.SecretBinary)
	c.Stages = slices.Clone(v.Stages)
	return c
}

// Clock tells the fake the time. ManualClock lets a test control it.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

// ManualClock is a Clock that moves only when told to. It is safe for
// concurrent use. The zero value starts at the zero time; use NewManualClock.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t.UTC()} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

// Options configure a Fake. The zero value is usable.
type Options struct {
	Region    string // default "us-east-1"
	AccountID string // default "123456789012"
	Clock     Clock  // default: the system clock, in UTC

	// Invoker runs rotation functions. Nil means no function can be
	// invoked (RotateSecret fails with AccessDeniedException) until one
	// is set with Fake.SetInvoker.
	Invoker Invoker

	// StrictRotationToken makes a rotation fail, as AWS does for
	// assumed-role and cross-account rotation, when the pending version
	// was not written by a PutSecretValue carrying the RotationToken the
	// service sent. AWS enforces it only in those set-ups, so it is off by
	// default; the conformance suite turns it on.
	StrictRotationToken bool

	// RotationAttempts is how many times one rotation is attempted in all
	// before the fake gives up on it (the service retries the whole
	// rotation several times; the real count is not published). Default 3.
	RotationAttempts int

	// RetryBackoff is waited between attempts (on the real clock). The
	// wait ends early when the rotation is cancelled or abandoned.
	// Default 0.
	RetryBackoff time.Duration

	// StepTimeout bounds each invocation, like a Lambda timeout, on the
	// real clock. Default 30 s, the Lambda default. At the deadline the
	// step fails with a StepFailedError whose cause reads "Task timed out
	// after N seconds", as Lambda reports it, whether or not the invoker
	// honours its context; a step that returns after the deadline, even
	// with nil, has timed out too. An invoker that ignores its context
	// keeps running after the deadline (Go cannot stop it): Fake.Wait
	// waits for such invocations as well.
	StepTimeout time.Duration

	// MaxHistory, if positive, caps what the fake remembers: the most
	// recent MaxHistory events (Events) and finished rotations
	// (Rotations, Rotation) are kept, older ones are dropped. Running
	// rotations are always kept. Zero keeps everything, which suits
	// tests; a long-running server should set it.
	MaxHistory int
}

// Fake is an in-memory AWS Secrets Manager. Its methods have the exact
// signatures of *secretsmanager.Client's, so it satisfies any narrow
// interface written for the real client; the functional options are
// ignored. It is safe for concurrent use.
type Fake struct {
	opts    Options
	clock   Clock
	invoker atomic.Pointer[Invoker] // nil: no function can be invoked

	// ctx is the parent of every invocation's context; cancel (see
	// shutdown) stops what is still running.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	secrets []*Secret // creation order
	// byName, byARN and byPartialARN index secrets (the last by the ARN
	// without its six-character suffix), so a call finds its secret in
	// constant time however many secrets the fake holds.
	byName, byARN, byPartialARN map[string]*Secret
	// purgeAt is the earliest DeletionDate of a secret scheduled for
	// deletion (zero: none), so calls skip the purge scan until then.
	purgeAt time.Time
	events  []Event
	calls   map[string]int

	// inflight is the rotation that owns each secret's AWSPENDING
	// version, by secret ARN. An abandoned rotation leaves it at once,
	// even while its current step still runs.
	inflight map[string]*Rotation
	// rotations are the rotations started, oldest first (finished ones
	// capped by MaxHistory).
	rotations []*Rotation
	// running are the rotations whose goroutine has not finished, and
	// invocations the invoker calls that have not returned (including
	// ones abandoned at StepTimeout). Wait waits for both.
	running     map[*Rotation]struct{}
	invocations map[chan struct{}]struct{}
	// issued holds the RotationTokens sent for each pending version that
	// a rotation may still use, by secret ARN and version id: the ones
	// StrictRotationToken accepts. Tokens of versions no longer pending
	// are dropped.
	issued map[string]map[string][]string
	// stopped: StopRotations was called.
	stopped bool
}

// New returns an empty fake.
func New(opts Options) *Fake {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.RotationAttempts <= 0 {
		opts.RotationAttempts = 3
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = 30 * time.Second
	}
	if opts.MaxHistory < 0 {
		opts.MaxHistory = 0
	}
	clock := opts.Clock
	if clock == nil {
		clock = realClock{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fake{
		opts:         opts,
		clock:        clock,
		ctx:          ctx,
		cancel:       cancel,
		calls:        map[string]int{},
		byName:       map[string]*Secret{},
		byARN:        map[string]*Secret{},
		byPartialARN: map[string]*Secret{},
		inflight:     map[string]*Rotation{},
		running:      map[*Rotation]struct{}{},
		invocations:  map[chan struct{}]struct{}{},
		issued:       map[string]map[string][]string{},
	}
	f.SetInvoker(opts.Invoker)
	return f
}

// SetInvoker sets the Invoker that runs rotation functions from now on, in
// place of Options.Invoker. It resolves the construction order of a test
// in which the function under test is built on the fake: create the fake,
// build the handler on it, then set the invoker that calls the handler.
// Rotations already running keep the invoker they started with for the
// step in progress. Nil means no function can be invoked.
func (f *Fake) SetInvoker(inv Invoker) {
	if inv == nil {
		f.invoker.Store(nil)
		return
	}
	f.invoker.Store(&inv)
}

// currentInvoker returns the invoker set last, or nil.
func (f *Fake) currentInvoker() Invoker {
	if p := f.invoker.Load(); p != nil {
		return *p
	}
	return nil
}

// Region returns the region the fake's ARNs name.
func (f *Fake) Region() string { return f.opts.Region }

// AccountID returns the account the fake's ARNs name.
func (f *Fake) AccountID() string { return f.opts.AccountID }

func (f *Fake) now() time.Time { return f.clock.Now().UTC() }

// Seed adds s to the fake, or replaces the secret with the same name. An
// empty ARN is filled in; zero created dates are set to now. It is meant
// for tests that need a state the API cannot reach directly, but not one
// AWS can never be in: Seed rejects, with an error naming the problem, a
// version without an ID, two versions with the same ID, a label on two
// versions (or twice on one) and a version with more than 20 labels.
func (f *Fake) Seed(s Secret) error {
	if s.Name == "" {
		return fmt.Errorf("localsm: Seed: secret has no Name")
	}
	if err := checkSeedVersions(s); err != nil {
		return err
	}
	c := s.clone()
	now := f.now()
	if c.ARN == "" {
		c.ARN = f.newARN(c.Name)
	}
	if c.CreatedDate.IsZero() {
		c.CreatedDate = now
	}
	for i := range c.Versions {
		if c.Versions[i].CreatedDate.IsZero() {
			c.Versions[i].CreatedDate = now
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if old := f.byName[c.Name]; old != nil {
		i := slices.Index(f.secrets, old)
		f.unindex(old)
		f.secrets[i] = &c
		f.index(&c)
		if old.ARN != c.ARN {
			delete(f.issued, old.ARN)
		} else {
			f.pruneIssued(&c)
		}
		return nil
	}
	f.add(&c)
	return nil
}

// add appends s to the secrets and indexes it; the caller holds f.mu.
func (f *Fake) add(s *Secret) {
	f.secrets = append(f.secrets, s)
	f.index(s)
}

// remove drops s from the secrets and the indexes; the caller holds f.mu.
func (f *Fake) remove(s *Secret) {
	f.secrets = slices.DeleteFunc(f.secrets, func(x *Secret) bool { return x == s })
	f.unindex(s)
	delete(f.issued, s.ARN)
}

func (f *Fake) index(s *Secret) {
	f.byName[s.Name] = s
	f.byARN[s.ARN] = s
	if p, ok := partialARN(s.ARN); ok {
		f.byPartialARN[p] = s
	}
	f.schedulePurge(s)
}

func (f *Fake) unindex(s *Secret) {
	if f.byName[s.Name] == s {
		delete(f.byName, s.Name)
	}
	if f.byARN[s.ARN] == s {
		delete(f.byARN, s.ARN)
	}
	if p, ok := partialARN(s.ARN); ok && f.byPartialARN[p] == s {
		delete(f.byPartialARN, p)
	}
}

// schedulePurge notes s's deletion date, if it is scheduled for deletion;
// the caller holds f.mu.
func (f *Fake) schedulePurge(s *Secret) {
	if s.deleted() && (f.purgeAt.IsZero() || s.DeletionDate.Before(f.purgeAt)) {
		f.purgeAt = s.DeletionDate
	}
}

// partialARN is a secret's ARN without the "-" and six random characters
// Secrets Manager appends, the form a caller may pass as SecretId.
func partialARN(arn string) (string, bool) {
	if len(arn) <= 7 || arn[len(arn)-7] != '-' {
		return "", false
	}
	return arn[:len(arn)-7], true
}

// checkSeedVersions checks the label invariants AWS maintains (protocol.md
// section 4): version ids are unique, a label is on at most one version,
// and a version carries at most 20 labels.
func checkSeedVersions(s Secret) error {
	ids := make(map[string]bool, len(s.Versions))
	holder := map[string]string{} // label -> version id
	for i, v := range s.Versions {
		if v.ID == "" {
			return fmt.Errorf("localsm: Seed: version %d of %q has no ID", i, s.Name)
		}
		if ids[v.ID] {
			return fmt.Errorf("localsm: Seed: secret %q has two versions with ID %q", s.Name, v.ID)
		}
		ids[v.ID] = true
		if len(v.Stages) > maxStagesPerVersion {
			return fmt.Errorf("localsm: Seed: version %q of %q has %d labels; a version may carry at most %d", v.ID, s.Name, len(v.Stages), maxStagesPerVersion)
		}
		for _, st := range v.Stages {
			if other, ok := holder[st]; ok {
				if other == v.ID {
					return fmt.Errorf("localsm: Seed: version %q of %q lists label %q twice", v.ID, s.Name, st)
				}
				return fmt.Errorf("localsm: Seed: label %q of %q is on both version %q and version %q; a label is on at most one version", st, s.Name, other, v.ID)
			}
			holder[st] = v.ID
		}
	}
	return nil
}

// Secret returns a copy of the secret named by id (name or ARN, deleted
// secrets included), and whether it exists.
func (f *Fake) Secret(id string) (Secret, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.lookup(id)
	if s == nil {
		return Secret{}, false
	}
	return s.clone(), true
}

// Secrets returns copies of every secret, sorted by name.
func (f *Fake) Secrets() []Secret {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Secret, 0, len(f.secrets))
	for _, s := range f.secrets {
		out = append(out, s.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Calls returns how many times each operation has been called (for
// example "PutSecretValue"), over every path: in memory and over HTTP.
func (f *Fake) Calls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.calls))
	for k, v := range f.calls {
		m[k] = v
	}
	return m
}

// TotalCalls returns the number of API calls made so far, summed over
// operations.
func (f *Fake) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.calls {
		n += v
	}
	return n
}

// ResetCalls zeroes the call counters.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
}

// count records a call; the caller holds f.mu.
func (f *Fake) count(op string) { f.calls[op]++ }

// lookup finds a secret by name, full ARN or partial ARN (the ARN without
// its 6-character suffix). The caller holds f.mu.
func (f *Fake) lookup(id string) *Secret {
	if id == "" {
		return nil
	}
	if s := f.byName[id]; s != nil {
		return s
	}
	if s := f.byARN[id]; s != nil {
		return s
	}
	if strings.HasPrefix(id, "arn:") {
		return f.byPartialARN[id]
	}
	return nil
}

const arnSuffixAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (f *Fake) newARN(name string) string {
	var b [6]byte
	for i := range b {
		b[i] = arnSuffixAlphabet[randIndex(len(arnSuffixAlphabet))]
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", f.opts.Region, f.opts.AccountID, name, b[:])
}

// randIndex returns a uniform index in [0, n) from crypto/rand, n <= 256.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("localsm: crypto/rand failed: " + err.Error())
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// newUUID returns a random version-4 UUID string.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("localsm: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// version returns a pointer to s's version id, or nil.
func (s *Secret) version(id string) *Version {
	for i := range s.Versions {
		if s.Versions[i].ID == id {
			return &s.Versions[i]
		}
	}
	return nil
}

// staged returns a pointer to the version carrying stage, or nil.
func (s *Secret) staged(stage string) *Version {
	for i := range s.Versions {
		if s.Versions[i].HasStage(stage) {
			return &s.Versions[i]
		}
	}
	return nil
}

func (v *Version) removeStage(stage string) {
	v.Stages = slices.DeleteFunc(v.Stages, func(s string) bool { return s == stage })
}

func (v *Version) addStage(stage string) {
	if !v.HasStage(stage) {
		v.Stages = append(v.Stages, stage)
	}
}

// attach puts stage on version id, removing it from wherever it was. When
// AWSCURRENT moves, AWSPREVIOUS moves to the version it left. Other labels
// (AWSPENDING included) stay where they are: abandoning a rotation is
// putVersion's business (see Fake.abandon).
func (s *Secret) attach(id, stage string) {
	target := s.version(id)
	if target == nil || target.HasStage(stage) {
		return
	}
	var left *Version
	for i := range s.Versions {
		v := &s.Versions[i]
		if v.ID != id && v.HasStage(stage) {
			v.removeStage(stage)
			left = v
		}
	}
	target.addStage(stage)
	if stage == stageCurrent && left != nil {
		for i := range s.Versions {
			s.Versions[i].removeStage(stagePrevious)
		}
		left.addStage(stagePrevious)
	}
}

// prune deletes the oldest deprecated versions beyond the limit, never ones
// younger than 24 hours.
func (s *Secret) prune(now time.Time) {
	n := 0
	for _, v := range s.Versions {
		if v.Deprecated() {
			n++
		}
	}
	for i := 0; i < len(s.Versions) && n > maxDeprecatedVersions; {
		v := s.Versions[i]
		if v.Deprecated() && now.Sub(v.CreatedDate) >= 24*time.Hour {
			s.Versions = slices.Delete(s.Versions, i, i+1)
			n--
			continue
		}
		i++
	}
}

func (s *Secret) deleted() bool { return !s.DeletedDate.IsZero() }
