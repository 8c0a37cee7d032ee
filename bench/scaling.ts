import { K6_BIN } from "@k6-gate/testkit/paths";
import { findRunId } from "@k6-gate/testkit/runs";
import { launchTest } from "./http-client";
import { k6ProcessesOf, rssOf, sampler } from "@k6-gate/testkit/proc";
import { check, table, type Section } from "./report";
import { sleepingScript } from "./scripts";
import { withStack, type Services } from "./stack";
import { mb, summarize } from "./stats";

const CANARIES = 40;
const SCRIPT_SECONDS = 2;
const WORKER_COUNTS = [1, 2, 4];

interface ScalingRun {
  workers: number;
  makespanMs: number;
  idealMs: number;
  /** Mean k6 run as the worker timed it: the script's 2 s plus k6's own start and stop. */
  k6MeanMs: number;
  failures: number;
  memory: WorkerMemory;
}

interface WorkerMemory {
  idle: number[];
  busy: number[];
  k6Peak: number;
  k6MaxAtOnce: number;
}

/**
 * 4 and 6. Scaling and worker memory: 40 canaries, each one 2-second check, thrown at
 * 1, 2 and 4 workers (WORKER_CONCURRENCY 1) all at once.
 */
export async function scaling(services: Services): Promise<Section> {
  const runs: ScalingRun[] = [];
  for (const workers of WORKER_COUNTS) runs.push(await oneScale(services, workers));
  return renderScaling(runs);
}

async function oneScale(services: Services, workers: number): Promise<ScalingRun> {
  const script = sleepingScript(services.target.port, SCRIPT_SECONDS);
  return withStack(services, { K6_BIN }, async (stack) => {
    await stack.startApi();
    await stack.startWorkers(workers, { WORKER_CONCURRENCY: "1" });
    const workerPids = new Set(stack.workers.map((w) => w.pid));
    const memory = () => ({
      workers: stack.workers.map((w) => rssOf(w.pid) ?? 0),
      k6: k6ProcessesOf(workerPids).map((pid) => rssOf(pid) ?? 0),
    });
    const idle = memory().workers;
    const samples = sampler(memory, 100);
    const responses = await Promise.all(
      Array.from({ length: CANARIES }, (_, i) =>
        launchTest(stack.apiUrl, {
          name: `scale-${String(i + 1).padStart(2, "0")}`,
          checksum: `w${workers}`,
          metadata: { script, wait_timeout: "10m" },
        }),
      ),
    );
    const taken = samples.stop();
    const started = Math.min(...responses.map((r) => r.sentAt));
    const finished = Math.max(...responses.map((r) => r.doneAt));
    const records = await Promise.all(
      responses.map((r) => stack.store.get(findRunId(r.text) ?? "")),
    );
    const k6Ms = records.flatMap((r) => (r?.result ? [r.result.durationMs] : []));
    const busy = stack.workers.map((_, i) => Math.max(...taken.map((s) => s.workers[i] ?? 0)));
    return {
      workers,
      makespanMs: finished - started,
      idealMs: Math.ceil(CANARIES / workers) * SCRIPT_SECONDS * 1000,
      k6MeanMs: summarize(k6Ms).mean,
      failures: responses.filter((r) => r.status !== 200).length,
      memory: {
        idle,
        busy,
        k6Peak: Math.max(0, ...taken.flatMap((s) => s.k6)),
        k6MaxAtOnce: Math.max(0, ...taken.map((s) => s.k6.length)),
      },
    };
  });
}

function renderScaling(runs: ScalingRun[]): Section {
  const seconds = (value: number) => `${(value / 1000).toFixed(1)} s`;
  const efficiency = (r: ScalingRun) => r.idealMs / r.makespanMs;
  const body = [
    `${CANARIES} canaries (distinct names), each a ${SCRIPT_SECONDS}-second check (1 VU, 1 iteration: one GET to the local target, then \`sleep(${SCRIPT_SECONDS})\`), POSTed at once; makespan is the first POST to the last verdict. Workers run real k6 with WORKER_CONCURRENCY 1.`,
    `The script sleeps rather than loads the target on purpose: on 2 cores a CPU-bound script would measure k6 fighting itself for the CPU, not the queue. k6's start-up and shutdown are real and are in every run, which is why a run takes longer than ${SCRIPT_SECONDS} s; the last column measures the queue against that k6-bound ceiling.`,
    "",
    table(
      [
        "workers",
        "makespan",
        `ideal ceil(${CANARIES}/W) x ${SCRIPT_SECONDS} s`,
        "efficiency",
        "mean k6 run",
        "efficiency vs ceil(40/W) x mean k6 run",
        "k6 at once (max seen)",
        "non-200",
      ],
      runs.map((r) => [
        r.workers,
        seconds(r.makespanMs),
        seconds(r.idealMs),
        `${(efficiency(r) * 100).toFixed(0)}%`,
        seconds(r.k6MeanMs),
        `${(((Math.ceil(CANARIES / r.workers) * r.k6MeanMs) / r.makespanMs) * 100).toFixed(0)}%`,
        r.memory.k6MaxAtOnce,
        r.failures,
      ]),
    ),
    "",
    memoryTable(runs),
  ].join("\n");
  return {
    title: "4. Scaling with workers",
    body,
    // No efficiency target was set; only "every canary got its verdict" is pass/fail.
    targets: [
      check(
        "canaries answered 200 in the scaling runs",
        `${CANARIES} of ${CANARIES} per run`,
        runs.map((r) => `${CANARIES - r.failures}`).join(" / "),
        runs.every((r) => r.failures === 0),
      ),
    ],
  };
}

function memoryTable(runs: ScalingRun[]): string {
  const list = (values: number[]) => values.map(mb).join(", ");
  return [
    "Memory during these runs (VmRSS sampled every 100 ms; workers under the test harness, `node --import tsx`: see section 6 for the container form):",
    "",
    table(
      ["workers", "idle RSS per worker", "peak RSS per worker under load", "k6 process peak RSS"],
      runs.map((r) => [r.workers, list(r.memory.idle), list(r.memory.busy), mb(r.memory.k6Peak)]),
    ),
  ].join("\n");
}
