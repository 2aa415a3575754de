package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/rotationkit/rotation"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// The secret's JSON fields.
const (
	fieldUsername       = "username"
	fieldHosts          = "hosts"
	fieldPrivateKey     = "private_key"
	fieldPublicKey      = "public_key"
	fieldKnownHosts     = "known_hosts"
	fieldAuthorizedKeys = "authorized_keys_path"
	fieldKeyOptions     = "authorized_keys_options"
)

// defaultAuthorizedKeys is where the key is installed when the secret does
// not say: relative to the login's home directory.
const defaultAuthorizedKeys = ".ssh/authorized_keys"

// markerPrefix starts the comment of every authorized_keys line this
// rotator installs: "rotation:<secret name>#<tag>:<version id>", where tag
// identifies the secret's ARN (see secretTag). Only lines carrying the
// prefix for the secret being rotated are ever removed.
const markerPrefix = "rotation:"

// maxOptions bounds the authorized_keys_options field.
const maxOptions = 4096

// keySecret is a parsed SSH key secret. It holds key material: never
// format it into a log line or an error.
type keySecret struct {
	user   string
	hosts  []string // "host:port", in the secret's order
	signer ssh.Signer
	path   string // authorized_keys path; relative means relative to $HOME

	// options is the authorized_keys_options field: the options every line
	// installed for the secret gets, or "" when the field is absent or
	// empty (each host's line of the key that logged in is copied).
	options string

	// hostKeys verifies host keys against the secret's known_hosts with
	// golang.org/x/crypto/ssh/knownhosts.
	hostKeys ssh.HostKeyCallback
	// algos lists, per host, the host key algorithms known_hosts has keys
	// for, so that the server is asked for a key that can be verified.
	algos map[string][]string
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{rotation.ErrInvalidSecret}, args...)...)
}

