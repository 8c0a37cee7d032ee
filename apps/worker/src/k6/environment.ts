import { k6SettingProblem } from "@k6-gate/shared";

/**
 * k6's environment is built from nothing: the worker's own variables (Redis URL, Slack
 * token, cloud token, ...) never reach a script's `__ENV` or /proc/self/environ. The k6
 * Cloud account of an uploaded run goes to k6 in a config file instead (k6/cloud.ts).
 */
export interface K6EnvironmentInput {
  runDir: string;
  envVars: Record<string, string>;
  secrets: Record<string, string>;
}

export const K6_PATH = "/usr/local/bin:/usr/bin:/bin";

/** The canary's variables without any `K6_*` setting outside the allow-list. */
function allowed(variables: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).filter(([name]) => k6SettingProblem(name) === undefined),
  );
}

export function buildK6Environment(input: K6EnvironmentInput): Record<string, string> {
  // The API refuses other k6 settings with a 400 (payload.ts); they are dropped here too,
  // for job data queued by an older API. k6-gate's own settings come last so they win.
  return {
    ...allowed(input.envVars),
    ...allowed(input.secrets),
    PATH: K6_PATH,
    HOME: input.runDir,
    TMPDIR: input.runDir,
    K6_NO_USAGE_REPORT: "true",
    K6_NO_COLOR: "true",
    // No downloads of extensions at run time: what runs is the pinned binary, nothing else.
    K6_AUTO_EXTENSION_RESOLUTION: "false",
  };
}
