import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { k6Wrapper, type K6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { ARTIFACTS } from "@k6-gate/testkit/paths";
import { freePort } from "@k6-gate/testkit/ports";
import { parentOf, pidsWhere, realK6Processes } from "@k6-gate/testkit/proc";
import type { ManagedProcess } from "@k6-gate/testkit/process";
import { waitFor } from "@k6-gate/testkit/wait";
import {
  checksOf,
  doneOf,
  flaggerMessages,
  outcomeOf,
  phasesOf,
  startFlaggerSim,
  webhooksOf,
  type CheckLine,
  type FlaggerSim,
  type SimCanary,
  type SimLine,
  type SimResult,
  type SimRevision,
} from "@k6-gate/testkit/flagger-sim";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * Issue 15: Flagger's own controller (test/flagger-sim runs the released module's
 * controller.NewController and its scheduler on a simulated cluster) rolls revisions out
 * through k6-gate: blue/green with the kubernetes provider, webhooks as the only analysis.
 *
 * Flagger never runs an analysis step more often than every 10s (it raises any shorter
 * `interval`), so a rollout takes about a minute. The scenarios therefore run side by side,
 * each as its own canary: four on one API and one worker, three on two APIs and two workers
 * with one worker killed -9 mid-analysis. Each `it` then checks one scenario's record.
 */
const NAMESPACE = "test";

/** A short k6 test against a Service of the simulated cluster (127.0.0.1 only). */
const quickTest = (port: number) => `
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 1, iterations: 3, thresholds: { http_req_failed: ['rate<0.01'], checks: ['rate==1'] } };
export default function () {
  const res = http.get('http://127.0.0.1:${port}/');
  check(res, { 'status is 200': (r) => r.status === 200 });
}
`;

