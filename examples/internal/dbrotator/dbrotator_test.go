package dbrotator

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"github.com/rotationkit/rotation/strategy"
)

// server is a tiny password database: it authenticates user/password
// pairs and records who changed which password.
type server struct {
	mu      sync.Mutex
	pw      map[string]string
	changes []change
}

type change struct {
	User    string
	ByAdmin bool
}

func newServer(pw map[string]string) *server { return &server{pw: pw} }

func (s *server) login(v *rotation.Secret) error {
	u, err := v.Get(dbsecret.FieldUsername)
	if err != nil {
		return err
	}
	p, err := v.Get(dbsecret.FieldPassword)
	if err != nil {
		return err
	}
	if want, ok := s.pw[u]; !ok || want != p {
		return errors.New("authentication failed")
	}
	return nil
}

func (s *server) Test(_ context.Context, v *rotation.Secret) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.login(v)
}

func (s *server) Change(_ context.Context, req *strategy.ChangeRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.login(req.Login); err != nil {
		return err
	}
	u, err := req.New.Get(dbsecret.FieldUsername)
	if err != nil {
		return err
	}
	p, err := req.New.Get(dbsecret.FieldPassword)
	if err != nil {
		return err
	}
	s.pw[u] = p
	s.changes = append(s.changes, change{User: u, ByAdmin: req.LoginIsAdmin})
	return nil
}

func (s *server) password(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pw[user]
}

func (s *server) changeLog() []change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]change(nil), s.changes...)
}

