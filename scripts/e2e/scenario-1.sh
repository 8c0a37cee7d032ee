#!/usr/bin/env bash
# Scenario 1 of issue 29 (after install.sh): a good revision of podinfo (its pod template
# changed: env REVISION) -> Flagger runs the Canary's analysis, its pre-rollout webhook
# calls k6-gate, k6 passes, Flagger promotes. Asserted from the cluster's own state (the
# Canary's status and events, the primary Deployment's template, the canary Deployment
# scaled to 0) and from k6-gate's run records (GET /api/runs, inside an API pod): one k6
# run per Flagger check, passed. Writes test-artifacts/e2e/scenario-1{.txt,-events.txt,-runs.json}.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/e2e/scenario-lib.sh
source "$(dirname "$0")/scenario-lib.sh"

before=$(runs_of test podinfo)
new_revision
follow_canary Succeeded 420
ok "Canary test/podinfo Succeeded in ${TOTAL}s; phases: $PHASES"

primary_rev=$(podinfo_env REVISION podinfo-primary)
[[ "$primary_rev" == "$REVISION" ]] || die "podinfo-primary's template has REVISION=$primary_rev, not $REVISION"
kubectl_ -n test rollout status deployment/podinfo-primary --timeout=60s >/dev/null
ok "podinfo-primary promoted: its template has REVISION=$REVISION and is rolled out"
canary_replicas=$(kubectl_ -n test get deployment podinfo -o jsonpath='{.spec.replicas}')
[[ "$canary_replicas" == 0 ]] || die "the canary Deployment podinfo has $canary_replicas replicas after promotion, not 0"
ok "canary Deployment podinfo scaled to 0"

# Flagger's events on the Canary since the new revision (each pre-rollout check is one
# call) and k6-gate's run records for the canary: the runs this revision made.
revision_evidence 1 "$before"
((CHECKS_PASSED == 1 && CHECKS_FAILED == 0)) ||
  die "Flagger's events: $CHECKS_PASSED pre-rollout check(s) passed, $CHECKS_FAILED failed; want 1 and 0"
ok "Flagger's events: 1 pre-rollout check passed, none failed"
((RUNS == CHECKS_PASSED)) || die "$RUNS k6 runs recorded for this revision of test/podinfo, but Flagger made $CHECKS_PASSED check(s)"
not_passed=$(jq '[.[] | select(.status != "finished" or .verdict != "pass")] | length' "$RUNS_JSON")
((not_passed == 0)) || die "the run did not pass: $(jq -c '[.[] | {id, status, verdict, reason}]' "$RUNS_JSON")"
run_ms=$(jq -r '.[0].runTimeMs' "$RUNS_JSON")
ok "k6-gate recorded 1 run for this revision, passed ($(jq -r '.[0].reason' "$RUNS_JSON"); k6 ran ${run_ms} ms)"

result 1 "good revision: Succeeded in ${TOTAL}s; phases: $PHASES; 1 check, 1 k6 run, passed, k6 ran ${run_ms} ms"
