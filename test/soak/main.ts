import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ARTIFACTS, ROOT } from "@k6-gate/testkit/paths";
import { randomSeed } from "./prng";
import { renderReport } from "./report";
import { runSoak } from "./soak";

/**
 * `make soak`: the long soak. SOAK_SEED replays a run (else a random seed, printed first),
 * SOAK_MINUTES sets how long faults are injected (default 15). Writes docs/soak.md with the
 * figures of this run and exits 1 when an invariant was violated.
 */
const seed = process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : randomSeed();
const minutes = Number(process.env.SOAK_MINUTES ?? 15);
if (!Number.isInteger(seed) || !(minutes > 0))
  throw new Error("SOAK_SEED must be an integer and SOAK_MINUTES a positive number");
console.log(`[soak] seed ${seed}, ${minutes} min (replay: SOAK_SEED=${seed} make soak)`);

const report = await runSoak({
  seed,
  durationMs: minutes * 60_000,
  canaries: 6,
  apis: 2,
  workers: 3,
  workerConcurrency: 2,
  faultGapMs: [8000, 25_000],
  longSeconds: [10, 20],
  checkDeadlineMs: 180_000,
  artifactsDir: join(ARTIFACTS, "soak", `long-${seed}`),
  log: (line) => console.log(`[soak] ${line}`),
});
const replay = `SOAK_SEED=${seed} SOAK_MINUTES=${minutes} make soak`;
const body = renderReport(report, replay);
writeFileSync(
  join(ROOT, "docs", "soak.md"),
  [
    "# Soak",
    "",
    "Written by `make soak` (`npx tsx test/soak/main.ts`, test/soak/): do not edit by hand. Canaries are played through Flagger's own webhook client (test/flagger-client) while a chaos loop kills API processes and workers (SIGKILL and SIGTERM) and the Redis primary (a Sentinel failover), restarting each; then the invariants below are checked. `make test` runs a short version (test/soak/soak.test.ts, fixed seed, about 100 s of faults).",
    "",
    "Replay a run with its seed: `SOAK_SEED=<seed> make soak` (add `SOAK_MINUTES=<n>`; default 15). Each run's process logs and report.json are kept under test-artifacts/soak/.",
    "",
    body,
  ].join("\n"),
);
console.log(body);
console.log(`[soak] docs/soak.md written; ${report.violations.length} violations`);
process.exit(report.violations.length === 0 ? 0 : 1);
