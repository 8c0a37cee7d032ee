import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { RunStore } from "@k6-gate/shared";
import { bytesByKind, usedMemory } from "../../bench/redis-sizing";
import { inFlightIds, runsWithoutJob } from "@k6-gate/testkit/in-flight";
import { k6ProcessesUnder } from "@k6-gate/testkit/proc";
import { waitFor } from "@k6-gate/testkit/wait";
import { NAMESPACE, playCanary, type CanaryContext } from "./canaries";
import { orphanK6, runChaos } from "./chaos";
import { watchSwitches } from "./failovers";
import { checkVerdicts } from "./invariants";
import {
  JOBLESS_BOUND_MS,
  type Check,
  type Fault,
  type SoakOptions,
  type SoakReport,
  type Violation,
} from "./model";
import { startPath } from "./scripts";
import { SoakStack } from "./stack";

/**
 * Redis's memory may grow by this much per check on top of what it used before the first
 * one. What a check leaves (MEMORY USAGE, docs/soak.md): its run record (2-8 KiB with its
 * result), k6 output (1-2 KiB for these scripts; a canary keeps its newest 20), BullMQ's
 * finished job (1 KiB; the newest 1000 kept) and its events, the script, the run's inputs
 * and its run key (0.2-0.5 KiB each, kept for HISTORY_MAX_AGE). used_memory grew 20-26 KiB
 * per check in the short soak, before the history limits apply, and 9 KiB per check over
 * the 15-minute one; the bound allows 40 KiB, plus 4 MiB for the replication backlog and
 * the allocator. A leak that scales with checks (an output, a job, a stream kept per run)
 * goes over it.
 */
const BYTES_PER_CHECK = 40 * 1024;
const BASE_ALLOWANCE = 4 * 1024 * 1024;
/** Runs left counted as queued or running once every check ended must drain within this. */
const SETTLE_TIMEOUT_MS = 60_000;
/** A k6 of an attempt fenced off (its run recorded by another) ends within its script's time. */
const STRAY_K6_TIMEOUT_MS = 45_000;

