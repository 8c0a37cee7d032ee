import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "apps/**/*.test.ts", "libs/**/*.test.ts"],
    // Integration tests start real processes (redis-server, k6, workers): keep files
    // sequential so process counts and CPU stay predictable on small CI machines.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ["test/support/global-setup.ts"],
  },
});
