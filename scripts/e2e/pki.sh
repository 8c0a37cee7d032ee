#!/usr/bin/env bash
# The cluster's certificates and kubeconfigs, made with openssl into $E2E_STATE/pki and
# $E2E_STATE/kubeconfig (run by up.sh; ECDSA P-256 keys, so it takes a second or two).
#   ca            the cluster CA: API server, kubelets, clients
#   etcd-ca       etcd's own CA: etcd's server/peer cert and the API server's client cert
#   front-proxy-ca  the aggregation layer (the API server's client cert to extension API
#                 servers such as KEDA's metrics server)
#   sa.key/.pub   service account token signing
# Client identities follow kubeadm's: system:masters for the admin and the API server's
# kubelet client, system:node:<node> in system:nodes for the kubelet (what
# NodeRestriction and the Node authorizer check), system:kube-proxy, and the controller
# manager's and scheduler's system users; kube-router's own user (NetworkPolicy).
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

pki=$E2E_STATE/pki
kc=$E2E_STATE/kubeconfig
mkdir -p "$pki" "$kc"
chmod 700 "$pki" "$kc"
cd "$pki"

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

# ca NAME CN
ca() {
  newkey "$1"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -sha256 -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
}

# cert NAME CA SUBJECT USAGE [SANS]: USAGE is serverAuth, clientAuth or both comma-separated.
cert() {
  local name=$1 ca=$2 subject=$3 usage=$4 sans=${5:-}
  newkey "$name"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    if [[ -n "$sans" ]]; then echo "subjectAltName=$sans"; fi
  } >"$name.ext"
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 365 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

ca ca k6gate-e2e-ca
ca etcd-ca k6gate-e2e-etcd-ca
ca front-proxy-ca k6gate-e2e-front-proxy-ca

cert etcd-server etcd-ca "/CN=etcd" serverAuth,clientAuth "IP:127.0.0.1,DNS:localhost"
cert apiserver-etcd-client etcd-ca "/CN=kube-apiserver-etcd-client" clientAuth
cert apiserver ca "/CN=kube-apiserver" serverAuth \
  "IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP,IP:127.0.0.1,DNS:$NODE_NAME,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
cert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth
cert kubelet ca "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
cert admin ca "/O=system:masters/CN=kubernetes-admin" clientAuth
cert controller-manager ca "/CN=system:kube-controller-manager" clientAuth
cert scheduler ca "/CN=system:kube-scheduler" clientAuth
cert kubelet-client ca "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
cert kube-proxy ca "/CN=system:kube-proxy" clientAuth
# kube-router (NetworkPolicy): in no group, the ClusterRole up.sh binds is all it may do.
cert kube-router ca "/CN=kube-router" clientAuth

newkey sa
openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null

# kubeconfig NAME USER CERT
kubeconfig() {
  cat >"$kc/$1.conf" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $NODE_NAME
  cluster:
    server: $API_SERVER
    certificate-authority-data: $(base64 -w0 ca.crt)
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$3.crt")
    client-key-data: $(base64 -w0 "$3.key")
contexts:
- name: $2@$NODE_NAME
  context: {cluster: $NODE_NAME, user: $2}
current-context: $2@$NODE_NAME
EOF
}
kubeconfig admin kubernetes-admin admin
kubeconfig controller-manager system:kube-controller-manager controller-manager
kubeconfig scheduler system:kube-scheduler scheduler
kubeconfig kubelet "system:node:$NODE_NAME" kubelet-client
kubeconfig kube-proxy system:kube-proxy kube-proxy
kubeconfig kube-router kube-router kube-router
chmod 600 "$pki"/*.key "$kc"/*.conf
