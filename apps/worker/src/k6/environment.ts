/**
 * k6's environment is built from nothing: the worker's own variables (Redis URL, Slack
 * token, cloud token, ...) never reach a script's `__ENV` or /proc/self/environ.
 */
export interface K6EnvironmentInput {
  runDir: string;
  envVars: Record<string, string>;
  secrets: Record<string, string>;
  cloud?: { token: string; stackId: string | undefined; host: string | undefined } | undefined;
}

export const K6_PATH = "/usr/local/bin:/usr/bin:/bin";

export function buildK6Environment(input: K6EnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {
    PATH: K6_PATH,
    HOME: input.runDir,
    TMPDIR: input.runDir,
    K6_NO_USAGE_REPORT: "true",
    K6_NO_COLOR: "true",
    // No downloads of extensions at run time: what runs is the pinned binary, nothing else.
    K6_AUTO_EXTENSION_RESOLUTION: "false",
    ...input.envVars,
    ...input.secrets,
  };
  if (input.cloud) {
    env.K6_CLOUD_TOKEN = input.cloud.token;
    if (input.cloud.stackId) env.K6_CLOUD_STACK_ID = input.cloud.stackId;
    if (input.cloud.host) env.K6_CLOUD_HOST = input.cloud.host;
  }
  return env;
}
