#!/usr/bin/env bash
# The cluster's images, as OCI archives in $E2E_IMAGES (no registry is reachable here):
#   pause     the pod sandbox (test/e2e/images/cmd/pause: holds the namespaces, reaps)
#   coredns   the cluster DNS, from the CoreDNS binary built from its Go module
#   e2e-app   the smoke check's server and client (test/e2e/images/cmd/e2e-app)
# Each is one static binary in one layer, written by oci-image (test/e2e/images/cmd/
# oci-image); up.sh imports them with `ctr -n k8s.io images import`.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

mkdir -p "$E2E_IMAGES"
for b in pause e2e-app oci-image coredns; do
  [[ -x "$E2E_BIN/$b" ]] || die "$E2E_BIN/$b is missing: run make e2e-tools"
done

oci-image -name "$PAUSE_IMAGE" -o "$E2E_IMAGES/pause.tar" \
  -file "$E2E_BIN/pause:/pause:755" -entrypoint /pause -user 65535:65535
oci-image -name "$COREDNS_IMAGE" -o "$E2E_IMAGES/coredns.tar" \
  -file "$E2E_BIN/coredns:/coredns:755" -entrypoint /coredns
oci-image -name "$APP_IMAGE" -o "$E2E_IMAGES/e2e-app.tar" \
  -file "$E2E_BIN/e2e-app:/e2e-app:755" -entrypoint /e2e-app -user 65532:65532
ls -l "$E2E_IMAGES"
