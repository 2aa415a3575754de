package strategy_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"github.com/rotationkit/rotation/strategy"
)

// The conformance suite runs every strategy against its toy service. The
// figures it logs (calls per rotation, client probes and failures, the
// single-user failure window) are the strategies' measured costs.

const (
	toyHost     = "db.example.internal"
	adminName   = "conformance/admin"
	adminSecret = `{"engine":"toy","host":"` + toyHost + `","username":"admin","password":"admin-password-0001"}`
	// neighbourSecret is another application's user on the same toy
	// database, which no rotation may touch.
	neighbourSecret = `{"engine":"toy","host":"` + toyHost + `","username":"other_app","password":"neighbour-password-0001"}`
)

func newHandler(c rotation.Client, l *slog.Logger, r rotation.Rotator) (rotationtest.HandleFunc, error) {
	h, err := rotation.New(c, r, func(o *rotation.Options) { o.Logger = l })
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}

func singleUserFactory(withAdmin bool) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := newPasswordDB(toyHost, map[string]string{"app": "initial-password-0001", "other_app": "neighbour-password-0001"})
		fx := &rotationtest.Fixture{
			Secret:    `{"engine":"toy","host":"` + toyHost + `","username":"app","password":"initial-password-0001"}`,
			Neighbour: neighbourSecret,
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				s := &strategy.SingleUser{Service: db}
				if withAdmin {
					s.AdminSecret = &strategy.AdminSecret{Client: c}
					s.AllowedUsers = []string{"app"}
				}
				return newHandler(c, l, s)
			},
			Probe: db.probe,
			// Describe, Get (x2) and Put in createSecret; Get pending and
			// current in setSecret; Get in testSecret; Describe and the
			// label move in finishSecret. The admin secret costs one more.
			MaxCalls: 9,
		}
		if withAdmin {
			db.admins["admin"] = "admin-password-0001"
			fx.Secret = `{"engine":"toy","host":"` + toyHost + `","username":"app","password":"initial-password-0001","masterarn":"` + adminName + `"}`
			fx.Others = map[string]string{adminName: adminSecret}
			fx.MaxCalls = 10
		}
		return fx, nil
	}
}

func alternatingFactory(preCreated bool) rotationtest.Factory {
	return func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := newUserDB(toyHost, "admin", "admin-password-0001", !preCreated)
		user := "app"
		if preCreated {
			user = "app_blue"
			db.addUser("app_blue", "initial-password-0001", "SELECT")
			db.addUser("app_green", "green-password-0001", "SELECT")
		} else {
			db.addUser("app", "initial-password-0001", "SELECT", "INSERT")
		}
		db.addUser("other_app", "neighbour-password-0001", "SELECT")
		return &rotationtest.Fixture{
			Neighbour: neighbourSecret,
			Secret:    `{"engine":"toy","host":"` + toyHost + `","port":5432,"dbname":"app","username":"` + user + `","password":"initial-password-0001","masterarn":"` + adminName + `"}`,
			Others:    map[string]string{adminName: adminSecret},
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				a := &strategy.AlternatingUsers{Service: db, AdminSecret: strategy.AdminSecret{Client: c}, MaxNameLength: 32}
				if preCreated {
					a.Users = [2]string{"app_blue", "app_green"}
				}
				return newHandler(c, l, a)
			},
			Probe:        db.probe,
			ZeroDowntime: true,
			// SingleUser's nine, plus the admin secret.
			MaxCalls: 10,
		}, nil
	}
}

// twoKeysFixtures collects the providers of every TwoKeys fixture so the
// test can check, after the suite, that none ever had more than two
// active keys.
type twoKeysFixtures struct {
	mu        sync.Mutex
	providers []*keyAPI
}

func (tk *twoKeysFixtures) factory(ctx context.Context) (*rotationtest.Fixture, error) {
	// Time moves one minute per invocation, so keys minted by earlier
	// rotations age past OrphanAge while an invocation's own key does not.
	clock := localsm.NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	p := newKeyAPI(2, clock.Now)
	id, secret := p.addKey(clock.Now())
	tk.mu.Lock()
	tk.providers = append(tk.providers, p)
	tk.mu.Unlock()
	return &rotationtest.Fixture{
		Secret: `{"service":"toy","key_id":"` + id + `","api_key":"` + secret + `"}`,
		NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
			h, err := newHandler(c, l, &strategy.TwoKeys{Provider: p, Now: clock.Now})
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
				clock.Advance(time.Minute)
				return h(ctx, ev)
			}, nil
		},
		Probe:        p.probe,
		ZeroDowntime: true,
		// The handler's eight, plus AWSPREVIOUS in Create, and in Finish
		// the new AWSCURRENT (also AWSPENDING: one read) and AWSPREVIOUS.
		MaxCalls: 11,
	}, nil
}

func TestConformanceSingleUser(t *testing.T) {
	rotationtest.Run(t, singleUserFactory(false))
}

func TestConformanceSingleUserAdmin(t *testing.T) {
	rotationtest.Run(t, singleUserFactory(true))
}

func TestConformanceAlternatingUsers(t *testing.T) {
	rotationtest.Run(t, alternatingFactory(false))
}

func TestConformanceAlternatingUsersPreCreated(t *testing.T) {
	rotationtest.Run(t, alternatingFactory(true))
}

// TestConformanceOverHTTP runs each strategy through the suite with the
// handler on a real SDK client over loopback HTTP.
func TestConformanceOverHTTP(t *testing.T) {
	var tk twoKeysFixtures
	for name, factory := range map[string]rotationtest.Factory{
		"single-user":       singleUserFactory(false),
		"single-user-admin": singleUserFactory(true),
		"alternating-users": alternatingFactory(false),
		"two-keys":          tk.factory,
	} {
		t.Run(name, func(t *testing.T) { rotationtest.Run(t, factory, rotationtest.OverHTTP()) })
	}
}

func TestConformanceTwoKeys(t *testing.T) {
	var tk twoKeysFixtures
	rotationtest.Run(t, tk.factory)
	tk.mu.Lock()
	defer tk.mu.Unlock()
	refused := 0
	for i, p := range tk.providers {
		most, r := p.stats()
		refused += r
		if most > 2 {
			t.Errorf("fixture %d: the provider had %d active keys at once, over its limit of 2", i, most)
		}
	}
	t.Logf("provider: %d fixtures, Mint refused at the limit %d times", len(tk.providers), refused)
}
