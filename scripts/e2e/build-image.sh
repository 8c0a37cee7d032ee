#!/usr/bin/env bash
# Builds our Dockerfile, unchanged, without a Docker daemon: buildah (Debian's package),
# chroot isolation, vfs storage in .tools/e2e/buildah. Its two base images are the ones
# scripts/e2e/base-images.sh made, given through the Dockerfile's build args
# (NODE_IMAGE=k6gate.local/node:<.node-version>-trixie-slim,
# K6_IMAGE=k6gate.local/k6:<.k6-version>), and --pull-never makes buildah take them from
# its local storage.
# Writes $E2E_IMAGES/k6-gate.tar (OCI archive, image k6gate.local/k6-gate:e2e).
#
# npm inside the build: this machine reaches the npm registry through a TLS proxy whose CA
# is in the host's bundle but not in Node's own. The host's bundle and an npmrc naming it
# are mounted read-only over /usr/local/etc (npm's global config dir) for the RUN steps
# only: the image gets neither (a mount over an existing directory leaves no trace).
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root (buildah with chroot isolation)"
buildah_leaves_no_trace
image=k6gate.local/k6-gate:e2e

npm_etc=$E2E_ROOT/.tools/e2e/buildah/npm-etc
mkdir -p "$npm_etc"
cp /etc/ssl/certs/ca-certificates.crt "$npm_etc/build-ca.crt"
printf 'cafile=/usr/local/etc/build-ca.crt\n' >"$npm_etc/npmrc"

t=$(date +%s)
buildah_ bud --isolation chroot --pull-never --layers=false \
  --volume "$npm_etc:/usr/local/etc:ro" \
  --build-arg "NODE_IMAGE=$NODE_BASE_IMAGE" --build-arg "K6_IMAGE=$K6_BASE_IMAGE" \
  --build-arg "GIT_COMMIT=$(git -C "$E2E_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --tag "$image" --file "$E2E_ROOT/Dockerfile" "$E2E_ROOT"
build_s=$(($(date +%s) - t))
log "built $image in $build_s s"
t=$(date +%s)
buildah_ push --quiet "$image" "oci-archive:$E2E_IMAGES/k6-gate.tar:$image"
# For make e2e's report (scripts/e2e/report.sh).
mkdir -p "$E2E_ROOT/test-artifacts/e2e"
echo "$(date -u +%FT%TZ) build=${build_s}s push=$(($(date +%s) - t))s" >"$E2E_ROOT/test-artifacts/e2e/image-build.txt"
# Dangling images of earlier builds (vfs keeps every layer as a full copy).
buildah_ rmi --prune >/dev/null 2>&1 || true
log "$E2E_IMAGES/k6-gate.tar: $(du -h "$E2E_IMAGES/k6-gate.tar" | cut -f1)"
