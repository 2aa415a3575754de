package localsm_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rotationkit/rotation/localsm"
)

const (
	cur  = "AWSCURRENT"
	pend = "AWSPENDING"
	prev = "AWSPREVIOUS"
)

// t0 is the start time of every ManualClock in these tests.
var t0 = time.Date(2024, 1, 10, 10, 30, 0, 0, time.UTC)

// vid returns a valid ClientRequestToken (36 characters) for version n, so
// tables can speak of v1, v2, ... while the fake sees real-looking ids.
func vid(n int) string { return fmt.Sprintf("%08d-0000-4000-8000-000000000000", n) }

var (
	v1 = vid(1)
	v2 = vid(2)
	v3 = vid(3)
)

// sortStrings makes label comparisons independent of label order, which
// the API does not define.
var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// ignoreSDK makes cmp skip the SDK types' unexported fields and result
// metadata.
var ignoreSDK = cmp.Options{
	cmpopts.IgnoreTypes(middleware.Metadata{}),
	cmpopts.IgnoreUnexported(
		secretsmanager.DescribeSecretOutput{}, secretsmanager.GetSecretValueOutput{},
		secretsmanager.RotateSecretOutput{}, types.Tag{}, types.RotationRulesType{},
	),
}

// seed seeds f with a secret called name whose versions carry the given
// labels (a version with no labels is deprecated), in the order given.
func seed(t *testing.T, f *localsm.Fake, name string, versions ...localsm.Version) localsm.Secret {
	t.Helper()
	s := localsm.Secret{Name: name, Versions: versions}
	if err := f.Seed(s); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	got, ok := f.Secret(name)
	if !ok {
		t.Fatalf("Secret(%q) not found after Seed", name)
	}
	return got
}

// ver returns a version with a string value and the given labels.
func ver(id string, stages ...string) localsm.Version {
	return localsm.Version{ID: id, SecretString: aws.String("value-" + id[:8]), Stages: stages}
}

// placeholder returns a version with no value, as RotateSecret creates.
func placeholder(id string, stages ...string) localsm.Version {
	return localsm.Version{ID: id, Stages: stages}
}

// labels returns DescribeSecret's VersionIdsToStages.
func labels(t *testing.T, f *localsm.Fake, id string) map[string][]string {
	t.Helper()
	out, err := f.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeSecret(%q): %v", id, err)
	}
	return out.VersionIdsToStages
}

// deprecated returns the ids of the versions without labels.
func deprecated(s localsm.Secret) []string {
	var ids []string
	for _, v := range s.Versions {
		if v.Deprecated() {
			ids = append(ids, v.ID)
		}
	}
	return ids
}

// listed returns the version ids ListSecretVersionIds reports, all pages.
func listed(t *testing.T, f *localsm.Fake, id string, includeDeprecated bool) []string {
	t.Helper()
	var ids []string
	in := &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(id), IncludeDeprecated: aws.Bool(includeDeprecated)}
	for {
		out, err := f.ListSecretVersionIds(context.Background(), in)
		if err != nil {
			t.Fatalf("ListSecretVersionIds(%q): %v", id, err)
		}
		for _, v := range out.Versions {
			ids = append(ids, aws.ToString(v.VersionId))
		}
		if out.NextToken == nil {
			return ids
		}
		in.NextToken = out.NextToken
	}
}

func putInput(id, token, value string, stages ...string) *secretsmanager.PutSecretValueInput {
	in := &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(id),
		ClientRequestToken: aws.String(token),
		SecretString:       aws.String(value),
	}
	if stages != nil {
		in.VersionStages = stages
	}
	return in
}

// wantAPIError checks that err is an API error with the given code and, if
// msg is not empty, exactly that message.
func wantAPIError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %s", what, code)
		return
	}
	got, ok := localsm.ErrorCode(err)
	if !ok || got != code {
		t.Errorf("%s: error %v has code %q, want %q", what, err, got, code)
	}
	if msg == "" {
		return
	}
	var ae interface{ ErrorMessage() string }
	if !errors.As(err, &ae) {
		t.Errorf("%s: error %T has no ErrorMessage", what, err)
		return
	}
	if ae.ErrorMessage() != msg {
		t.Errorf("%s: message = %q, want %q", what, ae.ErrorMessage(), msg)
	}
}

