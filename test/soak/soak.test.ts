import { join } from "node:path";
import { expect, it } from "vitest";
import { ARTIFACTS } from "@k6-gate/testkit/paths";
import { faultKinds } from "./model";
import { renderReport } from "./report";
import { runSoak } from "./soak";

/**
 * Issue 16, the short soak of `make test`: canaries played through Flagger's own webhook
 * client while APIs, workers and the Redis primary are killed and restarted; then every
 * invariant is checked (test/soak/invariants.ts and soak.ts). A fixed seed, so a failure
 * replays with `SOAK_SEED=<seed> npx vitest run test/soak/soak.test.ts`; `make soak` runs
 * the long one.
 */
const seed = Number(process.env.SOAK_SEED ?? 16);

it(`keeps every invariant through kills, SIGTERMs and failovers (seed ${seed})`, async () => {
  const report = await runSoak({
    seed,
    durationMs: 100_000,
    canaries: 5,
    apis: 2,
    workers: 2,
    workerConcurrency: 2,
    faultGapMs: [5000, 11_000],
    longSeconds: [6, 12],
    checkDeadlineMs: 120_000,
    artifactsDir: join(ARTIFACTS, "soak", `short-${seed}`),
    log: (line) => console.info(`[soak] ${line}`),
  });
  console.info(renderReport(report, `SOAK_SEED=${seed} npx vitest run test/soak/soak.test.ts`));
  expect(report.violations).toEqual([]);
  // The soak proves something only if it played checks and every kind of fault hit.
  expect(report.checks.length).toBeGreaterThan(20);
  const injected = new Set(report.faults.map((fault) => fault.kind));
  expect(faultKinds.filter((kind) => !injected.has(kind))).toEqual([]);
}, 360_000);
