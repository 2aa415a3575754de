package rotationtest

// The outcome rules: what a rotation did outside Secrets Manager. The
// protocol rules check labels and calls; these check that the credential
// really changed at the target, that old ones are retired, that the rest
// of the secret survives, that new credentials are strong, and that
// nothing else at the target was touched.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/rotationkit/rotation/localsm"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
)

// outcomeRotations is how many rotations the rules that look at several
// rotations run.
const outcomeRotations = 3

// neighbourName is the name the suite gives Fixture.Neighbour.
const neighbourName = "conformance/neighbour"

// errNotApplicable is returned by a rule that has nothing to check for
// this fixture; Run logs it (the subtest passes), Check lists it in Report.Skipped.
type errNotApplicable struct{ why string }

func (e errNotApplicable) Error() string { return e.why }

func (e *env) staged(stage rotation.Stage) (localsm.Version, bool) {
	return e.secret().Staged(string(stage))
}

func valueOf(v localsm.Version) string { return string(toSecretBytes(v)) }

// ruleCredentialChanged: after a rotation every credential field differs,
// and for a single-user rotator the replaced value no longer
// authenticates.
func ruleCredentialChanged(ctx context.Context, e *env) error {
	old, _ := e.staged(rotation.StageCurrent)
	if err := e.rotateAndCheck(ctx); err != nil {
		return err
	}
	cur, _ := e.staged(rotation.StageCurrent)
	var errs []error
	for _, k := range e.shape.creds {
		ov, _ := field(valueOf(old), k)
		nv, ok := field(valueOf(cur), k)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("the rotated value (version %s) has no %s", short(cur.ID), fieldName(k)))
		case nv == ov:
			errs = append(errs, fmt.Errorf("%s of the rotated value (version %s) is the same as before the rotation: the credential was not changed (a misspelt field, or a Create that keeps the current one?)", fieldName(k), short(cur.ID)))
		}
	}
	if !e.fx.ZeroDowntime {
		if e.fx.Probe(ctx, toSecret(old)) == nil {
			errs = append(errs, errors.New("the replaced value (now AWSPREVIOUS) still authenticates after a single-user rotation: the old credential was not replaced (a no-op Set, or a password added beside the old one?)"))
		}
	}
	return errors.Join(errs...)
}

// ruleRetired: after several rotations, only AWSCURRENT (and, for
// zero-downtime rotators, AWSPREVIOUS) authenticate; every older value
// fails.
func ruleRetired(ctx context.Context, e *env) error {
	type seen struct {
		v        localsm.Version
		rotation int // the rotation that replaced it
	}
	var values []seen
	known := map[string]bool{}
	record := func(n int) {
		for _, v := range e.secret().Versions {
			if v.Placeholder() || known[v.ID] {
				continue
			}
			known[v.ID] = true
			values = append(values, seen{v, n})
		}
	}
	record(0)
	for i := 1; i <= outcomeRotations; i++ {
		if err := e.rotateAndCheck(ctx); err != nil {
			return fmt.Errorf("rotation %d: %w", i, err)
		}
		record(i)
	}
	cur, _ := e.staged(rotation.StageCurrent)
	prev, _ := e.staged(rotation.StagePrevious)
	keep := map[string]bool{e.shape.credKey(valueOf(cur)): true}
	if e.fx.ZeroDowntime {
		keep[e.shape.credKey(valueOf(prev))] = true
	}
	var errs []error
	for _, s := range values {
		if keep[e.shape.credKey(valueOf(s.v))] {
			continue
		}
		if e.fx.Probe(ctx, toSecret(s.v)) != nil {
			continue
		}
		what := fmt.Sprintf("version %s, which holds neither AWSCURRENT nor AWSPREVIOUS,", short(s.v.ID))
		if s.v.ID == prev.ID {
			what = fmt.Sprintf("AWSPREVIOUS (version %s), replaced by a single-user rotation,", short(s.v.ID))
		}
		errs = append(errs, fmt.Errorf("after %d rotations %s still authenticates: the old credential was never retired (a password added rather than replaced, a key never revoked?)", outcomeRotations, what))
	}
	return errors.Join(errs...)
}

