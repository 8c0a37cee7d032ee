import { z } from "zod";
import {
  WORKER_PEER_ALIASES,
  commonConfigShape,
  durationMs,
  flag,
  optionalText,
  parseConfig,
  wholeMatchPattern,
  withRedisTarget,
} from "@k6-gate/shared";

const numericId = optionalText.refine((text) => text === undefined || /^\d+$/.test(text), {
  message: "must be a number",
});

/**
 * SIGTERM to SIGKILL for a k6 that must stop: k6 writes its summary and exits within a
 * second of SIGTERM; this only bounds a k6 that hangs.
 */
export const KILL_GRACE_MS = 10_000;

/** Bound on each Slack call: Slack never delays or changes a verdict, so a slow one is dropped. */
export const SLACK_TIMEOUT_MS = 5000;

/**
 * Series bounds of the worker's /metrics (cardinality): namespaces with their own queue-wait
 * and saturation series (the first seen; later ones count as "other"), and canaries with
 * their own k6gate_runs_total series (the most recently judged).
 */
export const METRICS_MAX_NAMESPACES = 50;
export const METRICS_MAX_CANARIES = 200;

/**
 * k6 output kept per run (its tail), in memory while it runs and in Redis after: enough
 * for any log worth reading, and the unit of each owner's MAX_OUTPUT_BYTES_PER_OWNER.
 */
export const OUTPUT_MAX_BYTES = 1024 * 1024;

export type K6RunnerSetting =
  { kind: "process" } | { kind: "job" | "k6-operator"; namespace: string; podTemplate: string };

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
  /**
   * Where k6 runs: `process` (the default), a child of this worker; or
   * `job:<namespace>/<podtemplate>`, a Kubernetes Job per run in that namespace, its pod
   * from that PodTemplate (the chart's `runner.job`; docs/decisions.md, "Runners"); or
   * `k6-operator:<namespace>/<podtemplate>`, the same for a one-pod check and a k6-operator
   * TestRun of N such pods for a check with `parallelism: N`.
   */
  K6_RUNNER: optionalText.transform((text, ctx): K6RunnerSetting => {
    if (text === undefined || text === "process") return { kind: "process" };
    const pods =
      /^(job|k6-operator):([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(
        text,
      );
    if (pods?.[2] && pods[4]) {
      const kind = pods[1] === "job" ? "job" : "k6-operator";
      return { kind, namespace: pods[2], podTemplate: pods[4] };
    }
    ctx.addIssue({
      code: "custom",
      message: `"${text}" is not process, job:<namespace>/<podtemplate> or k6-operator:<namespace>/<podtemplate>`,
    });
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
  /** How long a stopping worker lets running k6 finish before handing the job back. */
  SHUTDOWN_GRACE: durationMs("30s"),
  SLACK_TOKEN: optionalText,
  /** Slack Web API base URL (a proxy, or a stand-in in tests). */
  SLACK_API_URL: optionalText,
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
  /** Port of the worker's Prometheus `/metrics` (run counts and durations); 0 = off. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** Regex of namespaces whose secrets `kubernetes_secrets` may read; unset = any. */
  SECRET_NAMESPACES: wholeMatchPattern,
});

export const workerConfigSchema = workerConfigShape.transform(withRedisTarget);

/** Notices about the environment (flagger-k6-webhook names read as ours), logged at start. */
export type WorkerConfig = z.output<typeof workerConfigSchema> & { envNotices?: string[] };

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return parseConfig(workerConfigSchema, env, WORKER_PEER_ALIASES);
}
