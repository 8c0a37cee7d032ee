import { Redis } from "ioredis";

/**
 * Everything Redis holds about one run, as text: BullMQ's job hash (job data), k6-gate's
 * run record and its stored output. For "this value never reached Redis" checks.
 */
export async function storedTextOf(redisUrl: string, prefix: string, runId: string) {
  const redis = new Redis(redisUrl);
  try {
    const [job, record, output] = await Promise.all([
      redis.hgetall(`${prefix}:k6-runs:${runId}`),
      redis.hgetall(`${prefix}:gate:run:${runId}`),
      redis.get(`${prefix}:gate:output:${runId}`),
    ]);
    return { job: JSON.stringify(job), record: JSON.stringify(record), output: output ?? "" };
  } finally {
    redis.disconnect();
  }
}