// adminStore returns a Secrets Manager fake holding the admin secret and
// that secret's ARN.
func adminStore(t *testing.T) (*localsm.Fake, string) {
	t.Helper()
	f := localsm.New(localsm.Options{})
	out, err := f.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name:         aws.String("admin"),
		SecretString: aws.String(`{"engine":"postgres","host":"h","username":"admin","password":"admin-pw"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, aws.ToString(out.ARN)
}

// rotate runs Create, Set and Test on r for current and returns the
// pending value.
func rotate(t *testing.T, r rotation.Rotator, current *rotation.Secret) *rotation.Secret {
	t.Helper()
	ctx := context.Background()
	resp, err := r.Create(ctx, rotationtest.NewCreateRequest("arn", "v2", current, nil))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if resp == nil || resp.Pending == nil {
		t.Fatal("Create returned no pending value")
	}
	if _, err := r.Set(ctx, rotationtest.NewSetRequest("arn", "v2", resp.Pending, current, nil)); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if _, err := r.Test(ctx, rotationtest.NewTestRequest("arn", "v2", resp.Pending, current)); err != nil {
		t.Fatalf("Test: %v", err)
	}
	return resp.Pending
}

func TestSingleUserOwnPassword(t *testing.T) {
	srv := newServer(map[string]string{"app": "old-pw"})
	r := &SingleUser{Own: &strategy.SingleUser{Service: srv}}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	pending := rotate(t, r, rotation.NewString(`{"engine":"postgres","host":"h","username":"app","password":"old-pw"}`))
	pw, err := pending.Get(dbsecret.FieldPassword)
	if err != nil {
		t.Fatal(err)
	}
	if pw == "old-pw" || srv.password("app") != pw {
		t.Errorf("after rotation the server's password for app is not the pending one (or did not change)")
	}
	if diff := cmp.Diff([]change{{User: "app", ByAdmin: false}}, srv.changeLog()); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func TestSingleUserAdmin(t *testing.T) {
	sm, arn := adminStore(t)
	srv := newServer(map[string]string{"app": "old-pw", "admin": "admin-pw"})
	admin := &strategy.AdminSecret{Client: sm, Field: dbsecret.FieldMasterARN, SkipFieldMatch: true}
	r := &SingleUser{
		Own:   &strategy.SingleUser{Service: srv},
		Admin: &strategy.SingleUser{Service: srv, AdminSecret: admin, AllowedUsers: []string{"app", "other"}},
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// With masterarn the admin changes the password, even when the
	// user's own password no longer works.
	srv.pw["app"] = "lost"
	pending := rotate(t, r, rotation.NewString(`{"engine":"postgres","host":"h","username":"app","password":"old-pw","masterarn":"`+arn+`"}`))
	pw, _ := pending.Get(dbsecret.FieldPassword)
	if srv.password("app") != pw {
		t.Errorf("after rotation as the admin the server's password for app is not the pending one")
	}
	// Without masterarn the user changes its own password.
	srv.pw["other"] = "other-pw"
	pending = rotate(t, r, rotation.NewString(`{"engine":"postgres","host":"h","username":"other","password":"other-pw"}`))
	pw, _ = pending.Get(dbsecret.FieldPassword)
	if srv.password("other") != pw {
		t.Errorf("after rotation by the user the server's password for other is not the pending one")
	}
	want := []change{{User: "app", ByAdmin: true}, {User: "other", ByAdmin: false}}
	if diff := cmp.Diff(want, srv.changeLog()); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	// A user not in AllowedUsers is refused by the admin strategy.
	srv.pw["stranger"] = "s-pw"
	cur := rotation.NewString(`{"engine":"postgres","host":"h","username":"stranger","password":"s-pw","masterarn":"` + arn + `"}`)
	pend := rotation.NewString(`{"engine":"postgres","host":"h","username":"stranger","password":"new-pw","masterarn":"` + arn + `"}`)
	_, err := r.Set(context.Background(), rotationtest.NewSetRequest("arn", "v3", pend, cur, nil))
	if !errors.Is(err, strategy.ErrUserMismatch) {
		t.Errorf("Set for a user not in AllowedUsers: %v, want ErrUserMismatch", err)
	}
	if srv.password("stranger") != "s-pw" {
		t.Error("the refused Set changed the password")
	}
}

func TestSingleUserMasterARNWithoutAllowedUsers(t *testing.T) {
	srv := newServer(map[string]string{"app": "old-pw"})
	r := &SingleUser{Own: &strategy.SingleUser{Service: srv}}
	ctx := context.Background()
	cur := rotation.NewString(`{"engine":"postgres","host":"h","username":"app","password":"old-pw","masterarn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:admin"}`)
	resp, err := r.Create(ctx, rotationtest.NewCreateRequest("arn", "v2", cur, nil))
	if err == nil || resp != nil {
		t.Fatalf("Create with masterarn and no admin strategy: %v, %v; want an error and no pending value", resp, err)
	}
	for _, want := range []string{dbsecret.EnvAllowedUsers, `"masterarn"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Create error %q does not name %s", err, want)
		}
	}
	pend := rotation.NewString(`{"engine":"postgres","host":"h","username":"app","password":"new-pw","masterarn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:admin"}`)
	if _, err := r.Set(ctx, rotationtest.NewSetRequest("arn", "v2", pend, cur, nil)); err == nil || !strings.Contains(err.Error(), dbsecret.EnvAllowedUsers) {
		t.Errorf("Set with masterarn and no admin strategy: %v, want an error naming %s", err, dbsecret.EnvAllowedUsers)
	}
	if srv.password("app") != "old-pw" || len(srv.changeLog()) != 0 {
		t.Error("a refused rotation changed the password")
	}
	// An empty masterarn names no admin secret.
	rotate(t, r, rotation.NewString(`{"engine":"postgres","host":"h","username":"app","password":"old-pw","masterarn":""}`))
	if diff := cmp.Diff([]change{{User: "app"}}, srv.changeLog()); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func TestSingleUserValidate(t *testing.T) {
	srv := newServer(nil)
	sm, _ := adminStore(t)
	for _, tc := range []struct {
		name string
		r    *SingleUser
		want string // "" means valid
	}{
		{"own only", &SingleUser{Own: &strategy.SingleUser{Service: srv}}, ""},
		{"own without service", &SingleUser{Own: &strategy.SingleUser{}}, "Service"},
		{"admin without AllowedUsers", &SingleUser{
			Own:   &strategy.SingleUser{Service: srv},
			Admin: &strategy.SingleUser{Service: srv, AdminSecret: &strategy.AdminSecret{Client: sm}},
		}, "AllowedUsers"},
		{"admin", &SingleUser{
			Own:   &strategy.SingleUser{Service: srv},
			Admin: &strategy.SingleUser{Service: srv, AdminSecret: &strategy.AdminSecret{Client: sm}, AllowedUsers: []string{"app"}},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error naming %s", err, tc.want)
			}
			// rotation.New checks it through Validating too.
			_, err = rotation.New(localsm.New(localsm.Options{}), &Validating{Next: tc.r, Family: dbsecret.PostgreSQL})
			if (err == nil) != (tc.want == "") {
				t.Errorf("rotation.New: %v, want error: %t", err, tc.want != "")
			}
		})
	}
}