// parseSecret reads and checks every field of s. Errors name the field and
// the problem, never a value.
func parseSecret(s *rotation.Secret) (*keySecret, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var ks keySecret
	var err error
	if ks.user, err = s.Get(fieldUsername); err != nil {
		return nil, err
	}
	if ks.hosts, err = parseHosts(s); err != nil {
		return nil, err
	}
	if ks.signer, err = parsePrivateKey(s); err != nil {
		return nil, err
	}
	pub, err := s.Get(fieldPublicKey)
	if err != nil {
		return nil, err
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	if err != nil {
		return nil, invalid("field %q is not an authorized_keys line", fieldPublicKey)
	}
	if !sameKey(key, ks.signer.PublicKey()) {
		return nil, invalid("field %q does not match field %q", fieldPublicKey, fieldPrivateKey)
	}
	kh, err := s.Get(fieldKnownHosts)
	if err != nil {
		return nil, err
	}
	if ks.hostKeys, ks.algos, err = parseKnownHosts(kh, ks.hosts); err != nil {
		return nil, err
	}
	path, ok, err := s.Lookup(fieldAuthorizedKeys)
	switch {
	case err != nil:
		return nil, err
	case !ok || path == "":
		path = defaultAuthorizedKeys
	case len(path) > 1024 || strings.ContainsAny(path, "\x00\n\r") || strings.HasSuffix(path, "/"):
		return nil, invalid("field %q is not a file path", fieldAuthorizedKeys)
	}
	ks.path = path
	opts, _, err := s.Lookup(fieldKeyOptions)
	if err != nil {
		return nil, err
	}
	if err := checkOptions(opts, ks.signer.PublicKey()); err != nil {
		return nil, err
	}
	ks.options = opts
	return &ks, nil
}

// checkOptions checks an authorized_keys_options value: one line that,
// prefixed to key's authorized_keys line, ssh.ParseAuthorizedKey reads
// back as exactly these options and this key. A forced command or
// cert-authority is refused: the rotator could no longer log in with the
// key to run its commands.
func checkOptions(opts string, key ssh.PublicKey) error {
	if opts == "" {
		return nil
	}
	if len(opts) > maxOptions || strings.ContainsAny(opts, "\x00\n\r") {
		return invalid("field %q must be one line of at most %d bytes", fieldKeyOptions, maxOptions)
	}
	const comment = "rotation-check"
	k, c, got, rest, err := ssh.ParseAuthorizedKey([]byte(opts + " " + authorizedLine(key, comment)))
	if err != nil || len(rest) != 0 || !sameKey(k, key) || c != comment || strings.Join(got, ",") != opts {
		return invalid("field %q is not a comma-separated list of authorized_keys options, such as no-pty,from=\"192.0.2.0/24\"", fieldKeyOptions)
	}
	for _, o := range got {
		name, _, _ := strings.Cut(o, "=")
		switch strings.ToLower(name) {
		case "command", "cert-authority", "principals":
			return invalid("field %q: option %s would stop the rotator from logging in with the key", fieldKeyOptions, strings.ToLower(name))
		}
	}
	return nil
}

// parseHosts reads the "hosts" array. The rotation.Secret accessors read
// strings only, so the array is decoded from the raw value.
func parseHosts(s *rotation.Secret) ([]string, error) {
	str, _ := s.SecretString()
	var raw struct {
		Hosts json.RawMessage `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(str), &raw); err != nil {
		return nil, invalid("the secret string is not a JSON object")
	}
	if len(raw.Hosts) == 0 || string(raw.Hosts) == "null" {
		return nil, invalid("field %q is missing", fieldHosts)
	}
	var hosts []string
	if err := json.Unmarshal(raw.Hosts, &hosts); err != nil {
		return nil, invalid("field %q is not an array of \"host:port\" strings", fieldHosts)
	}
	if len(hosts) == 0 {
		return nil, invalid("field %q is empty", fieldHosts)
	}
	seen := map[string]bool{}
	for i, h := range hosts {
		host, port, err := net.SplitHostPort(h)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 || strings.ContainsAny(h, " \t\r\n\x00") {
			return nil, invalid("field %q: entry %d is not \"host:port\" (an IPv6 address is written [addr]:port)", fieldHosts, i)
		}
		if seen[h] {
			return nil, invalid("field %q: entry %d repeats %q", fieldHosts, i, h)
		}
		seen[h] = true
	}
	return hosts, nil
}

func parsePrivateKey(s *rotation.Secret) (ssh.Signer, error) {
	pk, err := s.Get(fieldPrivateKey)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey([]byte(pk))
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, invalid("field %q is encrypted with a passphrase; store it unencrypted (the secret is the protection)", fieldPrivateKey)
		}
		return nil, invalid("field %q is not a private key (OpenSSH, PKCS#1 or PKCS#8 PEM)", fieldPrivateKey)
	}
	return signer, nil
}

// publicKeyOf returns the public key a stored value authenticates with:
// that of its private key, or else its public_key field.
func publicKeyOf(s *rotation.Secret) (ssh.PublicKey, error) {
	if signer, err := parsePrivateKey(s); err == nil {
		return signer.PublicKey(), nil
	}
	pub, err := s.Get(fieldPublicKey)
	if err != nil {
		return nil, err
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	if err != nil {
		return nil, invalid("field %q is not an authorized_keys line", fieldPublicKey)
	}
	return key, nil
}

func sameKey(a, b ssh.PublicKey) bool {
	return a != nil && b != nil && bytes.Equal(a.Marshal(), b.Marshal())
}

// parseKnownHosts checks every line of known_hosts and builds a
// golang.org/x/crypto/ssh/knownhosts callback from it. That package reads
// files only, so the lines go through a private temporary file that is
// removed at once. It also finds, for each host, the key algorithms
// known_hosts lists, by asking the callback about a key that cannot match:
// the KeyError it returns lists the keys known for the host, matched by
// knownhosts' own rules (ports, wildcards, hashed names).
func parseKnownHosts(text string, hosts []string) (ssh.HostKeyCallback, map[string][]string, error) {
	lines := 0
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		// ParseKnownHosts skips a line without a space and reports io.EOF
		// for it: that too is a line that is not an entry.
		if _, _, _, _, _, err := ssh.ParseKnownHosts([]byte(line)); err != nil {
			return nil, nil, invalid("field %q: line %d is not a known_hosts line", fieldKnownHosts, i+1)
		}
		lines++
	}
	if lines == 0 {
		return nil, nil, invalid("field %q has no host key", fieldKnownHosts)
	}
	f, err := os.CreateTemp("", "known_hosts-*")
	if err != nil {
		return nil, nil, fmt.Errorf("writing known_hosts to a temporary file: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.WriteString(text)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, nil, fmt.Errorf("writing known_hosts to a temporary file: %w", werr)
	}
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, nil, invalid("field %q is not in known_hosts format", fieldKnownHosts)
	}
	_, dummy, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	probe, err := ssh.NewSignerFromKey(dummy)
	if err != nil {
		return nil, nil, err
	}
	algos := map[string][]string{}
	for _, h := range hosts {
		err := cb(h, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}, probe.PublicKey())
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			continue
		}
		var list []string
		for _, k := range ke.Want {
			list = appendAlgos(list, k.Key.Type())
		}
		algos[h] = list
	}
	return cb, algos, nil
}

// appendAlgos adds the signature algorithms a host key of type t can be
// verified with.
func appendAlgos(list []string, t string) []string {
	add := []string{t}
	if t == ssh.KeyAlgoRSA {
		add = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	for _, a := range add {
		if !contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// secretBase returns the secret's ARN without the six-character suffix
// Secrets Manager adds ("arn:aws:secretsmanager:us-east-1:123456789012:
// secret:prod/ssh/deploy"), and the name it ends with. An ID that is not an
// ARN is returned as both.
func secretBase(secretID string) (base, name string) {
	i := strings.Index(secretID, ":secret:")
	if !strings.HasPrefix(secretID, "arn:") || i < 0 {
		return secretID, secretID
	}
	base = secretID
	if n := len(base); n-i-len(":secret:") > 7 && base[n-7] == '-' && isAlnum(base[n-6:]) {
		base = base[:n-7]
	}
	return base, base[i+len(":secret:"):]
}

// secretLabel is the part of the marker that names the secret: the name
// from the ARN without the six-character suffix Secrets Manager adds.
// Secret names cannot contain ':', '#' or spaces, so it is one comment
// token and ends where the '#' of the tag starts.
func secretLabel(secretID string) string {
	_, name := secretBase(secretID)
	return name
}

// secretTag tells apart secrets of the same name in different accounts,
// regions or partitions: the first 12 hex digits of the SHA-256 of the
// ARN without its random suffix. It is the same for a secret deleted and
// created again under the same name (the same logical secret), and can be
// computed before the secret exists:
//
//	printf %s arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/ssh/deploy | sha256sum | cut -c1-12
func secretTag(secretID string) string {
	base, _ := secretBase(secretID)
	sum := sha256.Sum256([]byte(base))
	return hex.EncodeToString(sum[:6])
}

func isAlnum(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// managedPrefix is the comment prefix of the lines installed for a secret:
// "rotation:<name>#<tag>:".
func managedPrefix(secretID string) string {
	return markerPrefix + secretLabel(secretID) + "#" + secretTag(secretID) + ":"
}

// legacyPrefix is the comment prefix earlier versions of this rotator
// gave the lines of a secret, "rotation:<name>:", which does not tell
// apart secrets of the same name in other accounts or regions. Such a line
// is never removed as such: a line holding a key the secret holds is
// adopted (its comment rewritten to the managedPrefix form, see
// adoptLegacy), and only then, once its key has aged out, removed.
func legacyPrefix(secretID string) string {
	return markerPrefix + secretLabel(secretID) + ":"
}

// marker is the comment of the line installed for one version.
func marker(secretID, versionID string) string {
	return managedPrefix(secretID) + versionID
}

// authorizedLine is the authorized_keys line for key with comment.
func authorizedLine(key ssh.PublicKey, comment string) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + " " + comment
}
