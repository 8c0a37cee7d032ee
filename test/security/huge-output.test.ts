import { describe, expect, it } from "vitest";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { rssOf, sampler } from "@k6-gate/testkit/proc";
import { useStack } from "@k6-gate/testkit/use-stack";

const MB = 1024 * 1024;
/**
 * The bounds this test proves while k6 prints 1 GiB: the worker's RSS grows less than
 * 100 MB over its idle size, and stays under 400 MB in all (an idle worker run from
 * source under tsx is ~220 MB; holding the output would take over 1 GiB).
 */
const WORKER_RSS_GROWTH_BOUND = 100 * MB;
const WORKER_RSS_BOUND = 400 * MB;
const OUTPUT_MAX_BYTES = MB; // the worker's default
const LINES = 1024; // of 1 MiB each: 1 GiB, plus k6's log prefix on every line

/** Prints 1 GiB: 1024 console.log calls of a 1 MiB string (k6 writes them to stderr). */
const floodScript = `
const line = 'x'.repeat(${MB});
export const options = { iterations: 1 };
export default function () { for (let i = 0; i < ${LINES}; i++) console.log(line); }
`;

const stack = useStack();

describe("a script that prints 1 GiB of output", () => {
  it("keeps the worker's memory bounded, caps the output and still delivers the verdict", async () => {
    // Sampling, not waiting: the test waits on the webhook's answer.
    const rss = sampler(() => rssOf(stack.worker.pid) ?? 0, 50);
    const started = Date.now();
    let response: Awaited<ReturnType<typeof postWebhook>>;
    let samples: number[];
    try {
      response = await postWebhook(
        stack.api.url,
        payloadOf({ checksum: "flood", metadata: { script: floodScript, wait_timeout: "5m" } }),
        { headers: { accept: "application/json" }, signal: AbortSignal.timeout(300_000) },
      );
    } finally {
      samples = rss.stop();
    }
    const seconds = (Date.now() - started) / 1000;
    const peak = Math.max(...samples);
    console.info(
      `1 GiB of output in ${seconds.toFixed(1)}s; worker RSS before ${((samples[0] ?? 0) / MB) | 0} MB, ` +
        `peak ${(peak / MB) | 0} MB over ${samples.length} samples`,
    );

    expect(response.status).toBe(200);
    const body = JSON.parse(response.text) as { verdict: string; run: { id: string } };
    expect(body.verdict).toBe("pass");
    expect(peak - (samples[0] ?? 0)).toBeLessThan(WORKER_RSS_GROWTH_BOUND);
    expect(peak).toBeLessThan(WORKER_RSS_BOUND);
    expect(stack.worker.child.exitCode).toBeNull();

    // The run's output is its last OUTPUT_MAX_BYTES, with a note of what was dropped; each
    // 1 MiB line is kept by its head (k6-gate reads k6's log line by line), marked as cut.
    const stored = (await (
      await fetch(`${stack.api.url}/api/runs/${body.run.id}/output`)
    ).json()) as {
      output: string;
    };
    const dropped = /^\[\.\.\. (\d+) earlier bytes dropped \.\.\.\]\n/.exec(stored.output);
    expect(Number(dropped?.[1])).toBeGreaterThan(0);
    expect(stored.output).toContain("[line cut at 16 KiB]");
    expect(Buffer.byteLength(stored.output)).toBeLessThanOrEqual(
      OUTPUT_MAX_BYTES + (dropped?.[0].length ?? 0),
    );
  });
});
