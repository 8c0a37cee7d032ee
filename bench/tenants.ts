import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { loadApiConfig } from "../apps/api/src/config";
import { loadWorkerConfig } from "../apps/worker/src/config";
import { endedRun, startedBetween, startedRun } from "@k6-gate/testkit/runs";
import { payloadOf, postWebhook, type WebhookResponse } from "@k6-gate/testkit/webhook";
import { usedMemory } from "./redis-sizing";
import { check, table, type Section, type TargetCheck } from "./report";
import { withStack, type Services, type Stack } from "./stack";

/**
 * Issue 28's figures, on the processes a user runs (real k6 on 127.0.0.1): how long a
 * team waits behind another's burst, however the burst is spread over namespaces; a
 * team's second run behind later arrivals; one namespace flooding canaries and scripts
 * against the quotas' defaults while another's check passes.
 */
const TEAM_A = "team-a-0123456789abcdef0123456789abcdef";
const TEAM_B = "team-b-fedcba9876543210fedcba9876543210";
const BURST = 30;
const FLOOD_CANARIES = 40;
/** The quotas' defaults (the test harness turns them off). */
const QUOTA_DEFAULTS = {
  MAX_CANARIES_PER_OWNER: String(loadApiConfig({}).MAX_CANARIES_PER_OWNER),
  MAX_SCRIPTS_PER_OWNER: String(loadApiConfig({}).MAX_SCRIPTS_PER_OWNER),
  MAX_OUTPUT_BYTES_PER_OWNER: String(loadWorkerConfig({}).MAX_OUTPUT_BYTES_PER_OWNER),
};

interface Arrival {
  namespace: string;
  name: string;
  token?: string;
  seconds?: number;
  /** Extra script text: a distinct script, or one that prints. */
  body?: string;
}

const scriptOf = (port: number, { seconds = 0.5, body = "" }: Arrival) => `
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 1, iterations: 1, thresholds: { http_req_failed: ['rate<0.01'] } };
${body}
export default function () { http.get('http://127.0.0.1:${port}/ok'); sleep(${seconds}); }
`;

/** Queues a check without waiting for its verdict; returns the API's answer. */
function submit(stack: Stack, port: number, arrival: Arrival) {
  return postWebhook(
    stack.apiUrl,
    payloadOf({
      namespace: arrival.namespace,
      name: arrival.name,
      metadata: { script: scriptOf(port, arrival), wait_for_results: "false" },
    }),
    arrival.token ? { headers: { authorization: `Bearer ${arrival.token}` } } : {},
  );
}

async function queued(stack: Stack, port: number, arrival: Arrival): Promise<void> {
  const answer = await submit(stack, port, arrival);
  if (answer.status !== 202) throw new Error(`expected 202, got ${answer.status}: ${answer.text}`);
}

interface BurstFigures {
  waitMs: number;
  overtaking: number;
  /** The longest a team-a run took from its start to its end: one run's time. */
  runMs: number;
}

/** Team-a's burst of 30 (one token) over `spread` namespaces, then team-b's check. */
async function behindBurst(
  services: Services,
  tokensFile: string,
  spread: number,
  cap: Record<string, string>,
): Promise<BurstFigures> {
  const env = { WEBHOOK_TOKENS_FILE: tokensFile, WORKER_CONCURRENCY: "2", ...cap };
  return withStack(services, env, async (stack) => {
    await stack.startApi();
    await stack.startWorkers(1);
    const port = services.target.port;
    const burst = Array.from({ length: BURST }, (_, i) => ({
      namespace: `team-a-${i % spread}`,
      name: `a-${i}`,
      token: TEAM_A,
    }));
    for (const arrival of burst) await queued(stack, port, arrival);
    const teamB = { namespace: "team-b", name: "b", token: TEAM_B };
    await queued(stack, port, teamB);
    const b = await startedRun(stack.apiUrl, teamB, 120_000);
    const startedAt = b.startedAt ?? 0;
    const first = await endedRun(stack.apiUrl, burst[0] as Arrival, 120_000);
    return {
      waitMs: startedAt - b.enqueuedAt,
      overtaking: await startedBetween(stack.apiUrl, burst, b.enqueuedAt, startedAt),
      runMs: (first.finishedAt ?? 0) - (first.startedAt ?? 0),
    };
  });
}

/** Team-b's second run, queued while its first runs, ahead of 18 later arrivals. */
async function secondRun(services: Services) {
  return withStack(services, { WORKER_CONCURRENCY: "1" }, async (stack) => {
    await stack.startApi();
    await stack.startWorkers(1);
    const port = services.target.port;
    const first = { namespace: "team-b", name: "b-1", seconds: 2 };
    const second = { namespace: "team-b", name: "b-2" };
    await queued(stack, port, first);
    await startedRun(stack.apiUrl, first, 120_000);
    await queued(stack, port, second);
    const later = Array.from({ length: 18 }, (_, i) => ({ namespace: `other-${i}`, name: "x" }));
    for (const arrival of later) await queued(stack, port, arrival);
    const done = await endedRun(stack.apiUrl, first, 120_000);
    const b2 = await startedRun(stack.apiUrl, second, 120_000);
    const startedAt = b2.startedAt ?? 0;
    return {
      afterFirstMs: startedAt - (done.finishedAt ?? 0),
      overtaking: await startedBetween(stack.apiUrl, later, b2.enqueuedAt, startedAt),
    };
  });
}

/**
 * One namespace posts 40 canaries, each a distinct ~200 KiB script printing ~1 MiB, with
 * the quotas' defaults; then another namespace's check is judged.
 */