// TestLabelTransitions replays the AWS-validated rows of protocol.md
// section 4 in memory.
func TestLabelTransitions(t *testing.T) {
	ctx := context.Background()
	const name = "transitions"
	uvs := func(label string, moveTo, removeFrom string) func(*localsm.Fake) error {
		return func(f *localsm.Fake) error {
			in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name), VersionStage: aws.String(label)}
			if moveTo != "" {
				in.MoveToVersionId = aws.String(moveTo)
			}
			if removeFrom != "" {
				in.RemoveFromVersionId = aws.String(removeFrom)
			}
			_, err := f.UpdateSecretVersionStage(ctx, in)
			return err
		}
	}
	put := func(token string, stages ...string) func(*localsm.Fake) error {
		return func(f *localsm.Fake) error {
			_, err := f.PutSecretValue(ctx, putInput(name, token, "new-"+token[:8], stages...))
			return err
		}
	}
	tests := []struct {
		name           string
		state          []localsm.Version
		call           func(*localsm.Fake) error
		want           map[string][]string
		wantDeprecated []string
	}{
		{
			name:  "v1[C] PutSecretValue(stages=[P])",
			state: []localsm.Version{ver(v1, cur)},
			call:  put(v2, pend),
			want:  map[string][]string{v1: {cur}, v2: {pend}},
		},
		{
			name:  "v1[C],v2[P] UpdateSecretVersionStage(C, MoveTo=v2, RemoveFrom=v1): moving C does not strip P",
			state: []localsm.Version{ver(v1, cur), ver(v2, pend)},
			call:  uvs(cur, v2, v1),
			want:  map[string][]string{v1: {prev}, v2: {cur, pend}},
		},
		{
			name:  "v1[PREV],v2[C,P] PutSecretValue(stages=[P])",
			state: []localsm.Version{ver(v1, prev), ver(v2, cur, pend)},
			call:  put(v3, pend),
			want:  map[string][]string{v1: {prev}, v2: {cur}, v3: {pend}},
		},
		{
			name:           "v1[PREV],v2[C,P] PutSecretValue() default stages",
			state:          []localsm.Version{ver(v1, prev), ver(v2, cur, pend)},
			call:           put(v3),
			want:           map[string][]string{v2: {prev}, v3: {cur}},
			wantDeprecated: []string{v1},
		},
		{
			// protocol.md writes the state as v2[C,P,X], v3[P,Y], which
			// cannot exist (a label is on one version); this is the state
			// PutSecretValue(stages=[P,Y]) leaves after v2[C,P,X].
			name:  "v2[C,X],v3[P,Y] UpdateSecretVersionStage(C, MoveTo=v3, RemoveFrom=v2): custom labels stay",
			state: []localsm.Version{ver(v2, cur, "X"), ver(v3, pend, "Y")},
			call:  uvs(cur, v3, v2),
			want:  map[string][]string{v2: {prev, "X"}, v3: {cur, pend, "Y"}},
		},
		{
			name:           "v1[C],v2[one,two] PutSecretValue(stages=[one,two,four])",
			state:          []localsm.Version{ver(v1, cur), ver(v2, "one", "two")},
			call:           put(v3, "one", "two", "four"),
			want:           map[string][]string{v1: {cur}, v3: {"one", "two", "four"}},
			wantDeprecated: []string{v2},
		},
		{
			name:  "v1[PREV],v2[C,X] UpdateSecretVersionStage(X, RemoveFrom=v2)",
			state: []localsm.Version{ver(v1, prev), ver(v2, cur, "X")},
			call:  uvs("X", "", v2),
			want:  map[string][]string{v1: {prev}, v2: {cur}},
		},
		{
			name:  "v1[C],v2[PREV] moving C back to the AWSPREVIOUS version swaps them",
			state: []localsm.Version{ver(v1, prev), ver(v2, cur)},
			call:  uvs(cur, v1, v2),
			want:  map[string][]string{v1: {cur}, v2: {prev}},
		},
		{
			name:  "attaching a custom label held elsewhere moves it",
			state: []localsm.Version{ver(v1, cur, "X"), ver(v2, prev)},
			call:  uvs("X", v2, v1),
			want:  map[string][]string{v1: {cur}, v2: {prev, "X"}},
		},
		{
			name:  "MoveTo alone attaches a label no version holds",
			state: []localsm.Version{ver(v1, cur), ver(v2, prev)},
			call:  uvs("X", v2, ""),
			want:  map[string][]string{v1: {cur}, v2: {prev, "X"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := localsm.New(localsm.Options{})
			seed(t, f, name, tt.state...)
			if err := tt.call(f); err != nil {
				t.Fatalf("call: %v", err)
			}
			if diff := cmp.Diff(tt.want, labels(t, f, name), sortStrings); diff != "" {
				t.Errorf("VersionIdsToStages (-want +got):\n%s", diff)
			}
			s, _ := f.Secret(name)
			if diff := cmp.Diff(tt.wantDeprecated, deprecated(s), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("deprecated versions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, s.Labels(), sortStrings); diff != "" {
				t.Errorf("Secret.Labels (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFirstVersionGetsCurrent: the first version of a secret created
// without a value gets AWSCURRENT whatever stages it is written with.
func TestFirstVersionGetsCurrent(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		stages []string
		want   []string
	}{
		{"default stages", nil, []string{cur}},
		{"AWSPENDING", []string{pend}, []string{cur, pend}},
		{"custom label", []string{"X"}, []string{cur, "X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := localsm.New(localsm.Options{})
			out, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("empty")})
			if err != nil {
				t.Fatalf("CreateSecret: %v", err)
			}
			if out.VersionId != nil {
				t.Errorf("CreateSecret without a value returned VersionId %q, want none", *out.VersionId)
			}
			if got := labels(t, f, "empty"); got != nil {
				t.Errorf("VersionIdsToStages before the first value = %v, want nil", got)
			}
			if _, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("empty")}); err == nil {
				t.Errorf("GetSecretValue on a secret with no value succeeded")
			}
			if _, err := f.PutSecretValue(ctx, putInput("empty", v1, "first", tt.stages...)); err != nil {
				t.Fatalf("PutSecretValue: %v", err)
			}
			if diff := cmp.Diff(map[string][]string{v1: tt.want}, labels(t, f, "empty"), sortStrings); diff != "" {
				t.Errorf("VersionIdsToStages (-want +got):\n%s", diff)
			}
			// The second version is not the first any more.
			if _, err := f.PutSecretValue(ctx, putInput("empty", v2, "second", "Y")); err != nil {
				t.Fatalf("PutSecretValue: %v", err)
			}
			got := labels(t, f, "empty")
			if diff := cmp.Diff([]string{"Y"}, got[v2]); diff != "" {
				t.Errorf("labels of the second version (-want +got):\n%s", diff)
			}
		})
	}

	// CreateSecret with a value makes that version AWSCURRENT.
	f := localsm.New(localsm.Options{})
	out, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("full"), SecretString: aws.String("x"), ClientRequestToken: aws.String(v1)})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if diff := cmp.Diff(v1, aws.ToString(out.VersionId)); diff != "" {
		t.Errorf("CreateSecret VersionId (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{v1: {cur}}, labels(t, f, "full")); diff != "" {
		t.Errorf("VersionIdsToStages (-want +got):\n%s", diff)
	}
}

func TestDeprecatedVersionsAreHidden(t *testing.T) {
	ctx := context.Background()
	f := localsm.New(localsm.Options{})
	seed(t, f, "dep", ver(v1, cur))
	for _, tok := range []string{v2, v3} {
		if _, err := f.PutSecretValue(ctx, putInput("dep", tok, "value-"+tok[:8])); err != nil {
			t.Fatalf("PutSecretValue: %v", err)
		}
	}
	// v1 lost AWSPREVIOUS to v2 when v3 became current.
	if diff := cmp.Diff(map[string][]string{v2: {prev}, v3: {cur}}, labels(t, f, "dep")); diff != "" {
		t.Errorf("VersionIdsToStages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{v3, v2}, listed(t, f, "dep", false)); diff != "" {
		t.Errorf("ListSecretVersionIds (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{v3, v2, v1}, listed(t, f, "dep", true)); diff != "" {
		t.Errorf("ListSecretVersionIds IncludeDeprecated (-want +got):\n%s", diff)
	}
	// A deprecated version can still be read by id.
	out, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("dep"), VersionId: aws.String(v1)})
	if err != nil {
		t.Fatalf("GetSecretValue(deprecated v1): %v", err)
	}
	if len(out.VersionStages) != 0 {
		t.Errorf("deprecated version has VersionStages %v, want none", out.VersionStages)
	}
	// ListSecretVersionIds reports the labels of each version.
	lo, err := f.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("dep")})
	if err != nil {
		t.Fatalf("ListSecretVersionIds: %v", err)
	}
	got := map[string][]string{}
	for _, e := range lo.Versions {
		got[aws.ToString(e.VersionId)] = e.VersionStages
	}
	if diff := cmp.Diff(map[string][]string{v2: {prev}, v3: {cur}}, got); diff != "" {
		t.Errorf("ListSecretVersionIds stages (-want +got):\n%s", diff)
	}
}

