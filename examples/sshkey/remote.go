package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Errors callers (and tests) can branch on with errors.Is. Every error
// about a host is a *HostError naming it; none carries key material.
var (
	// ErrHostKey means a host's key could not be verified against the
	// secret's known_hosts: it is missing, does not match, or is revoked.
	ErrHostKey = errors.New("host key verification failed")
	// ErrAuth means the host refused every key offered.
	ErrAuth = errors.New("authentication failed")
	// ErrTimeout means a host did not complete a connection or a command in
	// time.
	ErrTimeout = errors.New("timed out")
)

// HostError is a failure on one host.
type HostError struct {
	Host string // "host:port" as written in the secret
	Err  error
}

func (e *HostError) Error() string { return "host " + e.Host + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *HostError) Unwrap() error { return e.Err }

// HostErrors is the failures of several hosts, in the secret's order.
type HostErrors []*HostError

func (es HostErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns every failure.
func (es HostErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// conn is an authenticated SSH connection to one host.
type conn struct {
	host       string
	client     *ssh.Client
	cmdTimeout time.Duration
}

func (c *conn) close() { _ = c.client.Close() }

// dial connects to host and authenticates as the secret's user with
// signers, verifying the host key against known_hosts. The TCP connection,
// the SSH handshake and authentication together are bounded by timeout and
// by ctx.
func (r *Rotator) dial(ctx context.Context, ks *keySecret, host string, signers []ssh.Signer) (*conn, error) {
	timeout := r.dialTimeout()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dialContext := (&net.Dialer{}).DialContext
	if r.dialContext != nil {
		dialContext = r.dialContext
	}
	raw, err := dialContext(dctx, "tcp", host)
	if err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			return nil, &HostError{host, fmt.Errorf("%w: could not connect within %v", ErrTimeout, timeout)}
		}
		return nil, &HostError{host, fmt.Errorf("cannot connect: %v", cleanErr(err))}
	}
	// NewClientConn has no timeout of its own: a server that accepts and
	// never speaks would hold it forever. Closing the connection when the
	// deadline passes ends the handshake.
	stop := context.AfterFunc(dctx, func() { _ = raw.Close() })
	// The callback runs on x/crypto's key-exchange goroutine.
	var mu sync.Mutex
	var hostKeyErr error
	cfg := &ssh.ClientConfig{
		User: ks.user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if err := ks.hostKeys(hostname, remote, key); err != nil {
				herr := describeHostKeyError(err, key)
				mu.Lock()
				hostKeyErr = herr
				mu.Unlock()
				return herr
			}
			return nil
		},
		HostKeyAlgorithms: ks.algos[host],
		ClientVersion:     "SSH-2.0-rotationkit-sshkey",
	}
	sc, chans, reqs, err := ssh.NewClientConn(raw, host, cfg)
	if !stop() {
		if err == nil {
			_ = sc.Close()
		}
		if ctx.Err() != nil {
			return nil, &HostError{host, fmt.Errorf("SSH handshake interrupted: %w", ctx.Err())}
		}
		return nil, &HostError{host, fmt.Errorf("%w: no SSH handshake within %v (is an SSH server listening there?)", ErrTimeout, timeout)}
	}
	if err != nil {
		mu.Lock()
		herr := hostKeyErr
		mu.Unlock()
		switch {
		case herr != nil:
			return nil, &HostError{host, herr}
		// x/crypto/ssh has no error type for a refused client; this is
		// its message when every offered key was refused.
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, &HostError{host, fmt.Errorf("%w: the host refused every key offered for user %q", ErrAuth, ks.user)}
		}
		if inner := errors.Unwrap(err); inner != nil {
			err = inner // drop x/crypto's own "ssh: handshake failed: "
		}
		return nil, &HostError{host, fmt.Errorf("SSH handshake failed: %v", cleanErr(err))}
	}
	return &conn{host: host, client: ssh.NewClient(sc, chans, reqs), cmdTimeout: r.cmdTimeout()}, nil
}

