import { setTimeout as delay } from "node:timers/promises";
import type { Redis } from "ioredis";
import { environOf, k6ProcessesUnder, parentOf } from "@k6-gate/testkit/proc";
import { waitFor } from "@k6-gate/testkit/wait";
import { closeWindowWhenSettled, hit, openWindow, type FailoverContext } from "./failovers";
import { faultKinds, type Fault, type FaultKind } from "./model";
import { substream, type Prng } from "./prng";
import { SoakStack, type Slot } from "./stack";

export interface ChaosContext extends FailoverContext {
  seed: number;
  /** No fault starts after this instant. */
  endsAt: number;
  gapMs: [number, number];
  violation(invariant: string, detail: string): void;
}

/** A worker stopping on SIGTERM: SHUTDOWN_GRACE + KILL_GRACE_MS (10 s) + build.ts's 5 s, and room. */
const WORKER_STOP_BOUND_MS = 25_000;
/** An API stopping on SIGTERM: its SHUTDOWN_GRACE (10 s default) and room. */
const API_STOP_BOUND_MS = 15_000;
/** k6 under `setpriv --pdeathsig KILL` dies with its worker: this is generous. */
const ORPHAN_GRACE_MS = 5000;
const RECOVERY_TIMEOUT_MS = 90_000;

/**
 * How long the fault took to recover from, measured after the restart (wrapped: a promise
 * returned from an async function would be awaited with it).
 */
interface Recovery {
  recovery: Promise<number | null>;
}

/** A run k6-gate records as running on one worker, and the check it belongs to. */
interface HeldRun {
  runId: string;
  attempt: number;
  check: string | undefined;
}

/** The runs the worker named `worker` holds now (the running set, each run's record and spec). */
async function runsHeldBy(redis: Redis, prefix: string, worker: string): Promise<HeldRun[]> {
  const gate = `${prefix}:gate:`;
  const ids = await redis.smembers(`${gate}running`);
  const held: HeldRun[] = [];
  for (const runId of ids) {
    const [status, holder, attempt] = await redis.hmget(
      `${gate}run:${runId}`,
      "status",
      "worker",
      "attempt",
    );
    if (status !== "running" || holder !== worker) continue;
    const spec = await redis.get(`${gate}spec:${runId}`);
    const envVars = spec
      ? (JSON.parse(spec) as { envVars?: Record<string, string> }).envVars
      : undefined;
    held.push({ runId, attempt: Number(attempt ?? 0), check: envVars?.SOAK_CHECK });
  }
  return held;
}

/** k6 processes (under the soak's TMPDIR) whose parent is no live worker of the soak. */
export function orphanK6(stack: SoakStack): number[] {
  const live = stack.workerPids();
  return k6ProcessesUnder(stack.runTmpDir).filter((pid) => {
    const parent = parentOf(pid);
    return parent !== undefined && !live.has(parent);
  });
}

/**
 * The chaos loop: after a seeded gap, one fault, then the restart of what it killed; again
 * until the soak's end. Kinds come from a seeded deck (each kind once per round, in a new
 * order each round), victims and signals from the same stream. Recovery is measured in the
 * background, so the next fault may land while the last one is still being recovered from.
 */
