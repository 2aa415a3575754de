package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rotationkit/rotation"
)

// TestScramVerifierRFC7677 checks the verifier against the exchange in
// RFC 7677 section 3: the server's check of the client's proof (H(proof
// XOR HMAC(StoredKey, AuthMessage)) == StoredKey) and the server
// signature HMAC(ServerKey, AuthMessage).
func TestScramVerifierRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := scramVerifierWith("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	if !strings.HasPrefix(v, prefix) {
		t.Fatalf("verifier %q lacks prefix %q", v, prefix)
	}
	storedB64, serverB64, _ := strings.Cut(strings.TrimPrefix(v, prefix), ":")
	stored, _ := base64.StdEncoding.DecodeString(storedB64)
	serverKey, _ := base64.StdEncoding.DecodeString(serverB64)

	const authMessage = "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	sig := hmacSHA256(stored, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	if h := sha256.Sum256(clientKey); !hmac.Equal(h[:], stored) {
		t.Errorf("the RFC's client proof does not verify against StoredKey %s", storedB64)
	}
	if got, want := base64.StdEncoding.EncodeToString(hmacSHA256(serverKey, authMessage)), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; got != want {
		t.Errorf("server signature = %s, want %s", got, want)
	}
}

func TestScramVerifierRefuses(t *testing.T) {
	for _, pw := range []string{"", "ü-non-ascii", "tab\there", "nul\x00"} {
		if v, err := scramVerifier(pw); err == nil {
			t.Errorf("scramVerifier(%q) = %q, want an error", pw, v)
		} else if pw != "" && strings.Contains(err.Error(), pw) {
			t.Errorf("error quotes the password: %v", err)
		}
	}
	a, _ := scramVerifier("same password")
	b, _ := scramVerifier("same password")
	if a == b {
		t.Error("two verifiers of one password are equal: the salt is not random")
	}
}

// TestQuoteLiteral round-trips hostile strings through the server, with
// standard_conforming_strings on and off.
func TestQuoteLiteral(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	c := srv.super(t, "")
	defer c.Close(context.Background())
	hostile := []string{`plain`, `it's`, `''`, `back\slash`, `\'; SELECT 1; --`, `a"; DROP TABLE x; --`, `%s%d`, `名前ü`, `$$`, `E'\x41'`}
	for _, scs := range []string{"on", "off"} {
		if _, err := c.Exec(context.Background(), "SET standard_conforming_strings = "+scs); err != nil {
			t.Fatal(err)
		}
		for _, s := range hostile {
			lit, err := quoteLiteral(s)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if err := c.QueryRow(context.Background(), "SELECT "+lit, pgx.QueryExecModeExec).Scan(&got); err != nil {
				t.Errorf("standard_conforming_strings=%s: SELECT %s: %v", scs, lit, describe(err))
				continue
			}
			if got != s {
				t.Errorf("standard_conforming_strings=%s: %s came back as %q, want %q", scs, lit, got, s)
			}
		}
	}
	if _, err := quoteLiteral("a\x00b"); err == nil {
		t.Error("quoteLiteral accepted NUL")
	}
}

// TestPasswordNeverSent checks what a rotation leaves on the server: a
// SCRAM-SHA-256 verifier that the new password (and only it) matches,
// which does not contain the password; and that the user logs in with it.
func TestPasswordNeverSent(t *testing.T) {
	srv := testServer(t)
	t.Parallel()
	d := srv.newDB(t)
	for _, mode := range []Mode{ModeSingle, ModeAlternating} {
		t.Run(string(mode), func(t *testing.T) {
			st, err := makeSetup(d, mode, mode != ModeSingle)
			if err != nil {
				t.Fatal(err)
			}
			w := newWorld(t, st.cfg, st.secret, st.others)
			ctx := context.Background()
			if err := w.rotate(ctx); err != nil {
				t.Fatal(err)
			}
			cur := w.current(t)
			user, pw := field(t, cur, "username"), field(t, cur, "password")
			if pw == field(t, st.secret, "password") {
				t.Fatal("the password did not change")
			}
			c := srv.super(t, "")
			defer c.Close(ctx)
			var stored string
			if err := c.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", user).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stored, "SCRAM-SHA-256$4096:") {
				t.Errorf("rolpassword of %q does not start with SCRAM-SHA-256$4096:", user)
			}
			if strings.Contains(stored, pw) {
				t.Error("rolpassword contains the password")
			}
			if err := checkScram(pw, stored); err != nil {
				t.Errorf("the new password does not match the stored verifier: %v", err)
			}
			if err := checkScram(field(t, st.secret, "password"), stored); err == nil && mode == ModeSingle {
				t.Error("the old password still matches the stored verifier")
			}
			if err := probeWith(srv)(ctx, rotation.NewString(cur)); err != nil {
				t.Errorf("logging in with the new password: %v", err)
			}
		})
	}
}
