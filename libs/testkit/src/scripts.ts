/** k6 scripts used by tests. Every request goes to 127.0.0.1 only. */
export const passingScript = (port: number) => `
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 1, iterations: 3, thresholds: { http_req_failed: ['rate<0.01'], checks: ['rate==1'] } };
export default function () {
  const res = http.get('http://127.0.0.1:${port}/ok');
  check(res, { 'status is 200': (r) => r.status === 200 });
}
`;

export const failingScript = (port: number) => `
import http from 'k6/http';
export const options = { vus: 1, iterations: 3, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${port}/fail'); }
`;

/** Runs about `seconds` seconds against /ok, then passes. */
export const sleepingScript = (port: number, seconds: number) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${port}/ok'); sleep(${seconds}); }
`;
