// The runtime we test is the runtime we ship: Node.js 24 LTS, pinned in .node-version.
// `make` installs that Node into .tools/node (scripts/install-node.sh) and puts it first on
// PATH, so vitest runs on it, and the API and worker it starts (libs/testkit/src/k6gate.ts
// spawns process.execPath) do too. The Dockerfile's base image must be the same major.minor.
import { execFileSync } from "node:child_process";
import { readFileSync, readlinkSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "@k6-gate/testkit/paths";
import { useStack } from "@k6-gate/testkit/use-stack";

const SHIPPED_MAJOR = 24;
const pin = readFileSync(join(ROOT, ".node-version"), "utf8").trim();
const major = (version: string): number => Number(/^v?(\d+)\./.exec(version)?.[1]);
const majorMinor = (version: string): string => /^v?(\d+\.\d+)\./.exec(version)?.[1] ?? "";

/** The Node a running process executes: its /proc/<pid>/exe, asked for its version. */
function nodeOf(pid: number): { exe: string; version: string } {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  return { exe, version: execFileSync(exe, ["--version"], { encoding: "utf8" }).trim() };
}

describe("the pin", () => {
  it(".node-version is an exact Node 24 release", () => {
    expect(pin).toMatch(/^\d+\.\d+\.\d+$/);
    expect(major(pin)).toBe(SHIPPED_MAJOR);
  });

  it("the Dockerfile's node base image (the NODE_IMAGE build arg's default) has the pin's major.minor", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const tags = [...dockerfile.matchAll(/^ARG\s+NODE_IMAGE=node:(\S+)/gim)].map((m) => m[1] ?? "");
    expect(tags, "one ARG NODE_IMAGE=node:X.Y.Z-...").toHaveLength(1);
    for (const tag of tags) {
      expect(tag, "NODE_IMAGE=node:<exact version>-<debian>-slim").toMatch(
        /^\d+\.\d+\.\d+-\w+-slim$/,
      );
      expect(majorMinor(tag), `Dockerfile NODE_IMAGE=node:${tag} vs .node-version ${pin}`).toBe(
        majorMinor(pin),
      );
    }
    expect(dockerfile).toMatch(/^FROM\s+\$\{NODE_IMAGE\}\s+AS\s+node-base$/im);
  });

  it("package.json says the same: engines node >= 24, @types/node 24", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      engines?: { node?: string };
      devDependencies?: Record<string, string>;
    };
    expect(pkg.engines?.node).toBe(`>=${SHIPPED_MAJOR}`);
    expect(pkg.devDependencies?.["@types/node"]).toMatch(new RegExp(`^\\^${SHIPPED_MAJOR}\\.`));
  });
});

describe("every process runs Node 24", () => {
  const stack = useStack();

  it("vitest itself", () => {
    expect(major(process.versions.node), `vitest runs on ${process.execPath}`).toBe(SHIPPED_MAJOR);
    // Started by `make`: the installed Node is exactly the pin (a bump reinstalls it).
    if (realpathSync(process.execPath).startsWith(join(ROOT, ".tools", "node") + "/"))
      expect(process.version).toBe(`v${pin}`);
  });

  it("the API and the worker: the same node binary as vitest", () => {
    const vitestNode = realpathSync(process.execPath);
    for (const [name, proc] of [
      ["api", stack.api],
      ["worker", stack.worker],
    ] as const) {
      const { exe, version } = nodeOf(proc.pid);
      expect(exe, `${name} (pid ${proc.pid})`).toBe(vitestNode);
      expect(major(version), `${name} runs ${exe} ${version}`).toBe(SHIPPED_MAJOR);
    }
  });
});