func TestStageLimit(t *testing.T) {
	ctx := context.Background()
	nLabels := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s%02d", prefix, i))
		}
		return out
	}

	t.Run("PutSecretValue", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		seed(t, f, "limit", ver(v1, cur))
		_, err := f.PutSecretValue(ctx, putInput("limit", v2, "v", nLabels("L", 21)...))
		var le *types.LimitExceededException
		if !errors.As(err, &le) {
			t.Errorf("PutSecretValue with 21 labels: err = %v, want LimitExceededException", err)
		}
		if s, _ := f.Secret("limit"); len(s.Versions) != 1 {
			t.Errorf("rejected PutSecretValue left %d versions, want 1", len(s.Versions))
		}
		if _, err := f.PutSecretValue(ctx, putInput("limit", v2, "v", nLabels("L", 20)...)); err != nil {
			t.Errorf("PutSecretValue with 20 labels: %v", err)
		}
		if got := len(labels(t, f, "limit")[v2]); got != 20 {
			t.Errorf("version has %d labels, want 20", got)
		}
	})

	t.Run("UpdateSecretVersionStage", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		seed(t, f, "limit", ver(v1, append([]string{cur}, nLabels("L", 18)...)...), ver(v2, "X", "Y"))
		move := func(label string) error {
			_, err := f.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
				SecretId: aws.String("limit"), VersionStage: aws.String(label),
				MoveToVersionId: aws.String(v1), RemoveFromVersionId: aws.String(v2),
			})
			return err
		}
		if err := move("X"); err != nil {
			t.Fatalf("moving a 20th label: %v", err)
		}
		err := move("Y")
		var le *types.LimitExceededException
		if !errors.As(err, &le) {
			t.Errorf("moving a 21st label: err = %v, want LimitExceededException", err)
		}
		if diff := cmp.Diff([]string{"Y"}, labels(t, f, "limit")[v2]); diff != "" {
			t.Errorf("v2 labels after the rejected move (-want +got):\n%s", diff)
		}
	})

	t.Run("placeholder", func(t *testing.T) {
		// The placeholder already carries AWSPENDING; filling it in with
		// AWSPENDING and 19 more labels makes 20.
		f := localsm.New(localsm.Options{})
		seed(t, f, "limit", ver(v1, cur), placeholder(v2, pend))
		if _, err := f.PutSecretValue(ctx, putInput("limit", v2, "v", append([]string{pend}, nLabels("L", 19)...)...)); err != nil {
			t.Errorf("filling the placeholder with 20 labels in all: %v", err)
		}
		// 20 labels besides AWSPENDING make 21: rejected, nothing written.
		seed(t, f, "limit2", ver(v1, cur), placeholder(v2, pend))
		_, err := f.PutSecretValue(ctx, putInput("limit2", v2, "v", nLabels("L", 20)...))
		var le *types.LimitExceededException
		if !errors.As(err, &le) {
			t.Errorf("filling the placeholder with 21 labels in all: err = %v, want LimitExceededException", err)
		}
		s, _ := f.Secret("limit2")
		if v, _ := s.Version(v2); !v.Placeholder() {
			t.Errorf("rejected PutSecretValue filled in the placeholder")
		}
	})
}

// TestPruneDeprecated: beyond 100 deprecated versions the oldest are
// deleted, but never ones younger than 24 hours.
func TestPruneDeprecated(t *testing.T) {
	ctx := context.Background()
	clock := localsm.NewManualClock(t0)
	f := localsm.New(localsm.Options{Clock: clock})
	if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("many")}); err != nil {
		t.Fatal(err)
	}
	n := 0
	put := func(count int) {
		t.Helper()
		for range count {
			n++
			if _, err := f.PutSecretValue(ctx, putInput("many", vid(n), fmt.Sprint(n))); err != nil {
				t.Fatalf("PutSecretValue %d: %v", n, err)
			}
		}
	}
	put(3) // v1..v3 at t0
	clock.Advance(25 * time.Hour)
	put(110) // v4..v113 at t0+25h
	s, _ := f.Secret("many")
	// 113 versions: 1 current, 1 previous, 111 deprecated. Only v1..v3
	// are old enough to go, leaving 108.
	if got := len(deprecated(s)); got != 108 {
		t.Errorf("deprecated versions = %d, want 108 (young ones are kept)", got)
	}
	for _, id := range []string{vid(1), vid(2), vid(3)} {
		if _, ok := s.Version(id); ok {
			t.Errorf("old deprecated version %s was kept", id[:8])
		}
	}
	if got := len(listed(t, f, "many", true)); got != 110 {
		t.Errorf("ListSecretVersionIds IncludeDeprecated lists %d versions, want 110", got)
	}
	if got := len(listed(t, f, "many", false)); got != 2 {
		t.Errorf("ListSecretVersionIds lists %d versions, want 2", got)
	}

	clock.Advance(25 * time.Hour)
	put(1) // v114; v111 becomes deprecated: 109, pruned to 100
	s, _ = f.Secret("many")
	dep := deprecated(s)
	if got := len(dep); got != 100 {
		t.Errorf("deprecated versions = %d, want 100", got)
	}
	if len(dep) > 0 && dep[0] != vid(13) {
		t.Errorf("oldest remaining deprecated version = %s, want %s (oldest deleted first)", dep[0][:8], vid(13)[:8])
	}

	// Removing a label alone also deprecates a version, and prunes.
	f2 := localsm.New(localsm.Options{Clock: clock})
	old := t0
	vs := []localsm.Version{}
	for i := 1; i <= 100; i++ {
		v := ver(vid(i))
		v.CreatedDate = old
		vs = append(vs, v)
	}
	x := ver(vid(101), "X")
	x.CreatedDate = old
	vs = append(vs, x, ver(vid(102), cur))
	seed(t, f2, "remove", vs...)
	if _, err := f2.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String("remove"), VersionStage: aws.String("X"), RemoveFromVersionId: aws.String(vid(101)),
	}); err != nil {
		t.Fatalf("UpdateSecretVersionStage: %v", err)
	}
	s, _ = f2.Secret("remove")
	if got := len(deprecated(s)); got != 100 {
		t.Errorf("after removing the last label of a 101st version: %d deprecated versions, want 100", got)
	}
}