// rotateValue is the value a rotation rule saw before and after.
func (e *env) rotateOnce(ctx context.Context) (before, after localsm.Version, err error) {
	before, _ = e.staged(rotation.StageCurrent)
	if err = e.rotateAndCheck(ctx); err != nil {
		return before, after, err
	}
	after, _ = e.staged(rotation.StageCurrent)
	return before, after, nil
}

// rulePreserved: a rotation carries over every field but the credential
// and the fields the fixture says it may rewrite.
func rulePreserved(ctx context.Context, e *env) error {
	old, cur, err := e.rotateOnce(ctx)
	if err != nil {
		return err
	}
	o, ok := object(valueOf(old))
	if !ok {
		if e.shape.creds[0] == wholeValue {
			return nil // the whole value is the credential
		}
		return errors.New("the value before the rotation is not a JSON object")
	}
	n, ok := object(valueOf(cur))
	if !ok {
		return fmt.Errorf("the rotated value (version %s) is not a JSON object any more", short(cur.ID))
	}
	var errs []error
	for _, k := range sortedObjKeys(o) {
		nv, ok := n[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("the rotated value (version %s) dropped field %q: clients reading the secret lose it (build the pending value from the current one with Secret.With)", short(cur.ID), k))
		case e.shape.mayChange[k] || isCred(e.shape.creds, k):
		case !reflect.DeepEqual(o[k], nv):
			errs = append(errs, fmt.Errorf("the rotation changed field %q, which is not a credential (if the rotator rewrites it on purpose, list it in Fixture.MayChange)", k))
		}
	}
	return errors.Join(errs...)
}

func isCred(creds []string, k string) bool {
	for _, c := range creds {
		if c == k {
			return true
		}
	}
	return false
}

// ruleStrong: generated credential fields never repeat and meet the
// minimum estimated strength.
func ruleStrong(ctx context.Context, e *env) error {
	if e.fx.MinStrength < 0 {
		return errNotApplicable{"Fixture.MinStrength is negative"}
	}
	type origin struct {
		rotation int
		field    string
	}
	seen := map[string]origin{}
	cur, _ := e.staged(rotation.StageCurrent)
	for _, k := range e.shape.creds {
		if v, ok := field(valueOf(cur), k); ok && v != "" {
			seen[v] = origin{0, k}
		}
	}
	var errs []error
	for i := 1; i <= outcomeRotations; i++ {
		_, cur, err := e.rotateOnce(ctx)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("rotation %d: %w", i, err))...)
		}
		for _, k := range e.shape.creds {
			v, ok := field(valueOf(cur), k)
			if !ok {
				continue // the credential-changed rule reports it
			}
			if o, dup := seen[v]; dup {
				was := fmt.Sprintf("rotation %d", o.rotation)
				if o.rotation == 0 {
					was = "the initial secret"
				}
				errs = append(errs, fmt.Errorf("%s made by rotation %d repeats %s of %s: generated credentials must not repeat (math/rand, a time seed, a fixed value?)", fieldName(k), i, fieldName(o.field), was))
				continue
			}
			seen[v] = origin{i, k}
			if bits, alphabet := strength(v); bits < float64(e.shape.minBits) {
				errs = append(errs, fmt.Errorf("%s made by rotation %d has an estimated strength of %.0f bits (%d characters from an alphabet of %d), below the %d required (generate it with crypto/rand and a longer length, or declare the service's limit in Fixture.MinStrength)", fieldName(k), i, bits, len([]rune(v)), alphabet, e.shape.minBits))
			}
		}
	}
	return errors.Join(errs...)
}

// ruleCreateNoSideEffect: AWSCURRENT keeps authenticating after
// createSecret (also when it is replayed) and until setSecret starts.
func ruleCreateNoSideEffect(ctx context.Context, e *env) error {
	var mu sync.Mutex
	var errs []error
	check := func(ctx context.Context, when string) {
		cur, ok := e.staged(rotation.StageCurrent)
		if !ok {
			return
		}
		if err := e.fx.Probe(ctx, toSecret(cur)); err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("AWSCURRENT stopped authenticating %s: createSecret must only prepare the new value, never change the live credential: %w", when, err))
			mu.Unlock()
		}
	}
	e.setInvoker(func(inv localsm.Invoker) localsm.Invoker {
		return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			switch rotation.Step(ev.Step) {
			case rotation.StepCreate:
				err := inv.Invoke(ctx, fn, ev)
				check(ctx, "after createSecret")
				if err != nil {
					return err
				}
				err = inv.Invoke(ctx, fn, ev)
				check(ctx, "after createSecret ran a second time")
				return err
			case rotation.StepSet:
				check(ctx, "before setSecret started")
			}
			return inv.Invoke(ctx, fn, ev)
		})
	})
	_, rerr := e.rotate(ctx, true)
	e.setInvoker(nil)
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if rerr != nil {
		return fmt.Errorf("rotation failed: %w", rerr)
	}
	return nil
}

