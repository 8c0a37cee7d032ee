#!/usr/bin/env bash
# k6-operator's two images, as OCI archives in $E2E_IMAGES (no registry is reachable here):
#   k6-operator.tar           the manager (TestRun controller), one static binary built from
#                             k6-operator's Go module (make e2e-scenario-tools) in one layer
#                             by oci-image, at /manager as in k6-operator's own image, run by a
#                             numeric non-root user (65532, as its distroless base's nonroot)
#   k6-operator-starter.tar   what its starter Job runs (`sh -c "curl --retry 3 -X PATCH
#                             .../v1/status; ..."` against each runner's k6 REST API): our
#                             Debian trixie base (base-images.sh) with Debian's curl installed
#                             by buildah and Node taken out, squashed into one layer, user
#                             65532 too (as upstream's, curlimages/curl + USER 65532). One
#                             difference: a curlrc (CURL_HOME) adds --retry-connrefused. The
#                             starter pod is new when it runs curl, at once: with the chart's
#                             NetworkPolicies, kube-router has not yet put its address in the
#                             runner pods' ingress set, the runner refuses, and `--retry 3`
#                             alone does not retry a refused connection (the starter fails, the
#                             TestRun stays "started" with its runners paused). Retried, it
#                             gets through 1 s later.
# Usage: k6-operator-images.sh (needs root: buildah with chroot isolation)
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root (buildah with chroot isolation)"
for b in k6-operator oci-image; do
  [[ -x "$E2E_BIN/$b" ]] || die "$E2E_BIN/$b is missing: run make e2e-scenario-tools"
done
mkdir -p "$E2E_IMAGES"

oci-image -name "$K6_OPERATOR_IMAGE" -o "$E2E_IMAGES/k6-operator.tar" \
  -file "$E2E_BIN/k6-operator:/manager:755" -entrypoint /manager -user 65532:65532
log "$K6_OPERATOR_IMAGE: $(du -h "$E2E_IMAGES/k6-operator.tar" | cut -f1)"

t=$(date +%s)
ctr=""
had_containers_dir=$([[ -e /var/lib/containers ]] && echo yes || echo no)
cleanup() {
  if [[ -n "$ctr" ]]; then buildah_ rm "$ctr" >/dev/null 2>&1 || true; fi
  # containers/image's blob info cache, which buildah writes there whatever it is told.
  if [[ "$had_containers_dir" == no ]]; then rm -rf /var/lib/containers; fi
}
trap cleanup EXIT
# The base image from base-images.sh: in buildah's storage, else from its archive.
if ! buildah_ inspect --type image "$NODE_BASE_IMAGE" >/dev/null 2>&1; then
  [[ -f "$E2E_IMAGES/node-base.tar" ]] || die "$E2E_IMAGES/node-base.tar is missing: run make e2e-base-images"
  id=$(buildah_ pull --quiet "oci-archive:$E2E_IMAGES/node-base.tar")
  buildah_ tag "$id" "$NODE_BASE_IMAGE"
fi
ctr=$(buildah_ from --pull-never "$NODE_BASE_IMAGE")
buildah_ run --isolation chroot "$ctr" -- sh -euc '
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
  rm -rf /usr/local/bin/node /usr/local/bin/nodejs /usr/local/bin/npm /usr/local/bin/npx \
    /usr/local/lib/node_modules /usr/local/include/node /usr/local/share/doc/node
  userdel --remove node 2>/dev/null || true
  mkdir -p /etc/k6-operator-starter
  printf "%s\n" "# Read by curl through CURL_HOME (scripts/e2e/k6-operator-images.sh)." \
    "retry-connrefused" >/etc/k6-operator-starter/.curlrc
  curl --version | head -1'
buildah_ config --env NODE_VERSION- --env CURL_HOME=/etc/k6-operator-starter \
  --user 65532:65532 --cmd sh "$ctr"
buildah_ rmi -f "$K6_OPERATOR_STARTER_IMAGE" >/dev/null 2>&1 || true
buildah_ commit --quiet --squash --rm "$ctr" "$K6_OPERATOR_STARTER_IMAGE" >/dev/null
ctr=""
buildah_ push --quiet "$K6_OPERATOR_STARTER_IMAGE" \
  "oci-archive:$E2E_IMAGES/k6-operator-starter.tar:$K6_OPERATOR_STARTER_IMAGE"
buildah_ rmi --prune >/dev/null 2>&1 || true
log "$K6_OPERATOR_STARTER_IMAGE: $(du -h "$E2E_IMAGES/k6-operator-starter.tar" | cut -f1) ($(($(date +%s) - t)) s)"
