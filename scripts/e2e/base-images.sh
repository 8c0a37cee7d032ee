#!/usr/bin/env bash
# The base images our Dockerfile starts FROM, made here (no registry is reachable), as OCI
# archives in $E2E_IMAGES and in buildah's local storage (vfs, under .tools/e2e/buildah),
# named k6gate.local/... (lib.sh) and given to the build as its build args NODE_IMAGE and
# K6_IMAGE (build-image.sh):
#   k6gate.local/node:<.node-version>-trixie-slim, node:<.node-version>-trixie-slim's
#       equivalent: Debian trixie minbase (debootstrap, from the mirror apt uses on this
#       machine), slimmed as debian:trixie-slim is (no docs, man pages or
#       locales), with the pinned Node and its npm in /usr/local as the official node image
#       has them (.tools/node, from the npm registry) and its `node` user (uid/gid 1000)
#   k6gate.local/k6:<.k6-version>, grafana/k6:<.k6-version>'s equivalent: the pinned k6,
#       static (CGO_ENABLED=0, as k6's release build), at /usr/bin/k6
# Usage: base-images.sh (needs root: debootstrap, chroot)
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root (debootstrap)"
node_version=$(cat "$E2E_ROOT/.node-version")
k6_version=$(cat "$E2E_ROOT/.k6-version")
node_image=$NODE_BASE_IMAGE
k6_image=$K6_BASE_IMAGE
node_dir=$E2E_ROOT/.tools/node
[[ "$("$node_dir/bin/node" --version)" == "v$node_version" ]] || die "$node_dir is not Node $node_version: run make node"
mkdir -p "$E2E_IMAGES"

mirror=$(debian_mirror)

work=$(mktemp -d /var/tmp/k6gate-base.XXXXXX)
had_containers_dir=$([[ -e /var/lib/containers ]] && echo yes || echo no)
cleanup() {
  # A debootstrap that failed may leave /proc or /sys mounted in the root filesystem.
  awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$work"
  # containers/image's blob info cache, which buildah writes there whatever it is told.
  if [[ "$had_containers_dir" == no ]]; then rm -rf /var/lib/containers; fi
}
trap cleanup EXIT
rootfs=$work/rootfs

t=$(date +%s)
log "debootstrap --variant=minbase trixie from $mirror"
debootstrap --variant=minbase trixie "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  {
    tail -n 20 "$work/debootstrap.log" >&2
    die "debootstrap failed"
  }
log "debootstrap: $(($(date +%s) - t)) s"

# Slim, as debian:trixie-slim: dpkg leaves out docs, man pages and locales from now on.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
# The same sources as the official image (deb822), updates and security included.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# Node as the official image installs it: the user first (uid/gid 1000), then the release
# in /usr/local, npm and npx as links to npm's CLI.
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
cp -a "$node_dir/bin/node" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$node_dir/lib/node_modules/npm" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
ln -s node "$rootfs/usr/local/bin/nodejs"
chroot "$rootfs" node --version
chroot "$rootfs" npm --version

t=$(date +%s)
buildah_ rmi -f "$node_image" >/dev/null 2>&1 || true
ctr=$(buildah_ from scratch)
mnt=$(buildah_ mount "$ctr")
cp -a "$rootfs/." "$mnt/"
buildah_ umount "$ctr" >/dev/null
buildah_ config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env "NODE_VERSION=$node_version" --cmd node --os linux --arch amd64 "$ctr"
buildah_ commit --quiet --rm "$ctr" "$node_image" >/dev/null
buildah_ push --quiet "$node_image" "oci-archive:$E2E_IMAGES/node-base.tar:$node_image"
log "$node_image: $(du -h "$E2E_IMAGES/node-base.tar" | cut -f1) ($(($(date +%s) - t)) s to pack)"

# k6, static as in k6's release image.
[[ -x "$E2E_BIN/k6" && "$("$E2E_BIN/k6" version | awk 'NR == 1 { print $2 }')" == "v$k6_version" ]] ||
  CGO_ENABLED=0 GOTOOLCHAIN=local "$E2E_ROOT/scripts/install-k6.sh" "v$k6_version" "$E2E_BIN" >/dev/null
oci-image -name "$k6_image" -o "$E2E_IMAGES/k6.tar" -file "$E2E_BIN/k6:/usr/bin/k6:755" \
  -entrypoint k6 -user 12345:12345
buildah_ rmi -f "$k6_image" >/dev/null 2>&1 || true
id=$(buildah_ pull --quiet "oci-archive:$E2E_IMAGES/k6.tar")
buildah_ tag "$id" "$k6_image"
# The default names of the Dockerfile's build args, as older versions of this script stored
# them: removed, so a build that ignored the build args would find no base image.
buildah_ rmi "docker.io/library/node:$node_version-trixie-slim" "docker.io/grafana/k6:$k6_version" >/dev/null 2>&1 || true
buildah_ images
