#!/usr/bin/env bash
# Brings up the single-node e2e cluster (make e2e-up). scripts/e2e/down.sh (make e2e-down)
# undoes every step, also after this script failed half-way: it records the host's
# settings before changing any, and down.sh reads that record.
#
#   containerd  Debian's package, default socket /run/containerd/containerd.sock (the
#               kubelet's stats expect it), CRI with restrict_oom_score_adj = true: root
#               here lacks CAP_SYS_RESOURCE, and without it every pod sandbox fails with
#               runc's "can't get final child's PID from pipe: EOF".
#   etcd        127.0.0.1:2379 (TLS, client certs), no fsync (a throw-away cluster)
#   API server  10.244.0.1:6443 only; Node,RBAC authorization, NodeRestriction admission
#   kubelet     cgroup v1 (this machine's cgroups are v1 hybrid): failCgroupV1: false,
#               cgroupfs driver, cgroups under /k6gate-e2e in each hierarchy
#   kube-proxy  iptables mode, no conntrack sysctl changes, NodePorts on 10.244.0.1 only
#   kube-router v2.1.0 firewall only (--run-firewall, no router, no service proxy): the
#               NetworkPolicy engine, iptables (nft backend, as kube-proxy) + ipset; its
#               own client certificate (user kube-router) and ClusterRole; listens on
#               nothing (health and metrics ports off)
#   CNI         bridge k6g-br0 + host-local (10.244.0.0/24) + portmap + loopback; it
#               enforces no NetworkPolicy itself, kube-router does (ingress and egress)
#   guard       our chains in the mangle table (before kube-router's filter rules): pods'
#               packets leave only through the bridge, nothing reaches them from eth0
#   CoreDNS     a Deployment serving cluster.local only (no upstream: nothing leaves)
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

started=$(date +%s)
[[ $EUID -eq 0 ]] || die "must run as root (it starts containerd and a kubelet)"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-router kubectl; do
  [[ -x "$E2E_BIN/$b" ]] || die "$E2E_BIN/$b is missing: run make e2e-tools"
done
for i in pause coredns e2e-app; do
  [[ -f "$E2E_IMAGES/$i.tar" ]] || die "$E2E_IMAGES/$i.tar is missing: run make e2e-images"
done
for b in containerd containerd-shim-runc-v2 ctr runc iptables ipset conntrack openssl; do
  command -v "$b" >/dev/null || die "$b is missing: run make e2e-packages"
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/portmap && -x /usr/lib/cni/loopback ]] ||
  die "the CNI plugins are missing from /usr/lib/cni: run make e2e-packages"
if [[ -e "$E2E_STATE" ]]; then
  die "$E2E_STATE exists: a cluster is up or was not torn down; run make e2e-down first"
fi
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  die "the bridge $BRIDGE exists: run make e2e-down first"
fi
if [[ -S "$CONTAINERD_SOCKET" ]]; then
  die "$CONTAINERD_SOCKET exists: another containerd runs here (this cluster needs the default socket)"
fi
for port in 2379 2380 2381 6443 10248 10249 10250 10256 10257 10259; do
  if ss -Hltn "sport = :$port" | grep -q .; then
    die "TCP port $port is in use: $(ss -Hltnp "sport = :$port")"
  fi
done

# --- 1. Record the host before changing it (down.sh restores from this) --------------
mkdir -p "$E2E_HOST"
for key in "${HOST_SYSCTLS[@]}"; do
  if value=$(sysctl -n "$key" 2>/dev/null); then
    printf '%s\t%s\n' "$key" "$value"
  fi
done >"$E2E_HOST/sysctls"
for p in "${HOST_PATHS[@]}"; do
  if [[ -e "$p" ]]; then echo "$p"; fi
done >"$E2E_HOST/existing-paths"
nft list tables 2>/dev/null >"$E2E_HOST/nft-tables" || true
ipset list -n >"$E2E_HOST/ipsets"
touch "$E2E_HOST/recorded"
log "host settings recorded in $E2E_HOST"

