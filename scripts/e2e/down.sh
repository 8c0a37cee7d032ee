#!/usr/bin/env bash
# Tears the e2e cluster down (make e2e-down) and puts the host back as up.sh found it.
# Safe to run at any point: after a full `up`, after one that failed half-way, or twice.
# Every step runs even when an earlier one failed; the exit status says whether all did.
#   1. stop the cluster's processes (newest first), then every container: containerd's
#      tasks, the shims, and anything left in the kubelet's cgroups
#   2. unmount everything under the state dir, /run/containerd and /run/netns
#   3. delete the pods' veths and the bridge (with its route)
#   4. remove the iptables rules and chains (KUBE-*, CNI-*, ours; kube-router's are
#      KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*) in IPv4 and IPv6, then kube-router's
#      ipsets, and nft tables that were not there before
#   5. write back each sysctl up.sh recorded, remove the kubelet's cgroups
#   6. remove the fixed paths that did not exist before, then the state dir
set -uo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root"
failed=0
step() {
  if ! "$@"; then
    log "teardown step failed: $*"
    failed=1
  fi
}

# gone PID: exited (a zombie waiting for init to reap it counts as exited).
gone() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
  [[ -z "$state" || "$state" == Z ]]
}

# stop_pid PID: TERM; a second TERM after 3 s (Kubernetes' components then exit at once
# instead of finishing a graceful shutdown); KILL after 10 s.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    gone "$pid" && return 0
    if ((i == 30)); then kill -TERM "$pid" 2>/dev/null; fi
    sleep 0.1
  done
  log "pid $pid ignored SIGTERM for 10 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

