#!/usr/bin/env bash
# make e2e: up, smoke check, install (images, Flagger, k6-gate by helm as the README says,
# podinfo and its Canary), issue 29's scenarios 1-7 and issue 33's 8 and 9 (7 last: uninstall is the end), down
# (always, through a trap), a check that the host is as it was before (host-state.sh before
# and after, diffed), and the report: docs/e2e-cluster.md's generated section (report.sh).
# Timings go to stdout and to test-artifacts/e2e/timings.txt.
# E2E_SCENARIOS (default "1 2 3 4 6 5 8 9 7") picks scenarios; any other set writes no report.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root"
# Never tear down a cluster this run did not bring up.
[[ ! -e "$E2E_STATE" ]] || die "$E2E_STATE exists: a cluster is up here (make e2e-down first)"

all="1 2 3 4 6 5 8 9 7"
scenarios=${E2E_SCENARIOS:-$all}
artifacts=$E2E_ROOT/test-artifacts/e2e
mkdir -p "$artifacts"
rm -f "$artifacts"/scenario-* "$artifacts/install.txt" "$artifacts/run.txt" "$artifacts/scenarios-failure.txt"
"$E2E_ROOT/scripts/e2e/host-state.sh" >"$artifacts/host-before.txt"
t0=$(date +%s)
stages=() failed_stage=""
# stage NAME COMMAND...: runs it, timed; its time goes to the stages list.
stage() {
  local name=$1 t
  shift
  t=$(date +%s)
  failed_stage=$name
  "$@"
  stages+=("$name=$(($(date +%s) - t))s")
  failed_stage=""
}

finish() {
  local status=$? restored=1
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
      kubectl_ -n k6-gate get scaledobject,hpa -o yaml
      kubectl_ get apiservice v1beta1.external.metrics.k8s.io -o yaml
      kubectl_ -n keda logs deployment/keda-operator --tail=200
      kubectl_ -n keda logs deployment/keda-metrics-apiserver --tail=100
      kubectl_ get testruns -A -o yaml
      kubectl_ -n k6-operator-system logs deployment/k6-operator-controller-manager --tail=200
    } >"$artifacts/scenarios-failure.txt" 2>&1 || true
    log "cluster state at the failure: test-artifacts/e2e/scenarios-failure.txt"
  fi
  down_and_compare_host "$artifacts" || restored=0
  stages+=("down=${DOWN_SECONDS}s")
  ((restored)) || status=1
  local line
  line="$(date -u +%FT%TZ) status=$status ${stages[*]}${failed_stage:+ failed=$failed_stage} total=$(($(date +%s) - t0))s"
  echo "$line" | tee -a "$artifacts/timings.txt"
  echo "$line" >"$artifacts/run.txt"
  # The stages as a closing line CI reads: up, smoke, install, each scenario, down+host restored.
  local want=$((3 + $(wc -w <<<"$scenarios") + 1)) passed=$((${#stages[@]} - 1 + restored))
  if [[ "$scenarios" == "$all" ]]; then
    "$E2E_ROOT/scripts/e2e/report.sh" "$status" || status=1
  fi
  echo "e2e: $passed passed, $((want - passed)) failed"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stage up "$E2E_ROOT/scripts/e2e/up.sh"
stage smoke "$E2E_ROOT/scripts/e2e/smoke.sh"
stage install "$E2E_ROOT/scripts/e2e/install.sh"
for n in $scenarios; do
  stage "scenario$n" "$E2E_ROOT/scripts/e2e/scenario-$n.sh"
done
