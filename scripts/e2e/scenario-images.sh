#!/usr/bin/env bash
# The scenarios' images besides k6-gate's own (make e2e-image), as OCI archives in
# $E2E_IMAGES, each built here from its sources (no registry is reachable):
#   redis.tar    Debian trixie minbase (debootstrap) + Debian's redis-server package; the
#                chart's bundled Redis runs it (`redis.image.*` set to it at install)
#   flagger.tar  Debian trixie minbase + GNU wget (Flagger's upstream Deployment probes
#                with `wget --spider`; Debian's busybox-static wget segfaults) + the flagger
#                binary built from its Go module (make e2e-scenario-tools)
#   podinfo.tar  the podinfo binary built from its Go module, with its ui/vue.html, laid
#                out as podinfo's own Dockerfile does (/home/app, uid 100)
# Usage: scenario-images.sh (needs root: debootstrap, chroot, buildah)
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root (debootstrap, chroot)"
for b in flagger podinfo oci-image; do
  [[ -x "$E2E_BIN/$b" ]] || die "$E2E_BIN/$b is missing: run make e2e-scenario-tools"
done
mkdir -p "$E2E_IMAGES"
mirror=$(debian_mirror)

work=$(mktemp -d /var/tmp/k6gate-scenario-images.XXXXXX)
cleanup() {
  awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$work"
  # containers/image's blob info cache, which buildah writes there whatever it is told.
  if [[ "$had_containers_dir" == no ]]; then rm -rf /var/lib/containers; fi
}
had_containers_dir=$([[ -e /var/lib/containers ]] && echo yes || echo no)
trap cleanup EXIT

t=$(date +%s)
log "debootstrap --variant=minbase trixie from $mirror"
debootstrap --variant=minbase trixie "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  {
    tail -n 20 "$work/debootstrap.log" >&2
    die "debootstrap failed"
  }
log "debootstrap: $(($(date +%s) - t)) s"

# rootfs_with DIR PACKAGES...: a copy of the base with Debian's PACKAGES installed (no
# recommends), apt's lists and caches removed.
rootfs_with() {
  local dir=$work/$1
  shift
  cp -a "$work/base" "$dir"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  chroot "$dir" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log "$dir"/usr/share/{doc,man,locale}/*
  : >"$dir/etc/resolv.conf"
}

# pack DIR IMAGE ARCHIVE [buildah config args...]: DIR as a one-layer image, to ARCHIVE.
pack() {
  local dir=$1 image=$2 archive=$3 ctr mnt
  shift 3
  buildah_ rmi -f "$image" >/dev/null 2>&1 || true
  ctr=$(buildah_ from scratch)
  mnt=$(buildah_ mount "$ctr")
  cp -a "$dir/." "$mnt/"
  buildah_ umount "$ctr" >/dev/null
  buildah_ config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --os linux --arch amd64 "$@" "$ctr"
  buildah_ commit --quiet --rm "$ctr" "$image" >/dev/null
  rm -f "$archive"
  buildah_ push --quiet "$image" "oci-archive:$archive:$image"
  buildah_ rmi -f "$image" >/dev/null
  log "$image: $(du -h "$archive" | cut -f1)"
}

t=$(date +%s)
rootfs_with redis redis-server
redis_version=$(chroot "$work/redis" redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
pack "$work/redis" "$REDIS_IMAGE" "$E2E_IMAGES/redis.tar" --cmd redis-server --label "redis-version=$redis_version"
log "redis $redis_version: $(($(date +%s) - t)) s"

t=$(date +%s)
rootfs_with flagger wget
install -m 755 "$E2E_BIN/flagger" "$work/flagger/usr/local/bin/flagger"
pack "$work/flagger" "$FLAGGER_IMAGE" "$E2E_IMAGES/flagger.tar" --entrypoint '["flagger"]' --user 10001:10001
log "flagger: $(($(date +%s) - t)) s"

podinfo_src=$(cd "$E2E_ROOT/test/e2e/podinfo" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/stefanprodan/podinfo)
oci-image -name "$PODINFO_IMAGE" -o "$E2E_IMAGES/podinfo.tar" \
  -file "$E2E_BIN/podinfo:/home/app/podinfo:755" -file "$podinfo_src/ui/vue.html:/home/app/ui/vue.html:644" \
  -workdir /home/app -entrypoint ./podinfo -user 100:101
log "$PODINFO_IMAGE: $(du -h "$E2E_IMAGES/podinfo.tar" | cut -f1)"
