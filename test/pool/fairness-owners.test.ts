import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { endedRun, startedBetween, startedRun } from "@k6-gate/testkit/runs";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * Issue 28, part 3: fair sharing per unit of trust (a webhook token when tokens are
 * configured, else the namespace), decided when a worker takes work. The two bursts of
 * the issue, on real processes: one token's burst spread over 8 namespaces, and a team's
 * second run behind later arrivals of 18 other namespaces.
 */
const stack = useStack({ api: false, workers: 0 });
const TOKEN_A = "team-a-0123456789abcdef0123456789abcdef";
const TOKEN_B = "team-b-fedcba9876543210fedcba9876543210";
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "k6-gate-owners-"));
  const tokens = {
    tokens: [
      { name: "team-a", token: TOKEN_A, namespaces: ["team-a-*"] },
      { name: "team-b", token: TOKEN_B, namespaces: ["team-b"] },
    ],
  };
  writeFileSync(join(dir, "tokens.json"), JSON.stringify(tokens), { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** About `seconds` of k6 on the target, then a pass. */
const script = (seconds: number) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
export default function () { http.get('http://127.0.0.1:${stack.target.port}/ok'); sleep(${seconds}); }
`;

interface Check {
  namespace: string;
  name: string;
  seconds?: number;
  token?: string;
}

/** A check that answers 202 at once (the run goes on); its k6 is tagged with its token. */
async function submit(api: ApiProcess, { namespace, name, seconds = 0.5, token }: Check) {
  const tag = token === TOKEN_A ? "team-a" : namespace;
  const response = await postWebhook(
    api.url,
    payloadOf({
      namespace,
      name,
      metadata: {
        script: script(seconds),
        wait_for_results: "false",
        env_vars: JSON.stringify({ TEST_TAG: tag }),
      },
    }),
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
  expect(response.status).toBe(202);
}

describe("fair sharing per unit of trust", () => {
  it.each([
    ["no cap", {}],
    ["MAX_RUNS_PER_OWNER=1", { MAX_RUNS_PER_OWNER: "1" }],
  ])(
    "starts team-b's check within one run's time behind one token's burst spread over 8 namespaces (%s)",
    async (what, cap: Record<string, string>) => {
      const k6 = k6Wrapper();
      const gate = stack.testGate({
        WEBHOOK_TOKENS_FILE: join(dir, "tokens.json"),
        WORKER_CONCURRENCY: "2",
        K6_BIN: k6.bin,
        ...cap,
      });
      const api = await gate.startApi();
      await gate.startWorker();
      const burst = Array.from({ length: 30 }, (_, i) => ({
        namespace: `team-a-${i % 8}`,
        name: `a-${i}`,
        token: TOKEN_A,
      }));
      for (const check of burst) await submit(api, check);
      const teamB = { namespace: "team-b", name: "b-0", token: TOKEN_B };
      await submit(api, teamB);
      const b = await startedRun(api.url, teamB);
      const overtaking = await startedBetween(api.url, burst, b.enqueuedAt, b.startedAt ?? 0);
      console.log(
        `one token over 8 namespaces, ${what}: team-b waited ${(b.startedAt ?? 0) - b.enqueuedAt} ms; team-a runs started meanwhile: ${overtaking}`,
      );
      // Two slots: at most one more team-a run in each before team-b's.
      expect(overtaking).toBeLessThanOrEqual(2);
      if (cap.MAX_RUNS_PER_OWNER) {
        // The cap counts the token's k6, across its 8 namespaces.
        await waitFor("8 of team-a's runs to end", () => k6.endsOf("team-a") >= 8, {
          timeoutMs: 60_000,
        });
        expect(k6.maxConcurrent("team-a")).toBe(1);
      }
    },
  );

  it("runs team-b's second check as soon as its first ends, ahead of 18 later arrivals of other namespaces", async () => {
    const gate = stack.testGate({ WORKER_CONCURRENCY: "1" });
    const api = await gate.startApi();
    await gate.startWorker();
    const first = { namespace: "team-b", name: "b-1", seconds: 2 };
    const second = { namespace: "team-b", name: "b-2" };
    await submit(api, first);
    await startedRun(api.url, first);
    await submit(api, second);
    const later = Array.from({ length: 18 }, (_, i) => ({ namespace: `other-${i}`, name: "x" }));
    for (const check of later) await submit(api, check);
    const done = await endedRun(api.url, first, 30_000);
    const b2 = await startedRun(api.url, second);
    const overtaking = await startedBetween(api.url, later, b2.enqueuedAt, b2.startedAt ?? 0);
    console.log(
      `team-b's second run waited ${(b2.startedAt ?? 0) - b2.enqueuedAt} ms (${(b2.startedAt ?? 0) - (done.finishedAt ?? 0)} ms after its first ended); later arrivals started meanwhile: ${overtaking}`,
    );
    expect(overtaking).toBeLessThanOrEqual(1);
  });
});
