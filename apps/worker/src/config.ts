import { z } from "zod";
import {
  WORKER_PEER_ALIASES,
  commonConfigShape,
  durationMs,
  flag,
  optionalText,
  parseConfig,
  positiveInt,
  wholeMatchPattern,
  withRedisTarget,
} from "@k6-gate/shared";
import { tmpdir } from "node:os";

const numericId = optionalText.refine((text) => text === undefined || /^\d+$/.test(text), {
  message: "must be a number",
});

const workerConfigShape = z.object({
  ...commonConfigShape,
  K6_BIN: z.string().min(1).default("k6"),
  /**
   * k6 runs at once in this worker: a whole number, or `auto` (the default): RUNS_PER_CORE
   * per CPU it may use (concurrency.ts), said in its start-up line. Runs at once share the
   * pod: SECURITY.md, "What a script can do".
   */
  WORKER_CONCURRENCY: optionalText.transform((text, ctx) => {
    if (text === undefined || text === "auto") return "auto" as const;
    const runs = Number(text);
    if (Number.isInteger(runs) && runs > 0) return runs;
    ctx.addIssue({ code: "custom", message: `"${text}" is not auto or a whole number above 0` });
    return z.NEVER;
  }),
  /** Runs at once across every worker (BullMQ global concurrency); unset = no global cap. */
  MAX_CONCURRENT_RUNS: z.coerce.number().int().positive().optional(),
  /**
   * Running k6 one owner may have at once across every worker; unset = no cap. The owner is
   * the webhook token of the calls when it is bound to namespaces, else the namespace
   * (decision 42). Set the same value on every worker (each start is checked against the
   * starting worker's). MAX_RUNS_PER_NAMESPACE is its former name (WORKER_PEER_ALIASES).
   */
  MAX_RUNS_PER_OWNER: z.coerce.number().int().positive().optional(),
  /** Time between SIGTERM and SIGKILL when k6 must stop. */
  KILL_GRACE: durationMs("10s"),
  /** How long a stopping worker lets running k6 finish before handing the job back. */
  SHUTDOWN_GRACE: durationMs("30s"),
  /**
   * A worker that dies loses its job's lock after at most this long (it renews it every
   * half of it); the next stalled-job check (every STALLED_INTERVAL) hands the job to
   * another worker. Recovery after kill -9 takes at most their sum.
   */
  LOCK_DURATION: durationMs("20s"),
  STALLED_INTERVAL: durationMs("5s"),
  RUN_TMP_DIR: z.string().default(tmpdir()),
  OUTPUT_MAX_BYTES: positiveInt(1024 * 1024),
  /** Start k6 under `setpriv --pdeathsig KILL` so it dies with its worker ("auto": when setpriv exists). */
  K6_PDEATHSIG: z.enum(["auto", "on", "off"]).default("auto"),
  SLACK_TOKEN: optionalText,
  /** Slack Web API base URL (a proxy, or a stand-in in tests). */
  SLACK_API_URL: optionalText,
  /** Bound on each Slack call; Slack never delays or changes a verdict. */
  SLACK_TIMEOUT: durationMs("5s"),
  K6_CLOUD_TOKEN: optionalText,
  /** Grafana Cloud stack id; k6 v2 needs it to stream a run to the cloud. */
  K6_CLOUD_STACK_ID: numericId,
  /** Project of uploaded runs whose script sets no `options.cloud.projectID`. */
  K6_CLOUD_PROJECT_ID: numericId,
  /** k6 Cloud API base URL (k6's K6_CLOUD_HOST_V6); unset = k6's default. */
  K6_CLOUD_HOST: optionalText,
  /** Kubeconfig for `kubernetes_secrets`; unset = in-cluster service account, if any. */
  KUBECONFIG: optionalText,
  /**
   * Where `kubernetes_secrets` are read from: `auto` (KUBECONFIG, else the in-cluster service
   * account when there is one), `in-cluster` (required), `none`. flagger-k6-webhook's names.
   */
  KUBERNETES_CLIENT: z.enum(["auto", "in-cluster", "none"]).default("auto"),
  /** Fail a run whose script defines no threshold (k6 then judges nothing). */
  REQUIRE_THRESHOLDS: flag(false),
  /** Bound on each Kubernetes API call that reads a secret. */
  KUBERNETES_TIMEOUT: durationMs("10s"),
  /** Port of the worker's Prometheus `/metrics` (run counts and durations); 0 = off. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** Namespaces with their own queue-wait series (the first seen); later ones count as "other". */
  METRICS_MAX_NAMESPACES: positiveInt(50),
  /** Canaries with their own k6gate_runs_total series (the most recently judged). */
  METRICS_MAX_CANARIES: positiveInt(200),
  /** Regex of namespaces whose secrets `kubernetes_secrets` may read; unset = any. */
  SECRET_NAMESPACES: wholeMatchPattern,
});

export const workerConfigSchema = workerConfigShape.transform(withRedisTarget);

/** Notices about the environment (flagger-k6-webhook names read as ours), logged at start. */
export type WorkerConfig = z.output<typeof workerConfigSchema> & { envNotices?: string[] };

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return parseConfig(workerConfigSchema, env, WORKER_PEER_ALIASES);
}
