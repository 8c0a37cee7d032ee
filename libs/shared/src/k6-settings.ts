/**
 * The `K6_*` variables a canary may set in `env_vars` (or `kubernetes_secrets`): an
 * allow-list, because k6 reads dozens of its settings from the environment and adds more
 * with every release, and several of them change what the gate judges (`K6_THRESHOLDS`
 * replaces the script's thresholds, `K6_CONFIG` loads a file of options, `K6_SYSTEM_TAGS`
 * empties the sub-metrics a threshold reads). Each entry says why it is safe: it changes
 * the test's load or how requests are made (both are part of the test's identity, so a
 * change starts a new baseline), never how the run is judged or what k6 may touch besides
 * the target. Every other `K6_` name is refused with a 400 that names it.
 */
export const CANARY_K6_SETTINGS: Readonly<Record<string, string>> = {
  // The load the script asks for, as k6's own options: what the test does.
  K6_VUS: "the load",
  K6_DURATION: "the load",
  K6_ITERATIONS: "the load",
  K6_STAGES: "the load",
  K6_RPS: "the load (a ceiling on requests per second)",
  K6_BATCH: "the load (parallel requests of http.batch)",
  K6_BATCH_PER_HOST: "the load (parallel requests of http.batch per host)",
  K6_MIN_ITERATION_DURATION: "the load (pacing)",
  K6_SETUP_TIMEOUT: "the script's setup() limit; the run's own limit still applies",
  K6_TEARDOWN_TIMEOUT: "the script's teardown() limit; the run's own limit still applies",
  K6_NO_SETUP: "skips the script's own setup()",
  K6_NO_TEARDOWN: "skips the script's own teardown()",
  // How requests are made: what is measured, not how it is judged.
  K6_USER_AGENT: "a request header",
  K6_INSECURE_SKIP_TLS_VERIFY: "the target's certificate (a canary's own test choice)",
  K6_TLS_CIPHER_SUITES: "how the target is reached",
  K6_NO_CONNECTION_REUSE: "how the target is reached",
  K6_NO_VU_CONNECTION_REUSE: "how the target is reached",
  K6_NO_COOKIES_RESET: "how the target is reached",
  K6_MAX_REDIRECTS: "how the target is reached",
  K6_DISCARD_RESPONSE_BODIES: "how responses are read",
  K6_DNS: "how the target's name is resolved",
  K6_HOSTS: "which address a name goes to (part of the test's target)",
  K6_THROW: "turns request errors into exceptions, which only make a run fail sooner",
  K6_BLACKLIST_IPS: "restricts where requests may go",
  K6_BLOCK_HOSTNAMES: "restricts where requests may go",
  // The k6 Cloud run of `upload_to_cloud`: its name and project, never its account.
  K6_CLOUD_NAME: "the k6 Cloud run's name",
  K6_CLOUD_PROJECT_ID: "the k6 Cloud project the run is filed under",
  K6_CLOUD_TIMEOUT: "how long k6 waits for k6 Cloud",
};

/** Why a `K6_*` name may not be set by a canary; undefined when it may (or is not k6's). */
export function k6SettingProblem(name: string): string | undefined {
  if (!name.startsWith("K6_") || Object.hasOwn(CANARY_K6_SETTINGS, name)) return undefined;
  return `${name} is not one of the k6 settings a canary may set (docs/configuration.md lists them): k6-gate decides how k6 reports and is judged`;
}
