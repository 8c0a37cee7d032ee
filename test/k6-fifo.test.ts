import { pbkdf2 } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildK6Environment } from "../apps/worker/src/k6/environment";
import { runK6, type RunK6Options } from "../apps/worker/src/k6/run-k6";
import { K6_BIN } from "@k6-gate/testkit/paths";

/**
 * The FIFO k6's results come through (apps/worker/src/k6/k6-fifo.ts): when k6 never opens
 * it, the run still ends, with its error, and leaves no directory behind; when k6 is done
 * before the worker's reader got a thread, nothing it wrote is lost.
 */
let tmpRoot: string;
beforeEach(async () => {
  tmpRoot = await mkdtemp(join(tmpdir(), "k6-gate-fifo-"));
});
afterEach(async () => {
  await rm(tmpRoot, { recursive: true, force: true });
});

const options = (overrides: Partial<RunK6Options>): RunK6Options => ({
  k6Bin: K6_BIN,
  script: "export default function () {}",
  env: (runDir) => buildK6Environment({ runDir, envVars: {}, secrets: {} }),
  maxDurationMs: 30_000,
  maxRunDurationMs: 30_000,
  killGraceMs: 1000,
  tmpRoot,
  outputMaxBytes: 64 * 1024,
  pdeathsig: false,
  signal: new AbortController().signal,
  ...overrides,
});

describe("k6's results channel when k6 never opens it", () => {
  it("ends a run whose k6 cannot be started, and removes its directory", async () => {
    const outcome = await runK6(options({ k6Bin: join(tmpRoot, "no-such-k6") }));
    expect(outcome.spawnError).toMatch(/ENOENT|no-such-k6/);
    expect(outcome.measured).toMatchObject({ from: "stream" });
    expect(await readdir(tmpRoot)).toEqual([]);
  });

  it("ends a run whose script does not compile, with k6's exit code", async () => {
    const outcome = await runK6(options({ script: "export default function ( {" }));
    expect(outcome.exitCode).toBe(107);
    expect(outcome.measured.from === "stream" && outcome.measured.stream.metrics).toEqual([]);
    expect(await readdir(tmpRoot)).toEqual([]);
  });
});

describe("k6's results channel when the worker is slow to read it", () => {
  it("keeps what k6 wrote when k6 ended before the reader's open ran (libuv's pool busy)", async () => {
    // k6 opens its --out file read-write, which never waits for a reader: a reader whose
    // open waits behind libuv's busy threads found the pipe gone, and a good run was judged
    // "no iteration completed" (found by make test under load). Here the pool stays about a
    // second behind (hashes queued as fast as they finish), longer than this k6 lives.
    let pumping = true;
    const pump = (): void => {
      if (pumping) pbkdf2("k6-gate", "salt", 20_000, 32, "sha256", pump);
    };
    for (let i = 0; i < 200; i++) pump();
    try {
      const outcome = await runK6(
        options({
          script: "export const options = { iterations: 3 }; export default function () {}",
        }),
      );
      expect(outcome.exitCode).toBe(0);
      const stream = outcome.measured.from === "stream" ? outcome.measured.stream : undefined;
      expect(stream?.aggregateOf("iterations")?.count).toBe(3);
    } finally {
      pumping = false;
    }
  });
});
