import { configDefaults, defineConfig } from "vitest/config";

/** Pure logic and the HTTP layer through `app.request()`: no redis-server, no k6, seconds. */
const UNIT = ["test/unit/**/*.test.ts"];

export default defineConfig({
  test: {
    // `vitest run` runs both projects (each file once); `--project unit` the fast layer only.
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: UNIT,
          // One module graph for all files: importing the apps once halves the run. Files
          // leave no state behind (fake timers and spies are restored after each test).
          isolate: false,
          testTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/**/*.test.ts", "apps/**/*.test.ts", "libs/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...UNIT],
          // Integration tests start real processes (redis-server, k6, workers): keep files
          // sequential so process counts and CPU stay predictable on small CI machines.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
    ],
  },
});