# --- 2. Certificates, kubeconfigs, configuration --------------------------------------
mkdir -p "$E2E_STATE"/{etc,log,run,etcd,containerd,kubelet,cni/net.d,cni/ipam}
"$E2E_ROOT/scripts/e2e/pki.sh"
pki=$E2E_STATE/pki
etc=$E2E_STATE/etc

cat >"$etc/containerd.toml" <<EOF
version = 2
root = "$E2E_STATE/containerd"
state = "/run/containerd"
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "$CONTAINERD_SOCKET"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$E2E_STATE/cni/net.d"
EOF

cat >"$E2E_STATE/cni/net.d/10-k6gate-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "k6gate-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$E2E_STATE/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF

cat >"$etc/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $pki/ca.crt }
authorization: { mode: Webhook }
tlsCertFile: $pki/kubelet.crt
tlsPrivateKeyFile: $pki/kubelet.key
# This machine's cgroups are v1 (hybrid: v1 controllers plus an empty cgroup2 mount at
# /sys/fs/cgroup/unified). Kubernetes 1.34 refuses cgroup v1 unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_NAME
containerRuntimeEndpoint: unix://$CONTAINERD_SOCKET
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: $CLUSTER_DOMAIN
# No host resolv.conf: pods resolve cluster names only, nothing goes upstream.
resolvConf: ""
podLogsDir: $E2E_STATE/log/pods
failSwapOn: false
rotateCertificates: false
serverTLSBootstrap: false
shutdownGracePeriod: 0s
staticPodPath: ""
evictionHard: { memory.available: 100Mi, nodefs.available: 5%, imagefs.available: 5% }
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
EOF

cat >"$etc/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $E2E_STATE/kubeconfig/kube-proxy.conf }
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
detectLocalMode: ClusterCIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
iptables: { localhostNodePorts: false, minSyncPeriod: 1s, syncPeriod: 30s }
# 0: leave the host's conntrack settings as they are.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF

cat >"$etc/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: { kubeconfig: $E2E_STATE/kubeconfig/scheduler.conf }
leaderElection: { leaderElect: false }
EOF

