package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testRotator has short timeouts so that failing tests fail fast.
func testRotator() *Rotator {
	return &Rotator{DialTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second, Parallel: 4, dialContext: quickDial}
}

// otherLines are authorized_keys lines the rotator must never remove: a
// comment, a key added by hand, and a key another secret manages.
func otherLines(t testing.TB) string {
	return "# keys of this account\n" +
		newClientKey(t).line("admin@laptop") + "\n" +
		`from="10.0.0.0/8" ` + newClientKey(t).line("rotation:another/secret:1111") + "\n"
}

func TestConformance(t *testing.T) {
	t.Parallel()
	hosts := []*testHost{startHost(t, ""), startHost(t, "")}
	const name = "conformance/secret" // the name rotationtest.Run gives the secret
	var initial string                // the authorized_keys content each fixture starts from
	rotationtest.Run(t, func(ctx context.Context) (*rotationtest.Fixture, error) {
		key, err := genClientKey()
		if err != nil {
			return nil, err
		}
		if initial == "" {
			initial = otherLines(t)
		}
		content := initial + key.line(prefixFor(name)+"initial") + "\n"
		for _, h := range hosts {
			if err := os.WriteFile(h.authorizedPath(), []byte(content), 0o600); err != nil {
				return nil, err
			}
		}
		secret, err := makeSecretJSON(key, prefixFor(name)+"initial", hosts...)
		if err != nil {
			return nil, err
		}
		return &rotationtest.Fixture{
			Secret: secret,
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				h, err := rotation.New(c, testRotator(), func(o *rotation.Options) { o.Logger = l })
				if err != nil {
					return nil, err
				}
				return h.Handle, nil
			},
			Probe: func(ctx context.Context, s *rotation.Secret) error {
				return loginAll(ctx, s, hosts...)
			},
			ZeroDowntime: true,
			MaxCalls:     11,
			Close: func() {
				// Lines the rotator does not manage survive every rule.
				for _, h := range hosts {
					b, err := os.ReadFile(h.authorizedPath())
					if err != nil || !strings.HasPrefix(string(b), initial) {
						t.Errorf("host %s: lines the rotator does not manage were changed:\n%s", h.addr, b)
					}
				}
			},
		}, nil
	}, rotationtest.RuleTimeout(ruleTimeout))
}

// ruleTimeout bounds each conformance rule. Every probe is an SSH login to
// each host, and rule faults makes some 44 rotations: on a loaded machine
// that overruns the suite's default of two minutes.
const ruleTimeout = 6 * time.Minute

// env is a fake Secrets Manager with an in-process rotation handler.
type env struct {
	t      *testing.T
	fake   *localsm.Fake
	clock  *localsm.ManualClock
	logs   *syncBuffer
	arn    string
	hosts  []*testHost
	key    clientKey
	before map[string]string // authorized_keys content after setup, by host
}

const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:sshkey"

// testARN is the ARN the fake (region us-east-1, account 123456789012 by
// default) gives a secret called name, up to its random suffix.
func testARN(name string) string {
	return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name + "-AbCdEf"
}

// prefixFor is the marker prefix of the lines installed for the secret the
// fake calls name.
func prefixFor(name string) string { return managedPrefix(testARN(name)) }