func TestUpdateSecretVersionStageErrors(t *testing.T) {
	ctx := context.Background()
	state := []localsm.Version{ver(v1, prev), ver(v2, cur, "X"), ver(v3, pend)}
	tests := []struct {
		name string
		in   secretsmanager.UpdateSecretVersionStageInput
		code string
	}{
		{
			name: "label elsewhere without RemoveFromVersionId",
			in:   secretsmanager.UpdateSecretVersionStageInput{VersionStage: aws.String(cur), MoveToVersionId: aws.String(v3)},
			code: "InvalidParameterException",
		},
		{
			name: "custom label elsewhere without RemoveFromVersionId",
			in:   secretsmanager.UpdateSecretVersionStageInput{VersionStage: aws.String("X"), MoveToVersionId: aws.String(v1)},
			code: "InvalidParameterException",
		},
		{
			name: "RemoveFromVersionId names a version without the label",
			in:   secretsmanager.UpdateSecretVersionStageInput{VersionStage: aws.String(cur), MoveToVersionId: aws.String(v3), RemoveFromVersionId: aws.String(v1)},
			code: "InvalidParameterException",
		},
		{
			name: "removing AWSCURRENT",
			in:   secretsmanager.UpdateSecretVersionStageInput{VersionStage: aws.String(cur), RemoveFromVersionId: aws.String(v2)},
			code: "InvalidParameterException",
		},
		{
			name: "neither MoveTo nor RemoveFrom",
			in:   secretsmanager.UpdateSecretVersionStageInput{VersionStage: aws.String("X")},
			code: "InvalidParameterException",
		},
		{
			name: "unknown MoveToVersionId",
			in:   secretsmanager.UpdateSecretVersionStageInput{VersionStage: aws.String("Z"), MoveToVersionId: aws.String(vid(9))},
			code: "InvalidParameterException",
		},
		{
			name: "unknown RemoveFromVersionId",
			in:   secretsmanager.UpdateSecretVersionStageInput{VersionStage: aws.String("X"), RemoveFromVersionId: aws.String(vid(9))},
			code: "InvalidParameterException",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := localsm.New(localsm.Options{})
			before := seed(t, f, "uvs", state...)
			in := tt.in
			in.SecretId = aws.String("uvs")
			_, err := f.UpdateSecretVersionStage(ctx, &in)
			wantAPIError(t, "UpdateSecretVersionStage", err, tt.code, "")
			var ip *types.InvalidParameterException
			if tt.code == "InvalidParameterException" && !errors.As(err, &ip) {
				t.Errorf("errors.As(%v, *types.InvalidParameterException) = false", err)
			}
			after, _ := f.Secret("uvs")
			if diff := cmp.Diff(before.Labels(), after.Labels()); diff != "" {
				t.Errorf("a rejected call changed the labels (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("unknown secret", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		_, err := f.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String("nope"), VersionStage: aws.String("X"), MoveToVersionId: aws.String(v1),
		})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("err = %v, want ResourceNotFoundException", err)
		}
	})
}

