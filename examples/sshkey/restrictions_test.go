package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/testenv"
	"github.com/rotationkit/rotation/localsm"
	"golang.org/x/crypto/ssh"
)

// These tests cover the restrictions of the installed keys (the options of
// their authorized_keys lines) and the marker that tells apart secrets of
// the same name in different accounts or regions, against real sshd.

// fromDial returns a dial function whose connections leave from the
// loopback address local, or skips the test where that address cannot be
// used (only Linux routes all of 127.0.0.0/8 to the loopback interface).
func fromDial(t *testing.T, local string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	l, err := net.Listen("tcp", local+":0")
	if err != nil {
		testenv.Missing(t, local+" as a source address", "only Linux routes all of 127.0.0.0/8 to the loopback interface: "+err.Error())
	}
	l.Close()
	return d.DialContext
}

// managedLines returns the lines of content whose comment starts with
// prefix, with their options joined as written.
func managedLines(t *testing.T, content, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range splitLines([]byte(content)) {
		k, comment, opts, ok := parseLineOptions(line)
		if ok && strings.HasPrefix(comment, prefix) {
			out[ssh.FingerprintSHA256(k)] = strings.Join(opts, ",")
		}
	}
	return out
}

// TestKeyOptionsKept: the restrictions on the current key's line (from=,
// no-pty, ...) pass to every key the rotation installs, and sshd enforces
// them: after two rotations, when the original restricted line is gone, no
// line of the secret is unrestricted, and the new key is refused from an
// address from= does not allow.
func TestKeyOptionsKept(t *testing.T) {
	t.Parallel()
	const name = "ssh/options"
	const opts = `from="127.0.0.1",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty`
	e := newEnv(t, name, 2, 1)
	initial := e.key.line(prefixFor(name) + "initial")
	for _, h := range e.hosts {
		h.setAuthorized(strings.Replace(h.authorized(), initial, opts+" "+initial, 1))
	}
	e.snapshot()
	elsewhere := fromDial(t, "127.0.0.2")
	for i := 1; i <= 2; i++ {
		if _, err := e.rotate(e.arn); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		e.clock.Advance(48 * time.Hour)
		cur, prev := e.staged("AWSCURRENT"), e.staged("AWSPREVIOUS")
		for _, h := range e.hosts {
			lines := managedLines(t, h.authorized(), prefixFor(name))
			if len(lines) != 2 {
				t.Errorf("rotation %d, host %s: %d lines of the secret, want 2:\n%s", i, h.addr, len(lines), h.authorized())
			}
			for fp, got := range lines {
				if got != opts {
					t.Errorf("rotation %d, host %s: key %s installed with options %q, want %q:\n%s", i, h.addr, fp, got, opts, h.authorized())
				}
			}
			// Lines the rotator does not manage are kept byte for byte.
			if others := otherLinesOf(e.before[h.addr]); !strings.HasPrefix(h.authorized(), others) {
				t.Errorf("rotation %d, host %s: other lines changed:\n%s", i, h.addr, h.authorized())
			}
			if err := loginDial(context.Background(), cur, h.addr, h.hostKey.PublicKey(), elsewhere); err == nil {
				t.Errorf("rotation %d, host %s: the new key logs in from 127.0.0.2 although its line allows only 127.0.0.1", i, h.addr)
			}
		}
		if err := loginAll(context.Background(), cur, e.hosts...); err != nil {
			t.Errorf("rotation %d: AWSCURRENT does not log in from 127.0.0.1: %v", i, err)
		}
		if err := loginAll(context.Background(), prev, e.hosts...); err != nil {
			t.Errorf("rotation %d: AWSPREVIOUS does not log in from 127.0.0.1: %v", i, err)
		}
	}
	e.noLeaks(nil)
}

