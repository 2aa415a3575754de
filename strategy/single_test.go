package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/strategy"
)

const (
	pwPrev  = "password-previous-0000"
	pwCur   = "password-current-1111"
	pwPend  = "password-pending-2222"
	pwAdmin = "admin-password-0001"
)

// userValue is a single-user secret value for user app with password pw.
func userValue(pw string, admin bool) string {
	v := `{"engine":"toy","host":"` + toyHost + `","username":"app","password":"` + pw + `"`
	if admin {
		v += `,"masterarn":"` + adminName + `"`
	}
	return v + "}"
}

// recordingPasswords records which values Set tries, by name, and the
// ChangeRequests it makes.
type recordingPasswords struct {
	next  strategy.PasswordService
	names map[string]string // password -> the label it is stored under

	mu    sync.Mutex
	tried []string
	reqs  []*strategy.ChangeRequest
}

func (r *recordingPasswords) name(s *rotation.Secret) string {
	if s == nil {
		return "<nil>"
	}
	pw, _, _ := s.Lookup("password")
	if n, ok := r.names[pw]; ok {
		return n
	}
	return "unknown"
}

func (r *recordingPasswords) Test(ctx context.Context, s *rotation.Secret) error {
	r.mu.Lock()
	r.tried = append(r.tried, r.name(s))
	r.mu.Unlock()
	return r.next.Test(ctx, s)
}

func (r *recordingPasswords) Change(ctx context.Context, req *strategy.ChangeRequest) error {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return r.next.Change(ctx, req)
}

func (r *recordingPasswords) changes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, req := range r.reqs {
		out = append(out, fmt.Sprintf("login=%s old=%s new=%s admin=%v", r.name(req.Login), r.name(req.Old), r.name(req.New), req.LoginIsAdmin))
	}
	return out
}

var passwordNames = map[string]string{
	pwPrev:  "AWSPREVIOUS",
	pwCur:   "AWSCURRENT",
	pwPend:  "AWSPENDING",
	pwAdmin: "admin",
}

func TestSingleUserSet(t *testing.T) {
	tests := []struct {
		name        string
		admin       bool
		dbPassword  string // the user's password in the database
		noPrevious  bool
		wantTried   []string
		wantChanges []string
		wantErr     error
		wantDB      string // the password afterwards
	}{
		{
			name:       "pending already works: nothing to change",
			dbPassword: pwPend,
			wantTried:  []string{"AWSPENDING"},
			wantDB:     pwPend,
		},
		{
			name:        "current works",
			dbPassword:  pwCur,
			wantTried:   []string{"AWSPENDING", "AWSCURRENT"},
			wantChanges: []string{"login=AWSCURRENT old=AWSCURRENT new=AWSPENDING admin=false"},
			wantDB:      pwPend,
		},
		{
			name:        "only previous works: it logs in and is the old password",
			dbPassword:  pwPrev,
			wantTried:   []string{"AWSPENDING", "AWSCURRENT", "AWSPREVIOUS"},
			wantChanges: []string{"login=AWSPREVIOUS old=AWSPREVIOUS new=AWSPENDING admin=false"},
			wantDB:      pwPend,
		},
		{
			name:       "nothing works",
			dbPassword: "forgotten-password-9",
			wantTried:  []string{"AWSPENDING", "AWSCURRENT", "AWSPREVIOUS"},
			wantErr:    strategy.ErrNoWorkingCredential,
			wantDB:     "forgotten-password-9",
		},
		{
			name:       "nothing works and there is no previous value",
			dbPassword: "forgotten-password-9",
			noPrevious: true,
			wantTried:  []string{"AWSPENDING", "AWSCURRENT"},
			wantErr:    strategy.ErrNoWorkingCredential,
			wantDB:     "forgotten-password-9",
		},
		{
			name:       "admin: pending already works",
			admin:      true,
			dbPassword: pwPend,
			wantTried:  []string{"AWSPENDING"},
			wantDB:     pwPend,
		},
		{
			name:        "admin: current works and is passed as the old password",
			admin:       true,
			dbPassword:  pwCur,
			wantTried:   []string{"AWSPENDING", "AWSCURRENT"},
			wantChanges: []string{"login=admin old=AWSCURRENT new=AWSPENDING admin=true"},
			wantDB:      pwPend,
		},
		{
			name:        "admin: previous works",
			admin:       true,
			dbPassword:  pwPrev,
			wantTried:   []string{"AWSPENDING", "AWSCURRENT", "AWSPREVIOUS"},
			wantChanges: []string{"login=admin old=AWSPREVIOUS new=AWSPENDING admin=true"},
			wantDB:      pwPend,
		},
		{
			name:        "admin: only the admin works",
			admin:       true,
			dbPassword:  "forgotten-password-9",
			wantTried:   []string{"AWSPENDING", "AWSCURRENT", "AWSPREVIOUS"},
			wantChanges: []string{"login=admin old=<nil> new=AWSPENDING admin=true"},
			wantDB:      pwPend,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newPasswordDB(toyHost, map[string]string{"app": tt.dbPassword})
			db.admins["admin"] = pwAdmin
			rec := &recordingPasswords{next: db, names: passwordNames}
			var others map[string]string
			if tt.admin {
				others = map[string]string{adminName: adminSecretWith(pwAdmin)}
			}
			versions := []localsm.Version{
				ver(tokCur, userValue(pwCur, tt.admin), "AWSCURRENT"),
				ver(tokPending, userValue(pwPend, tt.admin), "AWSPENDING"),
			}
			if !tt.noPrevious {
				versions = append([]localsm.Version{ver(tokPrev, userValue(pwPrev, tt.admin), "AWSPREVIOUS")}, versions...)
			}
			w := newWorld(t, others, func(c rotation.Client) rotation.Rotator {
				s := &strategy.SingleUser{Service: rec}
				if tt.admin {
					s.AdminSecret = &strategy.AdminSecret{Client: c}
					s.AllowedUsers = []string{"app"}
				}
				return s
			}, versions...)
			before := w.state()

			err := w.step(rotation.StepSet, tokPending)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("setSecret: got error %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantTried, rec.tried); diff != "" {
				t.Errorf("values tried (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantChanges, rec.changes()); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if got := db.password("app"); got != tt.wantDB {
				t.Errorf("database password is %s, want %s", passwordNames[got], passwordNames[tt.wantDB])
			}
			if diff := cmp.Diff(before, w.state()); diff != "" {
				t.Errorf("setSecret changed Secrets Manager (-before +after):\n%s", diff)
			}
		})
	}
}

