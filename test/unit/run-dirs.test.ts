import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { removeDeadRunDirs } from "../../apps/worker/src/k6/run-dirs";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

it("removes the run directories of dead workers (and a predecessor's), keeps live ones'", async () => {
  const root = mkdtempSync(join(tmpdir(), "k6-gate-run-dirs-"));
  roots.push(root);
  const dead = spawn("true");
  await once(dead, "exit");
  const live = spawn("sleep", ["30"]);
  try {
    const dirs = {
      dead: `k6-gate-run-${dead.pid}-a1`,
      predecessor: `k6-gate-run-${process.pid}-b2`,
      live: `k6-gate-run-${live.pid}-c3`,
      unrelated: "something-else",
    };
    for (const name of Object.values(dirs)) {
      mkdirSync(join(root, name));
      writeFileSync(join(root, name, "script.js"), "export default function () {}");
    }
    expect((await removeDeadRunDirs(root)).sort()).toEqual([dirs.dead, dirs.predecessor].sort());
    expect(existsSync(join(root, dirs.live))).toBe(true);
    expect(existsSync(join(root, dirs.unrelated))).toBe(true);
  } finally {
    live.kill();
  }
});