func TestGetSecretValue(t *testing.T) {
	ctx := context.Background()
	state := []localsm.Version{
		ver(v1, prev),
		ver(v2, cur, "X"),
		placeholder(v3, pend),
		{ID: vid(4), SecretBinary: []byte{0, 1, 2}, Stages: []string{"BIN"}},
	}
	tests := []struct {
		name      string
		versionID string
		stage     string
		wantID    string
		wantErr   any // pointer to the modelled error type
		wantMsg   string
	}{
		{name: "neither id nor stage gives AWSCURRENT", wantID: v2},
		{name: "stage", stage: prev, wantID: v1},
		{name: "custom stage", stage: "X", wantID: v2},
		{name: "version id", versionID: v1, wantID: v1},
		{name: "id and matching stage", versionID: v2, stage: "X", wantID: v2},
		{name: "binary", stage: "BIN", wantID: vid(4)},
		{
			name: "id and stage on different versions", versionID: v1, stage: cur,
			wantErr: new(*types.InvalidRequestException),
			wantMsg: "You provided a VersionStage that is not associated to the provided VersionId.",
		},
		{
			name: "unknown stage", stage: "NOPE",
			wantErr: new(*types.ResourceNotFoundException),
			wantMsg: "Secrets Manager can't find the specified secret value for staging label: NOPE",
		},
		{
			name: "unknown version", versionID: vid(9),
			wantErr: new(*types.ResourceNotFoundException),
			wantMsg: "Secrets Manager can't find the specified secret value for VersionId: " + vid(9),
		},
		{
			name: "placeholder by stage", stage: pend,
			wantErr: new(*types.ResourceNotFoundException),
			wantMsg: "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
		},
		{
			name: "placeholder by id", versionID: v3,
			wantErr: new(*types.ResourceNotFoundException),
			wantMsg: "Secrets Manager can't find the specified secret value for VersionId: " + v3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := localsm.New(localsm.Options{})
			s := seed(t, f, "get", state...)
			in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("get")}
			if tt.versionID != "" {
				in.VersionId = aws.String(tt.versionID)
			}
			if tt.stage != "" {
				in.VersionStage = aws.String(tt.stage)
			}
			out, err := f.GetSecretValue(ctx, in)
			if tt.wantErr != nil {
				if !errors.As(err, tt.wantErr) {
					t.Fatalf("err = %v (%T), want %T", err, err, tt.wantErr)
				}
				wantAPIError(t, "GetSecretValue", err, strings.TrimPrefix(fmt.Sprintf("%T", tt.wantErr), "**types."), tt.wantMsg)
				return
			}
			if err != nil {
				t.Fatalf("GetSecretValue: %v", err)
			}
			v, _ := s.Version(tt.wantID)
			want := &secretsmanager.GetSecretValueOutput{
				ARN:           aws.String(s.ARN),
				Name:          aws.String("get"),
				VersionId:     aws.String(tt.wantID),
				SecretString:  v.SecretString,
				SecretBinary:  v.SecretBinary,
				VersionStages: v.Stages,
				CreatedDate:   aws.Time(v.CreatedDate),
			}
			if diff := cmp.Diff(want, out, ignoreSDK, sortStrings); diff != "" {
				t.Errorf("GetSecretValue (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("unknown secret", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		_, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("err = %v, want ResourceNotFoundException", err)
		}
		wantAPIError(t, "GetSecretValue", err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	})

	t.Run("by ARN and partial ARN", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		s := seed(t, f, "get", state...)
		for _, id := range []string{s.ARN, s.ARN[:len(s.ARN)-7]} {
			out, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			if err != nil {
				t.Errorf("GetSecretValue(%q): %v", id, err)
				continue
			}
			if got := aws.ToString(out.VersionId); got != v2 {
				t.Errorf("GetSecretValue(%q) VersionId = %s, want %s", id, got, v2)
			}
		}
	})

	t.Run("deleted secret", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		seed(t, f, "get", state...)
		if _, err := f.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("get")}); err != nil {
			t.Fatal(err)
		}
		_, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("get")})
		var ir *types.InvalidRequestException
		if !errors.As(err, &ir) {
			t.Errorf("err = %v, want InvalidRequestException", err)
		}
	})
}

func TestPutSecretValue(t *testing.T) {
	ctx := context.Background()

	t.Run("idempotency", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		seed(t, f, "put", ver(v1, cur))
		if _, err := f.PutSecretValue(ctx, putInput("put", v2, "a")); err != nil {
			t.Fatal(err)
		}
		before, _ := f.Secret("put")
		out, err := f.PutSecretValue(ctx, putInput("put", v2, "a"))
		if err != nil {
			t.Errorf("same token, same value: %v, want a no-op", err)
		} else if got := aws.ToString(out.VersionId); got != v2 {
			t.Errorf("same token, same value: VersionId %s, want %s", got, v2)
		}
		_, err = f.PutSecretValue(ctx, putInput("put", v2, "b"))
		var re *types.ResourceExistsException
		if !errors.As(err, &re) {
			t.Errorf("same token, different value: err = %v, want ResourceExistsException", err)
		}
		after, _ := f.Secret("put")
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("repeated PutSecretValue changed the secret (-want +got):\n%s", diff)
		}
	})

	t.Run("binary idempotency", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		seed(t, f, "put", ver(v1, cur))
		in := &secretsmanager.PutSecretValueInput{SecretId: aws.String("put"), ClientRequestToken: aws.String(v2), SecretBinary: []byte{1, 2}}
		if _, err := f.PutSecretValue(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := f.PutSecretValue(ctx, in); err != nil {
			t.Errorf("same token, same binary: %v", err)
		}
		in.SecretBinary = []byte{1, 3}
		var re *types.ResourceExistsException
		if _, err := f.PutSecretValue(ctx, in); !errors.As(err, &re) {
			t.Errorf("same token, different binary: err = %v, want ResourceExistsException", err)
		}
	})

	t.Run("placeholder fill-in", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		seed(t, f, "put", ver(v1, cur), placeholder(v2, pend))
		in := putInput("put", v2, "pending", pend)
		in.RotationToken = aws.String("rotation-token-0123456789-0123456789-abc")
		if _, err := f.PutSecretValue(ctx, in); err != nil {
			t.Fatalf("filling in the placeholder: %v", err)
		}
		s, _ := f.Secret("put")
		if len(s.Versions) != 2 {
			t.Errorf("filling in the placeholder made %d versions, want 2", len(s.Versions))
		}
		v, _ := s.Version(v2)
		want := localsm.Version{ID: v2, SecretString: aws.String("pending"), Stages: []string{pend}, RotationToken: "rotation-token-0123456789-0123456789-abc"}
		if diff := cmp.Diff(want, v, cmpopts.IgnoreFields(localsm.Version{}, "CreatedDate")); diff != "" {
			t.Errorf("filled-in version (-want +got):\n%s", diff)
		}
		got, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("put"), VersionStage: aws.String(pend)})
		if err != nil {
			t.Fatalf("GetSecretValue AWSPENDING: %v", err)
		}
		if diff := cmp.Diff("pending", aws.ToString(got.SecretString)); diff != "" {
			t.Errorf("AWSPENDING value (-want +got):\n%s", diff)
		}
	})

	t.Run("RotationToken recorded", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		seed(t, f, "put", ver(v1, cur))
		in := putInput("put", v2, "x", pend)
		in.RotationToken = aws.String("tok-0123456789-0123456789-0123456789")
		if _, err := f.PutSecretValue(ctx, in); err != nil {
			t.Fatal(err)
		}
		s, _ := f.Secret("put")
		v, _ := s.Version(v2)
		if diff := cmp.Diff("tok-0123456789-0123456789-0123456789", v.RotationToken); diff != "" {
			t.Errorf("RotationToken (-want +got):\n%s", diff)
		}
	})

	big := strings.Repeat("a", 65536)
	tests := []struct {
		name string
		in   secretsmanager.PutSecretValueInput
		code string // "" = success
	}{
		{name: "string of 65536 bytes", in: secretsmanager.PutSecretValueInput{SecretString: aws.String(big)}},
		{name: "string of 65537 bytes", in: secretsmanager.PutSecretValueInput{SecretString: aws.String(big + "a")}, code: "ValidationException"},
		{name: "binary of 65536 bytes", in: secretsmanager.PutSecretValueInput{SecretBinary: []byte(big)}},
		{name: "binary of 65537 bytes", in: secretsmanager.PutSecretValueInput{SecretBinary: []byte(big + "a")}, code: "ValidationException"},
		{name: "both string and binary", in: secretsmanager.PutSecretValueInput{SecretString: aws.String("s"), SecretBinary: []byte("b")}, code: "InvalidParameterException"},
		{name: "neither string nor binary", in: secretsmanager.PutSecretValueInput{}, code: "InvalidParameterException"},
		{name: "token too short", in: secretsmanager.PutSecretValueInput{SecretString: aws.String("s"), ClientRequestToken: aws.String("short")}, code: "ValidationException"},
		{name: "unknown secret", in: secretsmanager.PutSecretValueInput{SecretId: aws.String("nope"), SecretString: aws.String("s")}, code: "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := localsm.New(localsm.Options{})
			before := seed(t, f, "put", ver(v1, cur))
			in := tt.in
			if in.SecretId == nil {
				in.SecretId = aws.String("put")
			}
			if in.ClientRequestToken == nil {
				in.ClientRequestToken = aws.String(v2)
			}
			_, err := f.PutSecretValue(ctx, &in)
			after, _ := f.Secret("put")
			if tt.code == "" {
				if err != nil {
					t.Errorf("PutSecretValue: %v", err)
				}
				if diff := cmp.Diff(map[string][]string{v1: {prev}, v2: {cur}}, after.Labels()); diff != "" {
					t.Errorf("labels (-want +got):\n%s", diff)
				}
				return
			}
			wantAPIError(t, "PutSecretValue", err, tt.code, "")
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("a rejected PutSecretValue changed the secret (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("no token gets one", func(t *testing.T) {
		f := localsm.New(localsm.Options{})
		seed(t, f, "put", ver(v1, cur))
		out, err := f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("put"), SecretString: aws.String("x")})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(aws.ToString(out.VersionId)); n < 32 || n > 64 {
			t.Errorf("generated VersionId %q has %d characters, want 32-64", aws.ToString(out.VersionId), n)
		}
	})
}

