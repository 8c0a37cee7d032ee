import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { K6_BIN, ROOT } from "@k6-gate/testkit/paths";
import { postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * `npx k6-gate try canary.yaml`: the same verdict text, for the same metadata, as the
 * webhook gives; the same 400 for metadata the API refuses. Fixtures are Canary manifests
 * whose scripts target the local HTTP target (its port filled in here).
 */
const FIXTURES = join(ROOT, "test", "fixtures", "try");

const stack = useStack();
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "k6-gate-try-"));
}, 60_000);

/** A fixture with the target's port filled in, as a file `try` can read. */
function fixture(name: string): string {
  const text = readFileSync(join(FIXTURES, name), "utf8").replaceAll(
    "TARGET_PORT",
    String(stack.target.port),
  );
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function tryFile(file: string, ...args: string[]) {
  const result = await execa(
    process.execPath,
    ["--import", "tsx", join(ROOT, "apps", "worker", "src", "try", "main.ts"), ...args, file],
    {
      cwd: ROOT,
      env: { K6_BIN },
      reject: false,
      timeout: 60_000,
    },
  );
  return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

/** The webhook's answer for the same Canary's first k6-gate webhook. */
async function webhookFor(file: string) {
  const { parseAllDocuments } = await import("yaml");
  const canary = parseAllDocuments(readFileSync(file, "utf8"))[0]?.toJS() as {
    metadata: { name: string; namespace: string };
    spec: { analysis: { webhooks: { url: string; metadata: Record<string, string> }[] } };
  };
  const hook = canary.spec.analysis.webhooks.find((webhook) =>
    webhook.url.endsWith("/launch-test"),
  );
  return postWebhook(stack.api.url, {
    name: canary.metadata.name,
    namespace: canary.metadata.namespace,
    phase: "Progressing",
    checksum: "",
    metadata: hook?.metadata ?? {},
  });
}

/** The verdict without what differs between two runs: the run id and how long it took. */
const comparable = (text: string) =>
  text
    .split("\n")
    .filter((line) => !line.startsWith("Dashboard:"))
    .map((line) => line.replace(/^run \S+, attempt \d+, took .*$/, "run <id>, attempt 1, took <t>"))
    // Each side measured its own k6 run.
    .map((line) => line.replace(/^p95 \S+ ms, /, "p95 <t> ms, "))
    .join("\n");

/** The verdict text `try` printed for its only check. */
const verdictOf = (stdout: string) =>
  stdout
    .split("\n")
    .filter((line) => !line.startsWith("== ") && !line.startsWith("-> "))
    .join("\n");

describe("k6-gate try", () => {
  it("a passing Canary: exit 0 and the webhook's verdict text", async () => {
    const file = fixture("canary-pass.yaml");
    const [local, webhook] = await Promise.all([tryFile(file), webhookFor(file)]);
    expect(local.code, local.stderr).toBe(0);
    expect(webhook.status).toBe(200);
    expect(local.stdout).toContain("== shop/cart webhook k6-gate (pre-rollout)");
    expect(comparable(verdictOf(local.stdout))).toBe(comparable(webhook.text));
    expect(local.stdout).toMatch(/^k6-gate: PASS shop\/cart \(passed\)$/m);
  });

  it("a failing Canary: exit 1 and the webhook's verdict text", async () => {
    const file = fixture("canary-fail.yaml");
    const [local, webhook] = await Promise.all([tryFile(file), webhookFor(file)]);
    expect(local.code, local.stderr).toBe(1);
    expect(webhook.status).toBe(422);
    expect(comparable(verdictOf(local.stdout))).toBe(comparable(webhook.text));
    expect(local.stdout).toContain("http_req_failed 'rate<0.01' observed 100.00%");
  });

  it("bad metadata: exit 2 and the API's 400 message, and k6 never runs", async () => {
    const file = fixture("canary-bad-metadata.yaml");
    const [local, webhook] = await Promise.all([tryFile(file), webhookFor(file)]);
    expect(local.code).toBe(2);
    expect(webhook.status).toBe(400);
    expect(verdictOf(local.stdout)).toBe(webhook.text);
    expect(local.stdout).toContain("metadata.min_failure_delay: must be a duration");
  });

  it("kubernetes_secrets come from --secret; without them the run fails saying which", async () => {
    const file = fixture("canary-secret.yaml");
    const missing = await tryFile(file);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("kubernetes_secrets not given: API_KEY (shop/cart-api/key)");
    const given = await tryFile(file, "--secret", "API_KEY=local-key");
    expect(given.code, given.stdout).toBe(0);
  });
});
