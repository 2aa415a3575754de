package rotationtest_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

type toyDB struct {
	mu sync.Mutex
	pw map[string]string
}

func (d *toyDB) login(user, pw string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pw[user] != pw || pw == "" {
		return errors.New("authentication failed")
	}
	return nil
}

type singleUser struct{ db *toyDB }

func (r singleUser) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	pw, err := rotation.PasswordPolicy{}.Generate()
	if err != nil {
		return nil, err
	}
	p, err := req.Current.With(map[string]any{"password": pw})
	return &rotation.CreateResponse{Pending: p}, err
}
func (r singleUser) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	u, _ := req.Pending.Get("username")
	np, _ := req.Pending.Get("password")
	if r.db.login(u, np) == nil {
		return &rotation.SetResponse{}, nil
	}
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	cp, _ := cur.Get("password")
	if err := r.db.login(u, cp); err != nil {
		return nil, err
	}
	r.db.mu.Lock()
	r.db.pw[u] = np
	r.db.mu.Unlock()
	return &rotation.SetResponse{}, nil
}
func (r singleUser) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	u, _ := req.Pending.Get("username")
	np, _ := req.Pending.Get("password")
	return &rotation.TestResponse{}, r.db.login(u, np)
}

func TestLeadSmoke(t *testing.T) {
	rotationtest.Run(t, func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := &toyDB{pw: map[string]string{"app": "initial-password-1"}}
		return &rotationtest.Fixture{
			Secret: `{"username":"app","password":"initial-password-1","host":"db"}`,
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				h, err := rotation.New(c, singleUser{db}, func(o *rotation.Options) { o.Logger = l })
				if err != nil {
					return nil, err
				}
				return h.Handle, nil
			},
			Probe: func(ctx context.Context, s *rotation.Secret) error {
				u, _ := s.Get("username")
				p, _ := s.Get("password")
				return db.login(u, p)
			},
		}, nil
	})
}
