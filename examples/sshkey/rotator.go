package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rotationkit/rotation"
	"golang.org/x/crypto/ssh"
)

// Rotator rotates an ed25519 SSH key pair that logs in to a set of hosts.
// It keeps two keys valid at all times (AWSCURRENT and AWSPREVIOUS), so a
// client that cached the secret keeps logging in through a rotation:
//
//   - Create makes a new key pair with crypto/rand into the pending value.
//     It changes nothing on any host.
//   - Set logs in to every host with the current key (or the previous one,
//     or the pending one if a retried Set already installed it) and adds the
//     pending public key to authorized_keys if no line holds it yet, with
//     the secret's authorized_keys_options or else the options of the line
//     holding the current key. It first connects to every host and changes
//     nothing unless all of them answered and authenticated; a host that
//     fails is named in the error.
//   - Test logs in to every host with the pending key and runs a command.
//   - Finish, once AWSCURRENT has moved, removes from every host the keys
//     this rotator installed for this secret (their comment starts with
//     "rotation:<secret name>#<ARN tag>:") that are neither AWSCURRENT,
//     AWSPREVIOUS nor AWSPENDING. Lines without that marker are never
//     removed; old-format lines ("rotation:<secret name>:") holding one of
//     the secret's keys get the new marker (see adoptLegacy).
//
// Host keys are always verified against the secret's known_hosts. It keeps
// no state between calls and is safe for concurrent use.
type Rotator struct {
	// DialTimeout bounds the TCP connection, SSH handshake and
	// authentication to one host; default 10 s.
	DialTimeout time.Duration
	// CommandTimeout bounds each remote command; default 20 s.
	CommandTimeout time.Duration
	// Parallel is how many hosts are handled at once; default 8.
	Parallel int

	// dialContext, if set, replaces net.Dialer.DialContext (tests).
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

var (
	_ rotation.Rotator  = (*Rotator)(nil)
	_ rotation.Finisher = (*Rotator)(nil)
)

func (r *Rotator) dialTimeout() time.Duration {
	if r.DialTimeout <= 0 {
		return 10 * time.Second
	}
	return r.DialTimeout
}

func (r *Rotator) cmdTimeout() time.Duration {
	if r.CommandTimeout <= 0 {
		return 20 * time.Second
	}
	return r.CommandTimeout
}

func (r *Rotator) parallel() int {
	if r.Parallel <= 0 {
		return 8
	}
	return r.Parallel
}

// Create generates a new ed25519 key pair. The private key is stored in
// OpenSSH format and the public key as an authorized_keys line whose
// comment marks it as installed by this rotator for this secret and
// version; the other fields are carried over from the current value.
func (r *Rotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	// Check the current value now: a rotation that cannot log in should
	// fail before it stores anything.
	if _, err := parseSecret(cur); err != nil {
		return nil, fmt.Errorf("the AWSCURRENT value: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	comment := marker(req.SecretARN, req.VersionID)
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("encoding the private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	p, err := cur.With(map[string]any{
		fieldPrivateKey: string(pem.EncodeToMemory(block)),
		fieldPublicKey:  authorizedLine(sshPub, comment),
	})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: p}, nil
}

// Set installs the pending public key on every host.
func (r *Rotator) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	pend, err := parseSecret(req.Pending)
	if err != nil {
		return nil, fmt.Errorf("the AWSPENDING value: %w", err)
	}
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	curKey, err := parsePrivateKey(cur)
	if err != nil {
		return nil, fmt.Errorf("the AWSCURRENT value: %w", err)
	}
	// The pending key is offered last: it logs in only when an earlier Set
	// already installed it, and then nothing needs changing.
	signers := []ssh.Signer{curKey, pend.signer}
	conns, errs := r.connectAll(ctx, pend, pend.hosts, signers)
	if len(errs) > 0 && onlyAuth(errs) {
		// Fall back to the previous key, read only now. A host restored
		// from an old backup may still accept only that one.
		prev, perr := req.Previous(ctx)
		if perr != nil {
			closeAll(conns)
			return nil, perr
		}
		if prev != nil {
			if prevKey, err := parsePrivateKey(prev); err == nil {
				var retry []string
				for _, e := range errs {
					retry = append(retry, e.Host)
				}
				more, moreErrs := r.connectAll(ctx, pend, retry, []ssh.Signer{curKey, prevKey, pend.signer})
				conns, errs = append(conns, more...), moreErrs
			}
		}
	}
	defer closeAll(conns)
	if len(errs) > 0 {
		// Nothing has been changed on any host.
		return nil, fmt.Errorf("could not log in to every host, so no host was changed: %w", errs)
	}
	// The AWSPREVIOUS key, read (once) only when a host needs it: a host
	// that holds neither the current nor the pending key, or one with
	// old-format marker lines (see adoptLegacy).
	previous := sync.OnceValues(func() (ssh.PublicKey, error) {
		prev, err := req.Previous(ctx)
		if err != nil || prev == nil {
			return nil, err
		}
		if k, err := publicKeyOf(prev); err == nil {
			return k, nil
		}
		return nil, nil
	})
	in := &installer{
		prefix:   managedPrefix(req.SecretARN),
		legacy:   legacyPrefix(req.SecretARN),
		comment:  marker(req.SecretARN, req.VersionID),
		pending:  pend.signer.PublicKey(),
		current:  curKey.PublicKey(),
		options:  pend.options,
		previous: previous,
	}
	errs = forEach(conns, r.parallel(), connHost, func(c *conn) error {
		if err := c.edit(ctx, pend.path, in.apply); err != nil {
			return &HostError{c.host, fmt.Errorf("adding the pending key: %w", err)}
		}
		return nil
	})
	if len(errs) > 0 {
		return nil, errs
	}
	return &rotation.SetResponse{}, nil
}

