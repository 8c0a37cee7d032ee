// The scaling contract (docs/decisions.md, "Workers scale with the queue"), end to end: the chart's rendered ScaledObject,
// evaluated by KEDA's own metrics-api scaler (test/keda-scaler, KEDA v2.21.0) against a
// live k6-gate (redis-server, the API, a worker with WORKER_CONCURRENCY=1, the real k6),
// must see every run waiting for a worker, whichever BullMQ list or set holds it
// (prioritized by fair sharing, delayed by MAX_RUNS_PER_NAMESPACE), plus the running one.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { ROOT } from "@k6-gate/testkit/paths";
import { holdingScript, startHoldTarget, type HoldTarget } from "@k6-gate/testkit/hold-target";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";
import { sampleValue, scrape } from "../metrics/prom-text";
import { HELM, render } from "./helm-chart";
import { type Rec, at, find, rec } from "./k8s-objects";
import { KEDA_SCALER, desiredReplicas, pollTriggers } from "./keda";

const stack = useStack({ api: false, workers: 0 });
const USER = "ops";
const PASSWORD = "dashboard-password-for-tests";
const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;

interface QueueDepth {
  runs: number;
  queued: number;
  running: number;
  jobs: Record<"waiting" | "prioritized" | "delayed" | "active", number>;
}

let hold: HoldTarget;
/** The chart's ScaledObject with `keda.enabled`, as helm renders it. */
let rendered: Rec;

beforeAll(async () => {
  // No-ops when up to date (make test builds both first); else helm, and KEDA's scalers
  // from the Go module proxy (minutes the first time: test/keda-scaler/README.md).
  execFileSync("make", ["--no-print-directory", "-f", "mk/deploy.mk", HELM], {
    cwd: ROOT,
    stdio: "inherit",
  });
  execFileSync("make", ["--no-print-directory", "-f", "mk/keda-scaler.mk", KEDA_SCALER], {
    cwd: ROOT,
    stdio: "inherit",
  });
  const { objs } = render(undefined, "--set", "keda.enabled=true");
  rendered = find(objs, "ScaledObject", "k6-gate-worker").raw;
  hold = await startHoldTarget();
}, 1_800_000);

afterAll(async () => {
  await hold?.close();
});

/** The rendered ScaledObject with its trigger's URL (path kept) on the test's API. */
function pointedAt(api: ApiProcess): Rec {
  const so = structuredClone(rendered);
  const meta = rec(at(so, "spec.triggers.0.metadata"), "trigger metadata");
  meta.url = new URL(new URL(String(meta.url)).pathname, api.url).href;
  return so;
}

/** A check that runs until the hold target is released; its run id. */
async function submit(api: ApiProcess, namespace: string, name: string): Promise<string> {
  const response = await postWebhook(
    api.url,
    payloadOf({
      namespace,
      name,
      metadata: { script: holdingScript(hold.port), wait_for_results: "false" },
    }),
    { headers: { accept: "application/json" } },
  );
  expect(response.status, response.text).toBe(202);
  return (JSON.parse(response.text) as { run: { id: string } }).run.id;
}

async function queueDepth(api: ApiProcess): Promise<QueueDepth> {
  return (await (await fetch(`${api.url}/queue/depth`)).json()) as QueueDepth;
}

/** Ends a queued run through the API (outcome cancelled; its job leaves the queue). */
async function cancel(api: ApiProcess, runId: string): Promise<void> {
  const response = await fetch(`${api.url}/api/runs/${runId}/cancel`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: basic },
    body: JSON.stringify({ reason: "draining the queue" }),
  });
  expect(response.status, await response.text()).toBe(200);
}

