import { describe, expect, it } from "vitest";
import { emptyMetrics, type RunJob, type RunResult } from "@k6-gate/shared";
import { finishedMessage, startedMessage } from "../../apps/worker/src/slack/messages";

const run: RunJob = {
  runId: "k1f2e3-4",
  runKey: "k1f2e3",
  namespace: "test",
  name: "podinfo",
  checksum: "7c9e6679f",
  phase: "Progressing",
  script: "export default function () {}",
  envVars: {},
  kubernetesSecrets: {},
  uploadToCloud: true,
  slackChannels: ["deployments"],
  notificationContext: "<!channel> release 1.2 by *ci*",
};

const result: RunResult = {
  verdict: "fail",
  outcome: "thresholds_failed",
  reason: "2 of 3 thresholds failed",
  exitCode: 99,
  thresholds: [
    { metric: "http_req_duration", expression: "p(95)<500", ok: false, observed: 812.345 },
    { metric: "http_req_failed", expression: "rate<0.01", ok: false, observed: 0.045 },
    { metric: "checks", expression: "rate>0.99", ok: true, observed: 1 },
  ],
  metrics: emptyMetrics,
  cloudUrl: "https://acme.grafana.net/a/k6-app/runs/4815162",
  durationMs: 31_500,
};

const textOf = (message: { blocks: unknown[] }) => JSON.stringify(message.blocks);

describe("Slack messages", () => {
  it("names the canary, revision, attempt and queue wait when a run starts", () => {
    const text = textOf(
      startedMessage(
        run,
        { attempt: 2, enqueuedAt: 1_000, startedAt: 13_000 } as Parameters<
          typeof startedMessage
        >[1],
        undefined,
      ),
    );
    expect(text).toContain("k6-gate is testing *test/podinfo*");
    expect(text).toContain("`7c9e6679f`");
    expect(text).toContain("*Attempt*\\n2");
    expect(text).toContain("*Waited in queue*\\n12s");
  });

  it("shows the verdict, each failed threshold with its observed value, and the context links", () => {
    const message = finishedMessage(run, null, result, "https://k6-gate.example/");
    expect(message.text).toBe("k6-gate: FAIL test/podinfo: 2 of 3 thresholds failed");
    const text = textOf(message);
    expect(text).toContain(":x: *FAIL* *test/podinfo* (thresholds_failed)");
    expect(text).toContain("`http_req_duration` `p(95)&lt;500` observed *812.35 ms*");
    expect(text).toContain("`http_req_failed` `rate&lt;0.01` observed *4.50%*");
    expect(text).not.toContain("`checks`");
    expect(text).toContain("<https://acme.grafana.net/a/k6-app/runs/4815162|k6 Cloud run>");
    expect(text).toContain("<https://k6-gate.example/runs/k1f2e3-4|Dashboard>");
    expect(text).toContain("*Took*\\n31.5s");
  });

  it("escapes a script's text in the notification text as in the blocks: no @channel, mention or link", () => {
    const hostile: RunResult = {
      ...result,
      reason: "script exception: <!channel> <@U024BE7LH> <https://evil.example|click> a&b",
    };
    for (const message of [
      finishedMessage(run, null, hostile, undefined),
      finishedMessage(run, null, { ...hostile, verdict: "pass" }, undefined),
    ]) {
      expect(message.text).toContain(
        "&lt;!channel&gt; &lt;@U024BE7LH&gt; &lt;https://evil.example|click&gt; a&amp;b",
      );
      for (const text of [message.text, textOf(message)]) {
        expect(text).not.toMatch(/<[!@#]|<https?:\/\/evil/);
      }
    }
    expect(startedMessage(run, null, undefined).text).toBe("k6-gate: testing test/podinfo");
  });

  it("shows notification_context as text, never as a mention or a link", () => {
    const text = textOf(finishedMessage(run, null, result, undefined));
    expect(text).toContain("&lt;!channel&gt; release 1.2 by *ci*");
    expect(text).not.toContain("<!channel>");
    expect(text).not.toContain("Dashboard");
  });
});
