import { describe, expect, it } from "vitest";
import { ConfigError } from "@k6-gate/shared";
import { concurrencyOf, RUNS_PER_CORE } from "../../apps/worker/src/concurrency";
import { loadWorkerConfig } from "../../apps/worker/src/config";
import { cpusOf } from "../../apps/worker/src/k6/cpu-sampler";

describe("WORKER_CONCURRENCY", () => {
  it("is auto when unset or empty, a whole number when given, and refuses anything else", () => {
    expect(loadWorkerConfig({}).WORKER_CONCURRENCY).toBe("auto");
    expect(loadWorkerConfig({ WORKER_CONCURRENCY: "" }).WORKER_CONCURRENCY).toBe("auto");
    expect(loadWorkerConfig({ WORKER_CONCURRENCY: "auto" }).WORKER_CONCURRENCY).toBe("auto");
    expect(loadWorkerConfig({ WORKER_CONCURRENCY: "3" }).WORKER_CONCURRENCY).toBe(3);
    for (const bad of ["0", "1.5", "-2", "many"]) {
      expect(() => loadWorkerConfig({ WORKER_CONCURRENCY: bad }), bad).toThrow(ConfigError);
    }
  });

  it("auto: RUNS_PER_CORE per CPU this process may use, saying where that count came from", async () => {
    const cpus = await cpusOf(process.pid);
    expect(await concurrencyOf("auto")).toEqual({
      runs: Math.max(1, Math.floor((cpus ?? 0) * RUNS_PER_CORE)),
      from: "auto",
      cpus,
      cpusFrom: "cgroup quota or affinity",
    });
    expect(await concurrencyOf(2)).toMatchObject({ runs: 2, from: "setting", cpus });
  });
});
