#!/usr/bin/env bash
# Installs the pinned k6 (VERSION as a Go module version, "v" + .k6-version) into BIN_DIR
# from the Go module proxy. Usage: scripts/install-k6.sh VERSION BIN_DIR
# Idempotent: does nothing when BIN_DIR/k6 already is that version.
# `go install go.k6.io/k6/v2@VERSION` fails here: the proxy serves the version but not the
# module's version list, which `go install` reads for deprecation notices. Building the
# same module from a throwaway go.mod gives the identical binary.
set -euo pipefail
version="$1"; bin_dir="$2"
if [ -x "$bin_dir/k6" ] && [ "$("$bin_dir/k6" version 2>/dev/null | awk 'NR == 1 { print $2 }')" = "$version" ]; then
  echo "k6 $version already in $bin_dir"
  exit 0
fi
mkdir -p "$bin_dir"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init k6-gate-tools/k6 >/dev/null 2>&1
GOFLAGS=-mod=mod go get "go.k6.io/k6/v2@${version}"
go build -trimpath -o "$bin_dir/k6" go.k6.io/k6/v2
"$bin_dir/k6" version
