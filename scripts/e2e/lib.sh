#!/usr/bin/env bash
# Shared by scripts/e2e/*.sh (sourced): the cluster's fixed names, addresses and paths.
#
# One single-node cluster per machine: the ports, the bridge and containerd's socket are
# fixed. Addresses:
#   10.244.0.1      the node: the bridge k6g-br0 (made by up.sh before anything starts).
#                   The API server (6443) and the kubelet (10250) listen here only;
#                   etcd, containerd's stream server and every health/metrics port on
#                   127.0.0.1 only.
#   10.244.0.0/24   pods (bridge CNI, host-local IPAM)
#   10.96.0.0/16    Services (routed to the bridge, so nothing for it leaves the host);
#                   10.96.0.1 the API server, 10.96.0.10 CoreDNS
# shellcheck disable=SC2034 # the variables are used by the scripts that source this

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_BIN=${E2E_BIN:-$E2E_ROOT/.tools/e2e/bin}
E2E_IMAGES=${E2E_IMAGES:-$E2E_ROOT/.tools/e2e/images}
# Everything the cluster writes, but for the fixed paths the kubelet, containerd and the
# CNI plugins insist on (recorded in $E2E_STATE/host by up.sh, removed by down.sh).
E2E_STATE=${E2E_STATE:-/var/lib/k6gate-e2e}
# down.sh reads the host's original settings from here; kept apart from the state so
# that a failed `rm -rf $E2E_STATE` does not lose them.
E2E_HOST=$E2E_STATE/host

NODE_NAME=k6gate-e2e
BRIDGE=k6g-br0
NODE_IP=10.244.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
API_PORT=6443
API_SERVER=https://$NODE_IP:$API_PORT
CONTAINERD_SOCKET=/run/containerd/containerd.sock
# Our own iptables chains (mangle table; this prefix + -FWD, -IN) keeping the cluster's
# traffic inside the machine. In mangle, not filter: kube-router keeps its own jumps first in
# filter's INPUT, FORWARD and OUTPUT and ACCEPTs there what the NetworkPolicies allow, so a
# guard in filter would never see that traffic; mangle's hooks run before filter's.
GUARD_CHAIN=K6GATE-E2E
# kube-router's ipsets (the network policies' pod and ipBlock sets; TMP- while it swaps one
# in; inet6: the IPv6 ones): down.sh destroys those that up.sh did not find on the host.
KUBE_ROUTER_IPSETS='^(inet6:)?(KUBE-SRC-|KUBE-DST-|TMP-)'

# Images built here (scripts/e2e/images.sh); no registry is reachable.
PAUSE_IMAGE=k6gate.local/pause:3.10
COREDNS_IMAGE=k6gate.local/coredns:v1.12.4
APP_IMAGE=k6gate.local/e2e-app:1
# The scenarios' images (scripts/e2e/build-image.sh, scenario-images.sh).
K6GATE_IMAGE=k6gate.local/k6-gate:e2e
REDIS_IMAGE=k6gate.local/redis:trixie
FLAGGER_IMAGE=k6gate.local/flagger:1.41.0
PODINFO_IMAGE=k6gate.local/podinfo:6.9.2
KEDA_IMAGE=k6gate.local/keda:2.21.0
KEDA_ADAPTER_IMAGE=k6gate.local/keda-metrics-apiserver:2.21.0
# k6-operator's manager and the image its starter Job runs (scripts/e2e/k6-operator-images.sh).
K6_OPERATOR_IMAGE=k6gate.local/k6-operator:v1.5.0
K6_OPERATOR_STARTER_IMAGE=k6gate.local/k6-operator-starter:e2e
# The Dockerfile's two base images as made here (scripts/e2e/base-images.sh), given to the
# build through its build args K6_IMAGE and NODE_IMAGE (scripts/e2e/build-image.sh).
NODE_BASE_IMAGE=k6gate.local/node:$(cat "$E2E_ROOT/.node-version")-trixie-slim
K6_BASE_IMAGE=k6gate.local/k6:$(cat "$E2E_ROOT/.k6-version")