// TestDescribeSecretOmitsUnset: fields without a value are nil, never
// false or empty.
func TestDescribeSecretOmitsUnset(t *testing.T) {
	ctx := context.Background()
	clock := localsm.NewManualClock(t0)
	f := localsm.New(localsm.Options{Clock: clock})
	c, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("plain"), SecretString: aws.String("x"), ClientRequestToken: aws.String(v1)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("plain")})
	if err != nil {
		t.Fatal(err)
	}
	want := &secretsmanager.DescribeSecretOutput{
		ARN:                c.ARN,
		Name:               aws.String("plain"),
		CreatedDate:        aws.Time(t0),
		LastChangedDate:    aws.Time(t0),
		VersionIdsToStages: map[string][]string{v1: {cur}},
	}
	if diff := cmp.Diff(want, out, ignoreSDK); diff != "" {
		t.Errorf("DescribeSecret of a plain secret (-want +got):\n%s", diff)
	}
	if out.RotationEnabled != nil {
		t.Errorf("RotationEnabled = %v, want nil (never configured)", *out.RotationEnabled)
	}

	// Reading sets LastAccessedDate, at day granularity.
	if _, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}
	out, err = f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("plain")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(aws.Time(t0.Truncate(24*time.Hour)), out.LastAccessedDate); diff != "" {
		t.Errorf("LastAccessedDate (-want +got):\n%s", diff)
	}

	// A secret with no value has no VersionIdsToStages.
	if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("empty")}); err != nil {
		t.Fatal(err)
	}
	out, err = f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("empty")})
	if err != nil {
		t.Fatal(err)
	}
	if out.VersionIdsToStages != nil {
		t.Errorf("VersionIdsToStages = %v, want nil", out.VersionIdsToStages)
	}

	// Description, KmsKeyId and Tags are set only when given.
	if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("rich"), Description: aws.String("d"), KmsKeyId: aws.String("k"),
		Tags: []types.Tag{{Key: aws.String("b"), Value: aws.String("2")}, {Key: aws.String("a"), Value: aws.String("1")}},
	}); err != nil {
		t.Fatal(err)
	}
	out, err = f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("rich")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}, out.Tags, ignoreSDK); diff != "" {
		t.Errorf("Tags (-want +got):\n%s", diff)
	}
	if aws.ToString(out.Description) != "d" || aws.ToString(out.KmsKeyId) != "k" {
		t.Errorf("Description, KmsKeyId = %v, %v; want d, k", out.Description, out.KmsKeyId)
	}
}