// errNoKeyLine means Set found no line to copy the options from.
var errNoKeyLine = errors.New("neither the AWSCURRENT nor the AWSPREVIOUS key is in the authorized_keys file, " +
	"so the options (from=, no-pty, ...) the new key must keep are unknown: set authorized_keys_path to the file sshd reads " +
	"for this user, or set authorized_keys_options in the secret")

// installer is what Set does to one host's authorized_keys content.
type installer struct {
	prefix, legacy string // managedPrefix and legacyPrefix of the secret
	comment        string // the pending line's marker
	pending        ssh.PublicKey
	current        ssh.PublicKey
	options        string                        // authorized_keys_options; "" copies them
	previous       func() (ssh.PublicKey, error) // the AWSPREVIOUS key, or nil
}

// apply adopts the old-format lines of the secret's keys and adds the
// pending key, unless a line already holds it. The new line gets the
// secret's authorized_keys_options if set, else the options of the line
// holding the current key (the one this rotator installed for the
// secret, if several do) or, on a host that no longer has the current
// key, of the line holding the previous key: the restrictions a key had
// (from=, no-pty, no-port-forwarding, ...) pass to the next one.
func (in *installer) apply(b []byte) ([]byte, error) {
	known := []ssh.PublicKey{in.current, in.pending}
	var prev ssh.PublicKey
	if hasForeignLegacy(b, in.legacy, known) || (in.options == "" && !hasKey(b, in.current) && !hasKey(b, in.pending)) {
		var err error
		if prev, err = in.previous(); err != nil {
			return nil, err
		}
	}
	b = adoptLegacy(b, in.legacy, in.prefix, append(known, prev))
	if hasKey(b, in.pending) {
		return b, nil
	}
	opts := in.options
	if opts == "" {
		var ok bool
		if opts, ok = keyOptions(b, in.prefix, in.current, prev); !ok {
			return nil, errNoKeyLine
		}
	}
	return addKey(b, in.pending, optionLine(opts, in.pending, in.comment)), nil
}