/** One request, then `seconds` of think time: longer than Flagger's webhook timeout. */
const longTest = (port: number, seconds: number) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${port}/'); sleep(${seconds}); }
`;

interface RunRecord {
  id: string;
  checksum: string;
  phase: string;
  attempt: number;
  status: string;
  verdict: string | null;
  reason: string | null;
  delivered: boolean;
  thresholds: { metric: string; expression: string; ok: boolean }[];
}

async function history(apiUrl: string, name: string): Promise<RunRecord[]> {
  const response = await fetch(`${apiUrl}/api/runs?namespace=${NAMESPACE}&name=${name}`);
  return ((await response.json()) as { runs: RunRecord[] }).runs;
}

type Kind = "good" | "bad" | "long" | "moved";

interface Scenario {
  kind: Kind;
  name: string;
  canary: SimCanary;
  revisions: SimRevision[];
  services: Record<string, number>;
}

/** The Canary and revisions of one case; `url` is k6-gate's /launch-test as Flagger sees it. */
async function scenario(kind: Kind, prefix: string, url: string): Promise<Scenario> {
  const name = `${prefix}-${kind}`;
  const canaryPort = await freePort();
  const apexPort = await freePort();
  const short = { timeout: "5s", retries: 3 };
  const hook = (type: "pre-rollout" | "rollout", script: string, opts = short) => ({
    name: `k6-${type}`,
    type,
    url,
    ...opts,
    metadata: { script, notification_context: `issue 15 ${kind}` },
  });
  const pre = {
    good: hook("pre-rollout", quickTest(canaryPort)),
    bad: hook("pre-rollout", quickTest(canaryPort)),
    long: hook("pre-rollout", longTest(canaryPort, 5), { timeout: "2s", retries: 4 }),
    // The first revision's pods answer after 10s: Flagger gives up on that call (2 x 3s).
    moved: hook("pre-rollout", quickTest(canaryPort), { timeout: "3s", retries: 1 }),
  }[kind];
  const rollout =
    kind === "long"
      ? hook("rollout", longTest(canaryPort, 5), { timeout: "2s", retries: 4 })
      : hook("rollout", quickTest(canaryPort));
  // After the rollout, a smoke test through the apex Service (the primary).
  const post = {
    name: "k6-post-rollout",
    type: "post-rollout" as const,
    url,
    ...short,
    metadata: { script: quickTest(apexPort) },
  };
  const revisions: Record<Kind, SimRevision[]> = {
    good: [{ name: "v1" }, { name: "v2", expect: "Succeeded" }],
    bad: [{ name: "v1" }, { name: "v2", env: { STATUS: "500" }, expect: "Failed" }],
    long: [{ name: "v1" }, { name: "v2", expect: "Succeeded" }],
    moved: [
      { name: "v1" },
      { name: "v2", env: { DELAY: "10s" }, expect: "Superseded" },
      { name: "v3", when: "tested", expect: "Succeeded" },
    ],
  };
  return {
    kind,
    name,
    canary: {
      name,
      namespace: NAMESPACE,
      iterations: kind === "good" || kind === "bad" ? 2 : 1,
      threshold: 2,
      hooks: [pre, rollout, post],
    },
    revisions: revisions[kind],
    services: { [`${name}-canary`]: canaryPort, [name]: apexPort },
  };
}

interface Stack {
  apiUrls: string[];
  workers: ManagedProcess[];
  k6: K6Wrapper;
}

const stack = useStack({ api: false, workers: 0 });
const sims: FlaggerSim[] = [];

async function startPool(apis: number, workers: number, extra: Record<string, string>) {
  const k6 = k6Wrapper();
  const gate = stack.fileGate({ K6_BIN: k6.bin, ...extra });
  const started = await Promise.all(Array.from({ length: apis }, () => gate.startApi()));
  const pool = await gate.startWorkers(workers);
  return { apiUrls: started.map((api) => api.url), workers: pool, k6 } satisfies Stack;
}

/**
 * Runs the scenarios side by side; each starts once the one before is Initialized, so their
 * 10s analysis ticks do not all fall on the same instant.
 */
async function runAll(
  scenarios: Scenario[],
  endpoints: Record<string, string[]> | undefined,
  onLine: (scenario: Scenario, line: SimLine) => void = () => {},
): Promise<Map<Kind, SimResult>> {
  const results: Promise<[Kind, SimResult]>[] = [];
  for (const s of scenarios) {
    const sim = startFlaggerSim({
      canary: s.canary,
      revisions: s.revisions,
      services: s.services,
      endpoints,
      onLine: (line) => onLine(s, line),
    });
    sims.push(sim);
    results.push(
      sim.result.then((result) => {
        // What Flagger did, to read after a failure (test-artifacts/flagger-sim/, git-ignored).
        const dir = join(ARTIFACTS, "flagger-sim");
        mkdirSync(dir, { recursive: true });
        const text = result.lines.map((line) => JSON.stringify(line)).join("\n");
        writeFileSync(join(dir, `${s.name}.jsonl`), `${text}\n`);
        writeFileSync(join(dir, `${s.name}.stderr.log`), result.stderr);
        return [s.kind, result];
      }),
    );
    await waitFor(
      `${s.name} to be initialized`,
      () => sim.lines().some((line) => line.event === "outcome"),
      { timeoutMs: 30_000 },
    ).catch(() => undefined); // the scenario's own assertions report it
  }
  return new Map(await Promise.all(results));
}

// --- shared assertions ---------------------------------------------------------------

const analysisChecks = (lines: SimLine[]) =>
  checksOf(lines).filter((check) => check.type !== "post-rollout");

/** Every call Flagger made got k6-gate's verdict (a run id), whatever its attempts met. */
function expectAnsweredByK6Gate(checks: CheckLine[]) {
  for (const check of checks) {
    expect(check.runId, JSON.stringify(check)).toMatch(/\S/);
    expect([200, 422]).toContain(check.status);
  }
}

function expectPhases(lines: SimLine[], phases: string[]) {
  expect(phasesOf(lines).map((line) => line.phase)).toEqual(phases);
}

/** Each call was answered by a run k6-gate recorded for that call's revision (checksum). */
function expectRunsMatchChecksums(checks: CheckLine[], runs: RunRecord[]) {
  const byId = new Map(runs.map((run) => [run.id, run]));
  for (const check of checks) {
    const run = byId.get(check.runId ?? "");
    expect(run, `run ${check.runId} in k6-gate's history`).toBeDefined();
    expect(run?.checksum).toBe(check.checksum);
  }
}

function describeResult(result: SimResult | undefined): string {
  if (!result) return "no result";
  const interesting = result.lines.filter((line) => line.event !== "webhook");
  return `exit ${result.code}\n${interesting.map((line) => JSON.stringify(line)).join("\n")}\n${result.stderr.slice(-3000)}`;
}

// --- the stacks and their scenarios -------------------------------------------------

let single: Stack;
let singleResults: Map<Kind, SimResult>;
let pair: Stack;
let pairResults: Map<Kind, SimResult>;
let killedWorker: number | undefined;

