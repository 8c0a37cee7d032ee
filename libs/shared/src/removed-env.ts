/**
 * Variables k6-gate read once and no longer does (issue 32: internal tuning is derived or
 * fixed). Setting one changes nothing, so each found at start is named in a warning with
 * what took its place, instead of being ignored silently.
 */
export const REMOVED_VARIABLES: Record<string, string> = {
  STALLED_INTERVAL: "derived: a quarter of LOCK_DURATION",
  RECONCILE_INTERVAL: "derived: a quarter of LOCK_DURATION",
  KILL_GRACE: "fixed at 10s",
  K6_PDEATHSIG: "always on where /usr/bin/setpriv exists",
  SLACK_TIMEOUT: "fixed at 5s",
  KUBERNETES_TIMEOUT: "fixed at 10s",
  METRICS_MAX_CANARIES: "fixed at 200",
  METRICS_MAX_NAMESPACES: "fixed at 50",
  HISTORY_MAX_OUTPUTS_PER_CANARY: "fixed at 20",
  LONG_POLL_MAX: "fixed at 10m",
  DEFAULT_WAIT_TIMEOUT: "a Canary's own wait_timeout metadata",
  OUTPUT_MAX_BYTES: "fixed at 1 MiB per run",
  MAX_BODY_BYTES: "fixed at 512 KiB, twice the largest script",
  RUN_TMP_DIR: "the system's temporary directory: set TMPDIR",
};

/** One warning per removed variable set in `env` (empty values count as unset). */
export function removedVariableNotices(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(REMOVED_VARIABLES)
    .filter(([name]) => env[name] !== undefined && env[name] !== "")
    .map(
      ([name, replacement]) => `${name} is no longer read and has no effect; now ${replacement}`,
    );
}