// Test logs in to every host with the pending key and runs a command that
// changes nothing.
func (r *Rotator) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	pend, err := parseSecret(req.Pending)
	if err != nil {
		return nil, fmt.Errorf("the pending value: %w", err)
	}
	conns, errs := r.connectAll(ctx, pend, pend.hosts, []ssh.Signer{pend.signer})
	defer closeAll(conns)
	if len(errs) > 0 {
		return nil, fmt.Errorf("the pending key does not log in everywhere: %w", errs)
	}
	errs = forEach(conns, r.parallel(), connHost, func(c *conn) error {
		out, code, err := c.run(ctx, "echo rotation-test-ok", nil)
		switch {
		case err != nil:
			return &HostError{c.host, err}
		case code != 0 || !bytes.Equal(bytes.TrimSpace(out), []byte("rotation-test-ok")):
			return &HostError{c.host, errors.New("logged in with the pending key, but a test command did not run")}
		}
		return nil
	})
	if len(errs) > 0 {
		return nil, errs
	}
	return &rotation.TestResponse{}, nil
}

// Finish removes, on every host, the keys this rotator installed for the
// secret that are neither AWSCURRENT, AWSPREVIOUS nor AWSPENDING.
func (r *Rotator) Finish(ctx context.Context, req *rotation.FinishRequest) (*rotation.FinishResponse, error) {
	curVal, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := parseSecret(curVal)
	if err != nil {
		return nil, fmt.Errorf("the AWSCURRENT value: %w", err)
	}
	keep := []ssh.PublicKey{cur.signer.PublicKey()}
	signers := []ssh.Signer{cur.signer}
	for _, get := range []func(context.Context) (*rotation.Secret, error){req.Previous, req.Pending} {
		v, err := get(ctx)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		k, err := publicKeyOf(v)
		if err != nil {
			// A labelled value whose key cannot be read might still be in
			// use: remove nothing rather than guess. The next rotation
			// cleans up once that value has aged out.
			return &rotation.FinishResponse{}, nil
		}
		keep = append(keep, k)
		if s, err := parsePrivateKey(v); err == nil {
			signers = append(signers, s)
		}
	}
	prefix, legacy := managedPrefix(req.SecretARN), legacyPrefix(req.SecretARN)
	errs := forEach(cur.hosts, r.parallel(), func(h string) string { return h }, func(host string) error {
		c, err := r.dial(ctx, cur, host, uniqueSigners(signers))
		if err != nil {
			return err
		}
		defer c.close()
		if err := c.edit(ctx, cur.path, func(b []byte) ([]byte, error) {
			return removeStale(adoptLegacy(b, legacy, prefix, keep), prefix, keep), nil
		}); err != nil {
			return &HostError{host, fmt.Errorf("removing old keys: %w", err)}
		}
		return nil
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("the new key is in place, but old keys may remain: %w", errs)
	}
	return &rotation.FinishResponse{}, nil
}

// connectAll connects to every host in parallel and returns the
// connections made and the failures. When a host failed for any reason
// but authentication it closes every connection and returns none; when
// only authentication failed it returns the others, for the caller to
// retry the failed hosts with more keys (and to close).
func (r *Rotator) connectAll(ctx context.Context, ks *keySecret, hosts []string, signers []ssh.Signer) ([]*conn, HostErrors) {
	conns := make([]*conn, len(hosts))
	errs := forEach(indexes(len(hosts)), r.parallel(), func(i int) string { return hosts[i] }, func(i int) error {
		c, err := r.dial(ctx, ks, hosts[i], uniqueSigners(signers))
		conns[i] = c
		return err
	})
	var ok []*conn
	for _, c := range conns {
		if c != nil {
			ok = append(ok, c)
		}
	}
	if len(errs) > 0 && !onlyAuth(errs) {
		closeAll(ok)
		return nil, errs
	}
	return ok, errs
}

// uniqueSigners drops signers whose public key an earlier one has.
func uniqueSigners(signers []ssh.Signer) []ssh.Signer {
	var out []ssh.Signer
	for _, s := range signers {
		dup := false
		for _, o := range out {
			dup = dup || sameKey(s.PublicKey(), o.PublicKey())
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

func onlyAuth(errs HostErrors) bool {
	for _, e := range errs {
		if !errors.Is(e, ErrAuth) {
			return false
		}
	}
	return true
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func closeAll(conns []*conn) {
	for _, c := range conns {
		c.close()
	}
}

func connHost(c *conn) string { return c.host }