export async function runChaos(ctx: ChaosContext): Promise<void> {
  const rand = substream(ctx.seed, 0);
  const { faults } = ctx;
  const recoveries: Promise<void>[] = [];
  let deck: FaultKind[] = [];
  for (;;) {
    const gap = rand.int(...ctx.gapMs);
    if (Date.now() + gap >= ctx.endsAt) break;
    await delay(gap);
    if (deck.length === 0) deck = rand.shuffle(faultKinds);
    const kind = deck.shift() as FaultKind;
    const fault: Fault = {
      id: faults.length + 1,
      kind,
      at: Date.now() - ctx.startedAt,
      victim: "",
      hits: [],
      recoveryMs: null,
      notes: [],
    };
    faults.push(fault);
    const { recovery } = await inject(ctx, rand, fault).catch(async (error: unknown) => {
      // A restart that failed is a finding, not the end of the soak: report it, restore.
      ctx.violation("chaos", `fault ${fault.id} (${kind}): ${(error as Error).message}`);
      await restoreSlots(ctx.stack);
      return { recovery: Promise.resolve(null) };
    });
    ctx.log(
      `fault ${fault.id} at ${(fault.at / 1000).toFixed(1)} s: ${kind} ${fault.victim}; hits ${fault.hits.join(",") || "none"}`,
    );
    recoveries.push(
      recovery.then(
        (ms) => void (fault.recoveryMs = ms),
        (error: unknown) =>
          ctx.violation("recovery", `fault ${fault.id} (${kind}): ${(error as Error).message}`),
      ),
    );
  }
  await Promise.all(recoveries);
}

/** Starts whatever slot a failed fault left without its process. */
async function restoreSlots(stack: SoakStack): Promise<void> {
  await Promise.all([
    ...stack.apis.map((slot, i) => (slot.process ? undefined : stack.restartApi(i))),
    ...stack.workers.map((slot, i) => (slot.process ? undefined : stack.restartWorker(i))),
  ]);
}

/** Injects one fault and restarts; resolves to a promise of its recovery time. */
async function inject(ctx: ChaosContext, rand: Prng, fault: Fault): Promise<Recovery> {
  const downtimeMs = rand.int(0, 1500);
  switch (fault.kind) {
    case "api SIGKILL":
    case "api SIGTERM":
      return apiFault(ctx, fault, rand.int(0, ctx.stack.apis.length - 1), downtimeMs);
    case "worker SIGKILL":
    case "worker SIGTERM":
      return workerFault(ctx, fault, rand.int(0, ctx.stack.workers.length - 1), downtimeMs);
    case "redis failover":
      return failover(ctx, fault, rand.pick(["SIGKILL", "SIGTERM"] as const), downtimeMs);
    case "spontaneous failover":
      throw new Error("a spontaneous failover is observed, not injected");
  }
}

const signalOf = (kind: FaultKind): NodeJS.Signals =>
  kind.endsWith("SIGTERM") ? "SIGTERM" : "SIGKILL";

/** Resolves once the API answers /readyz with 200 (Redis reachable from it). */
async function ready(url: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `${url} to be ready`,
    () =>
      fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (response) => response.status === 200,
        () => false,
      ),
    { timeoutMs, everyMs: 100 },
  );
}

async function stopVictim(
  ctx: ChaosContext,
  fault: Fault,
  slot: Slot,
  boundMs: number,
): Promise<void> {
  const victim = slot.process;
  if (!victim) throw new Error(`${slot.label} is not running`);
  const signal = signalOf(fault.kind);
  const started = Date.now();
  const code = await victim.stop(signal, boundMs);
  slot.process = undefined;
  fault.notes.push(`stopped in ${Date.now() - started} ms`);
  // On SIGTERM both processes finish what they can and exit 0; anything else is a crash.
  if (signal === "SIGTERM" && code !== 0)
    ctx.violation(
      "clean shutdown",
      `fault ${fault.id}: ${slot.label} (pid ${victim.pid}) exited with ${code} on SIGTERM`,
    );
}

async function apiFault(
  ctx: ChaosContext,
  fault: Fault,
  index: number,
  downtimeMs: number,
): Promise<Recovery> {
  const slot = ctx.stack.apis[index] as Slot;
  fault.victim = `${slot.label} (:${slot.port}, pid ${slot.process?.pid})`;
  fault.notes.push(`${ctx.inFlight.size} checks in flight`);
  const killedAt = Date.now();
  await stopVictim(ctx, fault, slot, API_STOP_BOUND_MS);
  await delay(downtimeMs);
  const api = await ctx.stack.restartApi(index);
  // Recovery: from the kill to the same endpoint answering ready again.
  fault.notes.push(`restarted as pid ${api.pid}`);
  return {
    recovery: ready(`http://127.0.0.1:${slot.port}`).then(() => Date.now() - killedAt),
  };
}