// counting is a Rotator without Validate that counts Create calls and
// returns pending as the new value.
type counting struct {
	creates int
	pending *rotation.Secret
}

func (c *counting) Create(context.Context, *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	c.creates++
	return &rotation.CreateResponse{Pending: c.pending}, nil
}

func (c *counting) Set(context.Context, *rotation.SetRequest) (*rotation.SetResponse, error) {
	return &rotation.SetResponse{}, nil
}

func (c *counting) Test(context.Context, *rotation.TestRequest) (*rotation.TestResponse, error) {
	return &rotation.TestResponse{}, nil
}

func TestValidating(t *testing.T) {
	ctx := context.Background()
	good := rotation.NewString(`{"engine":"postgres","host":"h","username":"app","password":"p"}`)
	t.Run("malformed current", func(t *testing.T) {
		next := &counting{pending: good}
		v := &Validating{Next: next, Family: dbsecret.PostgreSQL}
		_, err := v.Create(ctx, rotationtest.NewCreateRequest("arn", "v2", rotation.NewString(`{"engine":"postgres","host":"h","password":"p"}`), nil))
		if err == nil || !strings.Contains(err.Error(), "AWSCURRENT") || !strings.Contains(err.Error(), dbsecret.FieldUsername) {
			t.Errorf("Create: %v, want an error naming the AWSCURRENT value and field %q", err, dbsecret.FieldUsername)
		}
		if next.creates != 0 {
			t.Errorf("Next.Create called %d times for a malformed current value", next.creates)
		}
	})
	t.Run("hooks", func(t *testing.T) {
		errUser, errPassword := errors.New("bad user"), errors.New("bad password")
		var calls []string
		v := &Validating{
			Next:          &counting{pending: good},
			Family:        dbsecret.PostgreSQL,
			CheckUser:     func(u string) error { calls = append(calls, "user "+u); return nil },
			CheckPassword: func(p string) error { calls = append(calls, "password"); return nil },
		}
		resp, err := v.Create(ctx, rotationtest.NewCreateRequest("arn", "v2", good, nil))
		if err != nil || resp == nil || resp.Pending != good {
			t.Fatalf("Create: %v, %v; want the pending value", resp, err)
		}
		if diff := cmp.Diff([]string{"user app", "password"}, calls); diff != "" {
			t.Errorf("hook calls (-want +got):\n%s", diff)
		}
		v.CheckUser = func(string) error { return errUser }
		if _, err := v.Create(ctx, rotationtest.NewCreateRequest("arn", "v2", good, nil)); !errors.Is(err, errUser) {
			t.Errorf("Create with a refused user: %v, want %v", err, errUser)
		}
		v.CheckUser = nil
		v.CheckPassword = func(string) error { return errPassword }
		if _, err := v.Create(ctx, rotationtest.NewCreateRequest("arn", "v2", good, nil)); !errors.Is(err, errPassword) {
			t.Errorf("Create with a refused password: %v, want %v", err, errPassword)
		}
	})
	t.Run("validate", func(t *testing.T) {
		if err := (&Validating{Next: &counting{}}).Validate(); err != nil {
			t.Errorf("Validate with a Next that has no Validate: %v", err)
		}
		bad := &Validating{Next: &SingleUser{Own: &strategy.SingleUser{}}}
		if err := bad.Validate(); err == nil {
			t.Error("Validate with an invalid Next: nil, want its error")
		}
	})
}
