#!/usr/bin/env bash
# Runs every test of the repository, after installing and starting what the
# real-service tests need (as root on a Debian machine; elsewhere it uses
# what is there, and those tests skip with a message saying what to start).
#
#   scripts/test.sh              # everything
#   scripts/test.sh -run Fake    # extra flags go to `go test`
#
# With CI=true every real-service test is required: one that cannot find its
# service fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

# Go lives in /usr/local/go on these machines; a non-login shell may lack it.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

log() { printf '==> %s\n' "$*" >&2; }

# In CI every real-service test is required: one that cannot find its
# service fails instead of skipping.
if [ "${CI:-}" = true ]; then
	export ROTATION_REQUIRE_SERVICES=1
	export ROTATION_REQUIRE_AWSCLI=1
fi

as_root() { [ "$(id -u)" = 0 ]; }

apt_updated=
apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if ! as_root || ! command -v apt-get >/dev/null; then
		log "cannot install ${missing[*]} (not root on Debian); tests needing them will skip"
		return 0
	fi
	if [ -z "$apt_updated" ]; then
		log "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
		apt_updated=1
	fi
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Clients that drive the fake Secrets Manager over HTTP besides the Go SDK,
# and OpenSSH's server for the SSH-key example.
# gcc and libc6-dev for `go test -race` (cgo).
apt_install awscli python3-boto3 openssh-server openssh-client gcc libc6-dev

# The Lambda Runtime Interface Emulator, for the end-to-end Lambda tests.
gobin="$(go env GOPATH)/bin"
if [ -z "${ROTATION_TEST_RIE:-}" ]; then
	if ! command -v aws-lambda-rie >/dev/null && [ ! -x "$gobin/aws-lambda-rie" ]; then
		log "installing aws-lambda-rie"
		# Pinned: the module has no tags, so @latest would follow every commit.
		go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
	fi
	export ROTATION_TEST_RIE="$(command -v aws-lambda-rie || echo "$gobin/aws-lambda-rie")"
fi

# sshd refuses to start without its privilege-separation directory.
if as_root && [ -x /usr/sbin/sshd ]; then
	mkdir -p /run/sshd
	export ROTATION_TEST_SSHD=/usr/sbin/sshd
fi

# PostgreSQL and MariaDB: start them if they are installed but down.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
	if as_root && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
		log "starting PostgreSQL"
		pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
	fi
fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break; sleep 1; done
# In CI, make PostgreSQL check passwords over TCP for every role but the
# postgres superuser, so the rotation tests' logins prove the passwords
# (a trust rule would let any password in).
if [ "${CI:-}" = true ] && as_root; then
	for hba in /etc/postgresql/*/main/pg_hba.conf; do
		[ -f "$hba" ] || continue
		if ! grep -q '^# rotation-tests' "$hba"; then
			log "PostgreSQL: scram-sha-256 for TCP logins in $hba"
			awk 'BEGIN{done=0} /^host/ && !done {print "# rotation-tests: passwords are checked for every role but postgres"; print "host all postgres 127.0.0.1/32 trust"; print "host all all 127.0.0.1/32 scram-sha-256"; done=1} {print}' "$hba" >"$hba.new" && cat "$hba.new" >"$hba" && rm -f "$hba.new"
			pg_ctlcluster --skip-systemctl-redirect "$(basename "$(dirname "$(dirname "$hba")")")" main reload || true
		fi
	done
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
	export ROTATION_TEST_POSTGRES="${ROTATION_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
fi
mariadb_alive() { mysqladmin -h127.0.0.1 -P3306 --connect-timeout=2 ping >/dev/null 2>&1; } # 0 even on access denied
if ! mariadb_alive && as_root && [ -x /usr/sbin/mariadbd ]; then
	log "starting MariaDB"
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
	for _ in $(seq 1 30); do mariadb_alive && break; sleep 1; done
fi
if [ -z "${ROTATION_TEST_MYSQL:-}" ] && mariadb_alive; then
	if mysqladmin -uroot -h127.0.0.1 -P3306 --connect-timeout=2 status >/dev/null 2>&1; then
		export ROTATION_TEST_MYSQL='root@tcp(127.0.0.1:3306)/'
	elif as_root && mysql -uroot -e 'SELECT 1' >/dev/null 2>&1; then
		# root logs in only over the socket here: make a TCP admin for the tests.
		log "MariaDB: creating the rotation_test admin account for TCP logins"
		mysql -uroot <<-'SQL'
			CREATE USER IF NOT EXISTS 'rotation_test'@'127.0.0.1' IDENTIFIED BY 'rotation-test-admin';
			CREATE USER IF NOT EXISTS 'rotation_test'@'localhost' IDENTIFIED BY 'rotation-test-admin';
			GRANT ALL PRIVILEGES ON *.* TO 'rotation_test'@'127.0.0.1' WITH GRANT OPTION;
			GRANT ALL PRIVILEGES ON *.* TO 'rotation_test'@'localhost' WITH GRANT OPTION;
		SQL
		export ROTATION_TEST_MYSQL='rotation_test:rotation-test-admin@tcp(127.0.0.1:3306)/'
	fi
fi

# FerretDB (a MongoDB-wire server with SCRAM) for the DocumentDB example's
# tests, which start it themselves: built once and cached in GOPATH/bin.
if [ -z "${ROTATION_TEST_FERRETDB:-}" ]; then
	log "FerretDB: scripts/ferretdb.sh"
	if ferretdb="$(scripts/ferretdb.sh)"; then
		export ROTATION_TEST_FERRETDB="$ferretdb"
	else
		log "could not build FerretDB; the DocumentDB tests will skip (and fail with CI=true)"
	fi
fi

# cmd/rotationctl is its own module (it needs aws-sdk-go-v2/config, which
# the library must not): `./...` stops at a nested go.mod, so it is named.
log "go vet"
go vet ./... ./cmd/rotationctl/... ./examples/...
# staticcheck, pinned, built from the module proxy by `go run`; both
# modules through go.work, with staticcheck's default checks.
staticcheck_version=v0.8.2
log "staticcheck $staticcheck_version"
go run "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version" ./... ./cmd/rotationctl/... ./examples/...
log "go mod tidy -diff (library and examples modules)"
GOWORK=off go mod tidy -diff
(cd examples && GOWORK=off go mod tidy -diff)
log "go test -race"
go test -race -count=1 "$@" ./... ./cmd/rotationctl/... ./examples/...
