import { z } from "zod";
import type { RunK6Options } from "../k6/run-k6";

/**
 * What the Job runner hands a runner pod (in the Job's own Secret, file `run.json`): the
 * script, k6's environment (env_vars and the resolved kubernetes_secrets, the worker's own
 * variables never among them) and its limits. Validated on both sides.
 */
export const podInputSchema = z.object({
  script: z.string().min(1),
  /** k6's whole environment as the worker built it (k6/environment.ts); HOME and TMPDIR are the pod's. */
  env: z.record(z.string(), z.string()),
  maxDurationMs: z.number().int().positive().nullable(),
  maxRunDurationMs: z.number().int().positive(),
  statKeys: z.array(z.string()),
});
export type PodInput = z.infer<typeof podInputSchema>;

/** Where the pod finds it: the Secret's volume. */
export const POD_INPUT_DIR = "/run/k6-gate";
export const POD_INPUT_FILE = "run.json";

/** The pod's input for a run the worker would run itself with `options`. */
export function podInputOf(options: RunK6Options): PodInput {
  return {
    script: options.script,
    // HOME and TMPDIR are set again in the pod, to its own run directory.
    env: options.env("/tmp"),
    maxDurationMs: options.maxDurationMs ?? null,
    maxRunDurationMs: options.maxRunDurationMs,
    statKeys: options.statKeys ?? [],
  };
}
