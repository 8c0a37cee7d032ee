// Bundles each entry point once (packages stay external: the image installs them).
import { build } from "esbuild";

await build({
  entryPoints: {
    api: "apps/api/src/main.ts",
    worker: "apps/worker/src/main.ts",
    // The API and a worker in one process, for small installs (apps/all).
    all: "apps/all/src/main.ts",
    // One run's k6 in a runner pod (K6_RUNNER=job).
    "pod-run": "apps/worker/src/pod/main.ts",
    "demo-target": "demo/target-main.ts",
    "demo-send": "demo/send.ts",
  },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  // The Node running this build: the pinned one (.node-version, `make build`) or, in the
  // image, its base node:X.Y.Z, which is also the Node that runs dist/.
  target: `node${process.versions.node}`,
  packages: "external",
  // What a process loads only when used (bull-board, the Kubernetes client, Slack) goes in
  // chunks of its own, imported on first use: see docs/benchmarks.md, idle memory.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  // Workspace packages export TypeScript source: bundle them, keep npm packages external.
  alias: { "@k6-gate/shared": "./libs/shared/src/index.ts" },
  jsx: "automatic",
  jsxImportSource: "hono/jsx",
  sourcemap: true,
  logLevel: "info",
});
