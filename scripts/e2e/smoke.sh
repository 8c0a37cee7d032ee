#!/usr/bin/env bash
# The smoke check of a running e2e cluster (make e2e-smoke, after make e2e-up):
#   - the node is Ready, the control plane healthy, CoreDNS ready
#   - nothing the cluster runs listens beyond loopback and the node's address 10.244.0.1
#   - a client pod reaches a web pod by pod IP, by ClusterIP, and by DNS name (full and
#     short), through `kubectl exec` (API server -> kubelet -> containerd's stream server)
#   - kubectl logs reads the web pod's output
#   - NetworkPolicy is enforced (kube-router): in namespace e2e-netpol a server pod is
#     reached by a client and a stranger pod; under a deny-all-ingress policy by neither;
#     with an allow policy for the client's label by the client only; and with an
#     egress-deny policy on the client, not by the client either (each change polled with
#     a deadline until it holds, no fixed sleep)
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
      # (kube-router listens on nothing: grep finds no line)
      ss -Hltnup | { grep -F "pid=$pid," || true; } | awk -v n="$name" '{ print n, $1, $5 }'
    done
  done | awk '$3 !~ /^(127\.0\.0\.1|\[::1\]|10\.244\.0\.1):[0-9]+$/'
)
[[ -z "$bad" ]] || die "listening beyond loopback and $NODE_IP: $bad"
ok "the cluster's processes listen on 127.0.0.1 and $NODE_IP only"

kubectl_ delete namespace e2e-smoke e2e-netpol --ignore-not-found --wait=true >/dev/null
sed -e "s|@APP_IMAGE@|$APP_IMAGE|g" "$E2E_ROOT/test/e2e/manifests/smoke.yaml" | kubectl_ apply -f - >/dev/null
# netpol_apply STEP: the objects of test/e2e/manifests/netpol.yaml labelled STEP. The
# NetworkPolicy part's pods start now, alongside the others.
netpol_apply() {
  sed -e "s|@APP_IMAGE@|$APP_IMAGE|g" "$E2E_ROOT/test/e2e/manifests/netpol.yaml" |
    kubectl_ apply -f - -l "e2e-netpol/step=$1" >/dev/null
}
netpol_apply pods
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

# --- NetworkPolicy enforced (kube-router) ---------------------------------------------
# Our egress guard stays first in mangle (kube-router's jumps are first in filter).
for chain in FORWARD:FWD INPUT:IN; do
  first=$(iptables -w -t mangle -S "${chain%:*}" | sed -n 2p)
  [[ "$first" == "-A ${chain%:*} -j $GUARD_CHAIN-${chain#*:}" ]] || die "mangle ${chain%:*} starts with '$first', not our guard"
done
iptables -w -S FORWARD | grep -qF -- '-j KUBE-ROUTER-FORWARD' || die "no jump to kube-router's chain in filter FORWARD"
ok "our guard first in mangle INPUT and FORWARD; kube-router's KUBE-ROUTER-FORWARD in filter FORWARD"
kubectl_ -n e2e-netpol wait --for=condition=Ready pod/server pod/client pod/stranger --timeout=120s >/dev/null
server_url="http://$(kubectl_ -n e2e-netpol get pod server -o jsonpath='{.status.podIP}'):8080/"
# reaches POD: POD GETs the server once (3 s timeout, no retry).
reaches() { kubectl_ -n e2e-netpol exec "$1" -- /e2e-app get "$server_url" 1 >/dev/null 2>&1; }
# refused POD: POD's GET of the server failed (the client's own error, not kubectl's);
# sets REFUSED to the error.
refused() {
  local out
  if out=$(kubectl_ -n e2e-netpol exec "$1" -- /e2e-app get "$server_url" 1 2>&1); then return 1; fi
  REFUSED=$(grep -m1 -F "GET $server_url (try 1/1): " <<<"$out") || return 1
  REFUSED=${REFUSED#*: }
}
# holds SECONDS WHAT COMMAND...: wait_for, timed: HELD is the seconds it took.
holds() {
  local t
  t=$(date +%s)
  wait_for "$@" || die "not within ${1}s: $2"
  HELD=$(($(date +%s) - t))
}

holds 30 "client -> server with no policy" reaches client
reaches stranger || die "stranger cannot reach $server_url with no policy"
ok "no policy: client and stranger -> $server_url"
netpol_apply deny
holds 30 "deny-all-ingress to refuse the client" refused client
refused stranger || die "stranger still reaches $server_url under deny-all-ingress"
# The node itself (the kubelet's probes come from its address) still gets through.
curl -fsS --max-time 3 "$server_url" >/dev/null || die "the node cannot reach $server_url under deny-all-ingress"
ok "deny-all-ingress enforced in ${HELD}s: client and stranger refused ($REFUSED); the node still gets through"
netpol_apply allow
holds 30 "allow-client to admit the client" reaches client
refused stranger || die "stranger reaches $server_url: allow-client admits only netpol-client=allowed"
ok "allow-client (from netpol-client=allowed, TCP 8080) enforced in ${HELD}s: client -> server, stranger still refused"
netpol_apply egress
holds 30 "client-egress-none to stop the client" refused client
ok "client-egress-none (egress denied) enforced in ${HELD}s: client refused ($REFUSED)"
# Ingress denied all along but for the client: the kubelet's probes, from the node's own
# address, still get through.
[[ $(kubectl_ -n e2e-netpol get pod server -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]] ||
  die "server not Ready under the policies: the kubelet's probes (from the node) were refused"
ok "server Ready throughout: the kubelet's probes from the node pass the policies"

kubectl_ delete namespace e2e-smoke e2e-netpol --wait=true --timeout=120s >/dev/null
ok "namespaces e2e-smoke and e2e-netpol deleted"
log "smoke check passed in $(($(date +%s) - started)) s"
echo "smoke: $passed passed, 0 failed"
