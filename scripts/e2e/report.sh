#!/usr/bin/env bash
# Writes the generated section of docs/e2e-cluster.md (between its e2e-report markers)
# from what make e2e just did: test-artifacts/e2e/{run,install,image-build,scenario-N}.txt,
# the pinned versions (the wrapper modules' go.mod files, Debian's packages, .tools) and
# what the run does not cover. Called by run.sh at its end, with the run's status.
# Usage: report.sh STATUS
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

status=${1:?usage: report.sh STATUS}
doc=$E2E_ROOT/docs/e2e-cluster.md
artifacts=$E2E_ROOT/test-artifacts/e2e
begin='<!-- e2e-report:begin'
end='<!-- e2e-report:end -->'
{ grep -q "^$begin" "$doc" && grep -q "^$end" "$doc"; } || die "$doc has no e2e-report markers"

mod() { awk -v m="$2" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m { print $2; exit }' "$E2E_ROOT/test/e2e/$1/go.mod"; }
deb() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "not installed"; }
field() { sed -n "s/^$1: //p" "$artifacts/install.txt" 2>/dev/null | head -1; }
stage() {
  if grep -q " $1=[0-9]*s" "$artifacts/run.txt"; then
    grep -o " $1=[0-9]*s" "$artifacts/run.txt" | cut -d= -f2
  elif grep -q " failed=$1 " "$artifacts/run.txt"; then
    echo "**failed**"
  else
    echo "did not run"
  fi
}
run=$(cat "$artifacts/run.txt")
commit=$(git -C "$E2E_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$E2E_ROOT" status --porcelain 2>/dev/null | grep -c . || true)
image_build=$(sed 's/^[^ ]* //' "$artifacts/image-build.txt" 2>/dev/null || echo "not built by this run")

section=$(
  cat <<MD
$begin (written by scripts/e2e/report.sh at the end of each make e2e; edits here are overwritten) -->
## The last run (generated)

$( ((status == 0)) && echo "**Passed**" || echo "**FAILED** (status $status$(grep -o ' failed=[a-z0-9]*' <<<"$run" | sed 's/ failed=/, in /'))"): \`make e2e\` on
$(date -u +%F) at commit \`$commit\`$( ((dirty)) && echo " with $dirty uncommitted change(s)"),
$(nproc) CPUs shared with other work, cgroup v1 (hybrid). The tools and the other images come
from \`.tools/e2e\` (built there first when missing: see "Timings" above).

| stage | time |
| --- | --- |
| our image from our Dockerfile (\`make e2e-image\`, buildah; rebuilt on every run) | $image_build |
| cluster up (\`up.sh\`) | $(stage up) |
| smoke check | $(stage smoke) |
| install: images imported, KEDA, Flagger, \`helm install\` of k6-gate, podinfo + Canary Initialized | $(stage install) ($(field timings)) |
$(for n in 1 2 3 4 6 5 8 9 7; do echo "| scenario $n | $(stage "scenario$n") |"; done)
| down + host diffed | $(stage down) |
| **run.sh in all** (\`make e2e\` adds the image build and shellcheck) | **$(grep -o 'total=[0-9]*s' <<<"$run" | cut -d= -f2)** |

### Scenarios (asserted from the Canary's status, Flagger's events, the Deployments and k6-gate's run records)

$(for n in 1 2 3 4 6 5 8 9 7; do
    if [[ -f "$artifacts/scenario-$n.txt" ]]; then
      echo "- **$n.** $(cut -d' ' -f4- "$artifacts/scenario-$n.txt")"
    else
      echo "- **$n.** did not pass in this run"
    fi
  done)

Phases are Flagger's, \`phase@seconds\` after podinfo's pod template changed, polled each second
(a phase shorter than a second can be missed). Flagger's analysis: interval 10 s, threshold 2,
2 iterations; the README's webhook (k6: 2 VUs, 30 s).
$(if [[ -f "$artifacts/scenario-5-scaling.txt" ]]; then
    echo
    echo "Scaling (scenario 5): KEDA's ScaledObject, pollingInterval 5 s, the HPA controller's"
    echo "15 s sync; each second from the burst (the ScaledObject's Active and HPAActive conditions,"
    echo "the HPA's external metric and desired replicas, the Deployment's replicas and Ready ones;"
    echo "a line only when one changed), until 3 were Ready. Active turns Unknown when KEDA"
    echo "v2.21.0 reconciles the ScaledObject on its HPA's change, until its next poll; a dash:"
    echo "not set yet."
    echo
    echo '```'
    awk '{ key = $0; sub(/^[0-9]+s /, "", key) } key != last { print; last = key }' "$artifacts/scenario-5-scaling.txt"
    echo '```'
  fi)

