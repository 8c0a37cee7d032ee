import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Gauge, type Registry } from "prom-client";
import pkg from "../../../package.json" with { type: "json" };

/**
 * What is running. One version for the application, its image and its Helm chart: the root
 * package.json's `version` (bundled into dist/ at build). `k6Version` is the k6 the worker
 * runs, pinned in one file, `.k6-version`: `make` builds that k6 for the tests, the
 * Dockerfile copies k6 from `grafana/k6:<it>` and puts the file next to dist/ (a test keeps
 * them equal).
 */
export interface BuildInfo {
  version: string;
  k6Version: string;
  /** The git commit the image was built from (GIT_COMMIT, a build argument); "unknown" otherwise. */
  commit: string;
}

export const VERSION: string = pkg.version;

/**
 * `.k6-version`, looked up from this module upwards: the repository root when running
 * from source (libs/shared/src), /app when bundled into the image's /app/dist.
 */
function readK6Pin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const file = join(dir, ".k6-version");
    if (existsSync(file)) return readFileSync(file, "utf8").trim() || "unknown";
    dir = dirname(dir);
  }
  return "unknown";
}

export const K6_VERSION: string = readK6Pin();

export function buildInfo(env: NodeJS.ProcessEnv = process.env): BuildInfo {
  const commit = env.GIT_COMMIT?.trim();
  return { version: VERSION, k6Version: K6_VERSION, commit: commit ? commit : "unknown" };
}

/** `k6gate_build_info{version, k6_version, commit} 1`, the Prometheus idiom for build metadata. */
export function registerBuildInfo(registry: Registry, info: BuildInfo = buildInfo()): void {
  new Gauge({
    name: "k6gate_build_info",
    help: "k6-gate's version, the k6 version it runs and the commit it was built from; always 1.",
    labelNames: ["version", "k6_version", "commit"],
    registers: [registry],
  }).set({ version: info.version, k6_version: info.k6Version, commit: info.commit }, 1);
}
