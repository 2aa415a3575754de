package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/testenv"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestCksumMatchesPOSIX(t *testing.T) {
	bin, err := exec.LookPath("cksum")
	if err != nil {
		testenv.Missing(t, "a cksum binary to compare with", "install coreutils")
	}
	for _, in := range []string{"", "a", "hello\n", strings.Repeat("ssh-ed25519 AAAA key\n", 300), "\x00\xff\x80"} {
		cmd := exec.Command(bin)
		cmd.Stdin = strings.NewReader(in)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cksum([]byte(in)), strings.TrimSpace(string(out)); got != want {
			t.Errorf("cksum(%d bytes) = %q, cksum(1) says %q", len(in), got, want)
		}
	}
}

func TestSecretLabel(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/ssh/deploy-AbC123": "prod/ssh/deploy",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:deploy":                 "deploy",
		"prod/ssh/deploy": "prod/ssh/deploy",
	} {
		if got := secretLabel(in); got != want {
			t.Errorf("secretLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEditLines(t *testing.T) {
	a, b, c, other := newClientKey(t), newClientKey(t), newClientKey(t), newClientKey(t)
	const prefix = "rotation:app:"
	content := "# header\r\n" +
		`command="/bin/true" ` + other.line("rotation:app2:1") + "\n" +
		"not a key line\n" +
		a.line(prefix+"v1") + "\n" +
		"\n" +
		b.line(prefix+"v2") + "\n" +
		other.line("laptop") // no final newline

	// addKey is idempotent and keeps everything.
	added := addKey([]byte(content), c.signer.PublicKey(), c.line(prefix+"v3"))
	if want := content + "\n" + c.line(prefix+"v3") + "\n"; string(added) != want {
		t.Errorf("addKey:\n%s\nwant:\n%s", added, want)
	}
	if again := addKey(added, c.signer.PublicKey(), c.line(prefix+"v3")); !bytes.Equal(again, added) {
		t.Errorf("addKey twice changed the content")
	}
	if same := addKey([]byte(content), a.signer.PublicKey(), a.line("other comment")); string(same) != content {
		t.Errorf("addKey added a key that a line already holds")
	}

	// removeStale removes only managed lines of this secret not kept.
	got := removeStale(added, prefix, []ssh.PublicKey{b.signer.PublicKey(), c.signer.PublicKey()})
	want := strings.Replace(string(added), a.line(prefix+"v1")+"\n", "", 1)
	if string(got) != want {
		t.Errorf("removeStale:\n%s\nwant:\n%s", got, want)
	}
	// A kept key is kept whatever its comment; other secrets' lines stay.
	if got := removeStale(added, prefix, []ssh.PublicKey{a.signer.PublicKey(), b.signer.PublicKey(), c.signer.PublicKey()}); !bytes.Equal(got, added) {
		t.Errorf("removeStale removed a kept key")
	}
	if got := removeStale(added, "rotation:ap:", nil); !bytes.Equal(got, added) {
		t.Errorf("removeStale matched a prefix of another secret's name")
	}
}

func TestConfigure(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	r, err := configure(env(nil))
	if err != nil || r.DialTimeout != 10*time.Second || r.CommandTimeout != 20*time.Second || r.Parallel != 8 {
		t.Errorf("defaults: %+v, %v", r, err)
	}
	r, err = configure(env(map[string]string{"SSH_DIAL_TIMEOUT": "3s", "SSH_COMMAND_TIMEOUT": "1m", "SSH_PARALLEL": "2"}))
	if err != nil || r.DialTimeout != 3*time.Second || r.CommandTimeout != time.Minute || r.Parallel != 2 {
		t.Errorf("set: %+v, %v", r, err)
	}
	for k, v := range map[string]string{"SSH_DIAL_TIMEOUT": "ten", "SSH_COMMAND_TIMEOUT": "-1s", "SSH_PARALLEL": "0"} {
		if _, err := configure(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v, want one naming the variable", k, v, err)
		}
	}
}

// TestRemoteEdits exercises the authorized_keys update on a real sshd:
// mode and owner kept, a concurrent change detected, links and missing
// files refused, an absolute authorized_keys_path honoured.
func TestRemoteEdits(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	h := startHost(t, key.line("x")+"\n")
	ks, err := parseSecret(rotation.NewString(secretJSON(t, key, "x", h)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := testRotator()
	c, err := r.dial(ctx, ks, h.addr, []ssh.Signer{ks.signer})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	path := h.authorizedPath()

	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	extra := newClientKey(t).line("extra")
	if err := c.edit(ctx, ks.path, func(b []byte) ([]byte, error) { return append(bytes.Clone(b), extra+"\n"...), nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := h.authorized(), key.line("x")+"\n"+extra+"\n"; got != want {
		t.Errorf("after edit:\n%s\nwant:\n%s", got, want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after edit: %v, %v; want 0640 kept", fi.Mode(), err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*rotation*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// A change between read and write is detected; the file is untouched.
	old, err := c.readAuthorizedKeys(ctx, path) // absolute path this time
	if err != nil {
		t.Fatal(err)
	}
	h.setAuthorized(string(old) + "# added by someone else\n")
	if err := c.writeAuthorizedKeys(ctx, path, old, []byte("replaced\n")); !errors.Is(err, errChanged) {
		t.Errorf("write after a concurrent change: %v, want errChanged", err)
	}
	if got := h.authorized(); got != string(old)+"# added by someone else\n" {
		t.Errorf("the concurrent change was overwritten:\n%s", got)
	}
	// edit retries on a fresh read and keeps the other change.
	calls := 0
	if err := c.edit(ctx, path, func(b []byte) ([]byte, error) {
		calls++
		if calls == 1 {
			h.setAuthorized(string(b) + "# racing edit\n")
		}
		return append(bytes.Clone(b), "# mine\n"...), nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := h.authorized(); !strings.HasSuffix(got, "# racing edit\n# mine\n") || calls != 2 {
		t.Errorf("after a racing edit (%d reads):\n%s", calls, got)
	}

	// A symbolic link and a missing file are refused.
	link := filepath.Join(h.dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := c.readAuthorizedKeys(ctx, link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("reading through a symbolic link: %v", err)
	}
	if _, err := c.readAuthorizedKeys(ctx, ".ssh/missing"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("reading a missing file: %v", err)
	}
	// A path with shell metacharacters is one word.
	odd := filepath.Join(h.dir, "home", "it's $(odd) `file`")
	if err := os.WriteFile(odd, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := c.readAuthorizedKeys(ctx, odd); err != nil || string(got) != "x\n" {
		t.Errorf("reading %q: %q, %v", odd, got, err)
	}
}

func TestKnownHostsAlgorithms(t *testing.T) {
	ed := newClientKey(t).signer.PublicKey()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	text := "# comment\n\n" +
		knownhosts.Line([]string{knownhosts.HashHostname(knownhosts.Normalize("10.0.0.1:2222"))}, ed) + "\n" +
		knownhosts.Line([]string{"*.internal"}, rsaPub) + "\n" +
		knownhosts.Line([]string{"10.0.0.2"}, ed) + "\n"
	hosts := []string{"10.0.0.1:2222", "db.internal:22", "10.0.0.2:22", "10.0.0.3:22"}
	cb, algos, err := parseKnownHosts(text, hosts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"10.0.0.1:2222":  {ssh.KeyAlgoED25519},
		"db.internal:22": {ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA},
		"10.0.0.2:22":    {ssh.KeyAlgoED25519},
	}
	for _, h := range hosts {
		if got := strings.Join(algos[h], ","); got != strings.Join(want[h], ",") {
			t.Errorf("algorithms for %s = %q, want %q", h, got, want[h])
		}
	}
	addr := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 2222}
	if err := cb("10.0.0.1:2222", addr, ed); err != nil {
		t.Errorf("hashed entry: %v", err)
	}
	if err := cb("10.0.0.1:22", addr, ed); err == nil {
		t.Errorf("the entry for port 2222 matched port 22")
	}
	if err := cb("db.internal:22", addr, ed); err == nil {
		t.Errorf("a key of another type matched")
	}
	if _, _, err := parseKnownHosts("# only a comment\n", hosts); err == nil || !strings.Contains(err.Error(), "no host key") {
		t.Errorf("known_hosts with no key: %v", err)
	}
}
