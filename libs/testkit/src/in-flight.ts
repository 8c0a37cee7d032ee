import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { RUN_QUEUE } from "@k6-gate/shared";

/** Run ids in k6-gate's in-flight sets (`<prefix>:gate:queued` and `:running`). */
export async function inFlightIds(
  client: Redis,
  prefix: string,
): Promise<{ queued: string[]; running: string[] }> {
  const [queued, running] = await Promise.all([
    client.smembers(`${prefix}:gate:queued`),
    client.smembers(`${prefix}:gate:running`),
  ]);
  return { queued, running };
}

/** Queued/running set members whose BullMQ job does not exist. */
export async function runsWithoutJob(client: Redis, prefix: string): Promise<string[]> {
  const queue = new Queue(RUN_QUEUE, { connection: client, prefix });
  // A connection error fails the reads below; BullMQ would also print it.
  queue.on("error", () => undefined);
  try {
    const { queued, running } = await inFlightIds(client, prefix);
    const ids = [...queued, ...running];
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    return ids.filter((_, i) => states[i] === "unknown");
  } finally {
    await queue.close();
  }
}
