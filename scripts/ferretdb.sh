#!/usr/bin/env bash
# Builds FerretDB (a MongoDB-wire server in Go) once and caches the binary,
# for the DocumentDB example's tests, which start it with SCRAM
# authentication on a free loopback port. FerretDB stays out of
# examples/go.mod: it is built from its module, as a tool.
#
#   scripts/ferretdb.sh            # prints the binary's path
#
# cmd/ferretdb needs build/version/version.txt, which FerretDB generates and
# leaves out of the module zip: the build runs in a copy of the module with
# that file added. Idempotent: an existing binary of the pinned version is
# reused.
set -euo pipefail
version=v1.24.2
gobin="$(go env GOPATH)/bin"
out="$gobin/ferretdb-$version"
if [ -x "$out" ]; then
	echo "$out"
	exit 0
fi
dir="$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -n "$dir" ] || { echo "ferretdb.sh: cannot download github.com/FerretDB/FerretDB@$version" >&2; exit 1; }
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
echo "$version" >"$work/build/version/version.txt"
mkdir -p "$gobin"
(cd "$work" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$out.tmp" ./cmd/ferretdb)
mv "$out.tmp" "$out"
echo "$out"
