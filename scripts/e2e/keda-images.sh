#!/usr/bin/env bash
# KEDA's two images for scenario 5, as OCI archives in $E2E_IMAGES, each one static binary
# built from KEDA's Go module (make e2e-scenario-tools) in one layer by oci-image, laid out
# as KEDA's own images (/keda, /keda-adapter; a numeric non-root user for runAsNonRoot):
#   keda.tar                     the operator (ScaledObject controller, HPA owner, the
#                                scalers, its gRPC metrics service)
#   keda-metrics-apiserver.tar   the adapter serving external.metrics.k8s.io to the HPA
# Usage: keda-images.sh
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

for b in keda keda-adapter oci-image; do
  [[ -x "$E2E_BIN/$b" ]] || die "$E2E_BIN/$b is missing: run make e2e-scenario-tools"
done
mkdir -p "$E2E_IMAGES"
oci-image -name "$KEDA_IMAGE" -o "$E2E_IMAGES/keda.tar" \
  -file "$E2E_BIN/keda:/keda:755" -entrypoint /keda -user 1000:1000
oci-image -name "$KEDA_ADAPTER_IMAGE" -o "$E2E_IMAGES/keda-metrics-apiserver.tar" \
  -file "$E2E_BIN/keda-adapter:/keda-adapter:755" -entrypoint /keda-adapter -user 1000:1000
log "$KEDA_IMAGE: $(du -h "$E2E_IMAGES/keda.tar" | cut -f1), $KEDA_ADAPTER_IMAGE: $(du -h "$E2E_IMAGES/keda-metrics-apiserver.tar" | cut -f1)"
