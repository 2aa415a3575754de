package rotationtest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
	"github.com/rotationkit/rotation/strategy"
)

// usersDB is the target service of the alternating-users example: a
// database of users and passwords with one administrator, "admin".
type usersDB struct {
	mu sync.Mutex
	pw map[string]string
}

// authenticate is the database's own login check: what a client
// connecting to it goes through.
func (db *usersDB) authenticate(user, pw string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if p, ok := db.pw[user]; !ok || p == "" || p != pw {
		return errors.New("authentication failed")
	}
	return nil
}

func login(db *usersDB, s *rotation.Secret) error {
	user, err := s.Get("username")
	if err != nil {
		return err
	}
	pw, err := s.Get("password")
	if err != nil {
		return err
	}
	return db.authenticate(user, pw)
}

// usersService is the strategy.UserService the rotator uses.
type usersService struct{ db *usersDB }

func (s usersService) Test(ctx context.Context, secret *rotation.Secret) error {
	return login(s.db, secret)
}

// SetPassword logs in as the admin and sets the alternate's password,
// creating it if needed (a real database would copy req.Base's grants
// first and set the password last).
func (s usersService) SetPassword(ctx context.Context, req *strategy.SetPasswordRequest) error {
	if err := login(s.db, req.Login); err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	pw, err := req.Pending.Get("password")
	if err != nil {
		return err
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	s.db.pw[req.User] = pw
	return nil
}

// An alternating-users rotator reads an admin credential from another
// secret, named by the masterarn field: the fixture creates that secret
// with Others. The Probe logs in to the database itself, independently of
// the rotator's Test.
func ExampleCheck_alternatingUsers() {
	const adminSecret = "example/admin"
	factory := func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := &usersDB{pw: map[string]string{
			"admin":     "admin-initial-password",
			"app":       "app-initial-password",
			"other_app": "other-initial-password",
		}}
		return &rotationtest.Fixture{
			Secret: `{"host":"db.internal","port":5432,"username":"app","password":"app-initial-password","masterarn":"` + adminSecret + `"}`,
			Others: map[string]string{
				adminSecret: `{"host":"db.internal","port":5432,"username":"admin","password":"admin-initial-password"}`,
			},
			// Another application's user on the same database, which the
			// rotator must leave alone.
			Neighbour: `{"host":"db.internal","port":5432,"username":"other_app","password":"other-initial-password"}`,
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				r := &strategy.AlternatingUsers{
					Service:     usersService{db},
					AdminSecret: strategy.AdminSecret{Client: c}, // reads the masterarn secret
				}
				h, err := rotation.New(c, r, func(o *rotation.Options) { o.Logger = l })
				if err != nil {
					return nil, err
				}
				return h.Handle, nil
			},
			Probe:        func(ctx context.Context, s *rotation.Secret) error { return login(db, s) },
			ZeroDowntime: true, // app and app_clone: both AWSCURRENT and AWSPREVIOUS work
		}, nil
	}

	rep, err := rotationtest.Check(context.Background(), factory)
	for _, v := range rotationtest.Violations(err) {
		fmt.Println("violates", v.Rule)
	}
	if err == nil {
		fmt.Println("conformant; rules skipped:", len(rep.Skipped))
	}
	// Output:
	// conformant; rules skipped: 0
}