beforeAll(async () => {
  [single, pair] = await Promise.all([
    startPool(1, 1, { WORKER_CONCURRENCY: "4" }),
    startPool(2, 2, { WORKER_CONCURRENCY: "3", LOCK_DURATION: "2s" }),
  ]);
  const singleUrl = `${single.apiUrls[0]}/launch-test`;
  // As in a cluster: the webhook names k6-gate's Service; the sim resolves it to both APIs.
  const pairUrl = "http://k6-gate.k6-gate:8000/launch-test";
  const pairEndpoints = { "k6-gate.k6-gate": pair.apiUrls.map((url) => new URL(url).host) };

  const singleScenarios = await Promise.all(
    (["moved", "good", "long", "bad"] as const).map((kind) => scenario(kind, "one", singleUrl)),
  );
  const pairScenarios = await Promise.all(
    (["good", "long", "bad"] as const).map((kind) => scenario(kind, "two", pairUrl)),
  );

  // Mid-analysis: once the good canary's pre-rollout check has passed, kill -9 the first
  // worker seen running k6 (whichever canary's test that is).
  let killing: Promise<void> | undefined;
  const killMidAnalysis = (s: Scenario, line: SimLine) => {
    if (killing || s.kind !== "good" || line.event !== "check" || !line.ok) return;
    killing = (async () => {
      const victim = await waitFor(
        "a worker running k6",
        () => pair.workers.find((worker) => runningK6(pair.k6).includes(worker.pid)),
        { timeoutMs: 30_000, everyMs: 20 },
      );
      killedWorker = victim.pid;
      await victim.stop("SIGKILL");
    })();
  };

  [singleResults, pairResults] = await Promise.all([
    runAll(singleScenarios, undefined),
    runAll(pairScenarios, pairEndpoints, killMidAnalysis),
  ]);
  await killing;
}, 300_000);

afterAll(async () => {
  // Only when beforeAll gave up: a sim otherwise exits on its own when its rollout is over.
  for (const sim of sims) sim.stop();
  await Promise.allSettled(sims.map((sim) => sim.result));
});

/**
 * Workers whose k6 test is running: the real k6 (`k6 run`) is a child of the wrapper, which
 * the worker started (setpriv execs it). The wrapper counted that start before running k6.
 */
function runningK6(k6: K6Wrapper): number[] {
  const wrappers = new Set(pidsWhere((argv) => argv.includes(k6.bin) && argv.includes("run")));
  return realK6Processes()
    .map((pid) => parentOf(pid) ?? -1)
    .filter((parent) => wrappers.has(parent))
    .map((wrapper) => parentOf(wrapper) ?? -1);
}

function resultOf(results: Map<Kind, SimResult>, kind: Kind): SimResult {
  const result = results.get(kind);
  if (!result) throw new Error(`no result for ${kind}`);
  return result;
}

// --- one API, one worker ------------------------------------------------------------

