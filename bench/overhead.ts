import { relative } from "node:path";
import { K6_BIN, ROOT } from "../test/support/paths";
import { bareK6, K6_ARGS } from "./bare-k6";
import { findRunId } from "../test/support/runs";
import { launchTest } from "./http-client";
import { check, codeBlock, table, type Section } from "./report";
import { oneRequestScript } from "./scripts";
import { withStack, type Services } from "./stack";
import { ms, quantile, summarize } from "./stats";

const RUNS = 30;
const WARMUP = 3;

interface Sample {
  bare: number;
  gate: number;
  /** Wall-clock milestones of the gate call (ms since epoch), from the run record. */
  sentAt: number;
  enqueuedAt: number;
  startedAt: number;
  finishedAt: number;
  k6Ms: number;
  doneAt: number;
}

const wallClock = (perfMs: number) => performance.timeOrigin + perfMs;

/**
 * 1. Verdict overhead: the same one-request script run by hand and through
 * POST /launch-test -> API -> Redis/BullMQ -> worker -> k6 -> verdict, interleaved so
 * drift in the machine hits both alike.
 */
export async function verdictOverhead(services: Services): Promise<Section> {
  const script = oneRequestScript(services.target.port);
  return withStack(services, { K6_BIN }, async (stack) => {
    await stack.startApi();
    await stack.startWorkers(1);
    let checksum = 0;
    const viaGate = async () => {
      const response = await launchTest(stack.apiUrl, {
        name: "overhead",
        checksum: `overhead-${++checksum}`,
        metadata: { script },
      });
      if (response.status !== 200) throw new Error(`gate answered ${response.status}`);
      const run = await stack.store.get(findRunId(response.text) ?? "");
      if (!run?.startedAt || !run.finishedAt || !run.result)
        throw new Error("run record incomplete");
      return {
        gate: response.ms,
        sentAt: wallClock(response.sentAt),
        doneAt: wallClock(response.doneAt),
        enqueuedAt: run.enqueuedAt,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        k6Ms: run.result.durationMs,
      };
    };
    for (let i = 0; i < WARMUP; i++) {
      await bareK6(K6_BIN, script);
      await viaGate();
    }
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Alternate which goes first so neither always runs on a just-warmed cache.
      if (i % 2 === 0) {
        const bare = await bareK6(K6_BIN, script);
        samples.push({ bare, ...(await viaGate()) });
      } else {
        const gate = await viaGate();
        samples.push({ bare: await bareK6(K6_BIN, script), ...gate });
      }
    }
    return render(samples);
  });
}

function render(samples: Sample[]): Section {
  const bare = summarize(samples.map((s) => s.bare));
  const gate = summarize(samples.map((s) => s.gate));
  const paired = summarize(samples.map((s) => s.gate - s.bare));
  // The same run's own k6 time subtracted: no run-to-run k6 noise, but the spawn is hidden.
  const inRun = summarize(samples.map((s) => s.gate - s.k6Ms));
  const phase = (f: (s: Sample) => number) => {
    const values = samples.map(f);
    return [ms(quantile(values, 0.5)), ms(summarize(values).mean)];
  };
  const phases: [string, (s: Sample) => number][] = [
    ["POST sent -> run decided (HTTP, JSON, zod validation)", (s) => s.enqueuedAt - s.sentAt],
    [
      "run decided -> worker marks it started (decide, enqueue, BullMQ pickup, markStarted)",
      (s) => s.startedAt - s.enqueuedAt,
    ],
    [
      "worker: started -> verdict recorded, minus k6 (job parse, run record read, temp dir, output save)",
      (s) => s.finishedAt - s.startedAt - s.k6Ms,
    ],
    [
      "k6 as the worker times it (write script, spawn via setpriv, k6, read summary)",
      (s) => s.k6Ms,
    ],
    [
      "verdict recorded -> response read by caller (PUBLISH, wake, read record, respond)",
      (s) => s.doneAt - s.finishedAt,
    ],
  ];
  const body = [
    `${RUNS} interleaved pairs (after ${WARMUP} warm-up pairs) of the same script: one VU, one iteration, one GET to the local target, one threshold.`,
    "API and one worker (WORKER_CONCURRENCY 1) on real k6; text verdicts as Flagger receives them; each POST a new checksum, so a new run key and a new run.",
    "",
    table(
      ["", "median", "p95", "max"],
      [
        ["bare `k6 run`", ms(bare.median), ms(bare.p95), ms(bare.max)],
        [
          "POST /launch-test (API + queue + worker + k6)",
          ms(gate.median),
          ms(gate.p95),
          ms(gate.max),
        ],
        [
          "difference of the two columns above",
          ms(gate.median - bare.median),
          ms(gate.p95 - bare.p95),
          "",
        ],
        [
          "**overhead: per-pair difference (gate - bare)**",
          ms(paired.median),
          ms(paired.p95),
          ms(paired.max),
        ],
        [
          "gate - the same run's k6 time as the worker measured it",
          ms(inRun.median),
          ms(inRun.p95),
          ms(inRun.max),
        ],
      ],
    ),
    "",
    "The targets are judged on the per-pair difference. It carries k6's own run-to-run spread (bare k6 alone varies by tens of ms here), so its p95 is mostly that spread; the last row removes it by subtracting each gated call's own k6 time, at the price of hiding the spawn (which is inside the worker's k6 timing).",
    "",
    "Where the time of a gated call goes (wall-clock milestones from the run record; the worker and API stamp them with `Date.now()`, so each is good to about 1 ms):",
    "",
    table(
      ["phase", "median", "mean"],
      phases.map(([name, f]) => [name, ...phase(f)]),
    ),
    "",
    "Bare command (in a fresh directory holding `script.js`, environment built by `buildK6Environment`: PATH, HOME/TMPDIR = the directory, K6_NO_USAGE_REPORT, K6_NO_COLOR, K6_AUTO_EXTENSION_RESOLUTION=false):",
    "",
    codeBlock(`${relative(ROOT, K6_BIN)} ${[...K6_ARGS, "script.js"].join(" ")}`),
  ].join("\n");
  return {
    title: "1. Verdict overhead",
    body,
    targets: [
      check("verdict overhead, median", "< 15 ms", ms(paired.median), paired.median < 15),
      check("verdict overhead, p95", "< 40 ms", ms(paired.p95), paired.p95 < 40),
    ],
  };
}