func TestDeleteAndRestore(t *testing.T) {
	ctx := context.Background()
	describe := func(f *localsm.Fake, name string) (*secretsmanager.DescribeSecretOutput, error) {
		return f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	}

	t.Run("recovery window", func(t *testing.T) {
		for _, days := range []int64{0, 7, 30} { // 0: the default, 30 days
			t.Run(fmt.Sprint(days), func(t *testing.T) {
				clock := localsm.NewManualClock(t0)
				f := localsm.New(localsm.Options{Clock: clock})
				seed(t, f, "del", ver(v1, cur))
				in := &secretsmanager.DeleteSecretInput{SecretId: aws.String("del")}
				window := 30 * 24 * time.Hour
				if days != 0 {
					in.RecoveryWindowInDays = aws.Int64(days)
					window = time.Duration(days) * 24 * time.Hour
				}
				out, err := f.DeleteSecret(ctx, in)
				if err != nil {
					t.Fatalf("DeleteSecret: %v", err)
				}
				if diff := cmp.Diff(aws.Time(t0.Add(window)), out.DeletionDate); diff != "" {
					t.Errorf("DeletionDate (-want +got):\n%s", diff)
				}
				d, err := describe(f, "del")
				if err != nil {
					t.Fatalf("DescribeSecret of a secret scheduled for deletion: %v", err)
				}
				if diff := cmp.Diff(aws.Time(t0), d.DeletedDate); diff != "" {
					t.Errorf("DeletedDate (-want +got):\n%s", diff)
				}
				var ir *types.InvalidRequestException
				if _, err := f.PutSecretValue(ctx, putInput("del", v2, "x")); !errors.As(err, &ir) {
					t.Errorf("PutSecretValue on a deleted secret: err = %v, want InvalidRequestException", err)
				}
				if _, err := f.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("del")}); !errors.As(err, &ir) {
					t.Errorf("deleting twice: err = %v, want InvalidRequestException", err)
				}
				if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("del")}); !errors.As(err, &ir) {
					t.Errorf("CreateSecret with the name of a deleted secret: err = %v, want InvalidRequestException", err)
				}
				lo, err := f.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
				if err != nil {
					t.Fatal(err)
				}
				if len(lo.SecretList) != 0 {
					t.Errorf("ListSecrets lists %d secrets, want none (deleted)", len(lo.SecretList))
				}

				// Restore within the window.
				clock.Advance(window - time.Second)
				if _, err := f.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("del")}); err != nil {
					t.Fatalf("RestoreSecret just before the window ends: %v", err)
				}
				d, err = describe(f, "del")
				if err != nil {
					t.Fatal(err)
				}
				if d.DeletedDate != nil {
					t.Errorf("DeletedDate after restore = %v, want nil", d.DeletedDate)
				}
				if _, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("del")}); err != nil {
					t.Errorf("GetSecretValue after restore: %v", err)
				}

				// Delete again and let the window pass: purged.
				if _, err := f.DeleteSecret(ctx, in); err != nil {
					t.Fatal(err)
				}
				clock.Advance(window)
				var nf *types.ResourceNotFoundException
				if _, err := describe(f, "del"); !errors.As(err, &nf) {
					t.Errorf("DescribeSecret after the window: err = %v, want ResourceNotFoundException", err)
				}
				if _, err := f.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("del")}); !errors.As(err, &nf) {
					t.Errorf("RestoreSecret after the window: err = %v, want ResourceNotFoundException", err)
				}
				if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("del")}); err != nil {
					t.Errorf("CreateSecret after the purge: %v", err)
				}
			})
		}
	})

	t.Run("invalid window", func(t *testing.T) {
		for _, days := range []int64{6, 31} {
			f := localsm.New(localsm.Options{})
			seed(t, f, "del", ver(v1, cur))
			_, err := f.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("del"), RecoveryWindowInDays: aws.Int64(days)})
			var ip *types.InvalidParameterException
			if !errors.As(err, &ip) {
				t.Errorf("RecoveryWindowInDays %d: err = %v, want InvalidParameterException", days, err)
			}
			if d, err := describe(f, "del"); err != nil || d.DeletedDate != nil {
				t.Errorf("a rejected DeleteSecret deleted the secret (%v)", err)
			}
		}
	})

	t.Run("ForceDeleteWithoutRecovery", func(t *testing.T) {
		clock := localsm.NewManualClock(t0)
		f := localsm.New(localsm.Options{Clock: clock})
		seed(t, f, "del", ver(v1, cur))
		_, err := f.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("del"), ForceDeleteWithoutRecovery: aws.Bool(true), RecoveryWindowInDays: aws.Int64(7)})
		var ip *types.InvalidParameterException
		if !errors.As(err, &ip) {
			t.Errorf("Force with RecoveryWindowInDays: err = %v, want InvalidParameterException", err)
		}
		out, err := f.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("del"), ForceDeleteWithoutRecovery: aws.Bool(true)})
		if err != nil {
			t.Fatalf("DeleteSecret Force: %v", err)
		}
		if diff := cmp.Diff(aws.Time(t0), out.DeletionDate); diff != "" {
			t.Errorf("DeletionDate (-want +got):\n%s", diff)
		}
		var nf *types.ResourceNotFoundException
		if _, err := describe(f, "del"); !errors.As(err, &nf) {
			t.Errorf("DescribeSecret after a forced delete: err = %v, want ResourceNotFoundException", err)
		}
		if _, ok := f.Secret("del"); ok {
			t.Errorf("Secret(del) still exists after a forced delete")
		}
		if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("del"), SecretString: aws.String("x")}); err != nil {
			t.Errorf("CreateSecret after a forced delete: %v", err)
		}
	})
}

func TestCalls(t *testing.T) {
	ctx := context.Background()
	f := localsm.New(localsm.Options{})
	seed(t, f, "calls", ver(v1, cur))
	for range 3 {
		_, _ = f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("calls")})
	}
	_, _ = f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")}) // failures count too
	_, _ = f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("calls")})
	if diff := cmp.Diff(map[string]int{"GetSecretValue": 4, "DescribeSecret": 1}, f.Calls()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
	if got := f.TotalCalls(); got != 5 {
		t.Errorf("TotalCalls = %d, want 5", got)
	}
	f.ResetCalls()
	if diff := cmp.Diff(map[string]int{}, f.Calls()); diff != "" {
		t.Errorf("Calls after ResetCalls (-want +got):\n%s", diff)
	}
}

// TestSeedIsPlainData: the fake keeps its own copy of seeded data and
// hands out copies.
func TestSeedIsPlainData(t *testing.T) {
	f := localsm.New(localsm.Options{})
	val := "v"
	s := localsm.Secret{Name: "plain", Tags: map[string]string{"a": "1"}, Versions: []localsm.Version{{ID: v1, SecretString: &val, Stages: []string{cur}}}}
	if err := f.Seed(s); err != nil {
		t.Fatal(err)
	}
	val = "changed"
	s.Tags["a"] = "2"
	s.Versions[0].Stages[0] = "X"
	got, _ := f.Secret("plain")
	got.Versions[0].Stages[0] = "Y"
	got2, _ := f.Secret("plain")
	if diff := cmp.Diff("v", aws.ToString(got2.Versions[0].SecretString)); diff != "" {
		t.Errorf("value (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{v1: {cur}}, got2.Labels()); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a": "1"}, got2.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if err := f.Seed(localsm.Secret{}); err == nil {
		t.Errorf("Seed without a name succeeded")
	}
	if err := f.Seed(localsm.Secret{Name: "x", Versions: []localsm.Version{{}}}); err == nil {
		t.Errorf("Seed with a version without an ID succeeded")
	}
	names := []string{}
	for _, s := range f.Secrets() {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"plain"}) {
		t.Errorf("Secrets() names = %v, want [plain]", names)
	}
}