// TestKeyOptionsField: authorized_keys_options, when set, is what every
// installed line gets, in place of the current line's options; sshd
// enforces it.
func TestKeyOptionsField(t *testing.T) {
	t.Parallel()
	const name = "ssh/options-field"
	const field = `restrict,from="127.0.0.1"`
	e := newEnv(t, name, 1, 1)
	h := e.hosts[0]
	initial := e.key.line(prefixFor(name) + "initial")
	h.setAuthorized(strings.Replace(h.authorized(), initial, "no-pty "+initial, 1))
	e.snapshot()
	var m map[string]any
	if err := json.Unmarshal([]byte(secretJSON(t, e.key, prefixFor(name)+"initial", h)), &m); err != nil {
		t.Fatal(err)
	}
	m[fieldKeyOptions] = field
	b, _ := json.Marshal(m)
	if _, err := e.fake.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(e.arn), SecretString: aws.String(string(b)),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-00000000f1e1"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rotate(e.arn); err != nil {
		t.Fatal(err)
	}
	cur := e.staged("AWSCURRENT")
	curKey, err := publicKeyOf(cur)
	if err != nil {
		t.Fatal(err)
	}
	got := managedLines(t, h.authorized(), prefixFor(name))
	if o, ok := got[ssh.FingerprintSHA256(curKey)]; !ok || o != field {
		t.Errorf("the new key's line has options %q (present %v), want the field's %q:\n%s", o, ok, field, h.authorized())
	}
	if o := got[ssh.FingerprintSHA256(e.key.signer.PublicKey())]; o != "no-pty" {
		t.Errorf("the previous key's own line changed: options %q:\n%s", o, h.authorized())
	}
	if err := loginAll(context.Background(), cur, h); err != nil {
		t.Errorf("AWSCURRENT does not log in from 127.0.0.1: %v", err)
	}
	if err := loginDial(context.Background(), cur, h.addr, h.hostKey.PublicKey(), fromDial(t, "127.0.0.2")); err == nil {
		t.Errorf("the new key logs in from 127.0.0.2 although authorized_keys_options allows only 127.0.0.1")
	}
}

// account is one Secrets Manager (one account and region) with the
// rotation function, for tests where several manage the same hosts.
type account struct {
	t     *testing.T
	fake  *localsm.Fake
	clock *localsm.ManualClock
}

func newAccount(t *testing.T, id, region string) *account {
	t.Helper()
	a := &account{t: t, clock: localsm.NewManualClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))}
	a.fake = localsm.New(localsm.Options{
		AccountID:           id,
		Region:              region,
		Clock:               a.clock,
		StrictRotationToken: true,
		RotationAttempts:    1,
	})
	h, err := rotation.New(a.fake, testRotator(), func(o *rotation.Options) { o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) })
	if err != nil {
		t.Fatal(err)
	}
	a.fake.SetInvoker(localsm.HandlerInvoker(h.Handle))
	t.Cleanup(func() { _ = a.fake.Wait(context.Background()) })
	return a
}

func (a *account) create(name, value string) string {
	a.t.Helper()
	out, err := a.fake.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		a.t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func (a *account) rotate(arn string) error {
	_, err := a.fake.Rotate(context.Background(), &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(arn),
		RotationLambdaARN: aws.String(fmt.Sprintf("arn:aws:lambda:%s:%s:function:sshkey", a.fake.Region(), a.fake.AccountID())),
		RotationRules:     &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(1)},
	})
	a.clock.Advance(48 * time.Hour)
	return err
}

func (a *account) staged(arn, stage string) *rotation.Secret {
	a.t.Helper()
	s, _ := a.fake.Secret(arn)
	v, ok := s.Staged(stage)
	if !ok || v.SecretString == nil {
		a.t.Fatalf("%s: no %s value", arn, stage)
	}
	return rotation.NewString(*v.SecretString)
}

// TestSameNameInTwoAccounts: two secrets with the same name, in different
// accounts and regions, rotate the keys of the same login on the same
// host. Neither removes the other's keys: each keeps its AWSCURRENT and
// AWSPREVIOUS logging in through alternating rotations.
func TestSameNameInTwoAccounts(t *testing.T) {
	t.Parallel()
	const name = "ssh/shared"
	a := newAccount(t, "111111111111", "us-east-1")
	b := newAccount(t, "222222222222", "eu-west-1")
	keyA, keyB := newClientKey(t), newClientKey(t)
	prefixA := managedPrefix("arn:aws:secretsmanager:us-east-1:111111111111:secret:" + name + "-AbCdEf")
	prefixB := managedPrefix("arn:aws:secretsmanager:eu-west-1:222222222222:secret:" + name + "-AbCdEf")
	if prefixA == prefixB {
		t.Fatalf("both secrets have the marker prefix %q", prefixA)
	}
	others := otherLines(t)
	h := startHost(t, others+keyA.line(prefixA+"initial")+"\n"+keyB.line(prefixB+"initial")+"\n")
	arnA := a.create(name, secretJSON(t, keyA, prefixA+"initial", h))
	arnB := b.create(name, secretJSON(t, keyB, prefixB+"initial", h))
	if managedPrefix(arnA) != prefixA || managedPrefix(arnB) != prefixB {
		t.Fatalf("unexpected ARNs %s, %s", arnA, arnB)
	}
	ctx := context.Background()
	for i, step := range []struct {
		who *account
		arn string
	}{{a, arnA}, {b, arnB}, {a, arnA}, {b, arnB}, {a, arnA}} {
		if err := step.who.rotate(step.arn); err != nil {
			t.Fatalf("rotation %d of %s: %v\nauthorized_keys:\n%s", i+1, step.arn, err, h.authorized())
		}
		for _, s := range []struct {
			who    *account
			arn    string
			prefix string
		}{{a, arnA, prefixA}, {b, arnB, prefixB}} {
			for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
				if i == 0 && s.who == b && stage == "AWSPREVIOUS" {
					continue // not rotated yet
				}
				if err := login(ctx, s.who.staged(s.arn, stage), h.addr, h.hostKey.PublicKey()); err != nil {
					t.Errorf("after rotation %d: %s of %s no longer logs in: %v\n%s", i+1, stage, s.arn, err, h.authorized())
				}
			}
			if n := len(managedLines(t, h.authorized(), s.prefix)); n > 2 {
				t.Errorf("after rotation %d: %d lines of %s, want at most 2:\n%s", i+1, n, s.arn, h.authorized())
			}
		}
	}
	if !strings.HasPrefix(h.authorized(), others) {
		t.Errorf("lines the rotator does not manage were changed:\n%s", h.authorized())
	}
}

