import { callFlagger } from "@k6-gate/testkit/flagger";
import { findRunId } from "@k6-gate/testkit/runs";
import type { Check } from "./model";
import { substream } from "./prng";
import { soakScript, type ScriptKind } from "./scripts";

export const NAMESPACE = "soak";

export interface CanaryContext {
  seed: number;
  /** Every API's URL; Flagger's next call goes to any of them, as through a Service. */
  apiUrls: string[];
  targetPort: number;
  /** No new check starts after this instant (epoch ms). */
  endsAt: number;
  checkDeadlineMs: number;
  longSeconds: [number, number];
  /** Checks in flight now: a failover hits each of them. */
  inFlight: Set<Check>;
  onStart(check: Check): void;
  onEnd(check: Check): void;
}

/** Script kinds in the proportions the soak plays them: more passes than failures. */
const KINDS: ScriptKind[] = ["pass", "pass", "pass", "fail", "fail", "long", "long"];

/** "k6-gate: FAIL soak/c1 (thresholds_failed) revision ..." -> thresholds_failed */
const outcomeIn = (body: string) => /^k6-gate: FAIL \S+ \(([a-z_]+)\)/m.exec(body)?.[1] ?? null;

/**
 * Plays one canary as Flagger's scheduler would its pre-rollout hook: revision after
 * revision, each called until k6-gate gives it a verdict (Flagger calls again each interval
 * while a call fails). The canary's settings and its revisions' scripts come from its own
 * seeded stream; which API a call reaches, from another (that one depends on timing).
 */
export async function playCanary(index: number, ctx: CanaryContext): Promise<Check[]> {
  const plan = substream(ctx.seed, 1 + index);
  const routing = substream(ctx.seed, 1001 + index);
  const canary = `c${index}`;
  // Flagger's webhook settings for this canary: timeout per attempt and retries, and
  // whether the check asks k6-gate to answer 503 + Retry-After after 3 s (`wait_timeout`).
  const timeout = plan.pick(["3s", "5s", "8s"]);
  const retries = plan.int(2, 4);
  const waitTimeout = plan.pick([undefined, "3s"]);
  const checks: Check[] = [];
  for (let revision = 1; Date.now() < ctx.endsAt; revision++) {
    const kind = plan.pick(KINDS);
    const seconds = kind === "long" ? plan.int(...ctx.longSeconds) : 0;
    const check: Check = {
      id: `${canary}r${revision}`,
      canary,
      kind,
      seconds,
      checksum: "",
      startedAt: Date.now(),
      endedAt: null,
      verdict: null,
      outcome: null,
      body: null,
      calls: 0,
      verdictless: [],
      hits: [],
    };
    checks.push(check);
    ctx.inFlight.add(check);
    ctx.onStart(check);
    const metadata: Record<string, string> = {
      script: soakScript(kind, ctx.targetPort, check.id, seconds),
      // In k6's environment: the check a k6 process belongs to, read from /proc.
      env_vars: JSON.stringify({ SOAK_CHECK: check.id }),
      ...(waitTimeout ? { wait_timeout: waitTimeout } : {}),
    };
    while (check.verdict === null && Date.now() - check.startedAt < ctx.checkDeadlineMs) {
      const result = await callFlagger({
        url: routing.pick(ctx.apiUrls),
        timeout,
        retries,
        name: canary,
        namespace: NAMESPACE,
        revision: check.id,
        metadata,
      });
      check.calls++;
      check.checksum ||= result.checksum;
      if (result.ok) {
        check.verdict = "pass";
      } else if (findRunId(result.error)) {
        check.verdict = "fail";
        check.outcome = outcomeIn(result.error);
        check.body = result.error;
      } else {
        check.verdictless.push(result.error.slice(0, 200) || "no answer");
        // Flagger's client waits at least a second before each retry: an answer this quick
        // was not retried (a 4xx without a verdict) and would only come again.
        if (result.durationMs < 500) break;
      }
    }
    check.endedAt = check.verdict === null ? null : Date.now();
    ctx.inFlight.delete(check);
    ctx.onEnd(check);
    // A check that never ended stops its canary: Flagger would have rolled it back.
    if (check.verdict === null) break;
  }
  return checks;
}