// describeHostKeyError turns a knownhosts error into one that says what to
// do. It names the presented key's fingerprint (public), never a secret.
func describeHostKeyError(err error, key ssh.PublicKey) error {
	fp := ssh.FingerprintSHA256(key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &re):
		return fmt.Errorf("%w: the host presented a revoked %s key (%s)", ErrHostKey, key.Type(), fp)
	case errors.As(err, &ke) && len(ke.Want) == 0:
		return fmt.Errorf("%w: known_hosts has no key for this host (it presented %s %s); add its key to the secret's known_hosts", ErrHostKey, key.Type(), fp)
	case errors.As(err, &ke):
		return fmt.Errorf("%w: the host presented %s %s, which does not match its known_hosts entry: the host was reinstalled or the connection is intercepted; if the new key is genuine, update known_hosts in the secret", ErrHostKey, key.Type(), fp)
	}
	return fmt.Errorf("%w: %v", ErrHostKey, cleanErr(err))
}

// cleanErr returns err's text made safe for a log line: printable, short.
// Errors from the network may quote what a hostile server sent.
func cleanErr(err error) string {
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, err.Error())
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// Exit statuses of the remote scripts.
const (
	exitSymlink    = 90 // the authorized_keys path is a symbolic link
	exitMissing    = 91 // it does not exist
	exitNotRegular = 92 // it is not a regular file
	exitChanged    = 93 // it changed since it was read
	exitCorrupt    = 94 // the uploaded copy arrived damaged
	exitNoMktemp   = 95 // the host has no mktemp command
	exitTempLink   = 96 // the temporary file is not the regular file mktemp made
	exitLocked     = 97 // another update held the lock for the whole wait
)

// maxFile bounds the authorized_keys file this rotator handles.
const maxFile = 1 << 20

var errTooLarge = errors.New("output too large")

type limitedBuffer struct {
	buf   bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.limit {
		return 0, errTooLarge
	}
	return b.buf.Write(p)
}

// run runs a POSIX sh script on the host with stdin, bounded by the
// command timeout and ctx. It returns stdout and the exit status; a
// non-zero status is not an error. A timeout closes the connection.
func (c *conn) run(ctx context.Context, script string, stdin []byte) ([]byte, int, error) {
	cctx, cancel := context.WithTimeout(ctx, c.cmdTimeout)
	defer cancel()
	stop := context.AfterFunc(cctx, c.close)
	sess, err := c.client.NewSession()
	if err != nil {
		stop()
		return nil, 0, c.timeoutOr(ctx, cctx, fmt.Errorf("opening a session: %v", cleanErr(err)))
	}
	stdout := &limitedBuffer{limit: maxFile + 1}
	stderr := &limitedBuffer{limit: 4096}
	sess.Stdin = bytes.NewReader(stdin)
	sess.Stdout = stdout
	sess.Stderr = stderr
	// The login shell runs the command; /bin/sh runs the script, so the
	// scripts need only POSIX sh whatever the user's shell is.
	err = sess.Run("/bin/sh -c " + shellQuote(script))
	_ = sess.Close()
	if !stop() {
		return nil, 0, c.timeoutOr(ctx, cctx, nil)
	}
	var ee *ssh.ExitError
	switch {
	case errors.As(err, &ee):
		if code := ee.ExitStatus(); code >= 90 && code <= 99 {
			return stdout.buf.Bytes(), code, nil
		}
		msg := strings.TrimSpace(stderr.buf.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, 0, fmt.Errorf("remote command failed with status %d: %s", ee.ExitStatus(), cleanErr(errors.New(msg)))
	case errors.Is(err, errTooLarge):
		return nil, 0, fmt.Errorf("the authorized_keys file is larger than %d bytes", maxFile)
	case err != nil:
		return nil, 0, fmt.Errorf("remote command: %v", cleanErr(err))
	}
	return stdout.buf.Bytes(), 0, nil
}

func (c *conn) timeoutOr(ctx, cctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("remote command interrupted: %w", ctx.Err())
	case cctx.Err() != nil:
		return fmt.Errorf("%w: a remote command took longer than %v", ErrTimeout, c.cmdTimeout)
	}
	return err
}

