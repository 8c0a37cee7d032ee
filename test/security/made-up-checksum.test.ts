// Issue 28, part 1: a call with the namespace's token and a made-up checksum against the
// check of the good revision in flight. It may cost a rerun; it must never fail the check
// (decision 41: a run someone waits on is never superseded). Real API and worker processes,
// real k6 (only 127.0.0.1), real Redis, and Flagger's own webhook client (go-retryablehttp,
// with Flagger's default `retries: 0`) for the good revision's calls.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callFlagger } from "@k6-gate/testkit/flagger";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { runIdIn, runsOf, type RunView } from "@k6-gate/testkit/runs";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

const TOKEN_A = "team-a-0123456789abcdef0123456789abcdef";
const stack = useStack({ api: false, workers: 0 });
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "k6-gate-made-up-"));
  const tokens = { tokens: [{ name: "team-a-ci", token: TOKEN_A, namespaces: ["team-a"] }] };
  writeFileSync(join(dir, "tokens.json"), JSON.stringify(tokens), { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Passes after about `seconds`: one request to the target, then a sleep. */
const script = (seconds: number) => `
import http from 'k6/http';
import { check, sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { checks: ['rate==1'] } };
export default function () {
  check(http.get('http://127.0.0.1:${stack.target.port}/ok'), { ok: (r) => r.status === 200 });
  sleep(${seconds});
}
`;

async function start(): Promise<ApiProcess> {
  const gate = stack.testGate({
    WEBHOOK_TOKENS_FILE: join(dir, "tokens.json"),
    WORKER_CONCURRENCY: "2",
  });
  const api = await gate.startApi();
  await gate.startWorker();
  return api;
}

/** The made-up revision's call: the namespace's token, a checksum Flagger never sent. */
const forged = (api: ApiProcess, checksum: string) =>
  postWebhook(
    api.url,
    payloadOf({
      namespace: "team-a",
      checksum,
      metadata: { script: script(0), wait_for_results: "false" },
    }),
    { headers: { authorization: `Bearer ${TOKEN_A}` } },
  );

const goodRuns = async (api: ApiProcess, checksum: string): Promise<RunView[]> =>
  (await runsOf(api.url, "podinfo", "team-a")).filter((run) => run.checksum === checksum);

const runningRun = (api: ApiProcess, checksum: string) =>
  waitFor(`a running run of ${checksum}`, async () =>
    (await goodRuns(api, checksum)).find((run) => run.status === "running"),
  );

interface RunJson {
  status: string;
  verdict: string | null;
  outcome: string | null;
  supersededBy: string | null;
  supersededByCaller: { tokenName: string | null; address: string | null } | null;
}

const runJson = async (api: ApiProcess, id: string): Promise<RunJson> =>
  (await (await fetch(`${api.url}/api/runs/${id}`)).json()) as RunJson;

describe("a made-up checksum against a good revision's check in flight", () => {
  it("cannot fail Flagger's check (retries: 0): the waited-on run is not superseded and passes; the made-up run runs separately", async () => {
    const api = await start();
    const flagger = callFlagger({
      url: api.url,
      timeout: "60s",
      retries: 0,
      namespace: "team-a",
      revision: "good-revision",
      token: TOKEN_A,
      metadata: { script: script(3) },
    });
    const { checksum } = await waitFor("the good revision's run", async () => {
      const [run] = await runsOf(api.url, "podinfo", "team-a");
      return run;
    });
    const good = await runningRun(api, checksum);

    const attack = await forged(api, "made-up-1");
    expect(attack.status).toBe(202);
    expect((await runJson(api, good.id)).status).toBe("running");

    const result = await flagger;
    expect(result.error).toBe("");
    expect(result.ok).toBe(true);
    const runs = await goodRuns(api, checksum);
    expect(runs.map((run) => [run.id, run.verdict])).toEqual([[good.id, "pass"]]);
    expect(await runJson(api, good.id)).toMatchObject({ outcome: "passed", supersededBy: null });

    // The made-up revision's run cost capacity, not a verdict: it ran on its own.
    const made = await waitFor("the made-up run's verdict", async () => {
      const run = (await goodRuns(api, "made-up-1"))[0];
      return run?.status === "finished" ? run : undefined;
    });
    expect(made.verdict).toBe("pass");
    expect(made.startedAt).not.toBeNull();
    expect(api.output()).not.toContain("runs of older revisions superseded");
  });

  it("supersedes a run whose caller went away, naming the call; the revision's next call starts a fresh run, not a 422 'recent failure'", async () => {
    const api = await start();
    const good = { namespace: "team-a", checksum: "good", metadata: { script: script(5) } };
    const auth = { headers: { authorization: `Bearer ${TOKEN_A}` } };
    const caller = new AbortController();
    const waiting = postWebhook(api.url, payloadOf(good), { ...auth, signal: caller.signal });
    const first = await runningRun(api, "good");
    caller.abort();
    await expect(waiting).rejects.toThrow();
    // The API noticed and dropped its lease on the run.
    await waitFor("the API to see its caller leave", () =>
      api.output().includes("caller left; the run goes on"),
    );

    expect((await forged(api, "made-up-2")).status).toBe(202);
    const old = await waitFor("the good run to be superseded", async () => {
      const run = await runJson(api, first.id);
      return run.status === "finished" ? run : undefined;
    });
    expect(old).toMatchObject({
      outcome: "superseded",
      supersededByCaller: { tokenName: "team-a-ci", address: "127.0.0.1" },
    });
    const page = await (await fetch(`${api.url}/runs/${first.id}`)).text();
    expect(page).toContain("team-a-ci");
    expect(page).toContain("127.0.0.1");
    await api.waitForOutput(
      /"tokenName":"team-a-ci"[^\n]*"address":"127\.0\.0\.1"[^\n]*runs of older revisions superseded/,
    );

    const retried = await postWebhook(api.url, payloadOf(good), auth);
    expect(retried.status).toBe(200);
    expect(runIdIn(retried.text)).not.toBe(first.id);
  });
});