stop_components() {
  local i name pidfile pid exe
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    name=${COMPONENTS[i]}
    pidfile=$E2E_STATE/run/$name.pid
    [[ -s "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    # Only the process we started: a recycled pid runs another executable.
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    if [[ "$(basename "$exe")" != "$name" ]]; then
      log "pid $pid is $exe now, not $name: left alone"
      continue
    fi
    if [[ "$name" == containerd ]]; then stop_containers; fi
    stop_pid "$pid"
    log "stopped $name (pid $pid)"
  done
  # Without a pid file (the state dir removed by hand): a component is ours when it
  # runs from $E2E_BIN or was given a file in $E2E_STATE.
  for name in "${COMPONENTS[@]}"; do
    for pid in $(pids_of "$name"); do
      exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
      if [[ "$exe" == "$E2E_BIN/"* ]] || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$E2E_STATE/"; then
        if [[ "$name" == containerd ]]; then stop_containers; fi
        stop_pid "$pid"
        log "stopped $name (pid $pid, found without a pid file)"
      fi
    done
  done
}

# Every task in containerd's k8s.io namespace, while containerd still runs.
stop_containers() {
  local ctr=(ctr --address "$CONTAINERD_SOCKET" -n k8s.io) id
  [[ -S "$CONTAINERD_SOCKET" ]] || return 0
  for id in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
    "${ctr[@]}" tasks kill -s KILL "$id" >/dev/null 2>&1 || true
  done
  for id in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
    "${ctr[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true
  done
}

# What containerd leaves when it stops: its shims (they outlive it by design) and any
# process still in the kubelet's cgroups (containers of a shim that died).
kill_leftovers() {
  local pid args procs left=0
  for pid in $(pids_of containerd-shim-runc-v2); do
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    if [[ "$args" == *"-address $CONTAINERD_SOCKET"* && "$args" == *"-namespace k8s.io"* ]]; then
      kill -KILL "$pid" 2>/dev/null && log "killed shim pid $pid"
    fi
  done
  for procs in /sys/fs/cgroup/*/"$NODE_NAME"; do
    [[ -d "$procs" ]] || continue
    for pid in $(find "$procs" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do
      kill -KILL "$pid" 2>/dev/null && left=$((left + 1))
    done
  done
  if ((left > 0)); then
    log "killed $left processes left in the kubelet's cgroups"
    sleep 0.5
  fi
}

# Mounts under the state dir, containerd's state and the pods' network namespaces,
# deepest first.
unmount_all() {
  local target ok=0
  while read -r target; do
    if ! umount "$target" 2>/dev/null && ! umount -l "$target"; then
      log "cannot unmount $target"
      ok=1
    fi
  done < <(awk -v s="$E2E_STATE" '$5 == s || index($5, s "/") == 1 ||
      $5 == "/run/containerd" || index($5, "/run/containerd/") == 1 ||
      index($5, "/run/netns/cni-") == 1 || index($5, "/var/lib/kubelet/") == 1 { print $5 }' \
    /proc/self/mountinfo | sed 's/\\040/ /g' | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-)
  # The pods' network namespace files (containerd's, named cni-*), now unmounted.
  rm -f /run/netns/cni-*
  return "$ok"
}

# The components' logs, kept for a look after the state dir is gone.
save_logs() {
  local dest=$E2E_ROOT/test-artifacts/e2e/logs
  [[ -d "$E2E_STATE/log" ]] || return 0
  rm -rf "$dest"
  mkdir -p "$dest"
  cp -r "$E2E_STATE/log/." "$dest/"
}

delete_links() {
  local link
  ip link show "$BRIDGE" >/dev/null 2>&1 || return 0
  for link in $(ip -o link show master "$BRIDGE" | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
    ip link delete "$link" 2>/dev/null || true
  done
  ip link delete "$BRIDGE"
}

# Rules that jump to, and chains named, KUBE-*, CNI-* or ours, in every table of both
# families; the built-in chains and anything else are left as they are.
clean_iptables() {
  local save restore table rule chain ok=0
  for save in iptables-save ip6tables-save; do
    restore=${save%-save}
    command -v "$save" >/dev/null || continue
    for table in filter nat mangle raw; do
      # Rules in other chains (the built-in ones) that jump to ours, deleted before the
      # chains themselves (which are flushed whole).
      while read -r rule; do
        # shellcheck disable=SC2086 # the rule is iptables-save's word list
        eval "$restore -w -t $table -D ${rule#-A }" 2>/dev/null || ok=1
      done < <("$save" -t "$table" 2>/dev/null |
        grep -E "^-A .* -j (KUBE-|CNI-|$GUARD_CHAIN)" | grep -vE "^-A (KUBE-|CNI-|$GUARD_CHAIN)" || true)
      for chain in $("$save" -t "$table" 2>/dev/null | sed -n -E "s/^:((KUBE-|CNI-|$GUARD_CHAIN)[^ ]*) .*/\1/p"); do
        "$restore" -w -t "$table" -F "$chain" 2>/dev/null || ok=1
      done
      for chain in $("$save" -t "$table" 2>/dev/null | sed -n -E "s/^:((KUBE-|CNI-|$GUARD_CHAIN)[^ ]*) .*/\1/p"); do
        "$restore" -w -t "$table" -X "$chain" 2>/dev/null || ok=1
      done
    done
  done
  return "$ok"
}

# kube-router's ipsets that were not there before up, once no rule uses them (after
# clean_iptables). It leaves them when stopped (only `kube-router --cleanup-config` removes
# them, and it also runs its service proxy's and router's cleanups, not ours to run).
clean_ipsets() {
  local set ok=0 n=0
  command -v ipset >/dev/null || return 0
  for set in $(ipset list -n 2>/dev/null | grep -E "$KUBE_ROUTER_IPSETS" || true); do
    if [[ -f "$E2E_HOST/ipsets" ]] && grep -qxF "$set" "$E2E_HOST/ipsets"; then
      continue
    fi
    if ipset destroy "$set"; then n=$((n + 1)); else ok=1; fi
  done
  if ((n > 0)); then log "destroyed $n ipsets of kube-router"; fi
  return "$ok"
}

# nft tables that appeared while the cluster ran (kube-proxy's, or the iptables-nft
# tables its rules needed), deleted once empty of rules.
clean_nft() {
  local family name
  command -v nft >/dev/null || return 0
  while read -r _ family name; do
    [[ -n "$name" ]] || continue
    if [[ -f "$E2E_HOST/nft-tables" ]] && grep -qx "table $family $name" "$E2E_HOST/nft-tables"; then
      continue
    fi
    # Empty: nothing but the table, its chains' headers and closing braces.
    if [[ "$name" == kube-proxy ]] || ! nft list table "$family" "$name" |
      grep -vqE '^\s*(table .*|chain .*|type .*|\}|)$'; then
      nft delete table "$family" "$name" && log "deleted nft table $family $name"
    fi
  done < <(nft list tables 2>/dev/null)
}

restore_sysctls() {
  local key value ok=0
  [[ -f "$E2E_HOST/sysctls" ]] || return 0
  while IFS=$'\t' read -r key value; do
    if [[ "$(sysctl -n "$key" 2>/dev/null)" != "$value" ]]; then
      if sysctl -q -w "$key=$value" >/dev/null; then
        log "restored $key = $value"
      else
        ok=1
      fi
    fi
  done <"$E2E_HOST/sysctls"
  return "$ok"
}

remove_cgroups() {
  local root ok=0
  for root in /sys/fs/cgroup/*/"$NODE_NAME"; do
    [[ -d "$root" ]] || continue
    find "$root" -depth -type d -exec rmdir {} + 2>/dev/null
    [[ -d "$root" ]] && {
      log "cannot remove $root"
      ok=1
    }
  done
  return "$ok"
}

remove_paths() {
  local p ok=0
  for p in "${HOST_PATHS[@]}"; do
    [[ -e "$p" ]] || continue
    if [[ -f "$E2E_HOST/existing-paths" ]] && grep -qx "$p" "$E2E_HOST/existing-paths"; then
      continue
    fi
    if [[ ! -f "$E2E_HOST/existing-paths" && "$p" == /var/lib/containerd ]]; then
      continue # no record: not ours to judge
    fi
    if [[ "$p" == /run/netns ]]; then
      # Shared with `ip netns`: removed only when empty.
      rmdir "$p" 2>/dev/null && log "removed $p"
      continue
    fi
    if rm -rf "$p"; then log "removed $p"; else ok=1; fi
  done
  if [[ -e "$E2E_STATE" ]]; then
    # The state dir goes last, the record of the host with it.
    rm -rf "$E2E_STATE" || ok=1
  fi
  return "$ok"
}

started=$(date +%s)
if [[ ! -e "$E2E_STATE" ]] && ! ip link show "$BRIDGE" >/dev/null 2>&1 && [[ ! -S "$CONTAINERD_SOCKET" ]]; then
  log "no cluster here ($E2E_STATE absent): checking for leftovers anyway"
fi
step stop_components
step save_logs
step kill_leftovers
step unmount_all
step delete_links
step clean_iptables
step clean_ipsets
step clean_nft
step restore_sysctls
step remove_cgroups
step remove_paths
if ((failed)); then
  log "teardown finished with errors in $(($(date +%s) - started)) s"
  exit 1
fi
log "cluster down, host restored in $(($(date +%s) - started)) s"