// TestConcurrentAPI exercises the API from many goroutines; run with
// -race. The rotation variant is in rotate_test.go.
func TestConcurrentAPI(t *testing.T) {
	ctx := context.Background()
	f := localsm.New(localsm.Options{})
	seed(t, f, "conc", ver(v1, cur))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				tok := fmt.Sprintf("%08d-%04d-4000-8000-000000000000", g+100, i)
				if _, err := f.PutSecretValue(ctx, putInput("conc", tok, tok)); err != nil {
					t.Errorf("PutSecretValue: %v", err)
				}
				if _, err := f.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("conc")}); err != nil {
					t.Errorf("GetSecretValue: %v", err)
				}
				_ = f.Secrets()
			}
		}()
	}
	wg.Wait()
	s, _ := f.Secret("conc")
	if got := len(s.Versions); got != 161 {
		t.Errorf("%d versions, want 161", got)
	}
	if _, ok := s.Staged(cur); !ok {
		t.Errorf("no AWSCURRENT after concurrent puts")
	}
}

// TestSeedRejectsImpossibleStates: Seed refuses what AWS can never hold,
// naming the problem.
func TestSeedRejectsImpossibleStates(t *testing.T) {
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprint("L", i)
	}
	tests := []struct {
		name     string
		versions []localsm.Version
		want     string
	}{
		{"label on two versions", []localsm.Version{ver(v1, cur, pend), ver(v2, pend)}, `label "AWSPENDING"`},
		{"label twice on one version", []localsm.Version{ver(v1, cur, cur)}, `lists label "AWSCURRENT" twice`},
		{"duplicate version id", []localsm.Version{ver(v1, cur), ver(v1, prev)}, `two versions with ID "` + v1 + `"`},
		{"too many labels", []localsm.Version{ver(v1, append([]string{cur}, many...)...)}, "22 labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := localsm.New(localsm.Options{})
			err := f.Seed(localsm.Secret{Name: "bad", Versions: tt.versions})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Seed = %v, want an error containing %q", err, tt.want)
			}
			if _, ok := f.Secret("bad"); ok {
				t.Errorf("the rejected secret was stored")
			}
		})
	}
	f := localsm.New(localsm.Options{})
	if err := f.Seed(localsm.Secret{Name: "ok", Versions: []localsm.Version{ver(v1, prev, "X"), ver(v2, cur, pend), ver(v3)}}); err != nil {
		t.Errorf("Seed of a valid secret: %v", err)
	}
}

// TestEmptyVersionStages: VersionStages [] is not "no VersionStages"; the
// model's minimum length rejects it and nothing is written.
func TestEmptyVersionStages(t *testing.T) {
	f := localsm.New(localsm.Options{})
	seed(t, f, "db", ver(v1, cur))
	in := putInput("db", v2, "x")
	in.VersionStages = []string{}
	_, err := f.PutSecretValue(context.Background(), in)
	wantAPIError(t, "PutSecretValue(VersionStages=[])", err, "ValidationException",
		"1 validation error detected: Value '[]' at 'versionStages' failed to satisfy constraint: Member must have length greater than or equal to 1")
	if got := listed(t, f, "db", true); !slices.Equal(got, []string{v1}) {
		t.Errorf("versions after the rejected call = %v, want [%s]", got, v1)
	}
}

// TestModelValidationComesFirst: the model's constraints are checked
// before the secret is looked up, as AWS's front end does, and an empty
// value gets the minimum-length message.
func TestModelValidationComesFirst(t *testing.T) {
	ctx := context.Background()
	f := localsm.New(localsm.Options{Invoker: localsm.InvokerFunc(func(context.Context, string, events.SecretsManagerSecretRotationEvent) error { return nil })})
	seed(t, f, "db", ver(v1, cur))
	missing := aws.String("missing")
	big := strings.Repeat("a", 65537)

	_, err := f.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: missing, RotationLambdaARN: aws.String(fnARN),
		RotationRules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1), Duration: aws.String("abcd")}})
	wantAPIError(t, "RotateSecret(missing, Duration=abcd)", err, "ValidationException", "")
	// A rule the service (not the model) rejects is checked after the lookup.
	_, err = f.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: missing, RotationLambdaARN: aws.String(fnARN),
		RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String("cron(5 10 * * ? *)")}})
	wantAPIError(t, "RotateSecret(missing, bad cron)", err, "ResourceNotFoundException", "")
	_, err = f.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: missing, ClientRequestToken: aws.String("short")})
	wantAPIError(t, "RotateSecret(missing, short token)", err, "ValidationException", "")

	_, err = f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: missing, SecretString: aws.String(big)})
	wantAPIError(t, "PutSecretValue(missing, 65537 bytes)", err, "ValidationException",
		"1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536")
	_, err = f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: missing, SecretString: aws.String("x"), VersionStages: []string{""}})
	wantAPIError(t, "PutSecretValue(missing, empty label)", err, "ValidationException", "")
	_, err = f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("db"), SecretString: aws.String("")})
	wantAPIError(t, `PutSecretValue(SecretString="")`, err, "ValidationException",
		"1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1")
	_, err = f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("db"), SecretBinary: []byte{}})
	wantAPIError(t, "PutSecretValue(SecretBinary=[])", err, "ValidationException",
		"1 validation error detected: Value at 'secretBinary' failed to satisfy constraint: Member must have length greater than or equal to 1")
	// The service's own rule (string or binary) comes after the lookup.
	_, err = f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: missing})
	wantAPIError(t, "PutSecretValue(missing, no value)", err, "ResourceNotFoundException", "")

	_, err = f.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: missing, SecretString: aws.String("")})
	wantAPIError(t, `UpdateSecret(missing, SecretString="")`, err, "ValidationException",
		"1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1")
	_, err = f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("new"), SecretString: aws.String("")})
	wantAPIError(t, `CreateSecret(SecretString="")`, err, "ValidationException",
		"1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1")
}
