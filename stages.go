package rotation

import (
	"fmt"
	"slices"
)

// Step is one of the four steps Secrets Manager invokes a rotation function
// for. Its value is the camelCase string the service sends on the wire.
type Step string

// The four rotation steps, in the order the service runs them.
const (
	StepCreate Step = "createSecret"
	StepSet    Step = "setSecret"
	StepTest   Step = "testSecret"
	StepFinish Step = "finishSecret"
)

// Steps lists the four steps in the order Secrets Manager invokes them.
func Steps() []Step { return []Step{StepCreate, StepSet, StepTest, StepFinish} }

// ParseStep returns the Step for a wire value. Only the exact camelCase
// values the service sends are accepted; anything else wraps both
// ErrUnknownStep and ErrInvalidEvent.
func ParseStep(s string) (Step, error) {
	switch Step(s) {
	case StepCreate, StepSet, StepTest, StepFinish:
		return Step(s), nil
	}
	return "", fmt.Errorf("%w: %w: %q (want createSecret, setSecret, testSecret or finishSecret)", ErrInvalidEvent, ErrUnknownStep, truncate(s, 40))
}

// String returns the wire value of the step.
func (s Step) String() string { return string(s) }

// Stage is a staging label attached to a secret version.
type Stage string

// The staging labels Secrets Manager gives meaning to.
const (
	StageCurrent  Stage = "AWSCURRENT"
	StagePending  Stage = "AWSPENDING"
	StagePrevious Stage = "AWSPREVIOUS"
)

// String returns the label as it appears on the wire.
func (s Stage) String() string { return string(s) }

// versions maps version ids to the staging labels attached to them, as in
// DescribeSecret's VersionIdsToStages.
type versions map[string][]string

// Holder returns the id of the version that carries stage. The second result
// is false when no version carries it. A label is on at most one version;
// if the map is inconsistent and several carry it, the smallest id is
// returned so the answer never depends on map iteration order.
func (v versions) Holder(stage Stage) (string, bool) {
	var found []string
	for id, stages := range v {
		if slices.Contains(stages, string(stage)) {
			found = append(found, id)
		}
	}
	if len(found) == 0 {
		return "", false
	}
	slices.Sort(found)
	return found[0], true
}

// Has reports whether version id carries stage.
func (v versions) Has(id string, stage Stage) bool {
	return slices.Contains(v[id], string(stage))
}

// Exists reports whether id is a listed (non-deprecated) version.
func (v versions) Exists(id string) bool {
	_, ok := v[id]
	return ok
}

// truncate shortens s for inclusion in an error message about malformed
// input (never used for secret values).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
