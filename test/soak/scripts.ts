/**
 * The soak's k6 scripts, one per check. Each marks its own start on the target
 * (`/soak/<check>/start`, from `setup()`, which k6 runs once per test), so the target's
 * hit counts say how many times k6 ran each check. Every request goes to 127.0.0.1.
 */
export type ScriptKind = "pass" | "fail" | "long";

/** What the script's own thresholds say: a k6-gate verdict must agree (or name a fault). */
export const truthOf = (kind: ScriptKind): "pass" | "fail" => (kind === "fail" ? "fail" : "pass");

export const startPath = (checkId: string) => `/soak/${checkId}/start`;

/**
 * `pass`: three requests to /ok, thresholds hold. `fail`: three to /fail, `http_req_failed`
 * is over its threshold (k6 exits 99). `long`: one request, then `seconds` of sleep, then
 * passes: long enough for a fault to land mid-run.
 */
export function soakScript(kind: ScriptKind, port: number, checkId: string, seconds = 0): string {
  const base = `http://127.0.0.1:${port}`;
  const iterations = kind === "long" ? 1 : 3;
  const path = kind === "fail" ? "/fail" : "/ok";
  const pause = kind === "long" ? `sleep(${seconds});` : "";
  return `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: ${iterations}, thresholds: { http_req_failed: ['rate<0.01'] } };
export function setup() { http.get('${base}${startPath(checkId)}'); }
export default function () { http.get('${base}${path}'); ${pause} }
`;
}