# --- 3. Network: the node's bridge, the Service route, the egress guard --------------
# The bridge exists before the API server binds its address; the bridge plugin finds it
# with the same gateway address and uses it.
ip link add "$BRIDGE" type bridge
ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Service addresses go to the bridge, so one without endpoints is never sent out eth0.
ip route add "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
# The cluster stays in the machine. Forwarded: a pod's packets leave only through the
# bridge, and packets reach pods only from it. Input: the node's address (the API server,
# the kubelet) answers only the host itself (lo) and the pods (the bridge), whatever
# another machine on eth0 routes to it. In the mangle table, whose hooks run before the
# filter table's: kube-router puts its own jumps first in filter's INPUT, FORWARD and
# OUTPUT (and moves them back there) and ACCEPTs what the NetworkPolicies allow, so a
# guard in filter would not see that traffic.
iptables -w -t mangle -N "$GUARD_CHAIN-FWD"
iptables -w -t mangle -A "$GUARD_CHAIN-FWD" -s "$POD_CIDR" ! -o "$BRIDGE" -j DROP
iptables -w -t mangle -A "$GUARD_CHAIN-FWD" -d "$POD_CIDR" ! -i "$BRIDGE" -j DROP
iptables -w -t mangle -I FORWARD 1 -j "$GUARD_CHAIN-FWD"
iptables -w -t mangle -N "$GUARD_CHAIN-IN"
iptables -w -t mangle -A "$GUARD_CHAIN-IN" -i lo -j RETURN
iptables -w -t mangle -A "$GUARD_CHAIN-IN" -i "$BRIDGE" -j RETURN
iptables -w -t mangle -A "$GUARD_CHAIN-IN" -d "$POD_CIDR" -j DROP
iptables -w -t mangle -A "$GUARD_CHAIN-IN" -d "$SERVICE_CIDR" -j DROP
iptables -w -t mangle -I INPUT 1 -j "$GUARD_CHAIN-IN"
# The kubelet's cgroups (cgroupRoot) in every hierarchy (v1 controllers, the named
# systemd one and the hybrid's cgroup2 mount): down.sh removes the whole tree.
for h in /sys/fs/cgroup/*/; do
  mkdir -p "$h$NODE_NAME"
done

# --- 4. Processes -----------------------------------------------------------------------
# start NAME BINARY ARGS...: in its own session (so neither make nor a closing shell
# takes it down), output to log/NAME.log, pid in run/NAME.pid.
start() {
  local name=$1
  shift
  # shellcheck disable=SC2016 # $$, $0 and $@ are the inner shell's
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$E2E_STATE/run/$name.pid" "$@" \
    >"$E2E_STATE/log/$name.log" 2>&1 </dev/null &
  wait_for 5 "$name's pid file" test -s "$E2E_STATE/run/$name.pid"
}
alive() { kill -0 "$(cat "$E2E_STATE/run/$1.pid")" 2>/dev/null; }
# wait_up SECONDS NAME DESCRIPTION COMMAND...: like wait_for, and fail at once (with the
# end of its log) if NAME has exited.
wait_up() {
  local timeout=$1 name=$2 what=$3 deadline
  shift 3
  deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then
      tail -n 30 "$E2E_STATE/log/$name.log" >&2
      die "$name exited (log: $E2E_STATE/log/$name.log)"
    fi
    if (($(date +%s) >= deadline)); then
      tail -n 30 "$E2E_STATE/log/$name.log" >&2
      die "timed out after ${timeout}s waiting for $what"
    fi
    sleep 0.5
  done
  log "$what ($(($(date +%s) - started)) s)"
}

start containerd containerd --config "$etc/containerd.toml"
wait_up 30 containerd "containerd" ctr --address "$CONTAINERD_SOCKET" version
for i in pause coredns e2e-app; do
  ctr --address "$CONTAINERD_SOCKET" -n k8s.io images import "$E2E_IMAGES/$i.tar" >/dev/null
done
log "images imported: $(ctr --address "$CONTAINERD_SOCKET" -n k8s.io images ls -q | tr '\n' ' ')"

start etcd etcd --name "$NODE_NAME" --data-dir "$E2E_STATE/etcd" \
  --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
  --listen-peer-urls https://127.0.0.1:2380 --initial-advertise-peer-urls https://127.0.0.1:2380 \
  --initial-cluster "$NODE_NAME=https://127.0.0.1:2380" --initial-cluster-state new \
  --listen-metrics-urls http://127.0.0.1:2381 \
  --cert-file "$pki/etcd-server.crt" --key-file "$pki/etcd-server.key" \
  --trusted-ca-file "$pki/etcd-ca.crt" --client-cert-auth \
  --peer-cert-file "$pki/etcd-server.crt" --peer-key-file "$pki/etcd-server.key" \
  --peer-trusted-ca-file "$pki/etcd-ca.crt" --peer-client-cert-auth \
  --unsafe-no-fsync --log-level warn
wait_up 30 etcd "etcd" curl -fsS http://127.0.0.1:2381/health

start kube-apiserver kube-apiserver \
  --advertise-address "$NODE_IP" --bind-address "$NODE_IP" --secure-port "$API_PORT" \
  --etcd-servers https://127.0.0.1:2379 --etcd-cafile "$pki/etcd-ca.crt" \
  --etcd-certfile "$pki/apiserver-etcd-client.crt" --etcd-keyfile "$pki/apiserver-etcd-client.key" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true \
  --requestheader-client-ca-file "$pki/front-proxy-ca.crt" \
  --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
  --profiling=false --event-ttl 1h
wait_up 90 kube-apiserver "API server ready" kubectl_ get --raw /readyz

# What kube-router reads: its firewall watches pods, namespaces and NetworkPolicies and
# reads its Node (the node's address tells which pods are local); its informer factory
# also starts Services, Endpoints and EndpointSlices informers and waits for all to sync.
kubectl_ apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: k6gate-e2e:kube-router
rules:
  - apiGroups: [""]
    resources: [pods, namespaces, nodes, services, endpoints]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [networkpolicies]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: k6gate-e2e:kube-router
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: k6gate-e2e:kube-router }
subjects:
  - { apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-router }
EOF

start kube-controller-manager kube-controller-manager \
  --kubeconfig "$E2E_STATE/kubeconfig/controller-manager.conf" \
  --authentication-kubeconfig "$E2E_STATE/kubeconfig/controller-manager.conf" \
  --authorization-kubeconfig "$E2E_STATE/kubeconfig/controller-manager.conf" \
  --bind-address 127.0.0.1 --secure-port 10257 \
  --cluster-name "$NODE_NAME" --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --root-ca-file "$pki/ca.crt" --service-account-private-key-file "$pki/sa.key" \
  --use-service-account-credentials=true --allocate-node-cidrs=false \
  --service-cluster-ip-range "$SERVICE_CIDR" --leader-elect=false --profiling=false
start kube-scheduler kube-scheduler --config "$etc/scheduler.yaml" \
  --authentication-kubeconfig "$E2E_STATE/kubeconfig/scheduler.conf" \
  --authorization-kubeconfig "$E2E_STATE/kubeconfig/scheduler.conf" \
  --bind-address 127.0.0.1 --secure-port 10259
start kubelet kubelet --config "$etc/kubelet.yaml" --kubeconfig "$E2E_STATE/kubeconfig/kubelet.conf" \
  --root-dir "$E2E_STATE/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
start kube-proxy kube-proxy --config "$etc/kube-proxy.yaml"

wait_up 60 kube-controller-manager "controller manager healthy" curl -fsSk https://127.0.0.1:10257/healthz
wait_up 60 kube-scheduler "scheduler healthy" curl -fsSk https://127.0.0.1:10259/healthz
wait_up 60 kube-proxy "kube-proxy healthy" curl -fsS http://127.0.0.1:10256/healthz
wait_up 90 kubelet "node $NODE_NAME Ready" kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s

# kube-router, once the node exists (it reads its address from the Node object): the
# NetworkPolicy firewall only, IPv4 only (the pods have no IPv6), no health or metrics
# server (its health port would listen on every address). Ready when its first full sync
# has programmed the filter table: that sync ends its top-level chains with the ACCEPT of
# the traffic the policies allow (mark 0x20000).
start kube-router kube-router --kubeconfig "$E2E_STATE/kubeconfig/kube-router.conf" \
  --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
  --hostname-override "$NODE_NAME" --service-cluster-ip-range "$SERVICE_CIDR" \
  --enable-ipv4=true --enable-ipv6=false --health-port 0 --metrics-port 0
kube_router_synced() {
  iptables -w -S FORWARD | grep -qF -- '-j KUBE-ROUTER-FORWARD' &&
    iptables -w -S KUBE-ROUTER-FORWARD | grep -qF -- '--mark 0x20000/0x20000 -j ACCEPT'
}
wait_up 60 kube-router "kube-router's NetworkPolicy firewall synced" kube_router_synced

# --- 5. CoreDNS -------------------------------------------------------------------------
sed -e "s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|g" -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|g" \
  -e "s|@CLUSTER_DOMAIN@|$CLUSTER_DOMAIN|g" "$E2E_ROOT/test/e2e/manifests/coredns.yaml" |
  kubectl_ apply -f - >/dev/null
wait_up 120 kubelet "CoreDNS ready" kubectl_ -n kube-system rollout status deployment/coredns --timeout=1s
echo "$(($(date +%s) - started))" >"$E2E_STATE/run/boot-seconds"
log "cluster up in $(($(date +%s) - started)) s: KUBECONFIG=$KUBECONFIG $E2E_BIN/kubectl get pods -A"
