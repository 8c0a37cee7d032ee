#!/usr/bin/env bash
# Shared by scripts/e2e/scenario-*.sh (sourced, after lib.sh): the Canary test/podinfo,
# k6-gate's API read from inside an API pod (no port opened on the host), and each
# scenario's result line for the report (test-artifacts/e2e/scenario-N.txt).
# shellcheck disable=SC2034 # the variables are used by the scripts that source this

[[ -f "$KUBECONFIG" ]] || die "no cluster: $KUBECONFIG is missing (make e2e-up)"
ARTIFACTS=$E2E_ROOT/test-artifacts/e2e
mkdir -p "$ARTIFACTS"
PASSED=0
ok() {
  PASSED=$((PASSED + 1))
  log "ok: $*"
}

canary_phase() { kubectl_ -n test get canary podinfo -o jsonpath='{.status.phase}'; }
podinfo_env() {
  kubectl_ -n test get deployment "${2:-podinfo}" \
    -o jsonpath="{.spec.template.spec.containers[0].env[?(@.name==\"$1\")].value}"
}

# new_revision [NAME=VALUE|NAME-]...: a new revision of podinfo (REVISION + 1, and the
# given env changes); sets REVISION, START_PHASE (the Canary's before it) and T0.
# shellcheck disable=SC2120 # arguments are optional
new_revision() {
  REVISION=$(($(podinfo_env REVISION) + 1))
  START_PHASE=$(canary_phase)
  T0=$(date +%s)
  kubectl_ -n test set env deployment/podinfo "REVISION=$REVISION" "$@" >/dev/null
  log "podinfo's pod template changed (REVISION=$REVISION $*): a new revision"
}

# follow_canary WANT SECONDS: polls the Canary's phase each second, once it has left
# START_PHASE, until WANT (Succeeded or Failed); the other end state or the deadline
# fails. Sets PHASES ("phase@seconds ...", from T0) and TOTAL.
follow_canary() {
  local want=$1 deadline=$((T0 + $2)) p last="" left=0
  PHASES=""
  while :; do
    p=$(canary_phase)
    if [[ "$p" != "$last" ]]; then
      PHASES+="${PHASES:+ }$p@$(($(date +%s) - T0))s"
      log "Canary phase: $p"
      last=$p
    fi
    [[ "$p" == "$START_PHASE" ]] || left=1
    if ((left)); then
      [[ "$p" != "$want" ]] || break
      if [[ "$p" == Succeeded || "$p" == Failed ]]; then
        die "Canary test/podinfo $p, not $want (phases: $PHASES): $(kubectl_ -n test get canary podinfo -o jsonpath='{.status.conditions[0].message}')"
      fi
    fi
    (($(date +%s) < deadline)) || die "Canary test/podinfo not $want after $2 s (phases: $PHASES)"
    sleep 1
  done
  TOTAL=$(($(date +%s) - T0))
}

# gate_api PATH: GET k6-gate's API on an API pod's loopback; the body on stdout.
gate_api() {
  kubectl_ -n k6-gate exec deployment/k6-gate-api -c api -- node -e \
    'fetch("http://127.0.0.1:8000" + process.argv[1]).then(async (r) => { if (!r.ok) throw new Error("HTTP " + r.status); process.stdout.write(await r.text()); })' \
    "$1"
}

# gate_calls: POSTs each line of stdin (a JSON webhook payload, as Flagger sends it) to
# /launch-test with the token, all at once, from an API pod; prints one JSON line per
# call, in order: {status, body}.
gate_calls() {
  local token
  token=$(cat "$E2E_STATE/scenarios/token")
  kubectl_ -n k6-gate exec -i deployment/k6-gate-api -c api -- node -e '
    let input = "";
    process.stdin.on("data", (d) => (input += d));
    process.stdin.on("end", async () => {
      const calls = input.split("\n").filter((l) => l.trim()).map(async (payload) => {
        const r = await fetch("http://127.0.0.1:8000/launch-test?token=" + process.argv[1], {
          method: "POST", headers: { "content-type": "application/json" }, body: payload,
        });
        return { status: r.status, body: await r.text() };
      });
      for (const result of await Promise.all(calls)) console.log(JSON.stringify(result));
    });' "$token"
}

# runs_of NAMESPACE NAME: k6-gate's run records of a canary (GET /api/runs), newest first.
runs_of() { gate_api "/api/runs?namespace=$1&name=$2"; }

