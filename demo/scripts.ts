/**
 * The demo's two k6 scripts, as a Canary's `script` metadata would carry them. Both hit
 * only 127.0.0.1 (the demo target); the port comes from env_vars.
 */
export const passingCanaryScript = `import http from 'k6/http';
import { check, sleep } from 'k6';

export const options = {
  vus: 2,
  duration: '3s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],
    checks: ['rate>0.99'],
  },
};

export default function () {
  const res = http.get('http://127.0.0.1:' + __ENV.TARGET_PORT + '/ok');
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(0.1);
}
`;

export const failingCanaryScript = `import http from 'k6/http';
import { check, sleep } from 'k6';

export const options = {
  vus: 2,
  duration: '3s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],
  },
};

export default function () {
  const res = http.get('http://127.0.0.1:' + __ENV.TARGET_PORT + '/flaky');
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(0.1);
}
`;
