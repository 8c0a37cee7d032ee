/** k6 scripts the benchmarks run. Every request goes to 127.0.0.1 only. */

/** The shortest useful check: 1 VU, 1 iteration, one request, one threshold. */
export const oneRequestScript = (port: number) => `
import http from 'k6/http';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${port}/ok'); }
`;

/** The same request, then 2.5 s of think time: a check whose k6 run outlasts the gate's work. */
export const longRequestScript = (port: number) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${port}/ok'); sleep(2.5); }
`;

export { sleepingScript } from "@k6-gate/testkit/scripts";