async function flood(services: Services) {
  const admin = new Redis(services.redis.adminUrl);
  try {
    return await withStack(
      services,
      { WORKER_CONCURRENCY: "2", ...QUOTA_DEFAULTS },
      async (stack) => {
        await stack.startApi();
        await stack.startWorkers(1);
        const port = services.target.port;
        const before = await usedMemory(admin);
        const arrivals = Array.from({ length: FLOOD_CANARIES }, (_, i) => ({
          namespace: "flood",
          name: `c-${i}`,
          seconds: 0,
          body: `// ${String(i).repeat((200 * 1024) / String(i).length)}
export function setup() { for (let i = 0; i < 1024; i++) console.log('${i}'.padEnd(1000, '.')); }`,
        }));
        const answers: WebhookResponse[] = [];
        for (const arrival of arrivals) answers.push(await submit(stack, port, arrival));
        const accepted = arrivals.filter((_, i) => answers[i]?.status === 202);
        for (const arrival of accepted) await endedRun(stack.apiUrl, arrival, 120_000);
        const grown = (await usedMemory(admin)) - before;
        const other = await postWebhook(
          stack.apiUrl,
          payloadOf({
            namespace: "team-b",
            name: "podinfo",
            metadata: { script: scriptOf(port, { namespace: "", name: "" }) },
          }),
        );
        return {
          accepted: accepted.length,
          refused: answers.filter((answer) => answer.status === 429).length,
          refusal: answers.find((answer) => answer.status === 429)?.text ?? "(none)",
          grownMiB: grown / 2 ** 20,
          other: `${other.status} ${other.text.split("\n")[0] ?? ""}`,
          otherPassed: other.status === 200,
        };
      },
    );
  } finally {
    admin.disconnect();
  }
}

export async function tenants(services: Services): Promise<Section> {
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-bench-tenants-"));
  try {
    const tokensFile = join(dir, "tokens.json");
    const tokens = [
      { name: "team-a", token: TEAM_A, namespaces: ["team-a-*"] },
      { name: "team-b", token: TEAM_B, namespaces: ["team-b"] },
    ];
    writeFileSync(tokensFile, JSON.stringify({ tokens }), { mode: 0o600 });
    const bursts: [string, number, Record<string, string>][] = [
      ["1 namespace, no cap", 1, {}],
      ["8 namespaces, no cap", 8, {}],
      ["1 namespace, MAX_RUNS_PER_OWNER=1", 1, { MAX_RUNS_PER_OWNER: "1" }],
      ["8 namespaces, MAX_RUNS_PER_OWNER=1", 8, { MAX_RUNS_PER_OWNER: "1" }],
    ];
    const burstRows: (string | number)[][] = [];
    const targets: TargetCheck[] = [];
    for (const [what, spread, cap] of bursts) {
      const figures = await behindBurst(services, tokensFile, spread, cap);
      burstRows.push([what, `${figures.waitMs} ms`, figures.overtaking, `${figures.runMs} ms`]);
      targets.push(
        check(
          `Team-b behind one token's burst (${what})`,
          "starts within one run's time",
          `${figures.waitMs} ms (a run: ${figures.runMs} ms)`,
          figures.waitMs <= figures.runMs,
        ),
      );
    }
    const second = await secondRun(services);
    targets.push(
      check(
        "Team-b's second run behind 18 later arrivals",
        "not starved: next after its first ends",
        `${second.afterFirstMs} ms after its first ended; ${second.overtaking} later arrivals went first`,
        second.overtaking === 0,
      ),
    );
    const flooded = await flood(services);
    targets.push(
      check(
        "One namespace flooding 40 canaries (defaults)",
        "stopped at its quota; another namespace's check passes",
        `${flooded.accepted} accepted, ${flooded.refused} refused (429); team-b: ${flooded.other}`,
        flooded.refused > 0 && flooded.otherPassed,
      ),
    );
    const body = [
      `A burst of ${BURST} checks (0.5 s of k6 each) under one webhook token (\`team-a-*\`), in one namespace or spread over 8, then one check of team-b; one worker with \`WORKER_CONCURRENCY=2\`. Before issue 28 team-b waited 6 ms behind the burst in one namespace and 15.3 s when it was spread over 8 (fair sharing per namespace).`,
      "",
      table(
        ["burst", "team-b waited", "team-a runs started meanwhile", "one team-a run"],
        burstRows,
      ),
      "",
      `Team-b's second check, queued while its first (2 s) runs, with 18 later arrivals of other namespaces behind it (\`WORKER_CONCURRENCY=1\`): it started ${second.afterFirstMs} ms after its first ended; later arrivals that started before it: ${second.overtaking} (before issue 28: it waited 57 s behind all 18).`,
      "",
      `One namespace posting ${FLOOD_CANARIES} canaries, each a distinct ~200 KiB script printing ~1 MiB, with the quotas' defaults (${Object.entries(
        QUOTA_DEFAULTS,
      )
        .map(([name, value]) => `${name} ${value}`)
        .join(
          ", ",
        )}): ${flooded.accepted} accepted, ${flooded.refused} refused, Redis grew by ${flooded.grownMiB.toFixed(1)} MiB in all. The first refusal:`,
      "",
      `> ${flooded.refusal}`,
      "",
      `Then team-b's check: ${flooded.other}.`,
    ].join("\n");
    return { title: "Tenants: bursts, second runs, a flood (issue 28)", body, targets };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
