import { z } from "zod";
import {
  commonConfigShape,
  durationMs,
  optionalText,
  parseConfig,
  positiveInt,
} from "@k6-gate/shared";
import { tmpdir } from "node:os";

export const workerConfigSchema = z.object({
  ...commonConfigShape,
  K6_BIN: z.string().min(1).default("k6"),
  WORKER_CONCURRENCY: positiveInt(1),
  /** Runs at once across every worker (BullMQ global concurrency); unset = no global cap. */
  MAX_CONCURRENT_RUNS: z.coerce.number().int().positive().optional(),
  /** Time between SIGTERM and SIGKILL when k6 must stop. */
  KILL_GRACE: durationMs("10s"),
  /** How long a stopping worker lets running k6 finish before handing the job back. */
  SHUTDOWN_GRACE: durationMs("30s"),
  /** A worker that dies loses its job's lock after this long; another worker takes it up. */
  LOCK_DURATION: durationMs("30s"),
  RUN_TMP_DIR: z.string().default(tmpdir()),
  OUTPUT_MAX_BYTES: positiveInt(1024 * 1024),
  /** Start k6 under `setpriv --pdeathsig KILL` so it dies with its worker ("auto": when setpriv exists). */
  K6_PDEATHSIG: z.enum(["auto", "on", "off"]).default("auto"),
  SLACK_TOKEN: optionalText,
  SLACK_API_URL: optionalText,
  SLACK_TIMEOUT: durationMs("5s"),
  K6_CLOUD_TOKEN: optionalText,
  K6_CLOUD_STACK_ID: optionalText,
  K6_CLOUD_HOST: optionalText,
  KUBECONFIG: optionalText,
  /** Regex of namespaces whose secrets `kubernetes_secrets` may read; unset = any. */
  SECRET_NAMESPACES: optionalText,
});

export type WorkerConfig = z.output<typeof workerConfigSchema>;

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return parseConfig(workerConfigSchema, env);
}
