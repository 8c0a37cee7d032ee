#!/usr/bin/env bash
# make e2e-scenarios: up, install (images imported, Flagger, k6-gate by helm, podinfo and
# its Canary), scenario 1, then down (always, through a trap) and a check that the host is
# as it was before. Timings go to stdout and to test-artifacts/e2e/scenarios-timings.txt.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root"
[[ ! -e "$E2E_STATE" ]] || die "$E2E_STATE exists: a cluster is up here (make e2e-down first)"

artifacts=$E2E_ROOT/test-artifacts/e2e
mkdir -p "$artifacts"
"$E2E_ROOT/scripts/e2e/host-state.sh" >"$artifacts/host-before.txt"
t0=$(date +%s)
up_s="" install_s="" scenario1_s=""

finish() {
  local status=$? down_s restored=1
  trap - EXIT INT TERM
  if ((status != 0)) && [[ -f "$KUBECONFIG" ]]; then
    # What was running when it failed, for the artifacts.
    {
      kubectl_ get pods -A -o wide
      kubectl_ -n test get canary podinfo -o yaml
      kubectl_ get events -A --sort-by=.lastTimestamp
      kubectl_ -n flagger-system logs deployment/flagger --tail=200
      kubectl_ -n k6-gate logs deployment/k6-gate-api --tail=100
      kubectl_ -n k6-gate logs deployment/k6-gate-worker --tail=100
    } >"$artifacts/scenarios-failure.txt" 2>&1 || true
    log "cluster state at the failure: test-artifacts/e2e/scenarios-failure.txt"
  fi
  down_and_compare_host "$artifacts" || restored=0
  down_s=$DOWN_SECONDS
  ((restored)) || status=1
  echo "$(date -u +%FT%TZ) status=$status up=${up_s:-failed}s install=${install_s:-failed}s scenario1=${scenario1_s:-failed}s down=${down_s}s total=$(($(date +%s) - t0))s" |
    tee -a "$artifacts/scenarios-timings.txt"
  local passed=0
  [[ -n "$up_s" ]] && passed=$((passed + 1))
  [[ -n "$install_s" ]] && passed=$((passed + 1))
  [[ -n "$scenario1_s" ]] && passed=$((passed + 1))
  ((restored)) && passed=$((passed + 1))
  echo "e2e-scenarios: $passed passed, $((4 - passed)) failed"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t=$(date +%s)
"$E2E_ROOT/scripts/e2e/up.sh"
up_s=$(($(date +%s) - t))
t=$(date +%s)
"$E2E_ROOT/scripts/e2e/install.sh"
install_s=$(($(date +%s) - t))
t=$(date +%s)
"$E2E_ROOT/scripts/e2e/scenario-1.sh"
scenario1_s=$(($(date +%s) - t))
