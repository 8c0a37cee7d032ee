import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ApiProcess } from "@k6-gate/testkit/k6gate";
import type { ManagedProcess } from "@k6-gate/testkit/process";
import { failingScript, passingScript, sleepingScript } from "@k6-gate/testkit/scripts";
import { waitFor } from "@k6-gate/testkit/wait";
import type { GateProcesses } from "@k6-gate/testkit/stack";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { startFakeKubernetes } from "./fake-kubernetes";
import { ALL_SCOPES, channelIdOf, startFakeSlack, type FakeSlack } from "./fake-slack";
import { runIdIn } from "@k6-gate/testkit/runs";
import { useStack } from "@k6-gate/testkit/use-stack";
import { storedTextOf } from "./redis-view";

const SLACK_TOKEN = "xoxb-k6gate-test-token-never-logged";
const PUBLIC_URL = "https://k6-gate.example.test";

const stack = useStack({ api: false, workers: 0 });
let slack: FakeSlack;
let dir: string;
/** A kubeconfig whose API server is gone: reading a secret fails as infrastructure. */
let deadKubeconfig: string;

beforeAll(async () => {
  slack = await startFakeSlack();
  dir = mkdtempSync(join(tmpdir(), "k6-gate-slack-"));
  const kubernetes = await startFakeKubernetes("token");
  deadKubeconfig = kubernetes.kubeconfig(dir);
  await kubernetes.close();
});
afterAll(async () => {
  await slack?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * An API and worker on their own queue prefix (stopped after the file at the latest), with
 * Slack pointed at the stand-in.
 */
async function startGate(extra: Record<string, string>) {
  const gate = stack.fileGate({ PUBLIC_URL, WORKER_METRICS_PORT: "0" });
  const workerEnv = { SLACK_TOKEN, SLACK_API_URL: slack.apiUrl, ...extra };
  const api = await gate.startApi();
  const worker = await gate.startWorker(workerEnv);
  return { gate, prefix: gate.env.QUEUE_PREFIX ?? "", workerEnv, api, worker };
}

let checksum = 0;
const call = (api: ApiProcess, metadata: Record<string, string>, revision?: string) =>
  postWebhook(api.url, payloadOf({ checksum: revision ?? `slack-${++checksum}`, metadata }));

const argsOf = (method: string, runId: string) =>
  slack
    .callsOf(method)
    .filter((c) => JSON.stringify(c.args).includes(runId))
    .map((c) => c.args);

describe("Slack, answering", () => {
  let api: ApiProcess;
  let worker: ManagedProcess;
  let prefix: string;
  let workerEnv: Record<string, string>;
  let gate: GateProcesses;

  beforeAll(async () => {
    // A short lock: a killed worker's run is taken up again within seconds.
    ({ gate, api, worker, prefix, workerEnv } = await startGate({
      LOCK_DURATION: "2s",
      KUBECONFIG: deadKubeconfig,
    }));
  });
  afterAll(async () => {
    await Promise.allSettled([api?.stop(), worker?.stop()]);
  });
  beforeEach(({ onTestFailed }) => {
    slack.behaviour = "ok";
    slack.holding.clear();
    for (const scope of ALL_SCOPES) slack.scopes.add(scope);
    // What the worker said about Slack and its runs, for a failure under load.
    onTestFailed(() => {
      const lines = worker.output().split("\n");
      console.error(
        lines
          .filter((line) => /Slack|"msg":"run /.test(line))
          .slice(-30)
          .join("\n"),
      );
    });
  });

  /**
   * Starts a run whose start messages Slack posts but never confirms, kills the worker
   * that posted them (so it never stored their `ts`) and starts another, which takes the
   * run up again. Returns the verdict's response and the posts Slack received.
   */
  async function killedAfterPosting(channels: string[], revision: string) {
    slack.holding.add("chat.postMessage");
    const response = call(
      api,
      {
        script: sleepingScript(stack.target.port, 3),
        slack_channels: channels.join(","),
        wait_timeout: "50s",
      },
      revision,
    );
    const posted = await waitFor("the start messages", () => {
      const found = slack
        .callsOf("chat.postMessage")
        .filter((c) => c.args.blocks?.includes(revision));
      return found.length === channels.length ? found : undefined;
    });
    await worker.stop("SIGKILL");
    slack.holding.clear();
    worker = await gate.startWorker(workerEnv);
    const verdict = await response;
    expect(verdict.status).toBe(200);
    expect(verdict.text).toContain("attempt 2");
    return { runId: runIdIn(verdict.text), posted };
  }

  it("posts per channel at start, then updates the same message and uploads k6's output into its thread", async () => {
    const response = await call(api, {
      script: failingScript(stack.target.port),
      slack_channels: "deployments, #alerts",
      notification_context: "Deployed by <pipeline 42> & friends",
    });
    expect(response.status).toBe(422);
    const runId = runIdIn(response.text);

    const posts = argsOf("chat.postMessage", runId);
    expect(posts.map((p) => p.channel).sort()).toEqual(["#alerts", "deployments"]);
    const started = posts[0]?.blocks ?? "";
    expect(started).toContain("k6-gate is testing *test/podinfo*");
    expect(started).toContain("slack-"); // the revision (checksum)
    expect(started).toContain(`${PUBLIC_URL}/runs/${runId}`);

    const updates = await waitFor("both messages updated", () => {
      const found = argsOf("chat.update", runId);
      return found.length === 2 ? found : undefined;
    });
    for (const channel of ["deployments", "#alerts"]) {
      const update = updates.find((u) => u.channel === channelIdOf(channel));
      expect(update?.ts).toMatch(/^\d{10}\.\d{6}$/);
      expect(update?.blocks).toContain(":x: *FAIL* *test/podinfo* (thresholds_failed)");
      expect(update?.blocks).toContain("`http_req_failed` `rate&lt;0.01` observed *100.00%*");
      expect(update?.blocks).toContain("Deployed by &lt;pipeline 42&gt; &amp; friends");
      expect(update?.blocks).toContain(`<${PUBLIC_URL}/runs/${runId}|Dashboard>`);
    }

    const completed = await waitFor("both uploads completed", () => {
      const found = slack
        .callsOf("files.completeUploadExternal")
        .filter((c) => updates.some((u) => u.ts === c.args.thread_ts));
      return found.length === 2 ? found : undefined;
    });
    expect(completed.map((c) => c.args.channel_id).sort()).toEqual(
      updates.map((u) => u.channel).sort(),
    );
    const fileIds = completed.flatMap((c) =>
      (JSON.parse(c.args.files ?? "[]") as { id: string }[]).map((f) => f.id),
    );
    const uploaded = slack.uploads.filter((u) => fileIds.includes(u.fileId));
    expect(uploaded).toHaveLength(2);
    expect(uploaded[0]?.content).toContain("http_req_failed");

    // The thread references are stored with the run.
    const record = (await (await fetch(`${api.url}/api/runs/${runId}`)).json()) as {
      slackThreads: { channel: string; ts: string; requested: string }[];
    };
    expect(record.slackThreads.map((t) => t.requested).sort()).toEqual(["#alerts", "deployments"]);
    expect(record.slackThreads.map((t) => t.ts).sort()).toEqual(updates.map((u) => u.ts).sort());
  });

  it("updates the same messages when a run is taken up again after its worker was killed", async () => {
    // One channel by name (found with conversations.list), one by id.
    const channels = ["deployments", "C0K6GATE0001"];
    const { runId, posted } = await killedAfterPosting(channels, "crash-1");
    await waitFor("the verdict updates", () => {
      const found = argsOf("chat.update", runId).filter((u) => u.blocks?.includes("*PASS*"));
      return found.length === channels.length ? found : undefined;
    });
    // The posts carried the run id, and nothing was posted again.
    expect(posted.map((p) => JSON.parse(p.args.metadata ?? "{}") as unknown)).toEqual(
      channels.map(() => ({ event_type: "k6_gate_run", event_payload: { run_id: runId } })),
    );
    expect(argsOf("chat.postMessage", runId)).toHaveLength(channels.length);
    // The restart found the original messages and edited them ("Attempt 2").
    for (const channel of channels) {
      const updates = argsOf("chat.update", runId).filter(
        (u) => u.channel === channelIdOf(channel),
      );
      expect(updates.find((u) => u.blocks?.includes("is testing"))?.blocks).toContain(
        "*Attempt*\\n2",
      );
      expect(new Set(updates.map((u) => u.ts)).size).toBe(1);
    }
    const record = (await (await fetch(`${api.url}/api/runs/${runId}`)).json()) as {
      slackThreads: { requested: string }[];
    };
    expect(record.slackThreads.map((t) => t.requested).sort()).toEqual([...channels].sort());
  });

  it("posts anew, with a warning naming the scopes, when Slack refuses to show the history", async () => {
    slack.scopes.delete("channels:history");
    const { runId } = await killedAfterPosting(["deployments"], "crash-2");
    await worker.waitForOutput(
      new RegExp(`"runId":"${runId}".*"scopes":"[^"]*channels:history[^"]*".*missing_scope`),
      10_000,
    );
    await waitFor("the verdict update", () =>
      argsOf("chat.update", runId).find((u) => u.blocks?.includes("*PASS*")),
    );
    // The one duplicate the lookup exists to prevent, and the log says why.
    expect(argsOf("chat.postMessage", runId)).toHaveLength(2);
  });

  it("updates the message when the job itself fails for good (Kubernetes API down)", async () => {
    const response = await call(api, {
      script: passingScript(stack.target.port),
      slack_channels: "deployments",
      kubernetes_secrets: JSON.stringify({ API_TOKEN: "podinfo-k6/token" }),
      wait_timeout: "50s",
    });
    expect(response.status).toBe(422);
    expect(response.text).toContain("k6-gate could not run this check");
    const runId = runIdIn(response.text);
    const update = await waitFor("the failure in Slack", () =>
      argsOf("chat.update", runId).find((u) => u.blocks?.includes("*FAIL*")),
    );
    expect(update.blocks).toContain("Kubernetes API unreachable");
    // Each attempt edited the one message.
    expect(argsOf("chat.postMessage", runId)).toHaveLength(1);
  });

  it("keeps the verdict when Slack rejects the channel or rate-limits, and logs it with the run id", async () => {
    for (const behaviour of ["platform_error", "rate_limited"] as const) {
      slack.behaviour = behaviour;
      const response = await call(api, {
        script: passingScript(stack.target.port),
        slack_channels: "no-such-channel",
      });
      expect(response.status).toBe(200);
      expect(response.text).toContain("PASS test/podinfo");
      const runId = runIdIn(response.text);
      await worker.waitForOutput(
        new RegExp(`"runId":"${runId}".*"method":"chat.postMessage".*Slack notification failed`),
        10_000,
      );
    }
  });

  it("times out a Slack that does not answer, logging it with the run id", async () => {
    slack.behaviour = "hang";
    const response = await call(api, {
      script: passingScript(stack.target.port),
      slack_channels: "deployments",
    });
    expect(response.status).toBe(200);
    const runId = runIdIn(response.text);
    await worker.waitForOutput(
      new RegExp(`"runId":"${runId}".*"error":"[^"]*(timeout|aborted|no answer)[^"]*"`, "i"),
      20_000,
    );
  });

  it("never lets the token into logs, job data or the run record", async () => {
    slack.behaviour = "ok";
    const response = await call(api, {
      script: passingScript(stack.target.port),
      slack_channels: "deployments",
    });
    const runId = runIdIn(response.text);
    await waitFor("the verdict update", () => argsOf("chat.update", runId)[0]);
    // The token does reach Slack...
    expect(slack.calls.every((c) => c.token === SLACK_TOKEN)).toBe(true);
    // ...and nothing else.
    expect(worker.output()).not.toContain(SLACK_TOKEN);
    expect(api.output()).not.toContain(SLACK_TOKEN);
    const stored = await storedTextOf(stack.redis.url, prefix, runId);
    expect(stored.job).toContain(runId);
    expect(`${stored.job}${stored.record}${stored.output}`).not.toContain(SLACK_TOKEN);
  });
});

describe("Slack, hanging", () => {
  it("delivers the verdict while Slack's calls are still unanswered", async () => {
    // Slack's calls are bounded at 5s, longer than this run: if any were on the verdict's
    // path, the verdict would wait for it here.
    const { api, worker } = await startGate({});
    try {
      slack.behaviour = "hang";
      const before = slack.calls.length;
      const response = await call(api, {
        script: passingScript(stack.target.port),
        slack_channels: "deployments",
      });
      expect(response.status).toBe(200);
      expect(slack.calls.length).toBeGreaterThan(before);
      expect(slack.pending()).toBeGreaterThan(0);
    } finally {
      slack.behaviour = "ok";
      await Promise.allSettled([api.stop(), worker.stop()]);
    }
  });
});