// ruleNeighbours: rotating the secret under test many times leaves a
// neighbour's credential on the same target working.
func ruleNeighbours(ctx context.Context, e *env) error {
	if e.fx.Neighbour == "" {
		return errNotApplicable{"the fixture has no Neighbour (a second secret on the same target)"}
	}
	probe := func() error {
		out, err := e.fake.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(neighbourName)})
		if err != nil {
			return err
		}
		return e.fx.Probe(ctx, rotation.NewString(aws.ToString(out.SecretString)))
	}
	for i := 1; i <= outcomeRotations; i++ {
		if err := e.rotateAndCheck(ctx); err != nil {
			return fmt.Errorf("rotation %d: %w", i, err)
		}
		if err := probe(); err != nil {
			return fmt.Errorf("after rotation %d of the secret under test, the neighbour's AWSCURRENT no longer authenticates: the rotator changed or revoked a credential it does not own (is its listing scoped to this secret?): %w", i, err)
		}
	}
	return nil
}

// alterKey is the context key of an alteration.
type alterKey struct{}

// alteration makes GetSecretValue of one version return another value,
// for one invocation.
type alteration struct {
	version, value string
}

// alteringClient is the client the handler under test gets: for an
// invocation whose context carries an alteration, reads of that version
// return the altered value, as if it were stored.
type alteringClient struct{ rotation.Client }

func (c alteringClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	out, err := c.Client.GetSecretValue(ctx, in, optFns...)
	a, ok := ctx.Value(alterKey{}).(*alteration)
	if err != nil || !ok || out == nil || aws.ToString(out.VersionId) != a.version || out.SecretString == nil {
		return out, err
	}
	cp := *out
	cp.SecretString = aws.String(a.value)
	return &cp, nil
}

// ruleTestReallyTests: testSecret given the stored pending value with a
// credential field changed in one character fails.
func ruleTestReallyTests(ctx context.Context, e *env) error {
	var mu sync.Mutex
	var errs []error
	var tried bool
	e.setInvoker(func(inv localsm.Invoker) localsm.Invoker {
		return localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			mu.Lock()
			first := rotation.Step(ev.Step) == rotation.StepTest && !tried
			if first {
				tried = true
			}
			mu.Unlock()
			if !first {
				return inv.Invoke(ctx, fn, ev)
			}
			v, ok := e.secret().Version(ev.ClientRequestToken)
			if ok && v.SecretString != nil {
				for _, k := range e.shape.creds {
					fv, ok := field(*v.SecretString, k)
					if !ok {
						continue
					}
					bad, err := withField(*v.SecretString, k, altered(fv))
					if err != nil || e.fx.Probe(ctx, rotation.NewString(bad)) == nil {
						continue // the change does not matter to the target
					}
					actx := context.WithValue(ctx, alterKey{}, &alteration{version: ev.ClientRequestToken, value: bad})
					if inv.Invoke(actx, fn, ev) == nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("testSecret succeeded for the pending value with %s changed in one character, a value that does not authenticate: Test must log in with the whole pending credential", fieldName(k)))
						mu.Unlock()
					}
				}
			}
			return inv.Invoke(ctx, fn, ev)
		})
	})
	_, rerr := e.rotate(ctx, true)
	e.setInvoker(nil)
	mu.Lock()
	defer mu.Unlock()
	if !tried {
		return errors.Join(append(errs, fmt.Errorf("testSecret was never reached: %w", rerr))...)
	}
	if len(errs) == 0 && rerr != nil {
		return fmt.Errorf("rotation failed: %w", rerr)
	}
	return errors.Join(errs...)
}