// newEnv starts n hosts that accept a fresh key and stores it as the
// secret name, with rotation configured daily. attempts is how many times
// the fake tries a rotation.
func newEnv(t *testing.T, name string, n, attempts int) *env {
	t.Helper()
	e := &env{t: t, logs: &syncBuffer{}, key: newClientKey(t), before: map[string]string{}}
	e.clock = localsm.NewManualClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	for range n {
		h := startHost(t, otherLines(t)+e.key.line(prefixFor(name)+"initial")+"\n")
		e.hosts = append(e.hosts, h)
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.fake = localsm.New(localsm.Options{
		Clock:               e.clock,
		StrictRotationToken: true,
		RotationAttempts:    attempts,
	})
	h, err := rotation.New(e.fake, testRotator(), func(o *rotation.Options) { o.Logger = logger })
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SetInvoker(localsm.HandlerInvoker(h.Handle))
	t.Cleanup(func() { _ = e.fake.Wait(context.Background()) })
	e.arn = e.create(name, secretJSON(t, e.key, prefixFor(name)+"initial", e.hosts...))
	if got := managedPrefix(e.arn); got != prefixFor(name) {
		t.Fatalf("managedPrefix(%s) = %q, prefixFor(%q) = %q", e.arn, got, name, prefixFor(name))
	}
	e.snapshot()
	return e
}

func (e *env) create(name, value string) string {
	e.t.Helper()
	out, err := e.fake.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// snapshot records every host's authorized_keys.
func (e *env) snapshot() {
	for _, h := range e.hosts {
		e.before[h.addr] = h.authorized()
	}
}

// unchanged checks that no host's authorized_keys changed since snapshot.
func (e *env) unchanged() {
	e.t.Helper()
	for _, h := range e.hosts {
		if got := h.authorized(); got != e.before[h.addr] {
			e.t.Errorf("host %s: authorized_keys changed although the rotation failed:\nbefore:\n%s\nafter:\n%s", h.addr, e.before[h.addr], got)
		}
	}
}

func (e *env) rotate(arn string) (*localsm.Rotation, error) {
	return e.fake.Rotate(context.Background(), &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(arn),
		RotationLambdaARN: aws.String(functionARN),
		RotationRules:     &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1)},
	})
}

// staged returns the value labelled stage.
func (e *env) staged(stage string) *rotation.Secret {
	e.t.Helper()
	s, _ := e.fake.Secret(e.arn)
	v, ok := s.Staged(stage)
	if !ok || v.SecretString == nil {
		e.t.Fatalf("no %s value", stage)
	}
	return rotation.NewString(*v.SecretString)
}

// noLeaks checks the handler's log and err for private keys.
func (e *env) noLeaks(err error) {
	e.t.Helper()
	texts := []string{e.logs.String()}
	if err != nil {
		texts = append(texts, err.Error())
	}
	for _, s := range e.fake.Secrets() {
		for _, v := range s.Versions {
			if v.SecretString == nil {
				continue
			}
			var m map[string]any
			if json.Unmarshal([]byte(*v.SecretString), &m) != nil {
				continue
			}
			pk, _ := m["private_key"].(string)
			for _, line := range strings.Split(pk, "\n") {
				if len(line) < 20 {
					continue
				}
				for _, text := range texts {
					if strings.Contains(text, line) {
						e.t.Errorf("private key material appears in the log or error")
					}
				}
			}
		}
	}
}

func stepOf(err error) rotation.Step {
	var sf *localsm.StepFailedError
	if errors.As(err, &sf) {
		return sf.Step
	}
	return ""
}

