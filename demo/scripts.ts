/**
 * The demo's two k6 scripts, as a Canary's `script` metadata would carry them. Both hit
 * only 127.0.0.1 (the demo target); the port comes from env_vars. They differ in the
 * endpoint (the healthy or the broken release) and in one extra threshold.
 */
const canaryScript = (path: string, extraThreshold: string) => `import http from 'k6/http';
import { check, sleep } from 'k6';

export const options = {
  vus: 2,
  duration: '3s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],${extraThreshold}
  },
};

export default function () {
  const res = http.get('http://127.0.0.1:' + __ENV.TARGET_PORT + '${path}');
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(0.1);
}
`;

export const passingCanaryScript = canaryScript("/ok", "\n    checks: ['rate>0.99'],");
export const failingCanaryScript = canaryScript("/flaky", "");