describe("KEDA's metrics-api scaler on the chart's ScaledObject, against a live queue", () => {
  it("asks for more workers with 10 runs waiting behind one busy worker, and for minReplicaCount once drained", async () => {
    const gate = stack.testGate({
      WORKER_CONCURRENCY: "1",
      MAX_RUNS_PER_NAMESPACE: "1",
      DASHBOARD_USER: USER,
      DASHBOARD_PASSWORD: PASSWORD,
    });
    const api = await gate.startApi();
    await gate.startWorker();

    // 1. The worker's one slot runs a check of namespace `capped`, held at the target.
    const running = await submit(api, "capped", "running");
    await hold.whenHeld(1);
    // 2. Three more of `capped`, taken by a second worker while the first runs (only a
    //    worker with a free slot takes a run, and so defers it): the namespace is at
    //    MAX_RUNS_PER_NAMESPACE, so each goes back to BullMQ's `delayed` set. Once all
    //    three are there, that worker leaves: one busy worker remains.
    const helper = await gate.startWorker();
    const capped = await Promise.all(
      ["capped-1", "capped-2", "capped-3"].map((name) => submit(api, "capped", name)),
    );
    await waitFor("3 runs delayed by their namespace's cap", async () => {
      const depth = await queueDepth(api);
      return depth.jobs.delayed === 3 ? depth : undefined;
    });
    await helper.stop("SIGTERM");
    // 3. Seven checks of other namespaces, prioritized (fair sharing) behind the busy worker.
    const others = await Promise.all(
      ["team-a", "team-a", "team-a", "team-a", "team-b", "team-b", "team-b"].map((namespace, i) =>
        submit(api, namespace, `waiting-${i}`),
      ),
    );

    const backlog = await queueDepth(api);
    console.log(`backlog: ${JSON.stringify(backlog)}`);
    expect(backlog).toMatchObject({ runs: 11, queued: 10, running: 1 });
    expect(backlog.jobs.active).toBe(1);
    // The last thing the helper did to a run of `capped` was to delay it; nothing has
    // promoted it since (only a worker with a free slot does).
    expect(backlog.jobs.delayed).toBeGreaterThanOrEqual(1);
    expect(backlog.jobs.prioritized).toBeGreaterThanOrEqual(7);
    expect(backlog.jobs.waiting).toBe(0);
    // /metrics reports the same counts (one read serves both): what a prometheus trigger
    // on k6gate_queue_jobs would see.
    const families = await scrape(`${api.url}/metrics`);
    for (const [state, count] of Object.entries(backlog.jobs))
      expect(sampleValue(families, "k6gate_queue_jobs", { state }), state).toBe(count);

    const [busy, ...more] = await pollTriggers(pointedAt(api));
    expect(more).toEqual([]);
    console.log(`KEDA with the backlog: ${JSON.stringify(busy)}`);
    expect(busy).toMatchObject({ type: "metrics-api", targetType: "AverageValue", value: 11 });
    expect(busy?.active).toBe(true);
    const asked = desiredReplicas(busy!, rendered);
    console.log(`workers asked for: ${asked} (metric ${busy?.value} / target ${busy?.target})`);
    expect(asked).toBe(
      Math.min(Number(at(rendered, "spec.maxReplicaCount")), Math.ceil(11 / busy!.target)),
    );
    expect(asked).toBeGreaterThan(1);

    // 4. Drain: cancel every queued run, release the running one; the queue empties.
    for (const id of [...capped, ...others]) await cancel(api, id);
    hold.release();
    await waitFor("the queue to drain", async () => (await queueDepth(api)).runs === 0, {
      timeoutMs: 30_000,
    });
    const runningRun = (await (
      await fetch(`${api.url}/api/runs/${running}`, { headers: { authorization: basic } })
    ).json()) as { verdict: string | null };
    expect(runningRun.verdict).toBe("pass");

    const [idle] = await pollTriggers(pointedAt(api));
    console.log(`KEDA with the queue drained: ${JSON.stringify(idle)}`);
    expect(idle).toMatchObject({ value: 0, active: false });
    const min = at(rendered, "spec.minReplicaCount");
    expect(desiredReplicas(idle!, rendered)).toBe(min);
    console.log(
      `workers asked for: ${desiredReplicas(idle!, rendered)} (minReplicaCount ${String(min)})`,
    );

    // 5. Redis gone, then the API: failed polls, which KEDA counts towards the
    //    ScaledObject's fallback (it then holds the current worker count).
    await stack.redis.stop();
    const [noRedis] = await pollTriggers(pointedAt(api));
    console.log(`KEDA with Redis down: ${JSON.stringify(noRedis)}`);
    expect(noRedis?.value).toBeUndefined();
    expect(noRedis?.error).toMatch(/api returned 503/);
    await api.stop();
    const [down] = await pollTriggers(pointedAt(api));
    expect(down?.value).toBeUndefined();
    expect(down?.error).toMatch(/connection refused/);
  });
});