// TestHostDown: a stopped host fails setSecret, naming it, with nothing
// changed anywhere; the current key keeps working; once the host is back
// the reattempted rotation succeeds.
func TestHostDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ssh/host-down", 3, 2)
	down := e.hosts[1]
	down.stop()
	_, err := e.rotate(e.arn)
	if err == nil {
		t.Fatal("the rotation succeeded with a host down")
	}
	if step := stepOf(err); step != rotation.StepSet {
		t.Errorf("failed at %q, want %q: %v", step, rotation.StepSet, err)
	}
	if !strings.Contains(err.Error(), down.addr) {
		t.Errorf("the error does not name the host that is down (%s): %v", down.addr, err)
	}
	for _, h := range []*testHost{e.hosts[0], e.hosts[2]} {
		if strings.Contains(err.Error(), "host "+h.addr) {
			t.Errorf("the error blames a host that is up (%s): %v", h.addr, err)
		}
	}
	e.unchanged()
	cur := e.staged("AWSCURRENT")
	if err := loginAll(context.Background(), cur, e.hosts[0], e.hosts[2]); err != nil {
		t.Errorf("AWSCURRENT no longer logs in: %v", err)
	}

	if err := down.start(); err != nil {
		t.Fatal(err)
	}
	if err := loginAll(context.Background(), cur, e.hosts...); err != nil {
		t.Errorf("AWSCURRENT does not log in to the restarted host: %v", err)
	}
	e.clock.Advance(48 * time.Hour)
	rs, err := e.fake.RunDue(context.Background())
	if err != nil || len(rs) != 1 {
		t.Fatalf("RunDue = %d rotations, %v; want the failed rotation reattempted", len(rs), err)
	}
	if err := rs[0].Err(); err != nil {
		t.Fatalf("the reattempted rotation failed: %v", err)
	}
	if err := loginAll(context.Background(), e.staged("AWSCURRENT"), e.hosts...); err != nil {
		t.Errorf("the new AWSCURRENT does not log in: %v", err)
	}
	if err := loginAll(context.Background(), e.staged("AWSPREVIOUS"), e.hosts...); err != nil {
		t.Errorf("AWSPREVIOUS no longer logs in: %v", err)
	}
	e.noLeaks(err)
}

// TestHostKeyChanged: a host whose key no longer matches known_hosts
// fails the rotation with a host-key error; no host loses a key and
// AWSCURRENT keeps working.
func TestHostKeyChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ssh/host-key", 3, 1)
	changed := e.hosts[2]
	changed.newHostKey()
	changed.restart()
	start := time.Now()
	_, err := e.rotate(e.arn)
	if err == nil {
		t.Fatal("the rotation succeeded although a host key changed")
	}
	t.Logf("error: %v (after %v)", err, time.Since(start))
	if !errors.Is(err, ErrHostKey) {
		t.Errorf("the error is not a host key error: %v", err)
	}
	if !strings.Contains(err.Error(), "host "+changed.addr) || !strings.Contains(err.Error(), "does not match its known_hosts entry") {
		t.Errorf("the error does not say which host's key changed: %v", err)
	}
	e.unchanged()
	if err := loginAll(context.Background(), e.staged("AWSCURRENT"), e.hosts...); err != nil {
		t.Errorf("AWSCURRENT no longer logs in: %v", err)
	}
	e.noLeaks(err)
}

// TestPreviousKeyFallback: a host that accepts only the AWSPREVIOUS key
// (restored from an old backup, say) is still updated.
func TestPreviousKeyFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ssh/fallback", 2, 1)
	if _, err := e.rotate(e.arn); err != nil {
		t.Fatal(err)
	}
	// Host 1 goes back to the initial content: only AWSPREVIOUS logs in.
	e.hosts[1].setAuthorized(e.before[e.hosts[1].addr])
	e.clock.Advance(48 * time.Hour)
	if _, err := e.rotate(e.arn); err != nil {
		t.Fatalf("rotation with only AWSPREVIOUS accepted on one host: %v", err)
	}
	if err := loginAll(context.Background(), e.staged("AWSCURRENT"), e.hosts...); err != nil {
		t.Errorf("the new AWSCURRENT does not log in: %v", err)
	}
}

// TestRotationKeepsTwoKeys: after each rotation exactly AWSCURRENT and
// AWSPREVIOUS of this secret are installed, and other lines stay.
func TestRotationKeepsTwoKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ssh/two-keys", 2, 1)
	for i := range 3 {
		if _, err := e.rotate(e.arn); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
		e.clock.Advance(48 * time.Hour)
		cur, prev := e.staged("AWSCURRENT"), e.staged("AWSPREVIOUS")
		for _, h := range e.hosts {
			got := h.authorized()
			want := otherLinesOf(e.before[h.addr]) + mustGet(t, prev, "public_key") + "\n" + mustGet(t, cur, "public_key") + "\n"
			if got != want {
				t.Errorf("rotation %d, host %s: authorized_keys\n%s\nwant\n%s", i+1, h.addr, got, want)
			}
		}
		if err := loginAll(context.Background(), prev, e.hosts...); err != nil {
			t.Errorf("rotation %d: AWSPREVIOUS does not log in: %v", i+1, err)
		}
	}
	e.noLeaks(nil)
}