// shellQuote quotes s as one POSIX shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pathPrelude sets f to the authorized_keys path, resolving a relative
// path against $HOME (the login's home directory), or the working
// directory without one; f never starts with "-", so that no command
// takes it for an option.
func pathPrelude(path string) string {
	return "f=" + shellQuote(path) + `
case "$f" in /*) ;; *) if [ -n "${HOME:-}" ]; then f="$HOME/$f"; else f="./$f"; fi ;; esac
`
}

// readScript prints the file, or exits with a status saying why not.
func readScript(path string) string {
	return pathPrelude(path) + fmt.Sprintf(`if [ -L "$f" ]; then exit %d; fi
if [ ! -e "$f" ]; then exit %d; fi
if [ ! -f "$f" ]; then exit %d; fi
exec cat -- "$f"
`, exitSymlink, exitMissing, exitNotRegular)
}

// writeScript replaces the file with stdin atomically. Under an exclusive
// flock(1) on the file's directory, where flock is available, it checks
// that the file is still what was read (POSIX cksum), creates a temporary
// file next to it with mktemp (a random name, created exclusively, so no
// link can be planted in its way) and refuses it if it is anything but a
// regular file, copies the original into it with its mode and owner
// (cp -p), writes the new content into the copy, checks that the copy is
// exactly what was sent, and renames it over the file. A dropped
// connection or a concurrent edit leaves the file as it was.
//
// The lock is taken on the directory, not the file: the rename replaces
// the file, so a lock on it would not exclude an update that opened the
// new one. It serialises the updates this rotator makes (several secrets
// may manage one login's file); the cksum check still catches an edit by
// anything else. flock is optional: without it (or when it cannot lock,
// as a flock without -w and -E, or on some network file systems) the update
// goes ahead unlocked. Waiting longer than lockWait seconds for the lock
// fails with exitLocked.
func writeScript(path string, old, new []byte, lockWait int) string {
	return pathPrelude(path) + fmt.Sprintf(`set -e
umask 077
if [ -L "$f" ] || [ ! -f "$f" ]; then exit %[1]d; fi
if ! command -v mktemp >/dev/null 2>&1; then exit %[2]d; fi
d=${f%%/*}
if [ -z "$d" ]; then d=/; fi
if command -v flock >/dev/null 2>&1 && [ -d "$d" ] && [ -r "$d" ] && (exec 9<"$d") 2>/dev/null; then
	exec 9<"$d"
	flock -x -w %[3]d -E %[4]d 9 2>/dev/null || { rc=$?; if [ "$rc" -eq %[4]d ]; then exit %[4]d; fi; }
fi
if [ -L "$f" ] || [ ! -f "$f" ]; then exit %[1]d; fi
set -- $(cksum < "$f")
if [ "$1 $2" != %[5]s ]; then exit %[6]d; fi
tmp=
trap 'if [ -n "$tmp" ]; then rm -f -- "$tmp"; fi' EXIT
tmp=$(mktemp "$f.rotation.XXXXXX")
if [ -z "$tmp" ] || [ -L "$tmp" ] || [ ! -f "$tmp" ] || [ -s "$tmp" ]; then exit %[7]d; fi
cp -p -- "$f" "$tmp"
cat > "$tmp"
set -- $(cksum < "$tmp")
if [ "$1 $2" != %[8]s ]; then exit %[9]d; fi
mv -f -- "$tmp" "$f"
trap - EXIT
`, exitNotRegular, exitNoMktemp, lockWait, exitLocked, shellQuote(cksum(old)), exitChanged, exitTempLink, shellQuote(cksum(new)), exitCorrupt)
}

