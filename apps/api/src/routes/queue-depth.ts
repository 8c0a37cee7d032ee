import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../deps";
import { queueDepthOf, readQueueJobs } from "../queue-jobs";

/**
 * `GET /queue/depth`: what an autoscaler reads (KEDA's `metrics-api` trigger,
 * `valueLocation: runs`): the runs waiting for a worker slot, whichever BullMQ list or set
 * holds them, plus the running ones. Open like /metrics (counts only, nothing secret);
 * one Redis script per call. Redis unreachable: 503 (KEDA counts a failed poll).
 */
export function queueDepthRoutes({ queue }: AppDeps) {
  return new Hono<AppEnv>().get("/queue/depth", async (c) =>
    c.json(queueDepthOf(await readQueueJobs(queue))),
  );
}