// otherLinesOf drops the initial managed line from an initial content.
func otherLinesOf(content string) string {
	var out strings.Builder
	for _, l := range strings.SplitAfter(content, "\n") {
		if !strings.HasSuffix(strings.TrimSpace(l), ":initial") {
			out.WriteString(l)
		}
	}
	return out.String()
}

func mustGet(t *testing.T, s *rotation.Secret, field string) string {
	t.Helper()
	v, err := s.Get(field)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// junkServer accepts connections and answers each with garbage.
func junkServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
				_, _ = c.Write([]byte(strings.Repeat("\x00\xff garbage \x1b[31m", 2000)))
			}()
		}
	}()
	return l.Addr().String()
}

// hangingServer accepts connections and never speaks.
func hangingServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { _, _ = io.Copy(io.Discard, c) }()
				<-done
			}()
		}
	}()
	return l.Addr().String()
}

// TestHostileInput: malformed secrets and hosts that are not SSH servers
// fail the rotation with an error that says what is wrong, within the
// timeout, with no host changed and AWSCURRENT still working.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "ssh/hostile", 1, 1)
	good := e.hosts[0]
	unknown := startHost(t, otherLines(t)+e.key.line("bootstrap")+"\n")
	noKey := startHost(t, otherLines(t)) // the current key is not installed
	junk, hang := junkServer(t), hangingServer(t)
	base := map[string]any{}
	if err := json.Unmarshal([]byte(secretJSON(t, e.key, managedPrefix("x")+"initial", good)), &base); err != nil {
		t.Fatal(err)
	}
	with := func(changes map[string]any) string {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	otherKey := newClientKey(t)
	known := base["known_hosts"].(string)
	fakeHostKey := newClientKey(t).signer.PublicKey()
	tests := []struct {
		name   string
		value  string
		step   rotation.Step
		want   []string // substrings of the error
		reject []string // must not appear in the error
	}{
		{"not JSON", "this is not JSON {", rotation.StepCreate, []string{"not a JSON object"}, []string{"this is not"}},
		{"JSON array", `["a","b"]`, rotation.StepCreate, []string{"not a JSON object"}, nil},
		{"no username", with(map[string]any{"username": nil}), rotation.StepCreate, []string{`"username" is missing`}, nil},
		{"no hosts", with(map[string]any{"hosts": nil}), rotation.StepCreate, []string{`"hosts" is missing`}, nil},
		{"empty hosts", with(map[string]any{"hosts": []string{}}), rotation.StepCreate, []string{`"hosts" is empty`}, nil},
		{"hosts not an array", with(map[string]any{"hosts": good.addr}), rotation.StepCreate, []string{`"hosts" is not an array`}, nil},
		{"host without port", with(map[string]any{"hosts": []string{"127.0.0.1"}}), rotation.StepCreate, []string{`entry 0 is not "host:port"`}, nil},
		{"no private key", with(map[string]any{"private_key": nil}), rotation.StepCreate, []string{`"private_key" is missing`}, nil},
		{"private key garbage", with(map[string]any{"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWdhcmJhZ2UtdGhhdC1tdXN0LW5vdC1sZWFr\n-----END OPENSSH PRIVATE KEY-----\n"}),
			rotation.StepCreate, []string{`"private_key" is not a private key`}, []string{"c2VjcmV0LWdhcmJhZ2UtdGhhdC1tdXN0LW5vdC1sZWFr"}},
		{"private key not PEM", with(map[string]any{"private_key": "hunter2-not-a-key"}), rotation.StepCreate, []string{`"private_key" is not a private key`}, []string{"hunter2"}},
		{"no public key", with(map[string]any{"public_key": nil}), rotation.StepCreate, []string{`"public_key" is missing`}, nil},
		{"public key of another pair", with(map[string]any{"public_key": otherKey.line("x")}), rotation.StepCreate, []string{`"public_key" does not match field "private_key"`}, nil},
		{"no known_hosts", with(map[string]any{"known_hosts": nil}), rotation.StepCreate, []string{`"known_hosts" is missing`}, nil},
		{"options with a newline", with(map[string]any{"authorized_keys_options": "no-pty\n" + otherKey.line("smuggled")}),
			rotation.StepCreate, []string{`"authorized_keys_options" must be one line`}, []string{"smuggled"}},
		{"options not parseable", with(map[string]any{"authorized_keys_options": `from="10.0.0.0/8`}),
			rotation.StepCreate, []string{`"authorized_keys_options" is not a comma-separated list`}, []string{"10.0.0.0"}},
		{"known_hosts garbage", with(map[string]any{"known_hosts": "# ok\nnot-a-line\n"}), rotation.StepCreate, []string{`"known_hosts": line 2 is not a known_hosts line`}, nil},
		{"garbage host", with(map[string]any{"hosts": []string{good.addr, junk}, "known_hosts": known + knownLine(junk, fakeHostKey)}),
			rotation.StepSet, []string{"host " + junk + ": SSH handshake failed"}, []string{"host " + good.addr, "\x1b"}},
		{"hanging host", with(map[string]any{"hosts": []string{good.addr, hang}, "known_hosts": known + knownLine(hang, fakeHostKey)}),
			rotation.StepSet, []string{"host " + hang + ": timed out: no SSH handshake within 2s"}, []string{"host " + good.addr}},
		{"closed port", with(map[string]any{"hosts": []string{good.addr, freeAddr(t)}}),
			rotation.StepSet, []string{"cannot connect"}, []string{"host " + good.addr}},
		{"host missing from known_hosts", with(map[string]any{"hosts": []string{good.addr, unknown.addr}}),
			rotation.StepSet, []string{"host " + unknown.addr + ": host key verification failed: known_hosts has no key for this host"}, nil},
		{"current key refused", with(map[string]any{"hosts": []string{good.addr, noKey.addr}, "known_hosts": known + noKey.knownHostsLine() + "\n"}),
			rotation.StepSet, []string{"host " + noKey.addr + ": authentication failed: the host refused every key offered"}, []string{"host " + good.addr}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			arn := e.create(fmt.Sprintf("ssh/hostile-%d", i), tc.value)
			start := time.Now()
			_, err := e.rotate(arn)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("the rotation succeeded")
			}
			t.Logf("%v: %v", elapsed.Round(time.Millisecond), err)
			if elapsed > 10*time.Second {
				t.Errorf("failing took %v", elapsed)
			}
			if step := stepOf(err); step != tc.step {
				t.Errorf("failed at %q, want %q", step, tc.step)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q", w)
				}
			}
			for _, r := range tc.reject {
				if strings.Contains(err.Error(), r) {
					t.Errorf("the error contains %q", r)
				}
			}
			if tc.step == rotation.StepCreate && !errors.Is(err, rotation.ErrInvalidSecret) {
				t.Errorf("the error does not wrap rotation.ErrInvalidSecret")
			}
			e.unchanged()
			if err := loginAll(context.Background(), e.staged("AWSCURRENT"), good); err != nil {
				t.Errorf("AWSCURRENT no longer logs in: %v", err)
			}
			e.noLeaks(err)
		})
	}
	for _, h := range []*testHost{unknown, noKey} {
		if got := h.authorized(); strings.Contains(got, "rotation:ssh/hostile") {
			t.Errorf("host %s got a key although the rotation failed:\n%s", h.addr, got)
		}
	}
}

func knownLine(addr string, key ssh.PublicKey) string {
	return knownhosts.Line([]string{addr}, key) + "\n"
}
