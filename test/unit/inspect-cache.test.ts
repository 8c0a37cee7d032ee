import { describe, expect, it } from "vitest";
import {
  inspectKey,
  inspectOnce,
  rememberedInspect,
  rememberInspect,
} from "../../apps/worker/src/k6/inspect-cache";
import type { ExecutionRequirements } from "../../apps/worker/src/k6/execution-requirements";

const requirements = { scenariosMs: 1000 } as ExecutionRequirements;
const files = { "script.js": "export default function () {}" };
const envIn = (runDir: string, extra: Record<string, string> = {}) => ({
  PATH: "/usr/bin",
  HOME: runDir,
  TMPDIR: `${runDir}/tmp`,
  ...extra,
});

describe("what k6 inspect said before", () => {
  it("is the same check whatever run directory it ran in", () => {
    expect(inspectKey("k6", files, envIn("/tmp/run-a"), "/tmp/run-a")).toBe(
      inspectKey("k6", files, envIn("/tmp/run-b"), "/tmp/run-b"),
    );
  });

  it("is another check for another script, variable value or k6", () => {
    const key = inspectKey("k6", files, envIn("/r"), "/r");
    expect(inspectKey("k6", { "script.js": "x" }, envIn("/r"), "/r")).not.toBe(key);
    expect(inspectKey("k6", files, envIn("/r", { VUS: "5" }), "/r")).not.toBe(key);
    expect(inspectKey("/other/k6", files, envIn("/r"), "/r")).not.toBe(key);
  });

  it("forgets the least recently used script past 200", () => {
    const keys = Array.from({ length: 201 }, (_, i) => `lru-${i}`);
    rememberInspect(keys[0]!, requirements);
    for (const key of keys.slice(1, 200)) rememberInspect(key, requirements);
    expect(rememberedInspect(keys[0]!)).toBe(requirements); // used: now the newest
    rememberInspect(keys[200]!, requirements);
    expect(rememberedInspect(keys[0]!)).toBe(requirements);
    expect(rememberedInspect(keys[1]!)).toBeUndefined();
  });

  it("runs one inspect for runs of one script started together, and remembers it", async () => {
    let inspects = 0;
    const inspect = () => {
      inspects++;
      return new Promise<ExecutionRequirements>((resolve) => setImmediate(resolve, requirements));
    };
    const answers = await Promise.all([1, 2, 3].map(() => inspectOnce("burst", inspect)));
    expect(answers).toEqual([requirements, requirements, requirements]);
    expect(inspects).toBe(1);
    expect(await inspectOnce("burst", inspect)).toBe(requirements);
    expect(inspects).toBe(1);
  });

  it("inspects again for a run whose shared inspect failed (its own run was cancelled)", async () => {
    const answers = [undefined, requirements];
    let inspects = 0;
    const inspect = () => Promise.resolve(answers[inspects++]);
    const [first, second] = await Promise.all([
      inspectOnce("cancelled", inspect),
      inspectOnce("cancelled", inspect),
    ]);
    expect(first).toBeUndefined();
    expect(second).toBe(requirements);
    expect(inspects).toBe(2);
  });
});