// TestSingleUserOldIsPrevious checks, over a whole rotation, that a
// service needing the old password (Oracle REPLACE, SQL Server
// OLD_PASSWORD) gets the AWSPREVIOUS value when that is the one that
// works, not AWSCURRENT.
func TestSingleUserOldIsPrevious(t *testing.T) {
	db := newPasswordDB(toyHost, map[string]string{"app": pwPrev})
	rec := &recordingPasswords{next: db, names: passwordNames}
	w := newWorld(t, nil, func(rotation.Client) rotation.Rotator { return &strategy.SingleUser{Service: rec} },
		ver(tokPrev, userValue(pwPrev, false), "AWSPREVIOUS"),
		ver(tokCur, userValue(pwCur, false), "AWSCURRENT"),
	)
	if err := w.rotate(tokPending); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	if len(rec.reqs) != 1 {
		t.Fatalf("Change was called %d times, want 1", len(rec.reqs))
	}
	req := rec.reqs[0]
	if req.Old == nil {
		t.Fatal("ChangeRequest.Old is nil, want the AWSPREVIOUS value")
	}
	if got, want := req.Old.VersionID(), tokPrev; got != want {
		t.Errorf("ChangeRequest.Old is version %s, want AWSPREVIOUS %s", got, want)
	}
	if pw, _ := req.Old.Get("password"); pw != pwPrev {
		t.Errorf("ChangeRequest.Old holds the %s password, want AWSPREVIOUS's", passwordNames[pw])
	}
	if !req.Login.Equal(req.Old) || req.LoginIsAdmin {
		t.Errorf("ChangeRequest logged in with %s (admin %v), want the old value", rec.name(req.Login), req.LoginIsAdmin)
	}
	if err := db.Test(context.Background(), w.value(rotation.StageCurrent)); err != nil {
		t.Errorf("AWSCURRENT does not authenticate after the rotation: %v", err)
	}
}

// TestSingleUserCreate checks that createSecret stores a new password and
// keeps every other field, without touching the database.
func TestSingleUserCreate(t *testing.T) {
	db := newPasswordDB(toyHost, map[string]string{"app": pwCur})
	w := newWorld(t, nil, func(rotation.Client) rotation.Rotator {
		return &strategy.SingleUser{Service: db, Policy: rotation.PasswordPolicy{Length: 20, ExcludePunctuation: true}}
	}, ver(tokCur, userValue(pwCur, false), "AWSCURRENT"), placeholder(tokPending))
	if err := w.step(rotation.StepCreate, tokPending); err != nil {
		t.Fatal(err)
	}
	pending := w.value(rotation.StagePending)
	if pending == nil {
		t.Fatal("no AWSPENDING value stored")
	}
	cur := w.value(rotation.StageCurrent)
	if diff := cmp.Diff(cur.Keys(), pending.Keys()); diff != "" {
		t.Errorf("pending fields (-current +pending):\n%s", diff)
	}
	for _, f := range []string{"engine", "host", "username"} {
		if c, p := w.field(rotation.StageCurrent, f), w.field(rotation.StagePending, f); c != p {
			t.Errorf("field %s changed from %q to %q", f, c, p)
		}
	}
	if pw := w.field(rotation.StagePending, "password"); len(pw) != 20 || pw == pwCur {
		t.Errorf("the pending password has %d characters (want 20) or equals the current one", len(pw))
	}
	if got := db.password("app"); got != pwCur {
		t.Error("createSecret changed the database")
	}
	if n := len(db.changeLog()); n != 0 {
		t.Errorf("createSecret made %d changes", n)
	}
}

// TestSingleUserRejectsNonJSON checks that a current value that is not a
// JSON object is refused in createSecret, with nothing stored.
func TestSingleUserRejectsNonJSON(t *testing.T) {
	db := newPasswordDB(toyHost, map[string]string{"app": pwCur})
	w := newWorld(t, nil, func(rotation.Client) rotation.Rotator { return &strategy.SingleUser{Service: db} },
		ver(tokCur, "not json", "AWSCURRENT"), placeholder(tokPending))
	before := w.state()
	err := w.step(rotation.StepCreate, tokPending)
	if !errors.Is(err, rotation.ErrInvalidSecret) {
		t.Fatalf("createSecret: got %v, want ErrInvalidSecret", err)
	}
	if diff := cmp.Diff(before, w.state()); diff != "" {
		t.Errorf("createSecret changed Secrets Manager (-before +after):\n%s", diff)
	}
}

func adminSecretWith(pw string) string {
	return `{"engine":"toy","host":"` + toyHost + `","username":"admin","password":"` + pw + `"}`
}
