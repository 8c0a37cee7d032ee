import { closedLoop, type LoadResult } from "./closed-loop";
import { cpuWindow, type CpuUse } from "./cpu-window";
import { check, table, type Section } from "./report";
import { oneRequestScript } from "./scripts";
import { stubK6, withStack, type Services } from "./stack";
import { ms, summarize } from "./stats";

const LEVELS = [1, 10, 100];
const DURATION_MS = 8000;
const WORKERS = 2;
const CONCURRENCY = 50;
const TARGET_PER_SECOND = 150;

/**
 * 2. Queue overhead alone: API + Redis + BullMQ + worker + one process spawn, with a
 * K6_BIN that exits 0 at once.
 */
export async function queueThroughput(services: Services): Promise<Section> {
  const script = oneRequestScript(services.target.port);
  return withStack(services, { K6_BIN: stubK6() }, async (stack) => {
    await stack.startApi({ MAX_QUEUE_DEPTH: "1000" });
    await stack.startWorkers(WORKERS, { WORKER_CONCURRENCY: String(CONCURRENCY) });
    await closedLoop(stack.apiUrl, { callers: 10, durationMs: 2000, script, tag: "warmup" });
    const results: (LoadResult & { cpu: CpuUse })[] = [];
    for (const callers of LEVELS) {
      const window = cpuWindow(() => stack.cpu());
      const result = await closedLoop(stack.apiUrl, {
        callers,
        durationMs: DURATION_MS,
        script,
        tag: `c${callers}`,
      });
      results.push({ ...result, cpu: window.stop() });
    }
    return render(results);
  });
}

const rate = (r: LoadResult) => (r.latencies.length / r.elapsedMs) * 1000;

/** Verdicts/s two idle cores would sustain at the CPU cost measured at the busiest level. */
function ceiling(results: (LoadResult & { cpu: CpuUse })[]): number {
  const busiest = results.reduce((a, b) => (rate(b) > rate(a) ? b : a));
  const ours = Object.values(busiest.cpu.byRole).reduce((sum, ms) => sum + ms, 0);
  return 2000 / (ours / Math.max(1, busiest.latencies.length));
}

function render(results: (LoadResult & { cpu: CpuUse })[]): Section {
  const rows = results.map((r) => {
    const s = summarize(r.latencies);
    const failed = [...r.failures].map(([status, n]) => `${n} x ${status}`).join(", ") || "0";
    return [
      String(r.callers),
      r.latencies.length,
      rate(r).toFixed(0),
      ms(s.median),
      ms(s.p95),
      ms(s.p99),
      ms(s.max),
      failed,
    ];
  });
  const best = Math.max(...results.map(rate));
  const body = [
    `K6_BIN is a sh script that writes one completed iteration to the metric stream (the FIFO \`--out json=\` names) and exits 0, so the worker judges a pass with its evidence. Everything else is the real path: POST, validation, the Lua decision, BullMQ add, worker pickup, markStarted, temp dir + script file, spawn (through \`setpriv --pdeathsig\`), verdict written and PUBLISHed, long-poll woken, text response.`,
    `One API process, ${WORKERS} workers x WORKER_CONCURRENCY ${CONCURRENCY}, MAX_QUEUE_DEPTH 1000; each caller POSTs its next call (new checksum, so a new run) as soon as its verdict arrives, for ${DURATION_MS / 1000} s per level after a 2 s warm-up at 10 callers. The load generator shares the 2 cores.`,
    "",
    table(["callers", "verdicts", "verdicts/s", "median", "p95", "p99", "max", "non-200"], rows),
    "",
    "CPU time per verdict (ms; from /proc, user + system; workers include the stub processes they spawned and reaped). On two cores a verdict can cost at most 2000 ms of CPU per second, so 2000 / total is the rate this machine would sustain at that cost if nothing else ran on it:",
    "",
    table(
      [
        "callers",
        "API",
        "workers",
        "redis-server",
        "load generator",
        "total",
        "2000 / total",
        "other processes meanwhile",
      ],
      results.map((r) => {
        const perVerdict = (match: (role: string) => boolean) =>
          Object.entries(r.cpu.byRole)
            .filter(([role]) => match(role))
            .reduce((sum, [, ms]) => sum + ms, 0) / Math.max(1, r.latencies.length);
        const total = perVerdict(() => true);
        return [
          r.callers,
          perVerdict((role) => role === "api").toFixed(2),
          perVerdict((role) => role.startsWith("worker")).toFixed(2),
          perVerdict((role) => role === "redis-server").toFixed(2),
          perVerdict((role) => role === "load generator").toFixed(2),
          total.toFixed(2),
          `${(2000 / total).toFixed(0)}/s`,
          `${Math.round((r.cpu.other / r.cpu.wallMs) * 100)}% of a core`,
        ];
      }),
    ),
  ].join("\n");
  return {
    title: "2. Queue overhead alone (stub k6)",
    body,
    targets: [
      check(
        "verdict throughput, stub k6",
        `>= ${TARGET_PER_SECOND} verdicts/s`,
        `${best.toFixed(0)} verdicts/s (best level; its CPU cost allows ${ceiling(results).toFixed(0)}/s on 2 idle cores)`,
        best >= TARGET_PER_SECOND,
      ),
    ],
  };
}
