#!/usr/bin/env bash
# Prints what the e2e cluster may change on the host, normalised for `diff`: run.sh
# compares it before `up` and after `down`. The cluster's processes, mounts under the
# paths it uses, network links and routes, iptables rules (IPv4, IPv6), nft tables and
# ipsets (kube-router's), the sysctls it may change, its fixed paths and cgroups.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

echo "## processes"
for name in "${COMPONENTS[@]}" containerd-shim-runc-v2 coredns pause e2e-app; do
  if [[ -n "$(pids_of "$name")" ]]; then echo "running: $name"; fi
done
echo "## mounts"
awk -v s="$E2E_STATE" '$5 ~ "^(/run|/var|/etc|/opt|/sys/fs/cgroup)(/|$)" || index($5, s) == 1 { print $5, $9 }' \
  /proc/self/mountinfo | sort
echo "## links"
ip -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1 | sort
echo "## routes"
ip route show table main
ip -6 route show table main | grep -v '^fe80' || true
echo "## iptables"
for save in iptables-save ip6tables-save; do
  if command -v "$save" >/dev/null; then
    echo "# $save"
    "$save" | { grep -v '^#' || true; } | sed -E 's/ \[[0-9]+:[0-9]+\]$//'
  fi
done
echo "## nft tables"
if command -v nft >/dev/null; then nft list tables; fi
echo "## ipsets"
if command -v ipset >/dev/null; then ipset list -n | sort; fi
echo "## sysctls"
for key in "${HOST_SYSCTLS[@]}"; do
  printf '%s = %s\n' "$key" "$(sysctl -n "$key" 2>/dev/null || echo '(none)')"
done
echo "## paths"
for p in "${HOST_PATHS[@]}" "$E2E_STATE"; do
  if [[ -e "$p" ]]; then echo "exists: $p"; fi
done
find /run/netns -mindepth 1 -maxdepth 1 2>/dev/null | sort || true
echo "## cgroups"
find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d \( -name "$NODE_NAME" -o -name kubepods \) 2>/dev/null | sort || true
