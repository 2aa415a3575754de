package rotationtest_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log"
	"log/slog"
	"math/big"
	"net/url"
	"strings"
	"testing"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

// specialPassword returns 32 characters, every other one of which
// escaping changes, so that no run of the raw password survives in an
// escaped form: only the form itself can be found.
func specialPassword() (string, error) {
	const alnum = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	const special = `@/:%?&'"\ +=#`
	var b strings.Builder
	for i := range 32 {
		set := alnum
		if i%2 == 1 {
			set = special
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return "", err
		}
		b.WriteByte(set[n.Int64()])
	}
	return b.String(), nil
}

// leakyRotator is a correct single-user rotator that writes a credential
// of the pending value somewhere in some form in createSecret.
type leakyRotator struct {
	singleUser
	logger *slog.Logger

	special bool   // new passwords every other character of which escaping changes
	field   string // a field Create adds (a.b: nested), whose value is leaked instead of the password
	number  bool   // the added field holds a number
	form    func(user, secret string) string
	via     string // "logger" (the one given), "log" (the standard package) or "slog" (slog.Default())
}

func (r leakyRotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	resp, err := r.singleUser.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	user, secret, _ := credentials(resp.Pending)
	if r.special {
		if secret, err = specialPassword(); err != nil {
			return nil, err
		}
		if resp.Pending, err = resp.Pending.With(map[string]any{"password": secret}); err != nil {
			return nil, err
		}
	}
	if r.field != "" {
		var v any
		policy := rotation.PasswordPolicy{Length: 24, ExcludePunctuation: true}
		if secret, err = policy.Generate(); err != nil {
			return nil, err
		}
		v = secret
		if r.number {
			n, err := rand.Int(rand.Reader, big.NewInt(9e15))
			if err != nil {
				return nil, err
			}
			n.Add(n, big.NewInt(1e15))
			v, secret = n.Int64(), n.String()
		}
		path := strings.Split(r.field, ".")
		for i := len(path) - 1; i > 0; i-- {
			v = map[string]any{path[i]: v}
		}
		if resp.Pending, err = resp.Pending.With(map[string]any{path[0]: v}); err != nil {
			return nil, err
		}
	}
	msg := r.form(user, secret)
	switch r.via {
	case "log":
		log.Printf("rotating %s", msg)
	case "slog":
		slog.InfoContext(ctx, "rotating", "detail", msg)
	default:
		r.logger.InfoContext(ctx, "rotating", "detail", msg)
	}
	return resp, nil
}

func leaky(set func(*leakyRotator)) dbRotator {
	return func(db *confDB, _ rotation.Client, l *slog.Logger) rotation.Rotator {
		r := &leakyRotator{singleUser: singleUser{db}, logger: l, form: func(_, s string) string { return s }}
		set(r)
		return *r
	}
}

// leakClasses are the ways a credential escapes a naive leak check (issue
// 10, class 9), each with what the violation must say.
var leakClasses = []struct {
	name string
	set  func(*leakyRotator)
	want string
}{
	{"URL userinfo-escaped in a DSN", func(r *leakyRotator) {
		r.special = true
		r.form = func(u, s string) string {
			return (&url.URL{Scheme: "postgres", User: url.UserPassword(u, s), Host: "db.internal"}).String()
		}
	}, `field "password"`},
	{"URL query-escaped, lower-case hex", func(r *leakyRotator) {
		r.special = true
		r.form = func(_, s string) string { return "?password=" + lowerHexEscapes(url.QueryEscape(s)) }
	}, `field "password"`},
	{"URL path-escaped", func(r *leakyRotator) {
		r.special = true
		r.form = func(_, s string) string { return "/v1/login/" + url.PathEscape(s) }
	}, `field "password"`},
	{"base64 in an Authorization: Basic header", func(r *leakyRotator) {
		r.form = func(u, s string) string {
			return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+s))
		}
	}, `field "password"`},
	{"base64 URL alphabet, unpadded, shifted by one byte", func(r *leakyRotator) {
		r.special = true
		r.form = func(u, s string) string { return base64.RawURLEncoding.EncodeToString([]byte("x" + s)) }
	}, `field "password"`},
	{"hex", func(r *leakyRotator) {
		r.form = func(_, s string) string { return hex.EncodeToString([]byte(s)) }
	}, `field "password"`},
	{"hex, upper case", func(r *leakyRotator) {
		r.form = func(_, s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }
	}, `field "password"`},
	{"SQL with doubled quotes", func(r *leakyRotator) {
		r.special = true
		r.form = func(u, s string) string {
			return "ALTER USER " + u + " WITH PASSWORD '" + strings.ReplaceAll(s, "'", "''") + "'"
		}
	}, `field "password"`},
	{"backslash-escaped", func(r *leakyRotator) {
		r.special = true
		r.form = func(u, s string) string {
			return "SET PASSWORD FOR '" + u + "' = '" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
		}
	}, `field "password"`},
	{"masked, 28 of 32 characters shown", func(r *leakyRotator) {
		r.form = func(_, s string) string { return s[:28] + "****" }
	}, `field "password"`},
	{"masked in the middle", func(r *leakyRotator) {
		r.form = func(_, s string) string { return s[:12] + "********" + s[20:] }
	}, `field "password"`},
	{"field named pwd", func(r *leakyRotator) { r.field = "pwd" }, `field "pwd"`},
	{"field named pass", func(r *leakyRotator) { r.field = "pass" }, `field "pass"`},
	{"field named passphrase", func(r *leakyRotator) { r.field = "passphrase" }, `field "passphrase"`},
	{"field named client_secret", func(r *leakyRotator) { r.field = "client_secret" }, `field "client_secret"`},
	{"nested field", func(r *leakyRotator) { r.field = "replica.auth.pwd" }, `field "replica.auth.pwd"`},
	{"number in a credential field", func(r *leakyRotator) { r.field, r.number = "pin_code_secret", true }, `field "pin_code_secret"`},
	{"written with the standard log package", func(r *leakyRotator) { r.via = "log" }, "the standard log package's"},
	{"written with slog.Default()", func(r *leakyRotator) { r.via = "slog" }, "slog.Default()"},
	{"URL-escaped, with the standard log package", func(r *leakyRotator) {
		r.via, r.special = "log", true
		r.form = func(_, s string) string { return url.QueryEscape(s) }
	}, "the standard log package's"},
}

func lowerHexEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = strings.ToLower(string(b[i+1]))[0], strings.ToLower(string(b[i+2]))[0]
		}
	}
	return string(b)
}

func TestLeakClassesAreCaught(t *testing.T) {
	for _, tt := range leakClasses {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := rotationtest.Check(t.Context(), singleUserFactory(leaky(tt.set), nil))
			byRule, others := violationsByRule(err)
			for _, e := range others {
				t.Errorf("Check returned an error that is not a *Violation: %v", e)
			}
			if len(byRule["no-leaks"]) == 0 {
				t.Fatalf("the leak was not caught; violations: %v", err)
			}
			var texts []string
			for _, v := range byRule["no-leaks"] {
				texts = append(texts, v.Error())
			}
			if all := strings.Join(texts, "\n"); !strings.Contains(all, tt.want) {
				t.Errorf("no-leaks violations do not say %q:\n%s", tt.want, all)
			}
		})
	}
}

// TestLeakCheckNoFalsePositive: a rotator that logs, with every logger,
// everything about a rotation but its credentials passes the leak check.
func TestLeakCheckNoFalsePositive(t *testing.T) {
	talkative := leaky(func(r *leakyRotator) {
		r.special = true
		r.form = func(u, s string) string {
			return fmt.Sprintf("user=%s host=db.internal password_length=%d dsn=%s", u, len(s),
				(&url.URL{Scheme: "postgres", User: url.User(u), Host: "db.internal:5432", Path: "/app"}).String())
		}
	})
	for _, via := range []string{"logger", "log", "slog"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			mk := func(db *confDB, c rotation.Client, l *slog.Logger) rotation.Rotator {
				r := talkative(db, c, l).(leakyRotator)
				r.via = via
				return r
			}
			_, err := rotationtest.Check(t.Context(), singleUserFactory(mk, nil))
			if byRule, _ := violationsByRule(err); len(byRule["no-leaks"]) > 0 {
				t.Errorf("false positive: %v", byRule["no-leaks"])
			}
		})
	}
}

// TestLogCaptureRestores: after a run, the standard log package and
// slog.Default() are as they were.
func TestLogCaptureRestores(t *testing.T) {
	var before strings.Builder
	prevOut, prevFlags, prevPrefix, prevSlog := log.Writer(), log.Flags(), log.Prefix(), slog.Default()
	log.SetOutput(&before)
	log.SetFlags(0)
	log.SetPrefix("mine: ")
	defer func() {
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
		log.SetPrefix(prevPrefix)
		slog.SetDefault(prevSlog)
	}()
	_, _ = rotationtest.Check(t.Context(), singleUserFactory(leaky(func(r *leakyRotator) {
		r.via = "log"
		r.form = func(string, string) string { return "hello from the rotator" }
	}), nil))
	if slog.Default() != prevSlog {
		t.Error("slog.Default() was not restored")
	}
	if log.Flags() != 0 || log.Prefix() != "mine: " {
		t.Errorf("log flags %d, prefix %q; want 0, %q", log.Flags(), log.Prefix(), "mine: ")
	}
	log.Print("after")
	got := before.String()
	if !strings.Contains(got, "after") {
		t.Errorf("the standard log package no longer writes to its output; it has %q", got)
	}
	// The capture passes lines on to the previous output.
	if !strings.Contains(got, "hello from the rotator") {
		t.Errorf("the rotator's log line did not reach the previous output: %q", got)
	}
}
