#!/usr/bin/env bash
# make e2e: up, smoke check, down (down always, through a trap), then a check that the
# host is as it was before (scripts/e2e/host-state.sh before and after, diffed).
# Timings go to stdout and to test-artifacts/e2e/timings.txt.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root"
# Never tear down a cluster this run did not bring up.
[[ ! -e "$E2E_STATE" ]] || die "$E2E_STATE exists: a cluster is up here (make e2e-down first)"

artifacts=$E2E_ROOT/test-artifacts/e2e
mkdir -p "$artifacts"
"$E2E_ROOT/scripts/e2e/host-state.sh" >"$artifacts/host-before.txt"
t0=$(date +%s)
up_s="" smoke_s=""

finish() {
  local status=$? down_s restored=1
  trap - EXIT INT TERM
  down_and_compare_host "$artifacts" || restored=0
  down_s=$DOWN_SECONDS
  ((restored)) || status=1
  echo "$(date -u +%FT%TZ) status=$status up=${up_s:-failed}s smoke=${smoke_s:-failed}s down=${down_s}s total=$(($(date +%s) - t0))s" |
    tee -a "$artifacts/timings.txt"
  # The phases, as a closing line CI reads: up, smoke, down+host restored.
  local passed=0
  [[ -n "$up_s" ]] && passed=$((passed + 1))
  [[ -n "$smoke_s" ]] && passed=$((passed + 1))
  ((restored)) && passed=$((passed + 1))
  echo "e2e: $passed passed, $((3 - passed)) failed"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t=$(date +%s)
"$E2E_ROOT/scripts/e2e/up.sh"
up_s=$(($(date +%s) - t))
t=$(date +%s)
"$E2E_ROOT/scripts/e2e/smoke.sh"
smoke_s=$(($(date +%s) - t))