// readAuthorizedKeys returns the content of the authorized_keys file.
func (c *conn) readAuthorizedKeys(ctx context.Context, path string) ([]byte, error) {
	out, code, err := c.run(ctx, readScript(path), nil)
	if err != nil {
		return nil, err
	}
	switch code {
	case 0:
		return out, nil
	case exitSymlink:
		return nil, errors.New("the authorized_keys path is a symbolic link; set authorized_keys_path to the file it points to")
	case exitMissing:
		return nil, errors.New("the authorized_keys file does not exist (the login must have used another file: check authorized_keys_path)")
	case exitNotRegular:
		return nil, errors.New("the authorized_keys path is not a regular file")
	}
	return nil, fmt.Errorf("reading authorized_keys: unexpected status %d", code)
}

// errChanged means the file changed between reading and writing.
var errChanged = errors.New("the authorized_keys file was changed by someone else during the update")

// writeAuthorizedKeys replaces old with new if the file still holds old.
func (c *conn) writeAuthorizedKeys(ctx context.Context, path string, old, new []byte) error {
	_, code, err := c.run(ctx, writeScript(path, old, new, c.lockWait()), new)
	if err != nil {
		return err
	}
	switch code {
	case 0:
		return nil
	case exitChanged:
		return errChanged
	case exitCorrupt:
		return errors.New("the new authorized_keys content arrived damaged; the file was left unchanged")
	case exitNotRegular:
		return errors.New("the authorized_keys path is not a regular file")
	case exitNoMktemp:
		return errors.New("the host has no mktemp command, needed to update authorized_keys safely (install coreutils or busybox); the file was left unchanged")
	case exitTempLink:
		return errors.New("the temporary file mktemp created next to authorized_keys was replaced by something else (a symbolic link?); the file was left unchanged")
	case exitLocked:
		return fmt.Errorf("another update of the authorized_keys file held the lock on its directory for %d s; the file was left unchanged", c.lockWait())
	}
	return fmt.Errorf("writing authorized_keys: unexpected status %d", code)
}

// lockWait is how many seconds the write script waits for the lock: half
// the command timeout, so that a lock held too long fails with its own
// error rather than a timeout.
func (c *conn) lockWait() int {
	return max(1, int(c.cmdTimeout/2/time.Second))
}

// edit applies fn to the authorized_keys file: read, change, write back if
// fn changed it. A concurrent edit is retried on a fresh read; an error
// from fn stops the edit with nothing written.
func (c *conn) edit(ctx context.Context, path string, fn func([]byte) ([]byte, error)) error {
	for attempt := 1; ; attempt++ {
		old, err := c.readAuthorizedKeys(ctx, path)
		if err != nil {
			return err
		}
		updated, err := fn(old)
		if err != nil {
			return err
		}
		if bytes.Equal(updated, old) {
			return nil
		}
		err = c.writeAuthorizedKeys(ctx, path, old, updated)
		if !errors.Is(err, errChanged) || attempt == 3 {
			return err
		}
	}
}

// forEach runs fn for every item with at most parallel at once and
// returns the failures in the items' order.
func forEach[T any](items []T, parallel int, host func(T) string, fn func(T) error) HostErrors {
	errs := make([]error, len(items))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(it)
		}()
	}
	wg.Wait()
	var out HostErrors
	for i, err := range errs {
		if err == nil {
			continue
		}
		var he *HostError
		if !errors.As(err, &he) {
			he = &HostError{host(items[i]), err}
		}
		out = append(out, he)
	}
	return out
}

// cksum returns the POSIX cksum of b as "CRC LENGTH", as `cksum < file`
// prints it.
func cksum(b []byte) string {
	var crc uint32
	for _, c := range b {
		crc = crc<<8 ^ cksumTable[byte(crc>>24)^c]
	}
	for n := len(b); n > 0; n >>= 8 {
		crc = crc<<8 ^ cksumTable[byte(crc>>24)^byte(n)]
	}
	return strconv.FormatUint(uint64(^crc), 10) + " " + strconv.Itoa(len(b))
}

var cksumTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()