# payload NAME CHECKSUM SCRIPT [TARGET [METADATA_JSON]]: Flagger's webhook payload for
# test/NAME, with more metadata when given.
payload() {
  jq -nc --arg name "$1" --arg sum "$2" --arg script "$3" --arg target "${4:-http://podinfo-primary.test:9898/}" \
    --argjson more "${5:-{\}}" '{
    name: $name, namespace: "test", phase: "Progressing", checksum: $sum,
    metadata: ({ script: $script, env_vars: ({TARGET: $target} | tojson), wait_timeout: "5m" } + $more) }'
}
# run_of NAME CHECKSUM: the id of test/NAME's run for that revision.
run_of() { runs_of test "$1" | jq -r --arg sum "$2" '[.runs[] | select(.checksum == $sum)][0].id // empty'; }
run_field() { gate_api "/api/runs/$1" | jq -r "$2"; }

# new_runs BEFORE_JSON AFTER_JSON: the runs in AFTER that BEFORE has not (by id).
new_runs() {
  jq -n --argjson before "$1" --argjson after "$2" \
    '[$after.runs[] | select(.id as $id | [$before.runs[].id] | index($id) | not)]'
}

# run_under_way BEFORE_JSON: the id of test/podinfo's new run (not in BEFORE) once its k6
# is well under way (100 iterations done; k6 a process of the cluster); fails before.
run_under_way() {
  local id
  id=$(new_runs "$1" "$(runs_of test podinfo)" | jq -r '.[] | select(.status == "running") | .id')
  [[ -n "$id" && -n "$(k6_pids)" ]] || return 1
  gate_api "/api/runs/$id" | jq -e '(.progress.iterations // 0) >= 100' >/dev/null || return 1
  echo "$id"
}

# canary_events_new: the events Flagger recorded on test/podinfo since new_revision (T0),
# oldest first, as "level x1 message" lines (a message's lines joined by " | "). Read from
# Flagger's log, where it writes each event it records (pkg/controller/events.go): the
# Event objects are lossy by design (client-go's recorder drops an object's events past a
# burst of 25, then passes 1 per 5 minutes), and one install plays many revisions.
canary_events_new() {
  kubectl_ -n flagger-system logs deployment/flagger --since-time="$(date -u -d "@$((T0 - 1))" +%FT%TZ)" |
    jq -rR 'fromjson? | select(.canary == "podinfo.test" and (.caller | startswith("controller/events.go")))
      | "\(.level) x1 \(.msg | gsub("\n"; " | "))"'
}

# revision_evidence N BEFORE_JSON: what the revision since new_revision (T0) left: Flagger's
# events on test/podinfo (test-artifacts/e2e/scenario-N-events.txt) and k6-gate's runs of
# test/podinfo that BEFORE_JSON (runs_of before the revision) has not
# (scenario-N-runs.json), both also on stderr. Sets EVENTS and RUNS_JSON (the two files),
# CHECKS_PASSED and CHECKS_FAILED (Flagger's pre-rollout checks) and RUNS (how many runs).
revision_evidence() {
  EVENTS=$ARTIFACTS/scenario-$1-events.txt
  RUNS_JSON=$ARTIFACTS/scenario-$1-runs.json
  canary_events_new | tee "$EVENTS" >&2
  CHECKS_PASSED=$(awk '/Pre-rollout check k6-load-test passed/ { n += substr($2, 2) } END { print n + 0 }' "$EVENTS")
  CHECKS_FAILED=$(awk '/pre-rollout check k6-load-test failed/ { n += substr($2, 2) } END { print n + 0 }' "$EVENTS")
  new_runs "$2" "$(runs_of test podinfo)" >"$RUNS_JSON"
  jq -r '.[] | "run \(.id) \(.phase) attempt \(.attempt) \(.status) verdict=\(.verdict) \(.reason), queued \(.queueWaitMs) ms, ran \(.runTimeMs) ms"' "$RUNS_JSON" >&2
  RUNS=$(jq length "$RUNS_JSON")
}

# k6_pids: the cluster's k6 processes (every pod's process is one of this machine's, in
# the kubelet's cgroups under /k6gate-e2e; other k6 on the machine are not the cluster's).
k6_pids() {
  local p
  for p in $(pids_of k6); do
    if grep -q ':/k6gate-e2e/' "/proc/$p/cgroup" 2>/dev/null; then echo "$p"; fi
  done | sort -n | tr '\n' ' '
}

