import { afterAll, beforeAll } from "vitest";
import { foundationScenarios } from "./scenarios/foundation";
import { startRedis, type TestRedis } from "./support/redis";
import { onServer } from "./support/redis-under-test";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.destroy();
});

foundationScenarios(() => onServer(redis));
