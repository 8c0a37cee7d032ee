import type { CpuUse } from "./cpu-window";
import type { Quiet } from "./quiet";
import { codeBlock, table, type Section } from "./report";
import { ANALYSIS, TARGETS_NOT_MET } from "./analysis";
import { RUNTIME_COMPARISON } from "./runtime-comparison";

export interface SectionRun {
  section: Section;
  /** CPU of the benchmark's own processes vs the whole machine while it ran. */
  cpu: CpuUse;
  /** How busy the machine was just before it started. */
  quiet: Quiet;
}

/** A benchmark that writes a document of its own: its run, the machine, the whole run's time. */
export interface StandaloneRun {
  machine: [string, string][];
  run: SectionRun;
  totalS: number;
}

const share = (ms: number, wallMs: number) => `${Math.round((ms / wallMs) * 100)}%`;

/** How busy the machine was while a section ran, and how much of that was other work. */
export const loadLine = ({ cpu, quiet }: SectionRun) =>
  `_Machine load while this ran (${(cpu.wallMs / 1000).toFixed(0)} s): ${share(cpu.machineBusy, cpu.wallMs)} of 200% busy, of which other processes (not this benchmark's) ${share(cpu.other, cpu.wallMs)}. Before it started the machine was ${quiet.busyPercent.toFixed(0)}% busy${quiet.waitedMs > 1500 ? ` after waiting ${(quiet.waitedMs / 1000).toFixed(0)} s for it to quieten` : ""}._`;

/** The whole of docs/benchmarks.md. */
export function renderDocument({
  machine,
  runs,
  totalS,
}: {
  machine: [string, string][];
  runs: SectionRun[];
  totalS: number;
}): string {
  const missed = runs.some(({ section }) => section.targets.some((target) => !target.met));
  return [
    "# Benchmarks",
    "",
    `Written by \`make bench\` (\`npx tsx bench/main.ts\`, ${totalS.toFixed(0)} s end to end); do not edit by hand: change bench/ and run it again. These are measurements, not tests: nothing in \`make test\` asserts a time. All load goes to 127.0.0.1.`,
    "",
    "## Machine",
    "",
    table(["", ""], machine),
    "",
    "The machine is a shared 2-core VM: API, workers, redis-server, k6 and the load generator all compete for the same two cores. Each section says how busy the machine was while it ran and how much of that was other work; numbers taken while other processes were busy are worse than the code deserves, never better.",
    "",
    "## Targets",
    "",
    table(
      ["measure", "target", "measured", "result", "other work on the machine meanwhile"],
      runs.flatMap(({ section, cpu }) =>
        section.targets.map((t) => [
          t.what,
          t.target,
          t.measured,
          t.met ? "met" : "**MISSED**",
          `${share(cpu.other, cpu.wallMs)} of a core`,
        ]),
      ),
    ),
    "",
    ...(missed
      ? [
          'Why each **MISSED** row is missed, with the profiles that show where the time or memory goes: "Targets not met, and why", below the benchmarks.',
          "",
        ]
      : []),
    ...runs.flatMap((run) => [
      `## ${run.section.title}`,
      "",
      run.section.body,
      "",
      loadLine(run),
      "",
    ]),
    ...(missed ? [TARGETS_NOT_MET] : []),
    ANALYSIS,
    RUNTIME_COMPARISON,
    "",
    "## Side by side with flagger-k6-webhook",
    "",
    "Not part of `make bench`: `make bench-peer` builds the peer from its Go module (`make peer`, into `.tools/`) and rewrites [peer-comparison.md](peer-comparison.md) with the figures, method and versions.",
    "",
    "## How the numbers were taken",
    "",
    "Every process is started by the test harness (libs/testkit) exactly as in the integration tests: a fresh queue prefix per benchmark, `LOG_LEVEL=info` (production's level: the per-call log lines are part of the cost).",
    "",
    codeBlock(
      [
        "make bench                         # = npx tsx bench/main.ts; rewrites this file",
        "npx tsx bench/main.ts overhead     # one benchmark (overhead|queue|longpoll|scaling|dedup|memory|recovery|dashboard|capacity), printed only",
        'PROFILE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npx tsx bench/main.ts overhead  # the same, each process writing a CPU profile',
        "",
        "# what the harness starts (ports are free ones picked at run time):",
        "redis-server $TMP/redis.conf --port $P --bind 127.0.0.1 --dir $TMP --save '' --appendonly no --maxmemory-policy noeviction   # redis.conf: requirepass <random>",
        "PORT=$A HOST=127.0.0.1 REDIS_URL=redis://:<password>@127.0.0.1:$P QUEUE_PREFIX=test-xxxxxxxx K6_BIN=... LOG_LEVEL=info \\",
        "  node --import tsx apps/api/src/main.ts",
        "REDIS_URL=... QUEUE_PREFIX=... K6_BIN=... WORKER_CONCURRENCY=N LOG_LEVEL=info \\",
        "  node --import tsx apps/worker/src/main.ts",
        "# sections 2 and 3 add MAX_QUEUE_DEPTH=1000 / 2000 to the API, WORKER_CONCURRENCY=50 to 2 workers,",
        "# and K6_BIN=<dir>/k6, a file holding: #!/bin/sh + exit 0",
        "# section 6 also starts the container form, built by `npm run build` (make bench does):",
        "node dist/api.js; node dist/worker.js   # same env",
      ].join("\n"),
    ),
    "",
    'Each POST is what Flagger sends: `{name, namespace: "test", phase: "Progressing", checksum, metadata: {script, ...}}`, JSON, no Accept header (text verdicts). Latency is measured in the load generator from sending the request to reading the last byte of the answer, with node:http and a keep-alive agent without a socket limit.',
    "",
  ].join("\n");
}
