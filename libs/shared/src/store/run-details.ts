import type { RedisClient } from "../redis";
import type { RunSpec } from "../queue";
import { StoreKeys } from "./keys";
import { scriptDigestOf } from "./types";

/**
 * What a run was given, as anyone who can read the dashboard may see it: the script and
 * the NAMES of its variables. A value of `env_vars` never leaves the job data (which is
 * deleted once the run is judged); `kubernetes_secrets` show which secret and key a name
 * reads, never the value.
 */
export interface RunInputs {
  script: string;
  envNames: string[];
  /** NAME -> "[namespace/]secret/key". */
  secretRefs: Record<string, string>;
  uploadToCloud: boolean;
  maxDurationMs: number | null;
  maxInterruptedIterations: number;
}

export function inputsOf(spec: RunSpec): RunInputs {
  return {
    script: spec.script,
    envNames: Object.keys(spec.envVars).sort(),
    secretRefs: Object.fromEntries(
      Object.entries(spec.kubernetesSecrets)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, ref]) => [
          name,
          `${ref.namespace ? `${ref.namespace}/` : ""}${ref.secret}/${ref.key}`,
        ]),
    ),
    uploadToCloud: spec.uploadToCloud,
    maxDurationMs: spec.maxDurationMs ?? null,
    maxInterruptedIterations: spec.maxInterruptedIterations ?? 0,
  };
}

/** The runs before and after one run of the same canary (by when they were queued). */
export interface RunNeighbours {
  previous: string | null;
  next: string | null;
}

type StoredInputs = Omit<RunInputs, "script"> & { scriptDigest: string };

/**
 * The run page's reads and writes beyond the run record (keys: StoreKeys):
 * - `inputs:<runId>`: a run's RunInputs without the script (a few hundred bytes), written
 *   by the worker when it starts the run;
 * - `script:<sha256>`: the script, stored once however many runs ran it (every `rollout`
 *   iteration of a revision runs the same one).
 * Both expire with the history (HISTORY_MAX_AGE); each write renews the script's expiry.
 * Retention deletes a run's inputs with the run, and a script with the last run that used
 * it (RunStore.prune).
 */
export class RunDetailsStore {
  private readonly keys: StoreKeys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly maxAgeMs: number,
  ) {
    this.keys = new StoreKeys(prefix);
  }

  async saveInputs(runId: string, inputs: RunInputs): Promise<void> {
    const { script, ...rest } = inputs;
    const scriptDigest = scriptDigestOf(script);
    const stored: StoredInputs = { ...rest, scriptDigest };
    await this.redis
      .multi()
      .set(this.keys.of("script", scriptDigest), script, "PX", this.maxAgeMs)
      .set(this.keys.of("inputs", runId), JSON.stringify(stored), "PX", this.maxAgeMs)
      .exec();
  }

  async inputs(runId: string): Promise<RunInputs | null> {
    const text = await this.redis.get(this.keys.of("inputs", runId));
    if (!text) return null;
    let stored: StoredInputs;
    try {
      stored = JSON.parse(text) as StoredInputs;
    } catch {
      return null;
    }
    const { scriptDigest, ...rest } = stored;
    const script = await this.redis.get(this.keys.of("script", scriptDigest));
    return { ...rest, script: script ?? "" };
  }

  async neighbours(run: { id: string; namespace: string; name: string }): Promise<RunNeighbours> {
    const key = this.keys.canary("canaryRuns", run.namespace, run.name);
    const rank = await this.redis.zrank(key, run.id);
    if (rank === null) return { previous: null, next: null };
    const ids = await this.redis.zrange(key, Math.max(0, rank - 1), rank + 1);
    const at = ids.indexOf(run.id);
    return { previous: ids[at - 1] ?? null, next: ids[at + 1] ?? null };
  }
}
