package rotationtest

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotationkit/rotation"
)

// NewCreateRequest returns the request a Handler gives Rotator.Create,
// for unit tests of a Rotator without a Secrets Manager: current is what
// Current returns, previous what Previous returns (nil: the secret has no
// AWSPREVIOUS version). It panics if current is nil, as httptest.NewRequest
// panics on a request it cannot build.
func NewCreateRequest(secretARN, versionID string, current, previous *rotation.Secret) *rotation.CreateRequest {
	if current == nil {
		panic("rotationtest.NewCreateRequest: current is nil")
	}
	src := newRequestSource(current, previous)
	src.add(requestVersion, nil, rotation.StagePending)
	c := captureRequest(src, rotation.StepCreate)
	c.create.SecretARN, c.create.VersionID = secretARN, versionID
	return c.create
}

// NewSetRequest returns the request a Handler gives Rotator.Set, for unit
// tests: pending is the value to install, current and previous what
// Current and Previous return (nil: no such version). It panics if pending
// is nil.
func NewSetRequest(secretARN, versionID string, pending, current, previous *rotation.Secret) *rotation.SetRequest {
	if pending == nil {
		panic("rotationtest.NewSetRequest: pending is nil")
	}
	src := newRequestSource(current, previous)
	src.add(requestVersion, pending, rotation.StagePending)
	c := captureRequest(src, rotation.StepSet)
	c.set.SecretARN, c.set.VersionID, c.set.Pending = secretARN, versionID, pending
	return c.set
}

// NewTestRequest returns the request a Handler gives Rotator.Test, for
// unit tests: pending is the value to test, current what Current returns
// (nil: no AWSCURRENT version). It panics if pending is nil.
func NewTestRequest(secretARN, versionID string, pending, current *rotation.Secret) *rotation.TestRequest {
	if pending == nil {
		panic("rotationtest.NewTestRequest: pending is nil")
	}
	src := newRequestSource(current, nil)
	src.add(requestVersion, pending, rotation.StagePending)
	c := captureRequest(src, rotation.StepTest)
	c.test.SecretARN, c.test.VersionID, c.test.Pending = secretARN, versionID, pending
	return c.test
}

// NewFinishRequest returns the request a Handler gives Finisher.Finish
// after AWSCURRENT has moved, for unit tests: current is the value just
// made AWSCURRENT, previous the one it replaced, pending what AWSPENDING
// holds: usually current itself (the same version), another value for a
// newer rotation, or nil for none. It panics if current is nil.
func NewFinishRequest(secretARN, versionID string, current, previous, pending *rotation.Secret) *rotation.FinishRequest {
	if current == nil {
		panic("rotationtest.NewFinishRequest: current is nil")
	}
	src := newRequestSource(nil, previous)
	if pending != nil && pending.Equal(current) {
		src.add(requestVersion, current, rotation.StageCurrent, rotation.StagePending)
	} else {
		src.add(requestVersion, current, rotation.StageCurrent)
		if pending != nil {
			src.add(idOr(pending, "c0000000-0000-4000-8000-00000000000c"), pending, rotation.StagePending)
		}
	}
	c := captureRequest(src, rotation.StepFinish)
	c.finish.SecretARN, c.finish.VersionID = secretARN, versionID
	return c.finish
}

// requestVersion is the version id the request constructors run their
// Handler with; the requests they return carry the caller's.
const requestVersion = "d0000000-0000-4000-8000-00000000000d"

// capture runs one step of a real Handler against src with a Rotator that
// keeps the request it is given, so a request built for a test behaves
// exactly like one built in production (its values are read lazily, from
// src).
func captureRequest(src *requestSource, step rotation.Step) *capturer {
	c := &capturer{}
	h, err := rotation.New(src, c)
	if err != nil {
		panic("rotationtest: " + err.Error())
	}
	err = h.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{
		Step: string(step), SecretID: "rotationtest-request", ClientRequestToken: requestVersion,
	})
	if !c.captured {
		panic(fmt.Sprintf("rotationtest: building the %s request: %v", step, err))
	}
	return c
}

// errCaptured stops createSecret once Create has its request.
var errCaptured = errors.New("rotationtest: request captured")

// capturer is a Rotator and Finisher that keeps the request it gets.
type capturer struct {
	captured bool
	create   *rotation.CreateRequest
	set      *rotation.SetRequest
	test     *rotation.TestRequest
	finish   *rotation.FinishRequest
}

func (c *capturer) Create(_ context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	c.create, c.captured = req, true
	return nil, errCaptured
}

func (c *capturer) Set(_ context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	c.set, c.captured = req, true
	return &rotation.SetResponse{}, nil
}

func (c *capturer) Test(_ context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	c.test, c.captured = req, true
	return &rotation.TestResponse{}, nil
}

func (c *capturer) Finish(_ context.Context, req *rotation.FinishRequest) (*rotation.FinishResponse, error) {
	c.finish, c.captured = req, true
	return &rotation.FinishResponse{}, nil
}

// requestSource is a read-only secret with fixed versions, serving a
// Handler the values a request constructor was given. It answers every
// SecretId and refuses writes.
type requestSource struct {
	versions []sourceVersion
}

type sourceVersion struct {
	id     string
	value  *rotation.Secret // nil: a placeholder without a value
	stages []string
}

func newRequestSource(current, previous *rotation.Secret) *requestSource {
	s := &requestSource{}
	if current != nil {
		s.add(idOr(current, "a0000000-0000-4000-8000-00000000000a"), current, rotation.StageCurrent)
	}
	if previous != nil {
		s.add(idOr(previous, "b0000000-0000-4000-8000-00000000000b"), previous, rotation.StagePrevious)
	}
	return s
}

// idOr returns the version id v was read from, or def for a value never
// stored.
func idOr(v *rotation.Secret, def string) string {
	if id := v.VersionID(); id != "" && id != requestVersion {
		return id
	}
	return def
}

func (s *requestSource) add(id string, v *rotation.Secret, stages ...rotation.Stage) {
	sv := sourceVersion{id: id, value: v}
	for _, st := range stages {
		sv.stages = append(sv.stages, string(st))
	}
	s.versions = append(s.versions, sv)
}

func (s *requestSource) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	out := &secretsmanager.DescribeSecretOutput{ARN: in.SecretId, RotationEnabled: aws.Bool(true), VersionIdsToStages: map[string][]string{}}
	for _, v := range s.versions {
		out.VersionIdsToStages[v.id] = v.stages
	}
	return out, nil
}

func (s *requestSource) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	for _, v := range s.versions {
		if in.VersionId != nil && *in.VersionId != v.id {
			continue
		}
		if in.VersionStage != nil && !slices.Contains(v.stages, *in.VersionStage) {
			continue
		}
		if v.value == nil {
			break
		}
		out := &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, VersionId: aws.String(v.id), VersionStages: v.stages}
		if str, ok := v.value.SecretString(); ok {
			out.SecretString = aws.String(str)
		} else {
			out.SecretBinary = v.value.SecretBinary()
		}
		return out, nil
	}
	return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value.")}
}

func (s *requestSource) PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return nil, errors.New("rotationtest: a request's source is read-only")
}

func (s *requestSource) UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return nil, errors.New("rotationtest: a request's source is read-only")
}