// TestLegacyMarkers: lines with the old marker ("rotation:<name>:<version>",
// no ARN tag) that hold keys of the secret (AWSCURRENT and AWSPREVIOUS at
// the upgrade) are adopted and retired like any other; one that holds
// another key (another account's secret of the same name, say) is left
// alone, byte for byte.
func TestLegacyMarkers(t *testing.T) {
	t.Parallel()
	const name = "ssh/legacy"
	legacy := markerPrefix + name + ":"
	a := newAccount(t, "123456789012", "us-east-1")
	key0, key1, foreign := newClientKey(t), newClientKey(t), newClientKey(t)
	others := otherLines(t)
	foreignLine := `from="127.0.0.1" ` + foreign.line(legacy+"4a1e0b1c-0000-4000-8000-000000000001")
	h := startHost(t, others+foreignLine+"\n"+key0.line(legacy+"v0")+"\n"+key1.line(legacy+"v1")+"\r\n")
	arn := a.create(name, secretJSON(t, key0, legacy+"v0", h))
	if _, err := a.fake.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), SecretString: aws.String(secretJSON(t, key1, legacy+"v1", h)),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-0000000000b1"),
	}); err != nil {
		t.Fatal(err)
	}
	prefix := managedPrefix(arn)
	ctx := context.Background()
	if err := a.rotate(arn); err != nil {
		t.Fatalf("first rotation: %v\n%s", err, h.authorized())
	}
	cur1 := mustGet(t, a.staged(arn, "AWSCURRENT"), fieldPublicKey)
	want := others + foreignLine + "\n" + key1.line(prefix+"v1") + "\r\n" + cur1 + "\n"
	if got := h.authorized(); got != want {
		t.Errorf("after the first rotation:\n%s\nwant:\n%s", got, want)
	}
	if err := login(ctx, rotation.NewString(secretJSON(t, key0, "", h)), h.addr, h.hostKey.PublicKey()); err == nil {
		t.Errorf("the key that was AWSPREVIOUS at the upgrade still logs in")
	}
	if err := a.rotate(arn); err != nil {
		t.Fatalf("second rotation: %v\n%s", err, h.authorized())
	}
	cur2 := mustGet(t, a.staged(arn, "AWSCURRENT"), fieldPublicKey)
	want = others + foreignLine + "\n" + cur1 + "\n" + cur2 + "\n"
	if got := h.authorized(); got != want {
		t.Errorf("after the second rotation:\n%s\nwant:\n%s", got, want)
	}
	for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
		if err := login(ctx, a.staged(arn, stage), h.addr, h.hostKey.PublicKey()); err != nil {
			t.Errorf("%s does not log in: %v", stage, err)
		}
	}
}