async function workerFault(
  ctx: ChaosContext,
  fault: Fault,
  index: number,
  downtimeMs: number,
): Promise<Recovery> {
  const { stack } = ctx;
  const slot = stack.workers[index] as Slot;
  const pid = slot.process?.pid ?? -1;
  fault.victim = `${slot.label} (pid ${pid})`;
  // What it runs now: the runs recorded as its own, then (read last, just before the kill,
  // so a run it took meanwhile is not missed) its k6 processes from /proc.
  const held = await stack
    .redis(
      "the runs the victim holds",
      (redis) => runsHeldBy(redis, stack.prefix, SoakStack.workerName(pid)),
      10_000,
    )
    .catch(() => {
      fault.notes.push("its runs could not be read (Redis unreachable): hits from its k6 only");
      return [] as HeldRun[];
    });
  for (const run of held) if (run.check) hit(ctx, fault, run.check);
  const k6 = k6ProcessesUnder(stack.runTmpDir).filter((each) => parentOf(each) === pid);
  for (const each of k6) {
    const check = environOf(each)?.SOAK_CHECK;
    if (check) hit(ctx, fault, check);
  }
  fault.notes.push(`${k6.length} k6 running, ${held.length} runs held`);
  const killedAt = Date.now();
  await stopVictim(ctx, fault, slot, WORKER_STOP_BOUND_MS);
  // No k6 outlives its worker.
  await waitFor("the dead worker's k6 to exit", () => orphanK6(stack).length === 0, {
    timeoutMs: ORPHAN_GRACE_MS,
  }).catch(() =>
    ctx.violation(
      "no k6 orphan",
      `fault ${fault.id}: k6 ${orphanK6(stack).join(", ")} still running ${ORPHAN_GRACE_MS} ms after ${fault.victim} died`,
    ),
  );
  await delay(downtimeMs);
  const worker = await stack.restartWorker(index);
  fault.notes.push(`restarted as pid ${worker.pid}`);
  if (held.length === 0) return { recovery: Promise.resolve(null) };
  // Recovery: from the kill until every run it held is running again (a new attempt) or judged.
  const recovery = waitFor(
    "the victim's runs to be taken up again",
    async () => {
      const states = await stack.redis("run records", (redis) =>
        Promise.all(
          held.map((run) =>
            redis.hmget(`${stack.prefix}:gate:run:${run.runId}`, "status", "attempt"),
          ),
        ),
      );
      return states.every(
        ([status, attempt], i) =>
          status === null ||
          status === "finished" ||
          Number(attempt) > (held[i] as HeldRun).attempt,
      );
    },
    { timeoutMs: RECOVERY_TIMEOUT_MS, everyMs: 100 },
  ).then(() => Date.now() - killedAt);
  return { recovery };
}

async function failover(
  ctx: ChaosContext,
  fault: Fault,
  signal: NodeJS.Signals,
  downtimeMs: number,
): Promise<Recovery> {
  const { stack } = ctx;
  openWindow(ctx, fault);
  const killedAt = Date.now();
  try {
    const { oldPort, newPort, promotedAfterMs } = await stack.sentinel.failover(signal);
    fault.victim = `primary :${oldPort} (${signal}), :${newPort} promoted`;
    fault.notes.push(`promoted after ${promotedAfterMs} ms`);
    // Recovery: from the kill until every API reaches the new primary (/readyz).
    await Promise.all(stack.apiUrls().map((url) => ready(url)));
    fault.recoveryMs = Date.now() - killedAt;
  } finally {
    await closeWindowWhenSettled(ctx, fault);
  }
  await delay(downtimeMs);
  // The old primary comes back as a replica of the new one, as a restarted pod would.
  await stack.sentinel.restartStopped();
  return { recovery: Promise.resolve(fault.recoveryMs) };
}
