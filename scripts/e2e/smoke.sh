#!/usr/bin/env bash
# The smoke check of a running e2e cluster (make e2e-smoke, after make e2e-up):
#   - the node is Ready, the control plane healthy, CoreDNS ready
#   - nothing the cluster runs listens beyond loopback and the node's address 10.244.0.1
#   - a client pod reaches a web pod by pod IP, by ClusterIP, and by DNS name (full and
#     short), through `kubectl exec` (API server -> kubelet -> containerd's stream server)
#   - kubectl logs reads the web pod's output
# Traffic goes only to the cluster's own pod and Service addresses.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

started=$(date +%s)
passed=0
ok() {
  passed=$((passed + 1))
  log "ok: $*"
}
[[ -f "$KUBECONFIG" ]] || die "no cluster: $KUBECONFIG is missing (make e2e-up)"

kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=30s >/dev/null
ok "node $NODE_NAME Ready ($(kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}, {.status.nodeInfo.containerRuntimeVersion}'))"
for check in livez readyz; do
  kubectl_ get --raw "/$check" >/dev/null || die "API server /$check failed: $(kubectl_ get --raw "/$check?verbose" 2>&1)"
done
ok "API server /livez and /readyz"
kubectl_ -n kube-system rollout status deployment/coredns --timeout=60s >/dev/null
ok "CoreDNS ready"

# Listening sockets of the cluster's processes (in the host's network namespace).
bad=$(
  for name in "${COMPONENTS[@]}"; do
    for pid in $(pids_of "$name"); do
      ss -Hltnup | grep -F "pid=$pid," | awk -v n="$name" '{ print n, $1, $5 }'
    done
  done | awk '$3 !~ /^(127\.0\.0\.1|\[::1\]|10\.244\.0\.1):[0-9]+$/'
)
[[ -z "$bad" ]] || die "listening beyond loopback and $NODE_IP: $bad"
ok "the cluster's processes listen on 127.0.0.1 and $NODE_IP only"

kubectl_ delete namespace e2e-smoke --ignore-not-found --wait=true >/dev/null
sed -e "s|@APP_IMAGE@|$APP_IMAGE|g" "$E2E_ROOT/test/e2e/manifests/smoke.yaml" | kubectl_ apply -f - >/dev/null
kubectl_ -n e2e-smoke rollout status deployment/web --timeout=120s >/dev/null
kubectl_ -n e2e-smoke wait --for=condition=Ready pod/client --timeout=120s >/dev/null
web_pod=$(kubectl_ -n e2e-smoke get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
web_ip=$(kubectl_ -n e2e-smoke get pod "$web_pod" -o jsonpath='{.status.podIP}')
cluster_ip=$(kubectl_ -n e2e-smoke get service web -o jsonpath='{.spec.clusterIP}')
ok "pods running: $web_pod ($web_ip), client ($(kubectl_ -n e2e-smoke get pod client -o jsonpath='{.status.podIP}')); Service web $cluster_ip"
# kube-proxy has programmed the Service once its ClusterIP jumps to a KUBE-SVC chain (a
# connection tried before that keeps its un-NATed conntrack entry until it times out).
svc_programmed() { iptables -w -t nat -S KUBE-SERVICES | grep -qE -- "-d $cluster_ip/32 .*-j KUBE-SVC-"; }
wait_for 30 "kube-proxy's rules for $cluster_ip" svc_programmed || die "kube-proxy never programmed Service web"
ok "kube-proxy programmed $cluster_ip"

for url in "http://$web_ip:8080/" "http://$cluster_ip/" "http://web.e2e-smoke.svc.$CLUSTER_DOMAIN/" "http://web/"; do
  body=$(kubectl_ -n e2e-smoke exec client -- /e2e-app get "$url" 15) || die "client could not GET $url"
  [[ "$body" == "e2e-app $web_pod" ]] || die "GET $url answered '$body', not 'e2e-app $web_pod'"
  ok "client -> $url: $body"
done
kubectl_ -n e2e-smoke logs "$web_pod" | grep -q 'serving on :8080' || die "kubectl logs $web_pod: no 'serving on :8080'"
ok "kubectl logs $web_pod"

kubectl_ delete namespace e2e-smoke --wait=true --timeout=120s >/dev/null
ok "namespace e2e-smoke deleted"
log "smoke check passed in $(($(date +%s) - started)) s"
echo "smoke: $passed passed, 0 failed"
