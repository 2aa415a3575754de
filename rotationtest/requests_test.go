package rotationtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

func TestRequestConstructors(t *testing.T) {
	ctx := context.Background()
	cur := rotation.NewString(`{"password":"current-password"}`)
	prev := rotation.NewString(`{"password":"previous-password"}`)
	pend := rotation.NewString(`{"password":"pending-password"}`)

	create := rotationtest.NewCreateRequest("arn-1", "v2", cur, nil)
	if create.SecretARN != "arn-1" || create.VersionID != "v2" {
		t.Errorf("CreateRequest = %q %q, want arn-1 v2", create.SecretARN, create.VersionID)
	}
	if got, err := create.Current(ctx); err != nil || !got.Equal(cur) {
		t.Errorf("CreateRequest.Current = %v, %v; want the current value", got, err)
	}
	if got, err := create.Previous(ctx); err != nil || got != nil {
		t.Errorf("CreateRequest.Previous = %v, %v; want nil, nil", got, err)
	}

	set := rotationtest.NewSetRequest("arn", "v2", pend, cur, nil)
	if set.Pending != pend {
		t.Errorf("SetRequest.Pending is not the value given")
	}
	if got, err := set.Current(ctx); err != nil || !got.Equal(cur) {
		t.Errorf("SetRequest.Current = %v, %v", got, err)
	}
	if got, err := set.Previous(ctx); err != nil || got != nil {
		t.Errorf("SetRequest.Previous = %v, %v; want nil, nil", got, err)
	}
	set = rotationtest.NewSetRequest("arn", "v2", pend, cur, prev)
	if got, err := set.Previous(ctx); err != nil || !got.Equal(prev) {
		t.Errorf("SetRequest.Previous = %v, %v; want the previous value", got, err)
	}

	if _, err := rotationtest.NewTestRequest("arn", "v2", pend, nil).Current(ctx); !errors.Is(err, rotation.ErrNoCurrent) {
		t.Errorf("TestRequest.Current with no current: err = %v, want ErrNoCurrent", err)
	}

	fin := rotationtest.NewFinishRequest("arn", "v2", pend, cur, pend)
	if got, _ := fin.Previous(ctx); !got.Equal(cur) {
		t.Errorf("FinishRequest.Previous = %v, want the replaced value", got)
	}
	if got, _ := fin.Pending(ctx); !got.Equal(pend) {
		t.Errorf("FinishRequest.Pending = %v, want the new current value", got)
	}
	newer := rotation.NewString(`{"password":"newer-password"}`)
	if got, _ := rotationtest.NewFinishRequest("arn", "v2", pend, cur, newer).Pending(ctx); !got.Equal(newer) {
		t.Errorf("FinishRequest.Pending = %v, want the newer rotation's value", got)
	}
	if got, err := rotationtest.NewFinishRequest("arn", "v2", pend, nil, nil).Pending(ctx); err != nil || got != nil {
		t.Errorf("FinishRequest.Pending with none = %v, %v; want nil, nil", got, err)
	}

	bin := rotation.NewBinary([]byte{0, 1, 2})
	if got, err := rotationtest.NewCreateRequest("arn", "v2", bin, nil).Current(ctx); err != nil || !got.Equal(bin) {
		t.Errorf("CreateRequest.Current of a binary value = %v, %v", got, err)
	}

	var zero rotation.SetRequest
	if _, err := zero.Current(ctx); err == nil {
		t.Error("Current on a SetRequest not built by a Handler: no error")
	}
}