/**
 * One soak: starts the stack, plays the canaries while the chaos loop injects faults, lets
 * the last checks finish, then checks the invariants. Always stops what it started.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const startedAt = Date.now();
  const stack = await SoakStack.start(options);
  const violations: Violation[] = [];
  const violation = (invariant: string, detail: string) => {
    violations.push({ invariant, detail });
    log(`VIOLATION ${invariant}: ${detail}`);
  };
  let peakBytes = 0;
  let sampling = false;
  const sampleMemory = async () => {
    if (sampling) return;
    sampling = true;
    try {
      const bytes = await stack.redis("INFO memory", usedMemory, 1500);
      if (Number.isFinite(bytes)) peakBytes = Math.max(peakBytes, bytes);
    } catch {
      // Mid-failover: the next sample reads the new primary.
    } finally {
      sampling = false;
    }
  };
  const sampler = setInterval(() => void sampleMemory(), 500);
  // Throughout the soak: a run counted as queued or running whose job is gone must be
  // re-queued or ended by the reconciler (every quarter of LOCK_DURATION, 2 s) within the bound.
  const joblessSince = new Map<string, number>();
  const reported = new Set<string>();
  let longestJoblessMs = 0;
  let audits = 0;
  let auditing = false;
  const auditJobs = async () => {
    if (auditing) return;
    auditing = true;
    try {
      const jobless = new Set(
        await stack.redis(
          "runs without a job",
          (redis) => runsWithoutJob(redis, stack.prefix),
          1500,
        ),
      );
      const now = Date.now();
      audits++;
      for (const id of joblessSince.keys()) if (!jobless.has(id)) joblessSince.delete(id);
      for (const id of jobless) {
        const since = joblessSince.get(id) ?? now;
        joblessSince.set(id, since);
        longestJoblessMs = Math.max(longestJoblessMs, now - since);
        if (now - since > JOBLESS_BOUND_MS && !reported.has(id)) {
          reported.add(id);
          violation(
            "nothing counted without a job",
            `run ${id} counted in flight without a job for ${now - since} ms`,
          );
        }
      }
    } catch {
      // Mid-failover: audited again in a moment.
    } finally {
      auditing = false;
    }
  };
  const auditor = setInterval(() => void auditJobs(), 1000);
  let stopWatching: () => Promise<void> = async () => undefined;
  try {
    const baselineBytes = await stack.redis("INFO memory", usedMemory);
    const checks = new Map<string, Check>();
    const inFlight = new Set<Check>();
    const openFailovers = new Set<Fault>();
    const playStarted = Date.now();
    const endsAt = playStarted + options.durationMs;
    log(
      `seed ${options.seed}: playing ${options.canaries} canaries for ${options.durationMs / 1000} s`,
    );
    const ctx: CanaryContext = {
      seed: options.seed,
      apiUrls: stack.apiUrls(),
      targetPort: stack.target.port,
      endsAt,
      checkDeadlineMs: options.checkDeadlineMs,
      longSeconds: options.longSeconds,
      inFlight,
      onStart(check) {
        checks.set(check.id, check);
        for (const fault of openFailovers) {
          fault.hits.push(check.id);
          check.hits.push(fault.id);
        }
      },
      onEnd(check) {
        const took = ((Date.now() - check.startedAt) / 1000).toFixed(1);
        log(
          `check ${check.id} (${check.kind}) -> ${check.verdict ?? "NO VERDICT"}${check.outcome ? ` (${check.outcome})` : ""} in ${took} s, ${check.calls} calls`,
        );
      },
    };
    const faults: Fault[] = [];
    const failovers = {
      stack,
      startedAt: playStarted,
      faults,
      inFlight,
      checkById: (id: string) => checks.get(id),
      openFailovers,
      log,
    };
    stopWatching = watchSwitches(failovers);
    const chaos = runChaos({
      ...failovers,
      seed: options.seed,
      endsAt,
      gapMs: options.faultGapMs,
      violation,
    });
    await Promise.all(Array.from({ length: options.canaries }, (_, i) => playCanary(i, ctx)));
    await chaos;
    log(`every check ended or gave up; ${faults.length} faults`);

    // Once every check has its verdict, nothing is in flight: the sets drain (the
    // reconciler ends what a fault left behind) and no k6 goes on running.
    const lastEnd = Date.now();
    const first = await stack.redis("the in-flight sets", (redis) =>
      inFlightIds(redis, stack.prefix),
    );
    const inFlightAtEnd = first.queued.length + first.running.length;
    const settleMs = await waitFor(
      "the in-flight sets to drain",
      async () => {
        const { queued, running } = await stack.redis("the in-flight sets", (redis) =>
          inFlightIds(redis, stack.prefix),
        );
        return queued.length + running.length === 0 ? Date.now() - lastEnd : undefined;
      },
      { timeoutMs: SETTLE_TIMEOUT_MS, everyMs: 250 },
    ).catch(async () => {
      const left = await stack.redis("the in-flight sets", (redis) =>
        inFlightIds(redis, stack.prefix),
      );
      const jobless = await stack.redis("runs without a job", (redis) =>
        runsWithoutJob(redis, stack.prefix),
      );
      violation(
        "nothing counted without a job",
        `${SETTLE_TIMEOUT_MS / 1000} s after the last check: queued ${left.queued.join(",") || "-"}, running ${left.running.join(",") || "-"}; without a job: ${jobless.join(",") || "-"}`,
      );
      return null;
    });
    await waitFor("every k6 to exit", () => k6ProcessesUnder(stack.runTmpDir).length === 0, {
      timeoutMs: STRAY_K6_TIMEOUT_MS,
      everyMs: 250,
    }).catch(() =>
      violation(
        "no k6 orphan",
        `k6 ${k6ProcessesUnder(stack.runTmpDir).join(", ")} still running ${STRAY_K6_TIMEOUT_MS / 1000} s after every check ended`,
      ),
    );

    const all = [...checks.values()];
    const k6Runs = Object.fromEntries(
      all.map((check) => [check.id, stack.target.hits.get(startPath(check.id)) ?? 0]),
    );
    const attempts = await stack.redis("run history", (redis) =>
      attemptsPerCheck(redis, stack.prefix, all),
    );
    const byKind = Object.fromEntries(
      await stack.redis("memory by key", (redis) => bytesByKind(redis, stack.prefix)),
    );
    await sampleMemory();
    const endBytes = await stack.redis("INFO memory", usedMemory);
    const boundBytes = baselineBytes + BASE_ALLOWANCE + BYTES_PER_CHECK * all.length;
    if (peakBytes > boundBytes)
      violation(
        "Redis memory bounded",
        `used_memory peaked at ${peakBytes} bytes, over the bound ${boundBytes} (${all.length} checks)`,
      );
    violations.push(...checkVerdicts(all, k6Runs));

    await stopWatching();
    // Last: every worker killed at once leaves no k6 behind either.
    await stack.gate.stop("SIGKILL");
    await waitFor("k6 to die with its workers", () => orphanK6(stack).length === 0, {
      timeoutMs: 5000,
    }).catch(() =>
      violation("no k6 orphan", `k6 ${orphanK6(stack).join(", ")} outlived the workers`),
    );

    const report: SoakReport = {
      seed: options.seed,
      options: {
        seed: options.seed,
        durationMs: options.durationMs,
        canaries: options.canaries,
        apis: options.apis,
        workers: options.workers,
        workerConcurrency: options.workerConcurrency,
        faultGapMs: options.faultGapMs,
        longSeconds: options.longSeconds,
        checkDeadlineMs: options.checkDeadlineMs,
      },
      startedAt: new Date(startedAt).toISOString(),
      wallMs: Date.now() - startedAt,
      checks: all,
      faults,
      k6Runs,
      attempts,
      redis: { baselineBytes, peakBytes, endBytes, boundBytes, byKind },
      inFlightAtEnd,
      settleMs,
      jobAudit: { audits, longestJoblessMs },
      violations,
    };
    if (options.artifactsDir) {
      mkdirSync(options.artifactsDir, { recursive: true });
      stack.writeLogs(options.artifactsDir);
      writeFileSync(join(options.artifactsDir, "report.json"), JSON.stringify(report, null, 2));
    }
    return report;
  } finally {
    clearInterval(sampler);
    clearInterval(auditor);
    await stopWatching();
    await stack.stop();
  }
}

/** Attempts per check, summed over the runs k6-gate recorded for its revision. */
async function attemptsPerCheck(
  redis: Redis,
  prefix: string,
  checks: Check[],
): Promise<Record<string, number>> {
  const store = new RunStore(redis, prefix, {
    maxRunsPerCanary: 10_000,
    maxAgeMs: 24 * 3600_000,
    maxOutputsPerCanary: 10_000,
  });
  const attempts: Record<string, number> = {};
  for (const canary of new Set(checks.map((check) => check.canary))) {
    const runs = await store.list(NAMESPACE, canary, 10_000);
    for (const check of checks.filter((each) => each.canary === canary)) {
      attempts[check.id] = runs
        .filter((run) => run.checksum === check.checksum)
        .reduce((sum, run) => sum + run.attempt, 0);
    }
  }
  return attempts;
}
