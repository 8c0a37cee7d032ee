import { Redis } from "ioredis";
import { launchTest } from "./http-client";
import { table, type Section } from "./report";
import { oneRequestScript } from "./scripts";
import { withStack, type Services } from "./stack";

const CANARIES = 20;
const RUNS_PER_CANARY = 10;

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

/**
 * Bytes Redis holds per kind of key under `prefix` (MEMORY USAGE), the kind being the key's
 * name with its run id, canary or job id cut off: `gate:run`, `gate:output`, `job`, `queue:events`.
 */
export async function bytesByKind(redis: Redis, prefix: string): Promise<Map<string, number>> {
  const kinds = new Map<string, number>();
  const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
  for await (const names of stream as AsyncIterable<string[]>) {
    for (const name of names) {
      const [space, what = "", part] = name.slice(prefix.length + 1).split(":");
      // BullMQ's per-job keys are `<queue>:<run id>[:logs]`; its own are `<queue>:events`, ...
      const kind =
        space === "gate"
          ? `gate:${what}`
          : RUN_ID.test(what)
            ? `job${part ? `:${part}` : ""}`
            : `queue:${what}`;
      kinds.set(
        kind,
        (kinds.get(kind) ?? 0) + Number(await redis.memory("USAGE", name, "SAMPLES", 0)),
      );
    }
  }
  return kinds;
}

/** Run ids, and so BullMQ job ids: `<run key>-<attempt number>`. */
const RUN_ID = /^k[0-9a-f]{24}-\d+$/;

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/**
 * Redis sizing for operators: what one judged run costs in Redis (record, figures, k6
 * output, BullMQ's finished job), measured on 200 real k6 runs over 20 canaries, and what
 * the history limits make of it.
 */
export async function redisSizing(services: Services): Promise<Section> {
  // MEMORY and SCAN are not among the ACL user's commands: the admin user measures.
  const redis = new Redis(services.redis.adminUrl);
  try {
    return await withStack(services, { WORKER_CONCURRENCY: "2" }, async (stack) => {
      await stack.startApi();
      await stack.startWorkers(1);
      const prefix = stack.env.QUEUE_PREFIX as string;
      const before = await usedMemory(redis);
      for (let round = 0; round < RUNS_PER_CANARY; round += 1) {
        const answers = await Promise.all(
          Array.from({ length: CANARIES }, (_, canary) =>
            launchTest(stack.apiUrl, {
              name: `sizing-${canary}`,
              checksum: `revision-${round}`,
              metadata: { script: oneRequestScript(services.target.port), wait_timeout: "60s" },
            }),
          ),
        );
        const failed = answers.find((answer) => answer.status !== 200);
        if (failed) throw new Error(`a sizing run did not pass: ${failed.status} ${failed.text}`);
      }
      const runs = CANARIES * RUNS_PER_CANARY;
      const grown = (await usedMemory(redis)) - before;
      const kinds = [...(await bytesByKind(redis, prefix))].sort(([, a], [, b]) => b - a);
      const perRun = (kind: string) => (kinds.find(([name]) => name === kind)?.[1] ?? 0) / runs;
      // At the defaults a canary keeps 200 runs' records and 20 runs' k6 output.
      const outputPerRun = perRun("gate:output");
      const perCanaryAtLimits = 200 * (grown / runs - outputPerRun) + 20 * outputPerRun;
      return {
        title: "Redis memory per run (sizing)",
        body: [
          `${runs} runs (${CANARIES} canaries x ${RUNS_PER_CANARY} revisions) of a one-request k6 script through one API and one worker; \`INFO memory\` before and after, and \`MEMORY USAGE\` of each key kind.`,
          "",
          table(
            [
              "used_memory growth per run",
              "one canary at the default limits (200 runs, 20 outputs)",
            ],
            [[kb(grown / runs), `${(perCanaryAtLimits / 1024 / 1024).toFixed(2)} MiB`]],
          ),
          "",
          table(
            ["key kind", "bytes per run"],
            kinds
              .filter(([, bytes]) => bytes / runs >= 50)
              .map(([kind, bytes]) => [`\`${kind}\``, kb(bytes / runs)]),
          ),
          "",
          "Key kinds under 50 bytes per run are left out; the growth beyond the keys' own bytes is Redis's tables and allocator.",
          "",
          `A script that prints more keeps more output, up to OUTPUT_MAX_BYTES (1 MiB) for each of a canary's newest HISTORY_MAX_OUTPUTS_PER_CANARY runs: the bound is 20 MiB per canary plus its records.`,
        ].join("\n"),
        targets: [],
      };
    });
  } finally {
    redis.disconnect();
  }
}
