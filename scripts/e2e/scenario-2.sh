#!/usr/bin/env bash
# Scenario 2 of issue 29: a bad revision. podinfo made slow through its own flags
# (--random-delay, 550-750 ms per response, by its PODINFO_* environment), so the README's
# Canary's threshold http_req_duration p(95)<500 fails. Flagger's pre-rollout check fails
# with k6-gate's verdict text (422), again on the next interval (min_failure_delay: no
# second k6 run), reaches the threshold (2) and rolls back: Canary Failed, podinfo-primary
# keeps the last good revision, the canary Deployment scaled to 0. Asserted from the
# Canary's status and events and k6-gate's run records.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

good=$(podinfo_env REVISION podinfo-primary)
before=$(runs_of test podinfo)
new_revision PODINFO_RANDOM_DELAY=true PODINFO_RANDOM_DELAY_UNIT=ms \
  PODINFO_RANDOM_DELAY_MIN=550 PODINFO_RANDOM_DELAY_MAX=750
follow_canary Failed 420
ok "Canary test/podinfo Failed in ${TOTAL}s; phases: $PHASES"

primary_rev=$(podinfo_env REVISION podinfo-primary)
[[ "$primary_rev" == "$good" ]] || die "podinfo-primary has REVISION=$primary_rev, not the last good $good"
[[ -z "$(podinfo_env PODINFO_RANDOM_DELAY podinfo-primary)" ]] || die "podinfo-primary got the slow revision"
kubectl_ -n test rollout status deployment/podinfo-primary --timeout=60s >/dev/null
ok "rolled back: podinfo-primary still runs REVISION=$good"
canary_replicas=$(kubectl_ -n test get deployment podinfo -o jsonpath='{.spec.replicas}')
[[ "$canary_replicas" == 0 ]] || die "the canary Deployment podinfo has $canary_replicas replicas, not 0"
ok "canary Deployment podinfo scaled to 0"

revision_evidence 2 "$before"
failed=$CHECKS_FAILED
((failed >= 2)) || die "Flagger's events show $failed failed pre-rollout check(s), want >= 2 (the threshold)"
grep -q "pre-rollout check k6-load-test failed k6-gate: FAIL test/podinfo (thresholds_failed).*http_req_duration 'p(95)<500' observed" "$EVENTS" ||
  die "no failed-check event naming the threshold http_req_duration p(95)<500"
grep -q 'Rolling back podinfo.test failed checks threshold reached' "$EVENTS" ||
  die "no 'Rolling back ... failed checks threshold reached' event"
ok "Flagger's events: $failed failed pre-rollout checks naming http_req_duration p(95)<500, rolled back"
# The verdict as Flagger shows it: k6-gate's first line and the failed threshold's.
verdict_text=$(grep -m1 -o 'pre-rollout check k6-load-test failed .*' "$EVENTS" |
  awk -F' [|] ' '{ for (i = 2; i <= NF; i++) if ($i ~ /^- /) t = $i; print $1 " | " t }')

((RUNS == 1)) || die "$RUNS k6 runs for the bad revision; want 1 (later checks answered from it within min_failure_delay)"
jq -e '.[0] | .status == "finished" and .verdict == "fail"
  and ([.thresholds[] | select(.ok | not) | "\(.metric) \(.expression)"] == ["http_req_duration p(95)<500"])' \
  "$RUNS_JSON" >/dev/null ||
  die "the run is not a failed verdict with http_req_duration p(95)<500 failed: $(jq -c '.[0] | {status, verdict, reason, thresholds}' "$RUNS_JSON")"
ok "k6-gate recorded 1 run, failed: $(jq -r '.[0] | "\(.reason): \(.thresholds[] | select(.ok | not) | "\(.metric) \(.expression) observed \(.observed)")"' "$RUNS_JSON")"

result 2 "bad revision (podinfo --random-delay 550-750 ms): Failed in ${TOTAL}s; phases: $PHASES; $failed failed checks, 1 k6 run; Flagger's event: \"$verdict_text\""
