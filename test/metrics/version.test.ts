// One version everywhere: GET /version, every log line, the dashboard footer and the
// k6gate_build_info gauge of the API and the worker all say the root package.json's version
// and the pinned k6 (.k6-version), and the commit the image was built from (GIT_COMMIT).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { K6_BIN, ROOT } from "@k6-gate/testkit/paths";
import { freePort } from "@k6-gate/testkit/ports";
import { useStack } from "@k6-gate/testkit/use-stack";
import { sampleValue, scrape } from "./prom-text";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const k6Pin = readFileSync(join(ROOT, ".k6-version"), "utf8").trim();
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

let workerMetricsUrl: string;
// GIT_COMMIT on the stack's processes only: a testGate's API is a build from source.
const stack = useStack({
  apiEnv: { GIT_COMMIT: COMMIT },
  workerEnv: { GIT_COMMIT: COMMIT },
  env: async () => {
    const metricsPort = await freePort();
    workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    return { WORKER_METRICS_PORT: String(metricsPort) };
  },
});

describe("the version", () => {
  it("is what GET /version answers, with the pinned k6 and the image's commit", async () => {
    const res = await fetch(`${stack.api.url}/version`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ version: pkg.version, k6Version: k6Pin, commit: COMMIT });
  });

  it("is the k6 the tests run (the binary `make` built from .k6-version)", () => {
    expect(execFileSync(K6_BIN, ["version"], { encoding: "utf8" })).toContain(`v${k6Pin}`);
  });

  it("is k6gate_build_info{version, k6_version, commit} = 1 on the API's and the worker's /metrics", async () => {
    const labels = { version: pkg.version, k6_version: k6Pin, commit: COMMIT };
    for (const families of [
      await scrape(`${stack.api.url}/metrics`),
      await scrape(workerMetricsUrl),
    ]) {
      expect(families.get("k6gate_build_info")?.type).toBe("gauge");
      expect(families.get("k6gate_build_info")?.samples).toHaveLength(1);
      expect(sampleValue(families, "k6gate_build_info", labels)).toBe(1);
    }
  });

  it("is in every log line of the API and the worker", () => {
    for (const proc of [stack.api, stack.worker]) {
      const lines = proc
        .output()
        .split("\n")
        .filter((line) => line.startsWith("{"));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect((JSON.parse(line) as { version?: string }).version, line).toBe(pkg.version);
      }
    }
  });

  it("is in the dashboard's footer", async () => {
    const html = await (await fetch(`${stack.api.url}/`)).text();
    const footer = /<footer[^>]*>([\s\S]*?)<\/footer>/.exec(html)?.[1] ?? "";
    expect(footer).toContain(`k6-gate ${pkg.version} · k6 ${k6Pin}`);
  });

  it("says commit unknown when GIT_COMMIT is unset (a build from source)", async () => {
    const plain = await stack.testGate().startApi();
    try {
      const info = (await (await fetch(`${plain.url}/version`)).json()) as { commit: string };
      expect(info.commit).toBe("unknown");
    } finally {
      await plain.stop();
    }
  });
});