### Versions

| part | version |
| --- | --- |
| Kubernetes (kube-apiserver, -controller-manager, -scheduler, kubelet, kube-proxy, kubectl) | $(mod kube k8s.io/kubernetes) |
| etcd | $(mod etcd go.etcd.io/etcd/server/v3) |
| CoreDNS | $(mod coredns github.com/coredns/coredns) |
| containerd / runc / CNI plugins (Debian) | $(deb containerd) / $(deb runc) / $(deb containernetworking-plugins) |
| Flagger | $(mod flagger github.com/fluxcd/flagger) (image \`$FLAGGER_IMAGE\`, kubernetes provider) |
| KEDA (operator, metrics API server) | $(mod keda github.com/kedacore/keda/v2) (images \`$KEDA_IMAGE\`, \`$KEDA_ADAPTER_IMAGE\`; the operator logs "KEDA Version: $(field keda)") |
| k6-operator (scenario 9) | $(mod k6-operator github.com/grafana/k6-operator) (images \`$K6_OPERATOR_IMAGE\`, \`$K6_OPERATOR_STARTER_IMAGE\`: curl from Debian) |
| podinfo | ${PODINFO_IMAGE##*:} (module $(mod podinfo github.com/stefanprodan/podinfo)) |
| k6-gate (GET /version) | $(field k6-gate | jq -r '"\(.version), commit \(.commit)"' 2>/dev/null) |
| k6 in the image | $(field k6) |
| Node in the image | $(cat "$E2E_ROOT/.node-version") |
| Redis (Debian trixie's, the chart's bundled Redis) | $(field redis) |
| Helm | $("$E2E_ROOT/.tools/bin/helm" version --short 2>/dev/null || echo unknown) |
| buildah / debootstrap (Debian) | $(deb buildah) / $(deb debootstrap) |
| Go | $(go version | awk '{ print $3 }') |

### Not covered by this run

- **NetworkPolicy** is enforced (kube-router, firewall only) and the chart's policies are on
  in scenarios 8 and 9 only; scenarios 1-7 run with \`networkPolicy.enabled=false\`, as installed.
- **k6-operator** runs only scenario 9's TestRuns (\`parallelism: "3"\`, one node: the three
  runner pods share its 2 cores). Its adoption case kills the only worker, so the
  Deployment's replacement adopts the TestRun; adoption by a second worker already running
  is scenario 8's Job case.
- **Scenarios 8 and 9 call the webhook directly** too (Flagger's payload from an API pod), not
  through a Canary: its checks run at once, and one is killed or superseded mid-run.
- **KEDA**: its admission webhooks (they only validate ScaledObjects) are not installed; the
  scale-down through the chart's HPA behavior (300 s stabilization, then one pod a minute) is
  not waited for: scenario 5 sees the queue drained (Active False, the HPA reading 0) and then
  turns KEDA off with \`helm upgrade\`, which puts the chart's worker count back. The fallback
  (\`keda.fallback\`, /queue/depth failing) is covered by \`test/deploy/keda-scaler.test.ts\`
  with KEDA's scaler code, not here.
- **Flagger's metrics**: no Prometheus, so no builtin metric check (request-success-rate,
  latency); no mesh or traffic split (kubernetes provider); only the \`pre-rollout\` hook is played
  (the README's example has no rollout or post-rollout hook).
- **Scenarios 4 and 5 call the webhook directly** (Flagger's payload, POSTed from an API pod),
  not through a Canary: 4 needs a second secret reference, 5 ten canaries at once.
- **Uninstall** leaves the Redis StatefulSet's volume claim (Kubernetes keeps a StatefulSet's
  claims; the chart sets no \`persistentVolumeClaimRetentionPolicy\`): scenario 7 deletes it by hand.
- **Images**: the bundled Redis runs Debian trixie's Redis, not the chart's default
  \`redis:7.4.8-alpine\`; no registry, so images are imported into containerd and pulled \`Never\`.
- **Slack and k6 Cloud** are not configured (\`slack_channels\` is accepted, nothing is posted).
- NodePort and port-forward are configured but not exercised (the aggregation layer is:
  KEDA's external metrics).
$end
MD
)
tmp=$(mktemp "$doc.XXXXXX")
S=$section awk -v b="$begin" -v e="$end" '
  index($0, b) == 1 { print ENVIRON["S"]; skip = 1; next }
  index($0, e) == 1 { skip = 0; next }
  !skip' "$doc" >"$tmp"
chmod --reference="$doc" "$tmp"
mv "$tmp" "$doc"
log "report written: docs/e2e-cluster.md (generated section)"
