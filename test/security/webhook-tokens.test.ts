// Per-namespace credentials (WEBHOOK_TOKENS_FILE): a token bound to team-b can neither
// read (be handed the undelivered verdict of), attach to, nor create runs of team-a,
// whatever canary it claims; the real API and worker processes, real k6, real Redis.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadApiConfig } from "../../apps/api/src/config";
import { runIdIn, runsOf } from "@k6-gate/testkit/runs";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

const TOKEN_A = "team-a-0123456789abcdef0123456789abcdef";
const TOKEN_B = "team-b-fedcba9876543210fedcba9876543210";
const SHARED = "shared-00112233445566778899aabbccddeeff";
const tokensFile = {
  tokens: [
    { name: "team-a", token: TOKEN_A, namespaces: ["team-a"] },
    { name: "team-b", token: TOKEN_B, namespaces: ["team-b", "team-b-*"] },
  ],
};

let dir: string;
const stack = useStack({
  env: () => {
    dir = mkdtempSync(join(tmpdir(), "k6-gate-tokens-"));
    writeFileSync(join(dir, "tokens.json"), JSON.stringify(tokensFile), { mode: 0o600 });
    return {
      WEBHOOK_TOKENS_FILE: join(dir, "tokens.json"),
      WEBHOOK_TOKEN: SHARED,
      // The finding's set-up: both teams' namespaces allowed, so only the binding refuses.
      ALLOWED_NAMESPACES: "team-a|team-b(-.+)?",
      LOG_LEVEL: "debug",
    };
  },
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

/** Passes after about two seconds: a check on /ok, then a sleep. Only 127.0.0.1. */
const script = () => `
import http from 'k6/http';
import { check, sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { checks: ['rate==1'] } };
export default function () {
  const res = http.get('http://127.0.0.1:${stack.target.port}/ok');
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(2);
}
`;

function call(
  token: string | undefined,
  canary: { namespace: string; name?: string; checksum: string },
  metadata: Record<string, string> = {},
) {
  return postWebhook(
    stack.api.url,
    payloadOf({ ...canary, metadata: { script: script(), ...metadata } }),
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
}

const teamA = { namespace: "team-a", name: "podinfo", checksum: "rev1" };

describe("tokens bound to namespaces (WEBHOOK_TOKENS_FILE)", () => {
  it("token-b can neither attach to, be handed, nor create team-a's runs; token-a can", async () => {
    // team-a's check starts; its caller gives up before the verdict (Flagger's timeout).
    const first = await call(TOKEN_A, teamA, { wait_timeout: "1s" });
    expect(first.status).toBe(503);
    const [running] = await runsOf(stack.api.url, "podinfo", "team-a");
    expect(running?.status).toMatch(/queued|running/);

    // Attach: the same canary, revision and script while the run is in flight.
    const attach = await call(TOKEN_B, teamA);
    expect(attach.status).toBe(403);
    expect(attach.text).toBe(
      "namespace team-a may not use this webhook with token team-b (bound to team-b, team-b-*)",
    );

    // Read: the finished run's verdict has not been delivered; token-b is not handed it.
    const finished = await waitFor(
      "team-a's run to finish",
      async () =>
        (await runsOf(stack.api.url, "podinfo", "team-a")).find((r) => r.verdict !== null),
      { timeoutMs: 40_000 },
    );
    expect(finished).toMatchObject({ id: running?.id, verdict: "pass", delivered: false });
    const read = await call(TOKEN_B, teamA);
    expect(read.status).toBe(403);
    expect(read.text).not.toContain(finished.id);

    // Create: a new revision of team-a, and another team-a canary.
    for (const canary of [
      { ...teamA, checksum: "rev2" },
      { namespace: "team-a", name: "other", checksum: "rev1" },
    ]) {
      const create = await call(TOKEN_B, canary, { wait_for_results: "false" });
      expect(create.status, JSON.stringify(canary)).toBe(403);
    }

    // Nothing of token-b's reached team-a's history: one run, still undelivered.
    expect(await runsOf(stack.api.url, "podinfo", "team-a")).toMatchObject([
      { id: finished.id, delivered: false },
    ]);
    expect(await runsOf(stack.api.url, "other", "team-a")).toEqual([]);

    // token-a is handed its verdict: the same run, now delivered.
    const delivered = await call(TOKEN_A, teamA);
    expect(delivered.status).toBe(200);
    expect(runIdIn(delivered.text)).toBe(finished.id);
    expect(await runsOf(stack.api.url, "podinfo", "team-a")).toMatchObject([
      { id: finished.id, delivered: true },
    ]);
  });

  it("token-b works for its own namespaces, a name and a prefix", async () => {
    const own = await call(TOKEN_B, { namespace: "team-b", checksum: "rev1" });
    expect(own.status, own.text).toBe(200);
    const prefixed = await call(TOKEN_B, { namespace: "team-b-staging", checksum: "rev1" });
    expect(prefixed.status, prefixed.text).toBe(200);
    // token-a is bound the other way round.
    const cross = await call(TOKEN_A, { namespace: "team-b", checksum: "rev9" });
    expect(cross.status).toBe(403);
    expect(cross.text).toContain("namespace team-b may not use this webhook with token team-a");
  });

  it("keeps WEBHOOK_TOKEN (any namespace) and the 401 for everything else", async () => {
    const shared = await call(SHARED, { namespace: "team-a", name: "shared", checksum: "rev1" });
    expect(shared.status, shared.text).toBe(200);
    for (const token of [undefined, "team-a-0123456789abcdef0123456789abcdee", TOKEN_A.slice(1)]) {
      const refused = await call(token, teamA);
      expect(refused.status).toBe(401);
      expect(refused.text).toBe("unauthorized");
    }
    // As Flagger sends it: in the URL.
    const response = await fetch(`${stack.api.url}/launch-test?token=${TOKEN_B}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        payloadOf({ ...teamA, checksum: "rev3", metadata: { script: script() } }),
      ),
    });
    expect(response.status).toBe(403);
  });

  it("never logs a token", () => {
    const logs = stack.api.output();
    expect(logs).toContain(`"path":"/launch-test","status":403`);
    for (const token of [TOKEN_A, TOKEN_B, SHARED]) expect(logs).not.toContain(token);
  });
});

describe("WEBHOOK_TOKENS_FILE is checked once, at start, with readable errors", () => {
  /** The config error for a file with `contents` (null: no such file); "" when none. */
  const load = (contents: string | null, env: Record<string, string> = {}) => {
    const file = join(dir, `tokens-${Math.random().toString(36).slice(2)}.json`);
    if (contents !== null) writeFileSync(file, contents);
    try {
      loadApiConfig({ WEBHOOK_TOKENS_FILE: file, ...env });
      return "";
    } catch (error) {
      return (error as Error).message;
    }
  };
  const entry = (fields: Record<string, unknown>) =>
    JSON.stringify({
      tokens: [{ name: "team-a", token: TOKEN_A, namespaces: ["team-a"], ...fields }],
    });

  it("accepts a valid file and binds each token to its namespaces", () => {
    const config = loadApiConfig({ WEBHOOK_TOKENS_FILE: join(dir, "tokens.json") });
    const [a, b] = config.WEBHOOK_TOKENS_FILE ?? [];
    expect(a?.name).toBe("team-a");
    expect(["team-a", "team-a-x", "team-b"].map((ns) => a?.allows(ns))).toEqual([
      true,
      false,
      false,
    ]);
    expect(["team-b", "team-b-dev", "team-bx", "team-a"].map((ns) => b?.allows(ns))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    // The config holds digests, not the tokens.
    expect(JSON.stringify(config)).not.toContain(TOKEN_A);
  });

  it.each([
    ["a missing file", null, /WEBHOOK_TOKENS_FILE: \S+: cannot be read \(ENOENT\)/],
    ["YAML instead of JSON", `tokens:\n  - token: ${TOKEN_A}`, /is not valid JSON/],
    ["a short token", entry({ token: "short" }), /tokens\.0\.token: 16-256 characters/],
    ["a token that breaks a URL", entry({ token: `${TOKEN_A}&x=1` }), /tokens\.0\.token/],
    ["no namespaces", entry({ namespaces: [] }), /tokens\.0\.namespaces: at least one/],
    [
      "a pattern mid-name",
      entry({ namespaces: ["team-*-a"] }),
      /tokens\.0\.namespaces\.0: a namespace name/,
    ],
    ["an unknown field", entry({ namespace: "team-a" }), /tokens\.0: Unrecognized key/],
    ["no tokens", JSON.stringify({ tokens: [] }), /tokens: at least one token/],
  ])("names the problem: %s", (_what, contents, problem) => {
    const message = load(contents);
    expect(message).toMatch(problem);
    expect(message).not.toContain(TOKEN_A);
  });

  it("warns at start of a prefix with no separator before its *, naming the token, the pattern and the safe form", async () => {
    const loose = {
      tokens: [
        { name: "team-a", token: TOKEN_A, namespaces: ["team-a", "team-a*"] },
        { name: "ml", token: TOKEN_B, namespaces: ["ml-*", "ml*", "*"] },
      ],
    };
    const file = join(dir, "loose-tokens.json");
    writeFileSync(file, JSON.stringify(loose), { mode: 0o600 });
    const started = await stack.testGate({ WEBHOOK_TOKENS_FILE: file }).startApi();
    try {
      const warnings = started
        .output()
        .split("\n")
        .filter((line) => line.includes("namespace pattern"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(warnings).toEqual([
        expect.objectContaining({
          level: 40,
          tokenName: "team-a",
          pattern: "team-a*",
          safePattern: "team-a-*",
          msg: 'WEBHOOK_TOKENS_FILE: token team-a: namespace pattern "team-a*" admits every namespace starting with "team-a", such as "team-ax", not only "team-a-..."; the safe form is "team-a-*" (with "team-a" for the namespace itself)',
        }),
        expect.objectContaining({ tokenName: "ml", pattern: "ml*", safePattern: "ml-*" }),
      ]);
    } finally {
      await started.stop();
    }
    // The safe forms (the suite's own file: "team-b-*") start without one.
    expect(stack.api.output()).not.toContain("namespace pattern");
  });

  it("refuses one token twice, and WEBHOOK_TOKEN repeated in the file", () => {
    const twice = JSON.stringify({
      tokens: [
        { name: "team-a", token: TOKEN_A, namespaces: ["team-a"] },
        { name: "team-b", token: TOKEN_A, namespaces: ["team-b"] },
      ],
    });
    expect(load(twice)).toMatch(/tokens\.1\.token: the same token as tokens\.0/);
    expect(load(entry({}), { WEBHOOK_TOKEN: TOKEN_A })).toMatch(
      /WEBHOOK_TOKEN is also a token in WEBHOOK_TOKENS_FILE/,
    );
    for (const message of [load(twice), load(entry({}), { WEBHOOK_TOKEN: TOKEN_A })]) {
      expect(message).not.toContain(TOKEN_A);
    }
  });
});
