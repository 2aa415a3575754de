package main

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SCRAM-SHA-256 verifiers are what PASSWORD_HASH=scram-sha-256 sends: for
// a PostgreSQL server standing in for Redshift in tests (Redshift itself
// refuses them). The code is examples/postgres's.

// SCRAM-SHA-256 parameters, as PostgreSQL's own clients (libpq's
// PQencryptPasswordConn) choose them.
const (
	scramIterations = 4096
	scramSaltLen    = 16
)

// errPasswordNotASCII is returned for passwords scramVerifier will not
// hash: PostgreSQL and the clients normalize non-ASCII passwords with
// SASLprep (Unicode 3.2 tables, with a raw fallback), and a verifier
// computed here could disagree with what a client sends. Generated
// passwords are printable ASCII, for which SASLprep is the identity.
var errPasswordNotASCII = errors.New(`field "password" of the pending value contains characters outside printable ASCII; refusing to compute a SCRAM verifier that clients might not match`)

// scramVerifier returns the PostgreSQL SCRAM-SHA-256 verifier of password
// (RFC 5802, RFC 7677), in the form pg_authid.rolpassword stores:
//
//	SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
//
// Sending the verifier instead of the password means the plaintext never
// reaches the server, its statement log or pg_stat_statements. The
// verifier lets the server check a login; it does not let anyone log in
// (that needs the ClientKey, which it does not contain), though it allows
// an offline guessing attack, so it is still treated as sensitive.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generating SCRAM salt: %w", err)
	}
	return scramVerifierWith(password, salt, scramIterations)
}

// scramVerifierWith is scramVerifier with a given salt and iteration
// count, for known-answer tests.
func scramVerifierWith(password string, salt []byte, iterations int) (string, error) {
	for i := 0; i < len(password); i++ {
		if password[i] < 0x20 || password[i] > 0x7e {
			return "", errPasswordNotASCII
		}
	}
	if password == "" {
		return "", errors.New(`field "password" of the pending value is empty`)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("SCRAM key derivation: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// quoteLiteral returns s as an SQL string literal, the way libpq's
// PQescapeLiteral does: single quotes doubled, and if s has a backslash,
// the E” form with backslashes doubled, so the result is correct whatever
// standard_conforming_strings is. It refuses NUL, which no literal can
// carry. Used only for values that cannot be bind parameters (utility
// statements such as ALTER ROLE take none).
func quoteLiteral(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("a NUL character cannot be quoted as an SQL literal")
	}
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q, nil
}
