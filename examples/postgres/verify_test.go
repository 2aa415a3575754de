package main

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/secure/precis"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

// The test server (like CI's) may let every local connection in with
// "trust" authentication, which would make every password check in these
// tests vacuous. So besides opening a real connection, the tests check a
// password the way the server's SCRAM-SHA-256 authentication would: they
// read the role's verifier from pg_authid (as the superuser) and check
// that the password derives its StoredKey and ServerKey. A role with no
// verifier, or another one, fails, exactly as a login would under
// scram-sha-256.

// errWrongPassword is what checkScram returns for a non-matching password.
var errWrongPassword = errors.New("password authentication failed (checked against the stored SCRAM verifier)")

// checkScram reports whether password matches the verifier.
func checkScram(password, verifier string) error {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return fmt.Errorf("%w: the role has no SCRAM-SHA-256 verifier", errWrongPassword)
	}
	iterSalt, keys, ok := strings.Cut(rest, "$")
	iterStr, saltB64, ok2 := strings.Cut(iterSalt, ":")
	storedB64, serverB64, ok3 := strings.Cut(keys, ":")
	if !ok || !ok2 || !ok3 {
		return fmt.Errorf("%w: malformed verifier", errWrongPassword)
	}
	iter, err := strconv.Atoi(iterStr)
	if err != nil {
		return fmt.Errorf("%w: malformed iteration count", errWrongPassword)
	}
	salt, err1 := base64.StdEncoding.DecodeString(saltB64)
	stored, err2 := base64.StdEncoding.DecodeString(storedB64)
	server, err3 := base64.StdEncoding.DecodeString(serverB64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("%w: malformed base64", errWrongPassword)
	}
	// What PostgreSQL and pgx do: SASLprep, falling back to the raw
	// password when it is not valid under SASLprep.
	norm := password
	if p, err := precis.OpaqueString.String(password); err == nil {
		norm = p
	}
	salted, err := pbkdf2.Key(sha256.New, norm, salt, iter, sha256.Size)
	if err != nil {
		return err
	}
	ck := hmacSHA256(salted, "Client Key")
	sk := sha256.Sum256(ck)
	if !hmac.Equal(sk[:], stored) || !hmac.Equal(hmacSHA256(salted, "Server Key"), server) {
		return errWrongPassword
	}
	return nil
}

// passwordChecker checks passwords against pg_authid through one
// superuser connection per database server.
type passwordChecker struct {
	srv *pgServer
	mu  sync.Mutex
	c   *pgx.Conn
}

func (p *passwordChecker) check(ctx context.Context, s *dbsecret.Secret) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c == nil || p.c.IsClosed() {
		c, err := p.srv.connect("")
		if err != nil {
			return err
		}
		p.c = c
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var verifier *string
	var canLogin bool
	err := p.c.QueryRow(ctx, "SELECT rolpassword, rolcanlogin FROM pg_authid WHERE rolname = $1", s.Username).Scan(&verifier, &canLogin)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: role %q does not exist", errWrongPassword, s.Username)
	}
	if err != nil {
		p.c.Close(context.Background())
		p.c = nil
		return errors.New(describe(err))
	}
	if !canLogin {
		return fmt.Errorf("role %q cannot log in", s.Username)
	}
	if verifier == nil {
		return fmt.Errorf("%w: role %q has no password", errWrongPassword, s.Username)
	}
	if err := checkScram(s.Password, *verifier); err != nil {
		return fmt.Errorf("role %q: %w", s.Username, err)
	}
	return nil
}

var (
	checkerOnce sync.Once
	checker     *passwordChecker
)

// checkPasswordFor returns the shared checker's function.
func checkPasswordFor(srv *pgServer) func(context.Context, *dbsecret.Secret) error {
	checkerOnce.Do(func() { checker = &passwordChecker{srv: srv} })
	return checker.check
}

// probeWith opens a real connection with the secret's credentials (SELECT
// 1) and checks the password against the stored verifier.
func probeWith(srv *pgServer) func(context.Context, *rotation.Secret) error {
	check := checkPasswordFor(srv)
	return func(ctx context.Context, secret *rotation.Secret) error {
		if err := probe(ctx, secret); err != nil {
			return err
		}
		s, err := dbsecret.Parse(secret, dbsecret.PostgreSQL)
		if err != nil {
			return err
		}
		return check(ctx, s)
	}
}

func TestCheckScram(t *testing.T) {
	v, err := scramVerifierWith("pencil", []byte("0123456789abcdef"), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkScram("pencil", v); err != nil {
		t.Errorf("right password: %v", err)
	}
	for _, wrong := range []string{"pencil2", "Pencil", ""} {
		if err := checkScram(wrong, v); !errors.Is(err, errWrongPassword) {
			t.Errorf("checkScram(%q) = %v, want errWrongPassword", wrong, err)
		}
	}
	if err := checkScram("pencil", "md5abc"); !errors.Is(err, errWrongPassword) {
		t.Errorf("md5 verifier: %v", err)
	}
}
