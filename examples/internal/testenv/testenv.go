// Package testenv finds the real services the examples' tests need.
//
// Each service is named by an environment variable. When it is unset the
// test skips with a message saying what to start, unless
// ROTATION_REQUIRE_SERVICES=1 (set by CI), in which case it fails: a CI run
// that skips a real-service test is not a passing run.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Variables naming the services.
const (
	// Require makes a missing service a test failure instead of a skip.
	Require = "ROTATION_REQUIRE_SERVICES"
	// Postgres is a PostgreSQL URL with superuser rights, for example
	// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	Postgres = "ROTATION_TEST_POSTGRES"
	// MySQL is a go-sql-driver DSN with root rights, for example
	// root@tcp(127.0.0.1:3306)/.
	MySQL = "ROTATION_TEST_MYSQL"
	// SSHD is the path of OpenSSH's sshd; default /usr/sbin/sshd if present.
	SSHD = "ROTATION_TEST_SSHD"
	// RIE is the path of aws-lambda-rie; default from PATH or GOPATH/bin.
	RIE = "ROTATION_TEST_RIE"
)

// Required reports whether missing services must fail tests.
func Required() bool { return os.Getenv(Require) == "1" }

// Missing skips t, or fails it when services are required, with a message
// naming what to start.
func Missing(t testing.TB, what, howToStart string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is not available but %s=1: %s", what, Require, howToStart)
	}
	t.Skipf("%s is not available; %s", what, howToStart)
}

// Lookup returns the value of the variable name, or Missing's verdict.
func Lookup(t testing.TB, name, howToStart string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(t, name, howToStart)
	}
	return v
}

// Binary finds an executable: the variable name if set, else the first of
// defaults that exists, else the PATH, else GOPATH/bin.
func Binary(t testing.TB, name, file string, howToInstall string, defaults ...string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		if _, err := os.Stat(v); err != nil {
			t.Fatalf("%s=%s: %v", name, v, err)
		}
		return v
	}
	for _, d := range defaults {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath(file); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(string(trimNL(out)), "bin", file)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Missing(t, file, howToInstall)
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
