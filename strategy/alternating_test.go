package strategy_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/strategy"
)

// dbValue is an alternating-users secret value.
func dbValue(user, pw string) string {
	return `{"engine":"toy","host":"` + toyHost + `","port":5432,"dbname":"app","username":"` + user + `","password":"` + pw + `","masterarn":"` + adminName + `"}`
}

// withFields returns value with fields replaced (nil removes one).
func withFields(t *testing.T, value string, fields map[string]any) string {
	t.Helper()
	s, err := rotation.NewString(value).With(fields)
	if err != nil {
		t.Fatal(err)
	}
	str, _ := s.SecretString()
	return str
}

// users returns the username of AWSCURRENT and AWSPREVIOUS.
func (w *world) users() [2]string {
	return [2]string{w.field(rotation.StageCurrent, "username"), w.field(rotation.StagePrevious, "username")}
}

func TestAlternatingUsersDerivedNames(t *testing.T) {
	db := newUserDB(toyHost, "admin", pwAdmin, true)
	db.addUser("app", pwCur, "SELECT", "INSERT")
	w := newWorld(t, map[string]string{adminName: adminSecretWith(pwAdmin)}, func(c rotation.Client) rotation.Rotator {
		return &strategy.AlternatingUsers{Service: db, AdminSecret: strategy.AdminSecret{Client: c}, MaxNameLength: 16}
	}, ver(tokCur, dbValue("app", pwCur), "AWSCURRENT"))

	var got [][2]string
	for _, tok := range []string{tokPending, tokNext} {
		if err := w.rotate(tok); err != nil {
			t.Fatalf("rotation %s: %v", tok[:8], err)
		}
		got = append(got, w.users())
		for _, stage := range []rotation.Stage{rotation.StageCurrent, rotation.StagePrevious} {
			if err := db.Test(context.Background(), w.value(stage)); err != nil {
				t.Errorf("after rotation %s, %s does not authenticate: %v", tok[:8], stage, err)
			}
		}
	}
	want := [][2]string{{"app_clone", "app"}, {"app", "app_clone"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[AWSCURRENT AWSPREVIOUS] users after each rotation (-want +got):\n%s", diff)
	}
	snap := db.snapshot()
	if diff := cmp.Diff([]string{"app_clone"}, snap.Created); diff != "" {
		t.Errorf("users created (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"app_clone", "app"}, snap.Sets); diff != "" {
		t.Errorf("passwords set (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"SELECT", "INSERT"}, snap.Users["app_clone"].Privileges); diff != "" {
		t.Errorf("app_clone's privileges, copied from app (-want +got):\n%s", diff)
	}
}

func TestAlternatingUsersPreCreated(t *testing.T) {
	db := newUserDB(toyHost, "admin", pwAdmin, false)
	db.addUser("app_blue", pwCur, "owner:app")
	db.addUser("app_green", "green-password-0000", "owner:app")
	w := newWorld(t, map[string]string{adminName: adminSecretWith(pwAdmin)}, func(c rotation.Client) rotation.Rotator {
		return &strategy.AlternatingUsers{Service: db, AdminSecret: strategy.AdminSecret{Client: c}, Users: [2]string{"app_blue", "app_green"}}
	}, ver(tokCur, dbValue("app_blue", pwCur), "AWSCURRENT"))

	var got [][2]string
	for _, tok := range []string{tokPending, tokNext} {
		if err := w.rotate(tok); err != nil {
			t.Fatalf("rotation %s: %v", tok[:8], err)
		}
		got = append(got, w.users())
	}
	want := [][2]string{{"app_green", "app_blue"}, {"app_blue", "app_green"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[AWSCURRENT AWSPREVIOUS] users after each rotation (-want +got):\n%s", diff)
	}
	if snap := db.snapshot(); len(snap.Created) != 0 {
		t.Errorf("pre-created mode created users %v", snap.Created)
	}
}

func TestAlternatingUsersCreateRefusals(t *testing.T) {
	tests := []struct {
		name      string
		current   string
		users     [2]string
		maxLen    int
		wantErr   error
		wantField string // quoted in the error
	}{
		{
			name:      "alternate name over MaxNameLength",
			current:   dbValue("reporting_reader", pwCur), // 16 + 6 characters
			maxLen:    16,
			wantErr:   strategy.ErrNameTooLong,
			wantField: `"username"`,
		},
		{
			name:      "username missing",
			current:   withFields(t, dbValue("app", pwCur), map[string]any{"username": nil}),
			wantErr:   rotation.ErrInvalidSecret,
			wantField: `"username"`,
		},
		{
			name:      "masterarn missing",
			current:   withFields(t, dbValue("app", pwCur), map[string]any{"masterarn": nil}),
			wantErr:   rotation.ErrInvalidSecret,
			wantField: `"masterarn"`,
		},
		{
			name:    "user is neither of the pre-created users",
			current: dbValue("app", pwCur),
			users:   [2]string{"app_blue", "app_green"},
			wantErr: strategy.ErrUserMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newUserDB(toyHost, "admin", pwAdmin, true)
			db.addUser("app", pwCur, "SELECT")
			db.addUser("reporting_reader", pwCur, "SELECT")
			w := newWorld(t, map[string]string{adminName: adminSecretWith(pwAdmin)}, func(c rotation.Client) rotation.Rotator {
				return &strategy.AlternatingUsers{Service: db, AdminSecret: strategy.AdminSecret{Client: c}, MaxNameLength: tt.maxLen, Users: tt.users}
			}, ver(tokCur, tt.current, "AWSCURRENT"), placeholder(tokPending))
			before, dbBefore := w.state(), db.snapshot()

			err := w.step(rotation.StepCreate, tokPending)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("createSecret: got %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("error %q does not name the field %s", err, tt.wantField)
			}
			if diff := cmp.Diff(before, w.state()); diff != "" {
				t.Errorf("Secrets Manager changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(dbBefore, db.snapshot()); diff != "" {
				t.Errorf("the database changed (-before +after):\n%s", diff)
			}
		})
	}
}

// denyReader refuses to read one secret, as IAM does without
// GetSecretValue permission on it.
type denyReader struct {
	next strategy.SecretReader
	id   string
}

var errAccessDenied = errors.New("AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue")

func (d denyReader) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if aws.ToString(in.SecretId) == d.id {
		return nil, errAccessDenied
	}
	return d.next.GetSecretValue(ctx, in, opts...)
}

func TestAlternatingUsersSetGuards(t *testing.T) {
	const pwClone = "password-clone-3333"
	notFound := func(err error) bool {
		var nf *types.ResourceNotFoundException
		return errors.As(err, &nf)
	}
	tests := []struct {
		name       string
		pending    func(t *testing.T) string
		admin      *localsm.Version // the admin secret's value; nil for the good one
		adminField string           // masterarn value, if not adminName
		deny       bool             // the admin secret cannot be read
		dbPassword string           // app's password, if not pwCur
		is         func(error) bool
		wantField  string
	}{
		{
			name:      "pending user is not the alternate",
			pending:   func(t *testing.T) string { return dbValue("intruder", pwClone) },
			is:        func(err error) bool { return errors.Is(err, strategy.ErrUserMismatch) },
			wantField: `"username"`,
		},
		{
			name:      "pending user is the current user with another password",
			pending:   func(t *testing.T) string { return dbValue("app", pwClone) },
			is:        func(err error) bool { return errors.Is(err, strategy.ErrUserMismatch) },
			wantField: `"username"`,
		},
		{
			name: "host differs between current and pending",
			pending: func(t *testing.T) string {
				return withFields(t, dbValue("app_clone", pwClone), map[string]any{"host": "other.example.internal"})
			},
			is:        func(err error) bool { return errors.Is(err, strategy.ErrUserMismatch) },
			wantField: `"host"`,
		},
		{
			name: "port differs between current and pending",
			pending: func(t *testing.T) string {
				return withFields(t, dbValue("app_clone", pwClone), map[string]any{"port": 5433})
			},
			is:        func(err error) bool { return errors.Is(err, strategy.ErrUserMismatch) },
			wantField: `"port"`,
		},
		{
			name: "pending has no password",
			pending: func(t *testing.T) string {
				return withFields(t, dbValue("app_clone", pwClone), map[string]any{"password": nil})
			},
			is:        func(err error) bool { return errors.Is(err, rotation.ErrInvalidSecret) },
			wantField: `"password"`,
		},
		{
			name:       "current credential does not authenticate",
			dbPassword: "changed-out-of-band-1",
			is: func(err error) bool {
				return err != nil && strings.Contains(err.Error(), "refusing to change anything")
			},
			wantField: "current credential",
		},
		{
			name:       "admin secret does not exist",
			adminField: "no/such/admin",
			is:         notFound,
			wantField:  `"masterarn"`,
		},
		{
			name:      "admin secret unreadable",
			deny:      true,
			is:        func(err error) bool { return errors.Is(err, errAccessDenied) },
			wantField: `"masterarn"`,
		},
		{
			name:      "admin secret is binary",
			admin:     &localsm.Version{ID: tokPrev, SecretBinary: []byte(adminSecretWith(pwAdmin)), Stages: []string{"AWSCURRENT"}},
			is:        func(err error) bool { return errors.Is(err, rotation.ErrInvalidSecret) },
			wantField: `"masterarn"`,
		},
		{
			name:      "admin secret is not JSON",
			admin:     &localsm.Version{ID: tokPrev, SecretString: aws.String("admin:" + pwAdmin), Stages: []string{"AWSCURRENT"}},
			is:        func(err error) bool { return errors.Is(err, rotation.ErrInvalidSecret) },
			wantField: `"masterarn"`,
		},
		{
			name: "admin secret is for another host",
			admin: &localsm.Version{ID: tokPrev, Stages: []string{"AWSCURRENT"},
				SecretString: aws.String(strings.Replace(adminSecretWith(pwAdmin), toyHost, "other.example.internal", 1))},
			is:        func(err error) bool { return errors.Is(err, strategy.ErrAdminMismatch) },
			wantField: `"host"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newUserDB(toyHost, "admin", pwAdmin, true)
			dbPw := pwCur
			if tt.dbPassword != "" {
				dbPw = tt.dbPassword
			}
			db.addUser("app", dbPw, "SELECT")
			cur := dbValue("app", pwCur)
			pending := dbValue("app_clone", pwClone)
			if tt.pending != nil {
				pending = tt.pending(t)
			}
			if tt.adminField != "" {
				cur = withFields(t, cur, map[string]any{"masterarn": tt.adminField})
				pending = withFields(t, pending, map[string]any{"masterarn": tt.adminField})
			}
			w := newWorld(t, map[string]string{adminName: adminSecretWith(pwAdmin)}, func(c rotation.Client) rotation.Rotator {
				var r strategy.SecretReader = c
				if tt.deny {
					r = denyReader{next: c, id: adminName}
				}
				return &strategy.AlternatingUsers{Service: db, AdminSecret: strategy.AdminSecret{Client: r}}
			}, ver(tokCur, cur, "AWSCURRENT"), ver(tokPending, pending, "AWSPENDING"))
			if tt.admin != nil {
				if err := w.fake.Seed(localsm.Secret{Name: adminName, Versions: []localsm.Version{*tt.admin}}); err != nil {
					t.Fatal(err)
				}
			}
			before, dbBefore := w.state(), db.snapshot()

			err := w.step(rotation.StepSet, tokPending)
			if !tt.is(err) {
				t.Fatalf("setSecret: got error %v, not the one expected", err)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("error %q does not name %s", err, tt.wantField)
			}
			if strings.Contains(err.Error(), pwClone) || strings.Contains(err.Error(), pwAdmin) || strings.Contains(err.Error(), pwCur) {
				t.Errorf("error %q contains a password", err)
			}
			if diff := cmp.Diff(before, w.state()); diff != "" {
				t.Errorf("Secrets Manager changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(dbBefore, db.snapshot()); diff != "" {
				t.Errorf("the database changed (-before +after):\n%s", diff)
			}
		})
	}
}

// finishingClient moves AWSCURRENT to the pending version right after
// the Handler reads it, as an overlapping finishSecret would.
type finishingClient struct {
	rotation.Client
	fake *localsm.Fake
	arn  string
	once sync.Once
}

func (c *finishingClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	out, err := c.Client.GetSecretValue(ctx, in, opts...)
	if in.VersionId != nil {
		c.once.Do(func() {
			_, _ = c.fake.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
				SecretId: aws.String(c.arn), VersionStage: aws.String("AWSCURRENT"),
				MoveToVersionId: aws.String(tokPending), RemoveFromVersionId: aws.String(tokCur),
			})
		})
	}
	return out, err
}

// TestAlternatingUsersSetAfterConcurrentFinish checks the one case where
// the pending user may be the current user: AWSCURRENT moved to the
// pending version while setSecret ran. Nothing must change.
func TestAlternatingUsersSetAfterConcurrentFinish(t *testing.T) {
	const pwClone = "password-clone-3333"
	db := newUserDB(toyHost, "admin", pwAdmin, true)
	db.addUser("app", pwCur, "SELECT")
	db.addUser("app_clone", pwClone, "SELECT")
	w := newWorld(t, map[string]string{adminName: adminSecretWith(pwAdmin)}, func(c rotation.Client) rotation.Rotator {
		return &strategy.AlternatingUsers{Service: db, AdminSecret: strategy.AdminSecret{Client: c}}
	}, ver(tokCur, dbValue("app", pwCur), "AWSCURRENT"), ver(tokPending, dbValue("app_clone", pwClone), "AWSPENDING"))
	h, err := rotation.New(&finishingClient{Client: w.fake, fake: w.fake, arn: w.arn},
		&strategy.AlternatingUsers{Service: db, AdminSecret: strategy.AdminSecret{Client: w.fake}})
	if err != nil {
		t.Fatal(err)
	}
	w.h = h
	dbBefore := db.snapshot()
	if err := w.step(rotation.StepSet, tokPending); err != nil {
		t.Fatalf("setSecret after AWSCURRENT moved to the pending version: %v", err)
	}
	if got := w.field(rotation.StageCurrent, "username"); got != "app_clone" {
		t.Fatalf("test setup: AWSCURRENT is %s, want app_clone", got)
	}
	if diff := cmp.Diff(dbBefore, db.snapshot()); diff != "" {
		t.Errorf("the database changed (-before +after):\n%s", diff)
	}
}

// TestAlternatingUsersSetIsIdempotent checks that setSecret replayed
// after success changes nothing, even when the admin secret has since
// become unreadable.
func TestAlternatingUsersSetIsIdempotent(t *testing.T) {
	db := newUserDB(toyHost, "admin", pwAdmin, true)
	db.addUser("app", pwCur, "SELECT")
	deny := false
	var mu sync.Mutex
	w := newWorld(t, map[string]string{adminName: adminSecretWith(pwAdmin)}, func(c rotation.Client) rotation.Rotator {
		return &strategy.AlternatingUsers{Service: db, AdminSecret: strategy.AdminSecret{Client: readerFunc(func(ctx context.Context, in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
			mu.Lock()
			defer mu.Unlock()
			if deny {
				return nil, errAccessDenied
			}
			return c.GetSecretValue(ctx, in)
		})}}
	}, ver(tokCur, dbValue("app", pwCur), "AWSCURRENT"), placeholder(tokPending))
	for _, step := range []rotation.Step{rotation.StepCreate, rotation.StepSet} {
		if err := w.step(step, tokPending); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	mu.Lock()
	deny = true
	mu.Unlock()
	before, dbBefore := w.state(), db.snapshot()
	if err := w.step(rotation.StepSet, tokPending); err != nil {
		t.Fatalf("setSecret replayed: %v", err)
	}
	if diff := cmp.Diff(before, w.state()); diff != "" {
		t.Errorf("Secrets Manager changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(dbBefore, db.snapshot()); diff != "" {
		t.Errorf("the database changed (-before +after):\n%s", diff)
	}
}

type readerFunc func(ctx context.Context, in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error)

func (f readerFunc) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return f(ctx, in)
}
