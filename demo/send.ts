import { printVerdicts, sendDemoCanaries } from "./verdicts";

// docker-compose's `demo` service: send the two canaries to a running k6-gate.
const apiUrl = process.env.API_URL ?? "http://127.0.0.1:8000";
const targetPort = Number(process.env.DEMO_TARGET_PORT ?? 8089);
const ok = printVerdicts(await sendDemoCanaries(apiUrl, targetPort));
process.exit(ok ? 0 : 1);
