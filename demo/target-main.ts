import { startDemoTarget } from "./target";

// docker-compose's demo-target service: listen until stopped.
const target = await startDemoTarget(Number(process.env.DEMO_TARGET_PORT ?? 8089));
console.log(`demo target listening on 127.0.0.1:${target.port}`);
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
