import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { HonoAdapter } from "@bull-board/hono";
import { serveStatic } from "@hono/node-server/serve-static";
import type { Queue } from "bullmq";
import { Hono } from "hono";
import type { AppEnv } from "../deps";

export const QUEUE_BOARD_PATH = "/admin/queues";

/**
 * bull-board for the run queue at /admin/queues. Retrying, removing or pausing jobs
 * needs someone accountable: without dashboard auth the board is read-only, in
 * bull-board's UI and here, where any write is refused before it reaches bull-board.
 */
export function queueBoard(queue: Queue, { writable }: { writable: boolean }) {
  const adapter = new HonoAdapter(serveStatic).setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue, { readOnlyMode: !writable, allowRetries: writable })],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: "k6-gate queue" } },
  });
  const board = new Hono<AppEnv>();
  if (!writable) {
    board.use("*", async (c, next) => {
      if (c.req.method === "GET" || c.req.method === "HEAD") return next();
      return c.text("the queue board is read-only: set DASHBOARD_USER and DASHBOARD_PASSWORD", 405);
    });
  }
  return board.route("/", adapter.registerPlugin());
}