# Host settings the kubelet, kube-proxy or the bridge plugin may change: up.sh records
# their values before anything starts and down.sh writes them back.
HOST_SYSCTLS=(
  kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv6.conf.all.forwarding
  net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait
)
# Fixed paths they create; down.sh removes each one that did not exist before up.sh.
HOST_PATHS=(
  /var/lib/kubelet /var/log/pods /var/log/containers /run/containerd /var/lib/cni
  /etc/cni /opt/cni /var/lib/containerd /run/netns
)
# The processes up.sh starts, in start order (down.sh stops them in reverse).
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-router)

export PATH=$E2E_BIN:$PATH
export KUBECONFIG=$E2E_STATE/kubeconfig/admin.conf

log() { printf '%s e2e: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: run COMMAND once a second until it succeeds.
wait_for() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) >= deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 1
  done
}

kubectl_() { "$E2E_BIN/kubectl" --kubeconfig "$E2E_STATE/kubeconfig/admin.conf" "$@"; }

# pids_of NAME: the pids whose executable is called NAME (pgrep -x only sees the first
# 15 characters: kube-controller-manager, containerd-shim-runc-v2).
pids_of() {
  local p exe
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    if [[ "${exe##*/}" == "$1" ]]; then echo "${p#/proc/}"; fi
  done
}

# buildah_ ARGS...: buildah with everything it keeps in .tools/e2e/buildah: its storage
# (vfs), its network configuration (else it creates /etc/cni/net.d/cni.lock) and its
# temporary files, RUN --mount=type=cache included (else /var/tmp/buildah-cache).
buildah_() {
  local dir=$E2E_ROOT/.tools/e2e/buildah
  mkdir -p "$dir/cni" "$dir/tmp"
  printf '[network]\nnetwork_backend = "cni"\nnetwork_config_dir = "%s"\n' "$dir/cni" >"$dir/containers.conf"
  CONTAINERS_CONF=$dir/containers.conf TMPDIR=$dir/tmp \
    buildah --root "$dir/storage" --runroot "$dir/run" --storage-driver vfs "$@"
}

# buildah_leaves_no_trace: call once before buildah_; at exit, removes the one host path
# buildah writes whatever it is told (containers/image's blob info cache in
# /var/lib/containers/cache) if it was not there before.
buildah_leaves_no_trace() {
  if [[ ! -e /var/lib/containers ]]; then
    trap 'rm -rf /var/lib/containers' EXIT
  fi
}

# debian_mirror: the Debian mirror apt uses here (deb822 .sources or one-line sources.list).
debian_mirror() {
  local mirror
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [[ -z "$mirror" ]]; then
    mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  [[ -n "$mirror" ]] || die "no Debian mirror found in /etc/apt/sources.list*"
  echo "$mirror"
}

# Tears the cluster down and compares the host with $1/host-before.txt (written by the
# caller before `up`). Sets DOWN_SECONDS; returns non-zero when down failed or the host
# differs (the diff is in $1/host-diff.txt and on stderr).
down_and_compare_host() {
  local artifacts=$1 started failed=0
  started=$(date +%s)
  "$E2E_ROOT/scripts/e2e/down.sh" || failed=1
  DOWN_SECONDS=$(($(date +%s) - started))
  "$E2E_ROOT/scripts/e2e/host-state.sh" >"$artifacts/host-after.txt" || failed=1
  if diff -u "$artifacts/host-before.txt" "$artifacts/host-after.txt" >"$artifacts/host-diff.txt"; then
    log "host as before: no leftover processes, mounts, links, routes, iptables/nft rules, sysctls, paths, cgroups"
  else
    log "the host differs after down (test-artifacts/e2e/host-diff.txt):"
    cat "$artifacts/host-diff.txt" >&2
    failed=1
  fi
  return "$failed"
}
