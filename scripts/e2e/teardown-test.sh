#!/usr/bin/env bash
# make e2e-teardown-test: down.sh puts the host back also when things went wrong.
#   1. `up` fails half-way: the API server exits at start (a stand-in binary that fails),
#      after containerd and etcd are running and the host settings are changed
#   2. the node crashes with pods running: the kubelet and containerd are SIGKILLed, so
#      the shims and containers are left without anyone to stop them
#   3. `down` twice: the second finds nothing and succeeds
# After each, the host must be as before (scripts/e2e/host-state.sh, diffed).
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root"
[[ ! -e "$E2E_STATE" ]] || die "$E2E_STATE exists: a cluster is up here (make e2e-down first)"
scripts=$E2E_ROOT/scripts/e2e
artifacts=$E2E_ROOT/test-artifacts/e2e
mkdir -p "$artifacts"
"$scripts/host-state.sh" >"$artifacts/teardown-before.txt"
fake_bin=$(mktemp -d)
trap '"$scripts/down.sh" >/dev/null 2>&1 || true; rm -rf "$fake_bin"' EXIT

host_as_before() {
  "$scripts/host-state.sh" >"$artifacts/teardown-after.txt"
  if ! diff -u "$artifacts/teardown-before.txt" "$artifacts/teardown-after.txt"; then
    die "$1: the host differs after down"
  fi
  log "ok: $1: host as before"
}

# 1. The API server fails at start.
for b in "$E2E_BIN"/*; do ln -s "$b" "$fake_bin/"; done
rm "$fake_bin/kube-apiserver"
printf '#!/bin/sh\necho "kube-apiserver stand-in: failing on purpose" >&2\nexit 1\n' >"$fake_bin/kube-apiserver"
chmod +x "$fake_bin/kube-apiserver"
if E2E_BIN=$fake_bin "$scripts/up.sh"; then die "up.sh succeeded with a failing API server"; fi
log "ok: up failed half-way as intended"
"$scripts/down.sh"
host_as_before "up failed half-way"

# 2. The node crashes with pods running.
"$scripts/up.sh"
sed -e "s|@APP_IMAGE@|$APP_IMAGE|g" "$E2E_ROOT/test/e2e/manifests/smoke.yaml" | kubectl_ apply -f - >/dev/null
kubectl_ -n e2e-smoke wait --for=condition=Ready pod/client --timeout=120s >/dev/null
kubectl_ -n e2e-smoke rollout status deployment/web --timeout=120s >/dev/null
kill -KILL "$(cat "$E2E_STATE/run/kubelet.pid")" "$(cat "$E2E_STATE/run/containerd.pid")"
log "killed the kubelet and containerd with $(pids_of containerd-shim-runc-v2 | wc -l) shims running"
"$scripts/down.sh"
host_as_before "node crashed with pods running"

# 3. down again: nothing to do.
"$scripts/down.sh"
host_as_before "down twice"
log "teardown test passed"
