import { describe, expect, it } from "vitest";
import type { RunSummary } from "@k6-gate/shared";
import { canaryStateOf } from "../../apps/api/src/dashboard/canary-state";

let made = 0;
/** A judged run of shop/cart, newest first in the lists below. */
function run(phase: string, checksum: string, verdict: "pass" | "fail"): RunSummary {
  made += 1;
  return {
    id: `run-${made}`,
    runKey: `key-${phase}-${checksum}`,
    namespace: "shop",
    name: "cart",
    phase,
    checksum,
    status: "finished",
    verdict,
    outcome: verdict === "pass" ? "passed" : "thresholds_failed",
    enqueuedAt: made,
    finishedAt: made,
    result: null,
  };
}

describe("a canary's state on the home page", () => {
  it("is rolled back after Flagger's post-rollout call with phase Failed, whatever that check said", () => {
    const failed = run("Progressing", "new", "fail");
    const check = run("Failed", "new", "pass");
    const state = canaryStateOf([check, failed, run("Progressing", "old", "pass")]);
    expect(state).toEqual({
      kind: "rollout",
      ended: "rolled back",
      revision: "new",
      failed,
      check,
    });
  });

  it("is promoted after the post-rollout call with phase Succeeded", () => {
    const check = run("Succeeded", "new", "pass");
    const state = canaryStateOf([check, run("Progressing", "new", "pass")]);
    expect(state).toMatchObject({ kind: "rollout", ended: "promoted", failed: undefined, check });
  });

  it("is the newest verdict while a rollout is going, or without post-rollout hooks", () => {
    const newest = { ...run("Progressing", "next", "pass"), result: { metrics: {} } } as RunSummary;
    const older = run("Failed", "new", "pass");
    expect(canaryStateOf([newest, older])).toEqual({ kind: "verdict", run: newest });
    expect(canaryStateOf([])).toEqual({ kind: "verdict", run: undefined });
  });
});
