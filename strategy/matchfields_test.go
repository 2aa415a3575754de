package strategy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"github.com/rotationkit/rotation/strategy"
)

// acceptingService's Test accepts only the current value, so SingleUser.Set
// goes on to compare fields and change the password.
type acceptingService struct {
	current *rotation.Secret
	changed int
}

func (s *acceptingService) Test(_ context.Context, v *rotation.Secret) error {
	if v.Equal(s.current) {
		return nil
	}
	return errors.New("does not authenticate")
}

func (s *acceptingService) Change(context.Context, *strategy.ChangeRequest) error {
	s.changed++
	return nil
}

// TestMatchFieldsChoice checks that each MatchFields setting means what it
// says: empty compares DefaultMatchFields, a list compares that list, and
// SkipFieldMatch compares nothing.
func TestMatchFieldsChoice(t *testing.T) {
	cur := rotation.NewString(`{"host":"db-a","port":5432,"username":"app","password":"old-password-1"}`)
	otherHost := rotation.NewString(`{"host":"db-b","port":5432,"username":"app","password":"new-password-1"}`)
	for _, tt := range []struct {
		name         string
		match        []string
		skip         bool
		wantMismatch bool
	}{
		{"empty compares the defaults", nil, false, true},
		{"empty non-nil compares the defaults too", []string{}, false, true},
		{"a list compares only it", []string{"port"}, false, false},
		{"skip compares nothing", nil, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := &acceptingService{current: cur}
			s := &strategy.SingleUser{Service: svc, MatchFields: tt.match, SkipFieldMatch: tt.skip}
			if err := s.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			_, err := s.Set(context.Background(), rotationtest.NewSetRequest("arn", "v2", otherHost, cur, nil))
			if got := errors.Is(err, strategy.ErrUserMismatch); got != tt.wantMismatch {
				t.Errorf("Set error = %v; want ErrUserMismatch: %v", err, tt.wantMismatch)
			}
			if wantChanged := !tt.wantMismatch; (svc.changed == 1) != wantChanged {
				t.Errorf("Change called %d times, want a change: %v", svc.changed, wantChanged)
			}
		})
	}
	if d := strategy.DefaultMatchFields(); len(d) != 3 || d[0] != "host" {
		t.Errorf("DefaultMatchFields() = %q", d)
	}
}

func TestMatchFieldsConflict(t *testing.T) {
	svc := &acceptingService{}
	reader := localsm.New(localsm.Options{})
	for name, v := range map[string]rotation.Validator{
		"SingleUser":       &strategy.SingleUser{Service: svc, MatchFields: []string{"host"}, SkipFieldMatch: true},
		"AlternatingUsers": &strategy.AlternatingUsers{Service: nopUsers{}, AdminSecret: strategy.AdminSecret{Client: reader}, MatchFields: []string{"host"}, SkipFieldMatch: true},
		"AdminSecret":      &strategy.SingleUser{Service: svc, AllowedUsers: []string{"app"}, AdminSecret: &strategy.AdminSecret{Client: reader, MatchFields: []string{"host"}, SkipFieldMatch: true}},
	} {
		if err := v.Validate(); err == nil {
			t.Errorf("%s with both MatchFields and SkipFieldMatch: Validate = nil, want an error", name)
		}
	}
}

// nopUsers is a UserService for configuration checks only.
type nopUsers struct{}

func (nopUsers) Test(context.Context, *rotation.Secret) error { return nil }

func (nopUsers) SetPassword(context.Context, *strategy.SetPasswordRequest) error { return nil }
