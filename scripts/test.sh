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

log() { printf '==> %s\n' "$*" >&2; }

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

# Clients that drive the fake Secrets Manager over HTTP besides the Go SDK.
apt_install awscli python3-boto3

if [ "${CI:-}" = true ]; then
	export ROTATION_REQUIRE_SERVICES=1
	export ROTATION_REQUIRE_AWSCLI=1
fi

log "go vet"
go vet ./... ./examples/...
log "go test -race"
go test -race -count=1 "$@" ./... ./examples/...
