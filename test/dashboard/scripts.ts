/** k6 scripts for the dashboard tests. Every request goes to 127.0.0.1 only. */

/**
 * One release of a service under test: responses take about `ms`, and one request in
 * `failEvery` fails (0: none). 24 iterations counted across VUs, so the observed rates
 * are exact: failEvery 5 fails iterations 0, 5, 10, 15, 20 = 5/24. The latency
 * threshold is loose on purpose: a busy test machine must not turn a pass into a fail.
 */
export const releaseScript = (port: number, ms: number, failEvery: number) => `
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
export const options = {
  vus: 2,
  iterations: 24,
  thresholds: {
    http_req_duration: ['p(95)<1000'],
    http_req_failed: ['rate<0.05'],
    checks: ['rate>0.95'],
  },
};
export default function () {
  const n = exec.scenario.iterationInTest;
  const fail = ${failEvery} > 0 && n % ${failEvery} === 0;
  const res = http.get(fail ? 'http://127.0.0.1:${port}/fail' : 'http://127.0.0.1:${port}/slow?ms=${ms}');
  check(res, { 'status is 200': (r) => r.status === 200 });
}
`;

/**
 * Prints a line a second for `seconds` seconds, each with markup that must stay text:
 * a script element and an image whose onerror would set window.__xss.
 */
export const tickingScript = (seconds: number) => `
import { sleep } from 'k6';
export const options = { vus: 1, iterations: ${seconds} };
export default function () {
  console.log('tick ' + __ITER + ' <script>window.__xss=1</script> <img src=x onerror=window.__xss=2>');
  sleep(1);
}
`;
