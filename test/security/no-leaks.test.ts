import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createLogger } from "@k6-gate/shared";
import { failingScript, passingScript } from "@k6-gate/testkit/scripts";
import { payloadOf } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

const TOKEN = `token-${randomUUID()}`;
const ENV_VALUE = `envval-${randomUUID()}`;
const WORKER_SECRET = `xoxb-${randomUUID()}`;
/** Nothing k6-gate writes outside k6's own process may contain these. */
const SECRETS = [TOKEN, ENV_VALUE, WORKER_SECRET];

const stack = useStack({
  // The most talkative logs there are: whatever is logged, at any level, is checked.
  env: { LOG_LEVEL: "trace" },
  apiEnv: { WEBHOOK_TOKEN: TOKEN },
  workerEnv: { SLACK_TOKEN: WORKER_SECRET },
});

function expectNoSecret(where: string, text: string): void {
  for (const secret of SECRETS) {
    expect(text.includes(secret), `${where} contains ${secret.split("-")[0]}`).toBe(false);
  }
}

/** Every value under `pattern`, as text, whatever the key's type. */
async function dumpRedis(pattern: string): Promise<string> {
  const client = new Redis(stack.redis.adminUrl); // KEYS: the default user
  try {
    const parts: string[] = [];
    for (const key of await client.keys(pattern)) {
      const type = await client.type(key);
      const value =
        type === "string"
          ? await client.get(key)
          : type === "hash"
            ? await client.hgetall(key)
            : type === "zset"
              ? await client.zrange(key, 0, -1, "WITHSCORES")
              : type === "set"
                ? await client.smembers(key)
                : type === "list"
                  ? await client.lrange(key, 0, -1)
                  : await client.xrange(key, "-", "+");
      parts.push(`${key} ${JSON.stringify(value)}`);
    }
    return parts.join("\n");
  } finally {
    client.disconnect();
  }
}

type Auth = "query" | "bearer" | "wrong";

async function call(checksum: string, metadata: Record<string, string>, auth: Auth) {
  const query = auth === "query" ? `?token=${TOKEN}` : "";
  const authorization: Record<string, string> =
    auth === "query" ? {} : { authorization: `Bearer ${TOKEN}${auth === "wrong" ? "x" : ""}` };
  const response = await fetch(`${stack.api.url}/launch-test${query}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...authorization },
    body: JSON.stringify(payloadOf({ checksum, metadata })),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  const runId =
    response.status < 401 || response.status === 422
      ? ((JSON.parse(text) as { run?: { id: string } }).run?.id ?? null)
      : null;
  return { status: response.status, text, runId };
}

describe("tokens, secrets and env_vars values stay out of logs and records", () => {
  it("across passing, failing, rejected and unauthorized calls", async () => {
    const envVars = JSON.stringify({ API_KEY: ENV_VALUE });
    const answers = [
      await call("pass", { script: passingScript(stack.target.port), env_vars: envVars }, "query"),
      await call("fail", { script: failingScript(stack.target.port), env_vars: envVars }, "bearer"),
      await call("throw", { script: "throw new Error('boom');", env_vars: envVars }, "bearer"),
      // Rejected: a bad variable next to the one with the value.
      await call(
        "bad",
        { script: "x", env_vars: JSON.stringify({ API_KEY: ENV_VALUE, BAD: 1 }) },
        "bearer",
      ),
      // Unauthorized: a wrong token that starts with the real one.
      await call("wrong", { script: "x", env_vars: envVars }, "wrong"),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 422, 422, 400, 401]);
    for (const answer of answers) expectNoSecret(`the ${answer.status} answer`, answer.text);

    // The JSON API: each run, its output, the history and canary lists.
    const runIds = answers.flatMap((answer) => (answer.runId ? [answer.runId] : []));
    expect(runIds).toHaveLength(3);
    const paths = [
      ...runIds.flatMap((id) => [`/api/runs/${id}`, `/api/runs/${id}/output`]),
      "/api/runs?namespace=test&name=podinfo",
      "/api/canaries",
      "/api/canaries/test/podinfo/runs",
    ];
    for (const path of paths) {
      const response = await fetch(`${stack.api.url}${path}`);
      expect(response.status, path).toBe(200);
      expectNoSecret(path, await response.text());
    }

    // k6-gate's run records in Redis. BullMQ's job data carries env_vars to the worker
    // (that is its job); the webhook token and the worker's secrets are nowhere at all.
    expectNoSecret("the run records", await dumpRedis(`${stack.env.QUEUE_PREFIX}:gate:*`));
    const everything = await dumpRedis("*");
    expect(everything).toContain(ENV_VALUE); // the scan does see job data
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(WORKER_SECRET);

    // Both processes' logs, at trace level, from start to here.
    await stack.worker.waitForOutput(/run finished/);
    expectNoSecret("the API's logs", stack.api.output());
    expectNoSecret("the worker's logs", stack.worker.output());
  });
});

describe("the logger", () => {
  it("redacts secret-bearing fields up to two levels down", () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger("test", "trace", destination);
    logger.info(
      {
        token: TOKEN,
        headers: { authorization: `Bearer ${TOKEN}` },
        job: { data: { envVars: { API_KEY: ENV_VALUE }, script: "secret script" } },
        config: { SLACK_TOKEN: WORKER_SECRET, WEBHOOK_TOKEN: TOKEN },
        secrets: { DB_PASSWORD: ENV_VALUE },
      },
      "everything at once",
    );
    const text = lines.join("");
    expect(text).toContain("everything at once");
    expect(text).toContain("[redacted]");
    expect(text).not.toContain("secret script");
    expectNoSecret("a log line", text);
  });
});