describe("Flagger's scheduler on one API and one worker", () => {
  it("promotes a good revision: every check answered by k6-gate, one k6 run per check", async () => {
    const result = resultOf(singleResults, "good");
    const { lines } = result;
    expect(doneOf(lines), describeResult(result)).toMatchObject({ ok: true });
    expect(result.code).toBe(0);
    expectPhases(lines, [
      "Initializing",
      "Initialized",
      "Progressing",
      "Promoting",
      "Finalising",
      "Succeeded",
    ]);
    expect(outcomeOf(lines, "v2")).toMatchObject({ outcome: "Succeeded", primary: "v2" });

    const checks = checksOf(lines);
    // pre-rollout once; rollout on every iteration plus the one that promotes; post-rollout.
    expect(checks.map((check) => check.type)).toEqual([
      "pre-rollout",
      "rollout",
      "rollout",
      "rollout",
      "post-rollout",
    ]);
    expect(checks.every((check) => check.ok)).toBe(true);
    expectAnsweredByK6Gate(checks);
    const runs = await history(single.apiUrls[0]!, "one-good");
    expect(new Set(checks.map((check) => check.runId)).size).toBe(checks.length);
    expect(runs).toHaveLength(checks.length);
    expectRunsMatchChecksums(checks, runs);
    expect(runs.every((run) => run.verdict === "pass" && run.delivered)).toBe(true);
  });

  it("rolls a bad revision back after `threshold` failed checks; history keeps the reasons", async () => {
    const result = resultOf(singleResults, "bad");
    const { lines } = result;
    expect(doneOf(lines), describeResult(result)).toMatchObject({ ok: true });
    expectPhases(lines, ["Initializing", "Initialized", "Progressing", "Failed"]);
    // Rolled back: the primary still runs v1's pod template.
    expect(outcomeOf(lines, "v2")).toMatchObject({ outcome: "Failed", primary: "v1" });
    expect(phasesOf(lines).at(-1)).toMatchObject({ phase: "Failed", primary: "v1" });

    const failed = analysisChecks(lines);
    expect(failed.map((check) => [check.type, check.ok, check.status])).toEqual([
      ["pre-rollout", false, 422],
      ["pre-rollout", false, 422],
    ]);
    const statusLines = lines.filter((line) => line.event === "status");
    expect(statusLines.at(-1)).toMatchObject({ failedChecks: 2 });
    const messages = flaggerMessages(lines);
    expect(messages).toContain("Rolling back one-bad.test failed checks threshold reached 2");
    // Flagger's event carries k6-gate's verdict text, run id included.
    const halts = messages.filter((msg) => msg.includes("pre-rollout check k6-pre-rollout failed"));
    expect(halts).toHaveLength(2);
    expect(halts[0]).toContain("k6-gate: FAIL test/one-bad (thresholds_failed)");
    expect(halts[0]).toContain(`run ${failed[0]!.runId}`);
    // The second check came inside min_failure_delay (2m by default): same verdict, no new run.
    expect(failed[1]!.runId).toBe(failed[0]!.runId);
    expect(halts[1]).toContain("min_failure_delay");

    const runs = await history(single.apiUrls[0]!, "one-bad");
    const analysis = runs.filter((run) => run.phase === "Progressing");
    expect(analysis).toHaveLength(1);
    expect(analysis[0]).toMatchObject({ verdict: "fail", checksum: failed[0]!.checksum });
    expect(analysis[0]!.reason).toBeTruthy();
    expect(analysis[0]!.thresholds.filter((t) => !t.ok).map((t) => t.metric)).toContain(
      "http_req_failed",
    );
    // post-rollout, after the rollback, tested the primary (still v1) through the apex Service.
    const [post] = checksOf(lines).filter((check) => check.type === "post-rollout");
    expect(post).toMatchObject({ ok: true, phase: "Failed" });
  });

  it("passes tests longer than Flagger's timeout through its retries, one k6 run per check", async () => {
    const result = resultOf(singleResults, "long");
    const { lines } = result;
    expect(doneOf(lines), describeResult(result)).toMatchObject({ ok: true });
    expect(outcomeOf(lines, "v2")).toMatchObject({ outcome: "Succeeded", primary: "v2" });
    const checks = analysisChecks(lines);
    expect(checks.map((check) => check.type)).toEqual(["pre-rollout", "rollout", "rollout"]);
    expect(checks.every((check) => check.ok)).toBe(true);
    // Each call outlived Flagger's 2s timeout at least once and was sent again.
    expect(checks.every((check) => check.attempts > 1)).toBe(true);
    expect(webhooksOf(lines).some((w) => w.error?.includes("its webhook timeout"))).toBe(true);
    expectAnsweredByK6Gate(checks);
    const runs = await history(single.apiUrls[0]!, "one-long");
    const all = checksOf(lines);
    expect(new Set(all.map((check) => check.runId)).size).toBe(all.length);
    expect(runs).toHaveLength(all.length);
    expectRunsMatchChecksums(all, runs);
  });

  it("restarts the analysis on a new revision; the old revision's run never answers for it", async () => {
    const result = resultOf(singleResults, "moved");
    const { lines } = result;
    expect(doneOf(lines), describeResult(result)).toMatchObject({
      ok: true,
      outcomes: { v1: "Initialized", v2: "Superseded", v3: "Succeeded" },
    });
    expect(outcomeOf(lines, "v3")).toMatchObject({ primary: "v3" });
    expect(flaggerMessages(lines)).toContain(
      "New revision detected! Restarting analysis for one-moved.test",
    );
    const progressing = phasesOf(lines).filter((line) => line.phase === "Progressing");
    expect(progressing.map((line) => line.revision)).toEqual(["v2", "v3"]);

    const checks = checksOf(lines);
    const old = checks.filter((check) => check.revision === "v2");
    const current = checks.filter((check) => check.revision === "v3");
    // Flagger gave up on v2's only call (its pods take 10s to answer) and never saw its verdict.
    expect(old).toHaveLength(1);
    expect(old[0]).toMatchObject({ type: "pre-rollout", ok: false, attempts: 2 });
    expect(current.length).toBeGreaterThan(0);
    expect(current.every((check) => check.ok)).toBe(true);

    const runs = await history(single.apiUrls[0]!, "one-moved");
    const v2Runs = runs.filter((run) => run.checksum === old[0]!.checksum);
    expect(v2Runs).toHaveLength(1);
    // Its verdict was kept for a call of v2 (which never came), not handed to v3.
    await waitFor("v2's run to finish", async () => {
      const [run] = (await history(single.apiUrls[0]!, "one-moved")).filter(
        (r) => r.id === v2Runs[0]!.id,
      );
      return run?.status === "finished" ? run : undefined;
    });
    const [v2Run] = (await history(single.apiUrls[0]!, "one-moved")).filter(
      (r) => r.id === v2Runs[0]!.id,
    );
    expect(v2Run).toMatchObject({ delivered: false });
    expect(current.map((check) => check.runId)).not.toContain(v2Run!.id);
    expectRunsMatchChecksums(current, runs);
    expect(new Set(current.map((check) => check.runId)).size).toBe(current.length);
  });

  it("ran k6 exactly once per run k6-gate recorded, across the four canaries", async () => {
    let runs = 0;
    for (const kind of ["good", "bad", "long", "moved"] as const) {
      const recorded = await history(single.apiUrls[0]!, `one-${kind}`);
      expect(recorded.every((run) => run.attempt === 1)).toBe(true);
      runs += recorded.length;
    }
    expect(single.k6.starts()).toBe(runs);
  });
});

