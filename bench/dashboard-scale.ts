import type { RunResult, RunStore } from "@k6-gate/shared";
import { createRun, passedResult, specOf } from "@k6-gate/testkit/run-fixtures";
import { check, table, type Section, type TargetCheck } from "./report";
import { withStack, type Services } from "./stack";
import { ms, summarize } from "./stats";

const CANARIES = 500;
const RUNS_PER_CANARY = 20;
const TIMED = 20;
const TARGET_MS = 50;

/** A result the size of a real one: thresholds, figures, a comparison and k6's plan. */
function resultOf(i: number): RunResult {
  const p95 = 40 + (i % 17);
  return {
    ...passedResult,
    reason: "all 2 thresholds passed",
    thresholds: [
      { metric: "http_req_duration", expression: "p(95)<500", ok: true, observed: p95 },
      { metric: "http_req_failed", expression: "rate<0.01", ok: true, observed: 0 },
    ],
    metrics: {
      httpReqDurationAvg: p95 / 2,
      httpReqDurationP95: p95,
      httpReqFailedRate: 0,
      iterations: 300,
      checksRate: 1,
    },
    durationMs: 30_000,
    warnings: [],
    testDigest: "0123456789abcdef",
    stats: { "http_req_duration:p(95)": p95, "http_req_failed:rate": 0 },
    comparison: {
      baselineRuns: 5,
      revisions: ["a", "b", "c", "d", "e"],
      entries: [
        {
          key: "http_req_duration:p(95)",
          observed: p95,
          baseline: 48,
          limit: null,
          regressed: false,
        },
        { key: "http_req_failed:rate", observed: 0, baseline: 0, limit: null, regressed: false },
      ],
    },
    k6: {
      version: "v2.2.0",
      totalDuration: "1m0s",
      maxVUs: 10,
      scenarios: [{ name: "default", executor: "constant-vus", vus: 10, duration: "30s" }],
    },
  };
}

/** 10,000 finished runs over 500 canaries, recorded as a worker records them. */
async function seed(store: RunStore): Promise<string> {
  const start = Date.now() - RUNS_PER_CANARY * 60_000;
  let lastRunId = "";
  const record = async (c: number) => {
    for (let r = 0; r < RUNS_PER_CANARY; r++) {
      const at = start + r * 60_000;
      const spec = specOf({
        namespace: `team-${c % 25}`,
        name: `service-${c}`,
        checksum: `rev-${r}`,
        runKey: `scale-${c}-${r}`,
      });
      const run = await createRun(store, spec, at);
      const attemptToken = `t-${c}-${r}`;
      await store.start(run.id, { worker: "w", attemptToken, now: at + 1000 });
      await store.finish(run.id, { result: resultOf(r), attemptToken, now: at + 31_000 });
      lastRunId = run.id;
    }
  };
  // 50 canaries at a time, each one's runs in order (DECIDE refuses past 100 queued).
  for (let first = 0; first < CANARIES; first += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, i) => record(first + i)));
  }
  return lastRunId;
}

async function timeRequests(url: string): Promise<number[]> {
  const once = async () => {
    const started = performance.now();
    const response = await fetch(url, { headers: { accept: "text/html,application/json" } });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    return performance.now() - started;
  };
  for (let i = 0; i < 3; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < TIMED; i++) times.push(await once());
  return times;
}

/**
 * 8. The dashboard and API with a big history: 10,000 runs over 500 canaries in Redis,
 * each page asked 20 times in a row (after 3 warm-ups) by a client on the same machine.
 */
export async function dashboardScale(services: Services): Promise<Section> {
  return withStack(services, {}, async (stack) => {
    const seedStarted = performance.now();
    const runId = await seed(stack.store);
    const seededS = (performance.now() - seedStarted) / 1000;
    await stack.startBundled("api");
    const base = stack.apiUrl;
    const pages: [string, string][] = [
      ["`/` (canaries)", `${base}/`],
      ["a canary page", `${base}/canaries/team-7/service-257`],
      ["a run page", `${base}/runs/${encodeURIComponent(runId)}`],
      ["`/api/runs` of a canary", `${base}/api/runs?namespace=team-7&name=service-257`],
      ["`/metrics`", `${base}/metrics`],
    ];
    const rows: string[][] = [];
    const targets: TargetCheck[] = [];
    for (const [what, url] of pages) {
      const { median, p95 } = summarize(await timeRequests(url));
      rows.push([what, ms(median), ms(p95)]);
      targets.push(
        check(
          `${what} with 10,000 runs, median`,
          `<= ${TARGET_MS} ms`,
          ms(median),
          median <= TARGET_MS,
        ),
      );
    }
    const body = [
      `${CANARIES * RUNS_PER_CANARY} finished runs over ${CANARIES} canaries (${RUNS_PER_CANARY} each, results the size of real ones) written through RunStore in ${seededS.toFixed(0)} s; the API as the container runs it (\`node dist/api.js\`). Each page asked ${TIMED} times in a row after 3 warm-ups, timed by a client on the same machine (so the figures include the loopback round trip: an upper bound on server time).`,
      "",
      table(["page", "median", "p95"], rows),
    ].join("\n");
    return { title: "8. Dashboard and API with 10,000 runs", body, targets };
  });
}
