package strategy_test

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

const (
	fnARN      = "arn:aws:lambda:us-east-1:123456789012:function:rotator"
	secretName = "app/credentials"

	tokPrev    = "00000000-0000-4000-8000-000000000000"
	tokCur     = "11111111-1111-4111-8111-111111111111"
	tokPending = "22222222-2222-4222-8222-222222222222"
	tokNext    = "33333333-3333-4333-8333-333333333333"
)

// world is a fake Secrets Manager with one secret under rotation and a
// Handler running a strategy against it. Steps run directly through
// step, or as whole rotations the fake drives through rotate.
type world struct {
	t      *testing.T
	fake   *localsm.Fake
	client *rotationtest.FaultClient // every call the Handler makes goes through it
	h      *rotation.Handler
	arn    string
}

// ver builds a stored version of the secret.
func ver(id, value string, stages ...string) localsm.Version {
	return localsm.Version{ID: id, SecretString: aws.String(value), Stages: stages}
}

// placeholder builds the empty AWSPENDING version RotateSecret creates.
func placeholder(id string) localsm.Version {
	return localsm.Version{ID: id, Stages: []string{string(rotation.StagePending)}}
}

// newWorld seeds the secret with versions and the other secrets, and
// builds the rotator with the Handler's client.
func newWorld(t *testing.T, others map[string]string, build func(c rotation.Client) rotation.Rotator, versions ...localsm.Version) *world {
	t.Helper()
	fns := localsm.Functions{}
	w := &world{t: t, fake: localsm.New(localsm.Options{Invoker: fns, RotationAttempts: 1})}
	ctx := context.Background()
	for _, name := range slices.Sorted(maps.Keys(others)) {
		if _, err := w.fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(others[name])}); err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
	if err := w.fake.Seed(localsm.Secret{
		Name:              secretName,
		RotationEnabled:   aws.Bool(true),
		RotationLambdaARN: fnARN,
		Versions:          versions,
	}); err != nil {
		t.Fatal(err)
	}
	s, _ := w.fake.Secret(secretName)
	w.arn = s.ARN
	w.client = rotationtest.NewFaultClient(w.fake)
	h, err := rotation.New(w.client, build(w.client))
	if err != nil {
		t.Fatal(err)
	}
	w.h = h
	fns[fnARN] = localsm.HandlerInvoker(h.Handle)
	t.Cleanup(func() { _ = w.fake.Wait(context.Background()) })
	return w
}

// step invokes one step for version token.
func (w *world) step(step rotation.Step, token string) error {
	return w.h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: string(step), SecretID: w.arn, ClientRequestToken: token})
}

// steps invokes the four steps for version token, in order, stopping at
// the first failure: the service's retry of a rotation already started.
func (w *world) steps(token string) error {
	for _, step := range rotation.Steps() {
		if err := w.step(step, token); err != nil {
			return err
		}
	}
	return nil
}

// rotate runs a whole rotation with ClientRequestToken token.
func (w *world) rotate(token string) error {
	_, err := w.fake.Rotate(context.Background(), &secretsmanager.RotateSecretInput{SecretId: aws.String(w.arn), ClientRequestToken: aws.String(token)})
	return err
}

// value returns the value of the version carrying stage, or "".
func (w *world) value(stage rotation.Stage) *rotation.Secret {
	w.t.Helper()
	s, _ := w.fake.Secret(secretName)
	v, ok := s.Staged(string(stage))
	if !ok || v.Placeholder() {
		return nil
	}
	return rotation.NewString(aws.ToString(v.SecretString))
}

// field returns a field of the version carrying stage.
func (w *world) field(stage rotation.Stage, name string) string {
	w.t.Helper()
	s := w.value(stage)
	if s == nil {
		return ""
	}
	v, _, err := s.Lookup(name)
	if err != nil {
		w.t.Fatalf("%s field %s: %v", stage, name, err)
	}
	return v
}

// versionState is what a test compares of one version.
type versionState struct {
	ID     string
	Value  string // "" for the placeholder; binary values as text
	Stages []string
}

// state is the fake's plain data that a step could change: every
// secret's versions, values and labels.
func (w *world) state() map[string][]versionState {
	out := map[string][]versionState{}
	for _, s := range w.fake.Secrets() {
		for _, v := range s.Versions {
			st := slices.Clone(v.Stages)
			sort.Strings(st)
			val := aws.ToString(v.SecretString)
			if v.SecretBinary != nil {
				val = string(v.SecretBinary)
			}
			out[s.Name] = append(out[s.Name], versionState{ID: v.ID, Value: val, Stages: st})
		}
	}
	return out
}

// labels returns "id[labels]" for each labelled version, in creation
// order, with ids shortened to their first 8 characters.
func labels(f *localsm.Fake, name string) []string {
	s, _ := f.Secret(name)
	var out []string
	for _, v := range s.Versions {
		if v.Deprecated() {
			continue
		}
		st := slices.Clone(v.Stages)
		sort.Strings(st)
		out = append(out, v.ID[:8]+"["+strings.Join(st, ",")+"]")
	}
	return out
}
