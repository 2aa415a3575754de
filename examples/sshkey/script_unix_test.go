//go:build unix

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/testenv"
	"golang.org/x/crypto/ssh"
)

// The tests here run the authorized_keys write script on a real sshd with
// tools missing, faked or in the way: the lock, mktemp and the temporary
// file.

// scriptTools are the commands the read and write scripts run, besides
// /bin/sh and its builtins.
var scriptTools = []string{"cat", "cksum", "cp", "mv", "rm", "mktemp", "flock"}

// toolDir makes a directory for the sessions' PATH holding links to the
// host's scriptTools except those named in skip, and the scripts in fake
// (name to content).
func toolDir(t *testing.T, skip []string, fake map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range scriptTools {
		if contains(skip, name) || fake[name] != "" {
			continue
		}
		p, err := exec.LookPath(name)
		if err != nil {
			testenv.Missing(t, name, "install it (coreutils; util-linux for flock): "+err.Error())
		}
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, script := range fake {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dialHost logs in to h with key, as the rotator does.
func dialHost(t *testing.T, h *testHost, key clientKey) (*conn, *keySecret) {
	t.Helper()
	ks, err := parseSecret(rotation.NewString(secretJSON(t, key, "x", h)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := testRotator().dial(context.Background(), ks, h.addr, []ssh.Signer{ks.signer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c, ks
}

// remotePath checks that the session's PATH finds name where want says
// ("" for nowhere): the tests are only meaningful if SetEnv PATH works.
func remotePath(t *testing.T, c *conn, name, want string) {
	t.Helper()
	out, _, err := c.run(context.Background(), "command -v "+name+" || true", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("on the host, command -v %s = %q, want %q", name, got, want)
	}
}

func appendLine(b []byte) ([]byte, error) { return append(append([]byte{}, b...), "# added\n"...), nil }

// TestWriteLock: the write script takes an exclusive flock on the file's
// directory, waits for it at most half the command timeout, and then fails
// without touching the file; once the lock is free it writes.
func TestWriteLock(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	h := startHost(t, key.line("x")+"\n")
	c, ks := dialHost(t, h, key)
	d, err := os.Open(filepath.Dir(h.authorizedPath()))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
		testenv.Missing(t, "flock(2) on a directory", err.Error())
	}
	before := h.authorized()
	start := time.Now()
	err = c.edit(context.Background(), ks.path, appendLine)
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "held the lock") {
		t.Errorf("writing while another update holds the lock: %v", err)
	}
	if wait := time.Duration(c.lockWait()) * time.Second; elapsed < wait {
		t.Errorf("gave up after %v, before the lock wait of %v", elapsed, wait)
	}
	if got := h.authorized(); got != before {
		t.Errorf("the file changed although the lock was held:\n%s", got)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := c.edit(context.Background(), ks.path, appendLine); err != nil {
		t.Fatalf("writing once the lock is free: %v", err)
	}
	if got := h.authorized(); got != before+"# added\n" {
		t.Errorf("after the write:\n%s", got)
	}
}

// TestWriteWithoutFlock: a host without flock, or with one that does not
// know -w and -E (busybox), is updated without the lock.
func TestWriteWithoutFlock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
		want string // command -v flock on the host
	}{
		{"missing", func(t *testing.T) string { return toolDir(t, []string{"flock"}, nil) }, ""},
		{"old", func(t *testing.T) string {
			return toolDir(t, nil, map[string]string{"flock": "#!/bin/sh\necho \"flock: invalid option -- 'E'\" >&2\nexit 1\n"})
		}, "flock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := newClientKey(t)
			dir := tc.dir(t)
			h := startHostEnv(t, key.line("x")+"\n", "PATH="+dir)
			c, ks := dialHost(t, h, key)
			want := tc.want
			if want != "" {
				want = filepath.Join(dir, want)
			}
			remotePath(t, c, "flock", want)
			before := h.authorized()
			if err := c.edit(context.Background(), ks.path, appendLine); err != nil {
				t.Fatalf("writing without a usable flock: %v", err)
			}
			if got := h.authorized(); got != before+"# added\n" {
				t.Errorf("after the write:\n%s", got)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(h.authorizedPath()), "*rotation*")); len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

// TestWriteWithoutMktemp: a host without mktemp is refused with an error
// that says so, and its file is left as it was.
func TestWriteWithoutMktemp(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	h := startHostEnv(t, key.line("x")+"\n", "PATH="+toolDir(t, []string{"mktemp"}, nil))
	c, ks := dialHost(t, h, key)
	remotePath(t, c, "mktemp", "")
	before := h.authorized()
	err := c.edit(context.Background(), ks.path, appendLine)
	if err == nil || !strings.Contains(err.Error(), "no mktemp command") {
		t.Errorf("writing without mktemp: %v", err)
	}
	if got := h.authorized(); got != before {
		t.Errorf("the file changed:\n%s", got)
	}
}

// TestWriteTempSymlink: when the temporary file turns out to be a symbolic
// link (here a fake mktemp plants one; a real mktemp creates a new file
// with a random name), the script refuses it: the link's target is not
// written, the link is removed and the file is left as it was.
func TestWriteTempSymlink(t *testing.T) {
	t.Parallel()
	ln, err := exec.LookPath("ln")
	if err != nil {
		testenv.Missing(t, "ln", "install coreutils")
	}
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\nt=\"${1%XXXXXX}planted\"\n" + ln + " -s " + shellQuote(target) + " \"$t\" || exit 1\necho \"$t\"\n"
	key := newClientKey(t)
	h := startHostEnv(t, key.line("x")+"\n", "PATH="+toolDir(t, nil, map[string]string{"mktemp": fake}))
	c, ks := dialHost(t, h, key)
	before := h.authorized()
	err = c.edit(context.Background(), ks.path, appendLine)
	if err == nil || !strings.Contains(err.Error(), "replaced by something else") {
		t.Errorf("writing through a planted link: %v", err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "precious\n" {
		t.Errorf("the link's target was written: %q, %v", b, err)
	}
	if got := h.authorized(); got != before {
		t.Errorf("the file changed:\n%s", got)
	}
	if _, err := os.Lstat(h.authorizedPath() + ".rotation.planted"); !os.IsNotExist(err) {
		t.Errorf("the planted link was left: %v", err)
	}
}