func TestSecretTag(t *testing.T) {
	const base = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/ssh/deploy"
	tag := secretTag(base + "-AbC123")
	if tag != secretTag(base) || len(tag) != 12 {
		t.Errorf("secretTag with and without the suffix: %q, %q", tag, secretTag(base))
	}
	for _, other := range []string{
		"arn:aws:secretsmanager:us-east-1:210987654321:secret:prod/ssh/deploy-AbC123",
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/ssh/deploy-AbC123",
		"arn:aws-cn:secretsmanager:us-east-1:123456789012:secret:prod/ssh/deploy-AbC123",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/ssh/deploy2-AbC123",
	} {
		if secretTag(other) == tag {
			t.Errorf("%s has the same tag as %s", other, base)
		}
	}
	if got, want := managedPrefix(base+"-AbC123"), "rotation:prod/ssh/deploy#"+tag+":"; got != want {
		t.Errorf("managedPrefix = %q, want %q", got, want)
	}
	if got := legacyPrefix(base + "-AbC123"); got != "rotation:prod/ssh/deploy:" {
		t.Errorf("legacyPrefix = %q", got)
	}
	// The README computes the tag with sha256sum.
	if out, err := runShell(`printf %s "$1" | sha256sum | cut -c1-12`, base); err == nil {
		if strings.TrimSpace(out) != tag {
			t.Errorf("sha256sum gives %q, secretTag %q", strings.TrimSpace(out), tag)
		}
	} else {
		t.Logf("not compared with sha256sum: %v", err)
	}
}

func TestCheckOptions(t *testing.T) {
	key := newClientKey(t).signer.PublicKey()
	for _, ok := range []string{
		"",
		"no-pty",
		`from="10.0.0.0/8,192.168.1.*",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty`,
		`restrict,from="10.1.2.3"`,
		`environment="A=b c",expiry-time="20300101"`,
	} {
		if err := checkOptions(ok, key); err != nil {
			t.Errorf("checkOptions(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{
		"no-pty\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl evil",
		"no-pty\r",
		"no-pty\x00",
		`from="10.0.0.0/8`,
		"no-pty no-agent-forwarding",
		"no-pty,",
		",no-pty",
		"no-pty,,no-X11-forwarding",
		`command="/bin/true"`,
		`no-pty,COMMAND="id"`,
		"cert-authority",
		`principals="x"`,
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))),
		strings.Repeat("no-pty,", 1000) + "no-pty",
	} {
		err := checkOptions(bad, key)
		if err == nil || !errors.Is(err, rotation.ErrInvalidSecret) {
			t.Errorf("checkOptions(%q) = %v, want an invalid-secret error", bad, err)
			continue
		}
		if len(bad) > 16 && strings.Contains(err.Error(), bad) {
			t.Errorf("the error quotes the value: %v", err)
		}
	}
	// parseSecret reads the field.
	k := newClientKey(t)
	h := &testHost{addr: "127.0.0.1:22", hostKey: k.signer}
	var m map[string]any
	if err := json.Unmarshal([]byte(secretJSON(t, k, "x", h)), &m); err != nil {
		t.Fatal(err)
	}
	m[fieldKeyOptions] = "no-pty"
	b, _ := json.Marshal(m)
	ks, err := parseSecret(rotation.NewString(string(b)))
	if err != nil || ks.options != "no-pty" {
		t.Errorf("parseSecret: options %q, %v", ks.options, err)
	}
	m[fieldKeyOptions] = "no-pty\nssh-ed25519 AAAA"
	b, _ = json.Marshal(m)
	if _, err := parseSecret(rotation.NewString(string(b))); err == nil || !strings.Contains(err.Error(), `"authorized_keys_options" must be one line`) {
		t.Errorf("parseSecret with a newline in the options: %v", err)
	}
}

