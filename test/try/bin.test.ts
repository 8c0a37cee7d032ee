import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { K6_BIN, ROOT } from "@k6-gate/testkit/paths";
import { startTarget, type Target } from "@k6-gate/testkit/target";

/**
 * `npx k6-gate try` (bin/k6-gate.mjs): on a Node older than package.json's engines it
 * says which Node it needs instead of dying inside a dependency (Node 20: "TEXT_ENCODINGS
 * .union is not a function"), or runs on the pinned Node `make node` installed; on the
 * pinned Node it runs `try`. The old Node is the machine's /usr/bin/node when it is one
 * (Debian 12's is 20); without one those cases are skipped.
 */
const BIN = join(ROOT, "bin", "k6-gate.mjs");
const PINNED = readFileSync(join(ROOT, ".node-version"), "utf8").trim();
const engines = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    engines: { node: string };
  }
).engines.node;
const REQUIRED = Number(/(\d+)/.exec(engines)?.[1]);
const SYSTEM_NODE = "/usr/bin/node";
const systemMajor = existsSync(SYSTEM_NODE)
  ? Number(
      execFileSync(SYSTEM_NODE, ["-p", "process.versions.node.split('.')[0]"], {
        encoding: "utf8",
      }),
    )
  : undefined;
const OLD_NODE = systemMajor !== undefined && systemMajor < REQUIRED ? SYSTEM_NODE : undefined;
const TOOLS_NODE = join(ROOT, ".tools", "node", "bin", "node");

let target: Target;
let dir: string;
let canary: string;

beforeAll(async () => {
  target = await startTarget();
  dir = mkdtempSync(join(tmpdir(), "k6-gate-bin-"));
  canary = join(dir, "canary-pass.yaml");
  const text = readFileSync(join(ROOT, "test", "fixtures", "try", "canary-pass.yaml"), "utf8");
  writeFileSync(canary, text.replaceAll("TARGET_PORT", String(target.port)));
});

afterAll(() => target?.close());

const run = (command: string, args: string[], cwd = ROOT) =>
  execa(command, args, {
    cwd,
    env: { K6_BIN, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` },
    extendEnv: true,
    reject: false,
    timeout: 60_000,
  });

describe("npx k6-gate", () => {
  it.skipIf(!OLD_NODE)(
    "on an old Node with no pinned Node installed: says which Node it needs, exit 2",
    async () => {
      // A checkout before `make node`: the bin, package.json and .node-version, no .tools.
      const checkout = mkdtempSync(join(tmpdir(), "k6-gate-checkout-"));
      mkdirSync(join(checkout, "bin"));
      copyFileSync(BIN, join(checkout, "bin", "k6-gate.mjs"));
      for (const file of ["package.json", ".node-version"])
        copyFileSync(join(ROOT, file), join(checkout, file));
      const result = await run(OLD_NODE ?? "", [
        join(checkout, "bin", "k6-gate.mjs"),
        "try",
        canary,
      ]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(
        `k6-gate needs Node.js ${REQUIRED} or newer; this is Node.js ${systemMajor}.`,
      );
      expect(result.stderr).toContain(`This checkout pins Node.js ${PINNED} (.node-version).`);
      expect(result.stderr).toContain("make node");
      expect(result.stderr).not.toMatch(/TEXT_ENCODINGS|at .*node_modules/);
      expect(result.stdout).toBe("");
    },
  );

  it.skipIf(!OLD_NODE || !existsSync(TOOLS_NODE))(
    "on an old Node in a checkout with the pinned Node: runs try on the pinned one",
    async () => {
      // From the Canary's directory: file arguments stay relative to where you are.
      const result = await run(OLD_NODE ?? "", [BIN, "try", "canary-pass.yaml"], dir);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toContain(`is too old; using ${TOOLS_NODE} (Node.js ${PINNED}`);
      expect(result.stdout).toMatch(/^k6-gate: PASS shop\/cart \(passed\)$/m);
      expect(result.stdout).toContain("-> PASS");
    },
  );

  it("on the pinned Node: `npx k6-gate try` runs the Canary's check", async () => {
    const result = await run("npx", ["--offline", "k6-gate", "try", canary]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).not.toContain("too old");
    expect(result.stdout).toContain("== shop/cart webhook k6-gate (pre-rollout)");
    expect(result.stdout).toMatch(/^k6-gate: PASS shop\/cart \(passed\)$/m);
  });

  it("names its commands when given another", async () => {
    const result = await run(process.execPath, [BIN, "deploy"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("k6-gate: no command deploy\nusage: npx k6-gate try");
  });
});
