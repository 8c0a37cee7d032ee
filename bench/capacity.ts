import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { buildK6Environment } from "../apps/worker/src/k6/environment";
import { K6_BIN } from "@k6-gate/testkit/paths";
import { K6_ARGS } from "./bare-k6";
import { cpuOf, machineCpu } from "./proc";
import { check, table, type Section } from "./report";
import type { Services } from "./stack";
import { ms, quantile } from "./stats";

/** Concurrent k6 runs per level: 0.5 to 6 per core on 2 cores, to find the knee. */
const LEVELS = [1, 2, 4, 6, 8, 12];
/** Up, down, up the levels: drift in other work hits both ends; 3 single runs for the baseline. */
const ROUNDS = 3;
const VUS = 5;
/** Short, to keep three rounds under 3 minutes; still ~250 requests per run for its p95. */
const SECONDS = 6;
/** The target answers after this long: a fast service, so a 10% inflation is 2 ms. */
const SERVICE_MS = 20;
const SLEEP_S = 0.1;
/** More inflation than this of the p95 k6 reports and a verdict is no longer about the service. */
const LIMIT = 0.1;

/** A light canary check: 5 VUs, GET then a short think time, 127.0.0.1 only. */
const lightScript = (port: number) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: ${VUS}, duration: '${SECONDS}s', thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${port}/slow?ms=${SERVICE_MS}'); sleep(${SLEEP_S}); }
`;

interface K6Latency {
  median: number;
  p95: number;
}

interface Level {
  runs: number;
  /** One entry per k6 run at this level, over all rounds. */
  latencies: K6Latency[];
  /** Machine busy, % of all cores, while the level ran (mean over rounds). */
  busyPercent: number;
  /** Of which the k6 processes, % of all cores. */
  k6Percent: number;
  /** Of which processes not ours (machine busy - k6 - this process with the target). */
  otherPercent: number;
}

interface SummaryExport {
  metrics: Record<string, Record<string, number> | undefined>;
}

/**
 * One `k6 run` as the worker starts it; k6's own http_req_duration from its summary export
 * (asked for here only: the worker reads the metric stream, which K6_ARGS discards).
 */
async function runK6(script: string): Promise<K6Latency> {
  const runDir = await mkdtemp(join(tmpdir(), "k6-gate-bench-capacity-"));
  try {
    await writeFile(join(runDir, "script.js"), script, { mode: 0o600 });
    const child = spawn(K6_BIN, [...K6_ARGS, "--summary-export", "summary.json", "script.js"], {
      cwd: runDir,
      env: buildK6Environment({ runDir, envVars: {}, secrets: {} }),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    if (code !== 0) throw new Error(`k6 exited ${code}: ${stderr.slice(-500)}`);
    const summary = JSON.parse(
      await readFile(join(runDir, "summary.json"), "utf8"),
    ) as SummaryExport;
    const duration = summary.metrics.http_req_duration;
    const median = duration?.med;
    const p95 = duration?.["p(95)"];
    if (median === undefined || p95 === undefined) throw new Error("no http_req_duration");
    return { median, p95 };
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

/** N runs started together; CPU read around them (k6 counts once reaped, i.e. after). */
async function oneLevel(script: string, runs: number) {
  const machineBefore = machineCpu();
  const before = cpuOf(process.pid);
  const latencies = await Promise.all(Array.from({ length: runs }, () => runK6(script)));
  const machineAfter = machineCpu();
  const after = cpuOf(process.pid);
  const k6Ms = after.children - before.children;
  const busyMs = machineAfter.busy - machineBefore.busy;
  const percent = (cpuMs: number) => (cpuMs / (machineAfter.total - machineBefore.total)) * 100;
  return {
    latencies,
    busyPercent: percent(busyMs),
    k6Percent: percent(k6Ms),
    otherPercent: percent(Math.max(0, busyMs - k6Ms - (after.self - before.self))),
  };
}

/**
 * 9. Capacity: how many concurrent k6 runs of a light script a core carries before the
 * latency k6 itself reports inflates by more than 10% against a single run. Plain
 * `k6 run` processes, no gate: this measures the load generator, not k6-gate.
 */
export async function capacity(services: Services): Promise<Section> {
  const script = lightScript(services.target.port);
  await runK6(script); // warm-up: page cache, first-exec costs
  const levels = new Map<number, Level>(
    LEVELS.map((runs) => [
      runs,
      { runs, latencies: [], busyPercent: 0, k6Percent: 0, otherPercent: 0 },
    ]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? LEVELS : [...LEVELS].reverse();
    for (const runs of order) {
      const level = levels.get(runs) as Level;
      const measured = await oneLevel(script, runs);
      level.latencies.push(...measured.latencies);
      level.busyPercent += measured.busyPercent / ROUNDS;
      level.k6Percent += measured.k6Percent / ROUNDS;
      level.otherPercent += measured.otherPercent / ROUNDS;
    }
  }
  return render([...levels.values()], cpus().length);
}

const medianOf = (values: number[]) => quantile(values, 0.5);
const p95Of = (level: Level) => medianOf(level.latencies.map((l) => l.p95));
const pct = (value: number) => `${value.toFixed(0)}%`;

/**
 * The least-squares non-decreasing fit of `values` (pool adjacent violators): more runs
 * at once never make k6 faster, so a dip or a spike against that is noise from the shared
 * machine, averaged with its neighbours instead of deciding the knee on its own.
 */
export function monotoneFit(values: readonly number[]): number[] {
  const blocks: { mean: number; size: number }[] = [];
  for (const value of values) {
    let block = { mean: value, size: 1 };
    for (let last = blocks.at(-1); last && last.mean > block.mean; last = blocks.at(-1)) {
      blocks.pop();
      const size = last.size + block.size;
      block = { mean: (last.mean * last.size + block.mean * block.size) / size, size };
    }
    blocks.push(block);
  }
  return blocks.flatMap((b) => Array<number>(b.size).fill(b.mean));
}

function render(levels: Level[], cores: number): Section {
  const baseline = p95Of(levels[0] as Level);
  const raw = levels.map((l) => p95Of(l) / baseline - 1);
  const fitted = monotoneFit(raw);
  const signed = (value: number) => {
    const percent = Math.round(value * 100) || 0; // no "-0%"
    return `${percent >= 0 ? "+" : ""}${percent}%`;
  };
  // The knee: the last level before the fitted curve first crosses the limit.
  const firstOver = fitted.findIndex((value) => value > LIMIT);
  const safe = levels[(firstOver === -1 ? levels.length : firstOver) - 1];
  const perCore = (runs: number) => runs / cores;
  // A single run is the baseline (fitted at or below 0), so `safe` is at least that level.
  const safeRuns = safe?.runs ?? 1;
  const capacityText = `${firstOver === -1 ? "at least " : ""}${perCore(safeRuns)} run${perCore(safeRuns) === 1 ? "" : "s"} per core (${safeRuns} on ${cores} cores)`;
  // CPU one light run costs, from the busiest level: what a core is shared out in.
  const top = levels[levels.length - 1] as Level;
  const corePerRun = (top.k6Percent / 100) * (cores / top.runs);
  const body = [
    `Plain \`k6 run\` processes (the worker's flags and environment, no gate), N started at once, ${ROUNDS} rounds up, down and up the levels. Each runs a light canary check: ${VUS} VUs for ${SECONDS} s, each a GET to the local target, which answers after ${SERVICE_MS} ms (a fast service), then \`sleep(${SLEEP_S})\`. Latency is what each k6 reports for itself (\`http_req_duration\` in its \`--summary-export\`); inflation is the median of the runs' p95 against the median of the single runs' p95; the capacity is read off its monotone fit (more runs never make k6 faster, so a dip below an earlier level is noise and is averaged with its neighbours). CPU columns are shares of all ${cores} cores while the level ran.`,
    `The question is when k6 stops measuring the service and starts measuring its own wait for a CPU: past that point an \`http_req_duration\` threshold fails (or passes) for the wrong reason. The target runs in the benchmark's own process on the same cores, so it competes too, as on a loaded node; other processes on the shared machine show in the last column, and make every row worse, never better.`,
    "",
    table(
      [
        "k6 runs at once",
        "runs per core",
        "median of runs' p95",
        "median of runs' median",
        "p95 inflation vs 1 run",
        "monotone fit",
        "machine CPU busy",
        "k6",
        "other processes",
      ],
      levels.map((l, i) => [
        l.runs,
        perCore(l.runs).toFixed(1),
        ms(p95Of(l)),
        ms(medianOf(l.latencies.map((x) => x.median))),
        signed(raw[i] ?? Number.NaN),
        signed(fitted[i] ?? Number.NaN),
        pct(l.busyPercent),
        pct(l.k6Percent),
        pct(l.otherPercent),
      ]),
    ),
    "",
    `Capacity on this machine: **${capacityText}** with p95 inflation within ${LIMIT * 100}%; one such run used about ${(corePerRun * 100).toFixed(0)}% of a core. Size workers by it: \`WORKER_CONCURRENCY\` = cores requested per worker pod x runs per core (docs/operations.md, "Capacity"). Heavier scripts (more VUs, no think time) need more CPU per run: measure them the same way with their own script.`,
  ].join("\n");
  return {
    title: "9. Capacity: k6 runs per core",
    body,
    targets: [
      check(
        `light k6 runs per core with p95 inflation <= ${LIMIT * 100}%`,
        "known (measured)",
        capacityText,
        true,
      ),
    ],
  };
}
