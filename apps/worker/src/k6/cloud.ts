import { accepted, refused, type Checked } from "@k6-gate/shared";
import type { WorkerConfig } from "../config";

/** The worker's Grafana Cloud k6 account, handed to k6 for one run only. */
interface CloudAccount {
  token: string;
  stackId: string;
  projectId: string | undefined;
  host: string | undefined;
}

export interface CloudInvocation {
  command: string[];
  files: Record<string, string>;
}

const CONFIG_FILE = "k6-cloud.json";

/**
 * `K6_CLOUD_*` variables a canary may set for an uploaded run. The others decide where
 * the worker's token goes or which credentials k6 uses (host, stack, token, push URLs),
 * and k6's environment overrides its config file, so they must come from k6-gate alone.
 */
const CANARY_CLOUD_VARS = new Set(["K6_CLOUD_NAME", "K6_CLOUD_PROJECT_ID", "K6_CLOUD_TIMEOUT"]);

type CloudConfig = Pick<
  WorkerConfig,
  "K6_CLOUD_TOKEN" | "K6_CLOUD_STACK_ID" | "K6_CLOUD_PROJECT_ID" | "K6_CLOUD_HOST"
>;

/**
 * How to run k6 for an uploaded run, or why it cannot start: the worker has no account,
 * or the canary's variables (`envNames`) would override it.
 */
export function prepareCloudRun(config: CloudConfig, envNames: string[]): Checked<CloudInvocation> {
  if (!config.K6_CLOUD_TOKEN) {
    return refused("upload_to_cloud is true but the worker has no K6_CLOUD_TOKEN configured");
  }
  if (!config.K6_CLOUD_STACK_ID) {
    return refused(
      "upload_to_cloud is true but the worker has no K6_CLOUD_STACK_ID configured (k6 v2 needs the Grafana Cloud stack)",
    );
  }
  const overriding = envNames.find(
    (name) => name.startsWith("K6_CLOUD_") && !CANARY_CLOUD_VARS.has(name),
  );
  if (overriding) {
    return refused(
      `${overriding} cannot be set by env_vars or kubernetes_secrets when upload_to_cloud is true: k6-gate sets the k6 Cloud account`,
    );
  }
  return accepted(
    cloudInvocation({
      token: config.K6_CLOUD_TOKEN,
      stackId: config.K6_CLOUD_STACK_ID,
      projectId: config.K6_CLOUD_PROJECT_ID,
      host: config.K6_CLOUD_HOST,
    }),
  );
}

/**
 * k6 v2 streams a local run to Grafana Cloud k6 with `k6 cloud run --local-execution`
 * (`k6 run --out cloud` stays on the legacy v1 API, which ignores the stack).
 * - `--include-system-env-vars`: `k6 cloud` keeps the process environment out of `__ENV`
 *   by default, and env_vars and secrets live there.
 * - `--no-archive-upload`: the archive would carry `__ENV` (env_vars, resolved secrets)
 *   to the cloud.
 * - no `--quiet`: k6 prints the run's URL only in its banner, which `--quiet` hides.
 * The account goes into a k6 config file in the run's private directory (removed after
 * the run) rather than the environment, so it stays out of the script's `__ENV`; a project
 * there is only k6's default, so a script's `options.cloud.projectID` still wins.
 */
function cloudInvocation(account: CloudAccount): CloudInvocation {
  const cloud: Record<string, string | number> = {
    token: account.token,
    stackID: Number(account.stackId),
  };
  if (account.projectId) cloud.defaultProjectID = Number(account.projectId);
  // k6's K6_CLOUD_HOST_V6: the API `cloud run --local-execution` provisions runs with.
  if (account.host) cloud.hostv6 = account.host;
  return {
    command: [
      "cloud",
      "run",
      "--local-execution",
      "--include-system-env-vars",
      "--no-archive-upload",
      "--config",
      CONFIG_FILE,
    ],
    files: { [CONFIG_FILE]: JSON.stringify({ collectors: { cloud } }) },
  };
}