// --- two APIs, two workers, one killed -9 -------------------------------------------

describe("Flagger's scheduler on two APIs and two workers, one worker killed -9", () => {
  it("killed a worker while it ran k6, and Flagger's calls reached both APIs", () => {
    expect(killedWorker).toBeDefined();
    const endpoints = new Set(
      [...pairResults.values()].flatMap((result) =>
        webhooksOf(result.lines).map((w) => w.endpoint),
      ),
    );
    expect(endpoints.size).toBe(2);
  });

  it("promotes the good revision", async () => {
    const result = resultOf(pairResults, "good");
    const { lines } = result;
    expect(doneOf(lines), describeResult(result)).toMatchObject({ ok: true });
    expect(outcomeOf(lines, "v2")).toMatchObject({ outcome: "Succeeded", primary: "v2" });
    const checks = checksOf(lines);
    expect(checks.every((check) => check.ok)).toBe(true);
    expectAnsweredByK6Gate(checks);
    expect(new Set(checks.map((check) => check.runId)).size).toBe(checks.length);
    const runs = await history(pair.apiUrls[0]!, "two-good");
    expect(runs).toHaveLength(checks.length);
    expectRunsMatchChecksums(checks, runs);
  });

  it("rolls the bad revision back", async () => {
    const result = resultOf(pairResults, "bad");
    const { lines } = result;
    expect(doneOf(lines), describeResult(result)).toMatchObject({ ok: true });
    expect(outcomeOf(lines, "v2")).toMatchObject({ outcome: "Failed", primary: "v1" });
    const failed = analysisChecks(lines);
    expect(failed.map((check) => [check.type, check.ok])).toEqual([
      ["pre-rollout", false],
      ["pre-rollout", false],
    ]);
    expectAnsweredByK6Gate(failed);
    const runs = await history(pair.apiUrls[0]!, "two-bad");
    expect(runs.filter((run) => run.verdict === "fail" && run.reason)).not.toHaveLength(0);
  });

  it("passes the long tests, one run per check", async () => {
    const result = resultOf(pairResults, "long");
    const { lines } = result;
    expect(doneOf(lines), describeResult(result)).toMatchObject({ ok: true });
    expect(outcomeOf(lines, "v2")).toMatchObject({ outcome: "Succeeded", primary: "v2" });
    const checks = checksOf(lines);
    expect(checks.every((check) => check.ok)).toBe(true);
    expectAnsweredByK6Gate(checks);
    expect(new Set(checks.map((check) => check.runId)).size).toBe(checks.length);
    const runs = await history(pair.apiUrls[0]!, "two-long");
    expect(runs).toHaveLength(checks.length);
    expectRunsMatchChecksums(checks, runs);
  });

  it("re-ran only what the kill interrupted: Flagger's retries added no k6 run", async () => {
    let runs = 0;
    let attempts = 0;
    for (const kind of ["good", "bad", "long"] as const) {
      for (const run of await history(pair.apiUrls[0]!, `two-${kind}`)) {
        runs += 1;
        attempts += run.attempt;
      }
    }
    // The worker was killed while its k6 ran: at least that run started k6 twice. A run
    // whose job the dead worker had taken but not yet started k6 for counts an attempt
    // without a k6 start, so the upper bound is the attempts k6-gate recorded.
    expect(attempts).toBeGreaterThan(runs);
    expect(pair.k6.starts()).toBeGreaterThan(runs);
    expect(pair.k6.starts()).toBeLessThanOrEqual(attempts);
  });
});