# worker_logged RUN_ID [MSG]: "POD LINE" for the worker pod whose log has RUN_ID's line MSG
# ("run finished" by default, run-worker.ts: the worker that recorded the verdict); fails
# when none has.
worker_logged() {
  local msg=${2:-run finished} p line
  for p in $(kubectl_ -n k6-gate get pods -l app.kubernetes.io/component=worker -o name); do
    line=$(kubectl_ -n k6-gate logs "$p" | grep "\"msg\":\"$msg\"" | grep -m1 "\"runId\":\"$1\"") || continue
    echo "${p#pod/} $line"
    return 0
  done
  return 1
}

# each_second FILE COMMAND...: COMMAND's output each second into FILE, until killed (run it
# in the background: it samples what exists while something else happens).
each_second() {
  local file=$1
  shift
  while :; do
    "$@"
    sleep 1
  done >"$file" 2>/dev/null
}

# signal_pod POD SIGNAL: SIGNAL to every process of the k6-gate pod POD (found on the host
# by its pod cgroup: the cluster runs on this machine).
signal_pod() {
  local uid p
  uid=$(kubectl_ -n k6-gate get pod "$1" -o jsonpath='{.metadata.uid}')
  for p in /proc/[0-9]*; do
    if grep -q "pod${uid//-/_}\|pod$uid" "$p/cgroup" 2>/dev/null; then kill "-$2" "${p#/proc/}" 2>/dev/null || true; fi
  done
}

# take_over HOW RUN CALLS ANSWERS PODS CREATED ADOPTED SAMPLE...: while RUN runs, the worker
# pod that logged CREATED for it is SIGKILLed (HOW=kill) or frozen until another worker
# logged ADOPTED, then thawed (HOW=freeze: it wakes up holding a run that went on
# elsewhere). Then the call CALLS (its answer in ANSWERS) must answer 200, a worker must
# have logged ADOPTED and taken the run up again (attempt 2+), with the same PODS runner
# pods (SAMPLE... lists them; sampled each second) from start to end. Sets HOLDER, ADOPTER,
# ATTEMPT, ADOPTED_AFTER and ANSWERED_AFTER (s after the kill or freeze).
take_over() {
  local how=$1 run=$2 calls=$3 answers=$4 pods=$5 created=$6 adopted=$7 sampler since_ms seen line
  shift 7
  each_second "$ARTIFACTS/$run-pods.txt" "$@" &
  sampler=$!
  HOLDER=$(worker_logged "$run" "$created" | cut -d' ' -f1) || die "no worker logged \"$created\" for $run"
  since_ms=$(date +%s%3N)
  if [[ "$how" == kill ]]; then
    kubectl_ -n k6-gate delete pod "$HOLDER" --grace-period=0 --force >/dev/null 2>&1
    log "SIGKILLed worker $HOLDER while its run $run ran"
  else
    signal_pod "$HOLDER" STOP
    log "froze worker $HOLDER (SIGSTOP) while its run $run ran"
    if ! wait_for 90 "another worker to adopt $run" worker_logged "$run" "$adopted"; then
      signal_pod "$HOLDER" CONT
      die "no worker logged \"$adopted\" for $run while $HOLDER was frozen"
    fi
    signal_pod "$HOLDER" CONT
    log "thawed worker $HOLDER after $((($(date +%s%3N) - since_ms) / 1000)) s"
  fi
  wait "$calls" || die "the call failed"
  kill "$sampler" 2>/dev/null || true
  [[ $(jq -r .status "$answers") == 200 ]] || die "the adopted check answered $(cat "$answers")"
  ANSWERED_AFTER=$((($(date +%s%3N) - since_ms) / 1000))
  seen=$(sort -u "$ARTIFACTS/$run-pods.txt" | grep -c . || true)
  ((seen == pods)) || die "$seen runner pods for the check, want the same $pods: $(sort -u "$ARTIFACTS/$run-pods.txt")"
  line=$(worker_logged "$run" "$adopted") || die "no worker logged \"$adopted\" for $run"
  ADOPTER=${line%% *}
  ADOPTED_AFTER=$((($(jq .time <<<"${line#* }") - since_ms) / 1000))
  ATTEMPT=$(run_field "$run" .attempt)
  ((ATTEMPT >= 2)) || die "the run is at attempt $ATTEMPT, want a second one"
}

# result N LINE: the scenario's result line for the report.
result() {
  local line
  line="$(date -u +%FT%TZ) scenario $1: $2"
  echo "$line" >"$ARTIFACTS/scenario-$1.txt"
  echo "$line" >>"$ARTIFACTS/scenarios-history.txt"
  echo "scenario $1: $PASSED passed, 0 failed"
}