func TestInstallerApply(t *testing.T) {
	cur, pend, prev, other := newClientKey(t), newClientKey(t), newClientKey(t), newClientKey(t)
	const prefix, legacy = "rotation:app#0123456789ab:", "rotation:app:"
	newInstaller := func(options string, prevCalls *int) *installer {
		return &installer{
			prefix: prefix, legacy: legacy, comment: prefix + "v3",
			pending: pend.signer.PublicKey(), current: cur.signer.PublicKey(), options: options,
			previous: func() (ssh.PublicKey, error) { *prevCalls++; return prev.signer.PublicKey(), nil },
		}
	}
	pendLine := func(opts string) string {
		if opts == "" {
			return pend.line(prefix + "v3")
		}
		return opts + " " + pend.line(prefix+"v3")
	}
	tests := []struct {
		name      string
		content   string
		options   string
		want      string // "" means an error
		wantPrev  bool   // the previous key was read
		wantError error
	}{
		{"copies the managed line's options, not a duplicate's",
			cur.line("by hand") + "\n" + `no-pty,from="10.0.0.1" ` + cur.line(prefix+"v2") + "\n",
			"", cur.line("by hand") + "\n" + `no-pty,from="10.0.0.1" ` + cur.line(prefix+"v2") + "\n" + pendLine(`no-pty,from="10.0.0.1"`) + "\n", false, nil},
		{"copies a line without marker",
			`restrict ` + cur.line("initial") + "\n",
			"", `restrict ` + cur.line("initial") + "\n" + pendLine("restrict") + "\n", false, nil},
		{"no options stay none",
			cur.line(prefix+"v2") + "\n",
			"", cur.line(prefix+"v2") + "\n" + pendLine("") + "\n", false, nil},
		{"skips a cert-authority line",
			`cert-authority ` + cur.line("ca") + "\n" + `no-pty ` + cur.line("x") + "\n",
			"", `cert-authority ` + cur.line("ca") + "\n" + `no-pty ` + cur.line("x") + "\n" + pendLine("no-pty") + "\n", false, nil},
		{"the field wins",
			`no-pty ` + cur.line(prefix+"v2") + "\n",
			`from="10.9.9.9"`, `no-pty ` + cur.line(prefix+"v2") + "\n" + pendLine(`from="10.9.9.9"`) + "\n", false, nil},
		{"the field needs no line of the current key",
			other.line("x") + "\n",
			`no-pty`, other.line("x") + "\n" + pendLine("no-pty") + "\n", false, nil},
		{"falls back to the previous key's line",
			`no-agent-forwarding ` + prev.line(prefix+"v1") + "\n",
			"", `no-agent-forwarding ` + prev.line(prefix+"v1") + "\n" + pendLine("no-agent-forwarding") + "\n", true, nil},
		{"refuses when no line holds the current or previous key",
			other.line("x") + "\n", "", "", true, errNoKeyLine},
		{"a retried Set changes nothing",
			`no-pty ` + cur.line(prefix+"v2") + "\n" + `no-pty ` + pend.line(prefix+"v3") + "\n",
			"", `no-pty ` + cur.line(prefix+"v2") + "\n" + `no-pty ` + pend.line(prefix+"v3") + "\n", false, nil},
		{"adopts legacy lines of the secret's keys, keeps others",
			`no-pty ` + cur.line(legacy+"v2") + "\r\n" + prev.line(legacy+"v1 note") + "\n" + other.line(legacy+"v0") + "\n",
			"", `no-pty ` + cur.line(prefix+"v2") + "\r\n" + prev.line(prefix+"v1 note") + "\n" + other.line(legacy+"v0") + "\n" + pendLine("no-pty") + "\n", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got, err := newInstaller(tc.options, &calls).apply([]byte(tc.content))
			if tc.wantError != nil {
				if !errors.Is(err, tc.wantError) {
					t.Errorf("error %v, want %v", err, tc.wantError)
				}
			} else if err != nil || string(got) != tc.want {
				t.Errorf("got (%v):\n%s\nwant:\n%s", err, got, tc.want)
			}
			if (calls > 0) != tc.wantPrev {
				t.Errorf("AWSPREVIOUS read %d times, want read: %v", calls, tc.wantPrev)
			}
		})
	}
	// A failure to read AWSPREVIOUS stops the edit.
	in := newInstaller("", new(int))
	boom := errors.New("GetSecretValue failed")
	in.previous = func() (ssh.PublicKey, error) { return nil, boom }
	if _, err := in.apply([]byte(other.line("x") + "\n")); !errors.Is(err, boom) {
		t.Errorf("error %v, want %v", err, boom)
	}
}

// TestFinishAdoptsLegacy: Finish adopts an old-format line holding a kept
// key (a pending key an old version's Set installed) so that a later
// Finish can retire it, and never removes an old-format line of a key it
// does not hold.
func TestFinishAdoptsLegacy(t *testing.T) {
	kept, gone, foreign := newClientKey(t), newClientKey(t), newClientKey(t)
	const prefix, legacy = "rotation:app#0123456789ab:", "rotation:app:"
	content := kept.line(legacy+"v2") + "\n" + gone.line(prefix+"v1") + "\n" + foreign.line(legacy+"v9") + "\n"
	keep := []ssh.PublicKey{kept.signer.PublicKey()}
	got := removeStale(adoptLegacy([]byte(content), legacy, prefix, keep), prefix, keep)
	if want := kept.line(prefix+"v2") + "\n" + foreign.line(legacy+"v9") + "\n"; string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// runShell runs script with /bin/sh and args as $1...
func runShell(script string, args ...string) (string, error) {
	out, err := exec.Command("/bin/sh", append([]string{"-c", script, "sh"}, args...)...).Output()
	return string(out), err
}
