import { describe, expect, it } from "vitest";
import { queueDepthOf } from "../../apps/api/src/queue-jobs";

describe("queueDepthOf (what GET /queue/depth answers: docs/decisions.md, Workers scale with the queue)", () => {
  it("counts every run waiting for a worker slot, whichever list or set holds it, plus the running", () => {
    const depth = queueDepthOf({
      waiting: 1,
      prioritized: 7,
      delayed: 3,
      active: 2,
      // Not waiting for a worker: finished, or a flow's parent.
      completed: 40,
      failed: 5,
      "waiting-children": 4,
    });
    expect(depth).toEqual({
      runs: 13,
      queued: 11,
      running: 2,
      jobs: { waiting: 1, prioritized: 7, delayed: 3, active: 2 },
    });
  });

  it("reads a state BullMQ did not report as 0", () => {
    expect(queueDepthOf({ prioritized: 2 })).toEqual({
      runs: 2,
      queued: 2,
      running: 0,
      jobs: { waiting: 0, prioritized: 2, delayed: 0, active: 0 },
    });
  });
});
