import { z } from "zod";

/**
 * What k6 was asked to do, as `k6 inspect --execution-requirements` read the script's
 * options (with its env_vars) just before `k6 run`: each scenario's executor and load
 * shape, and the k6 that ran it. Only load-shape fields are kept: options such as
 * `tlsAuth`, `hosts`, `headers`, `ext` or a scenario's `env` values may hold secrets, so a
 * scenario's env is kept as names only and the rest is never read.
 */
export const k6StageSchema = z.object({ duration: z.string(), target: z.number() });

export const k6ScenarioSchema = z.object({
  name: z.string(),
  executor: z.string(),
  vus: z.number().optional(),
  iterations: z.number().optional(),
  duration: z.string().optional(),
  maxDuration: z.string().optional(),
  stages: z.array(k6StageSchema).optional(),
  startVUs: z.number().optional(),
  rate: z.number().optional(),
  startRate: z.number().optional(),
  timeUnit: z.string().optional(),
  preAllocatedVUs: z.number().optional(),
  maxVUs: z.number().optional(),
  startTime: z.string().optional(),
  gracefulStop: z.string().optional(),
  exec: z.string().optional(),
  /** The scenario's own env: names only, never values. */
  envNames: z.array(z.string()).optional(),
});
export type K6Scenario = z.infer<typeof k6ScenarioSchema>;

export const k6PlanSchema = z.object({
  /** `k6 version` of the binary that ran ("v2.2.0"); null when it could not be read. */
  version: z.string().nullable(),
  /** Every scenario's time with its graceful stop, as k6 prints it ("1m30s"); null when inspect failed. */
  totalDuration: z.string().nullable(),
  maxVUs: z.number().nullable(),
  scenarios: z.array(k6ScenarioSchema),
});
export type K6Plan = z.infer<typeof k6PlanSchema>;

const NUMBER_FIELDS = [
  "vus",
  "iterations",
  "startVUs",
  "rate",
  "startRate",
  "preAllocatedVUs",
  "maxVUs",
] as const;
const TEXT_FIELDS = [
  "duration",
  "maxDuration",
  "timeUnit",
  "startTime",
  "gracefulStop",
  "exec",
] as const;

/** One scenario of `k6 inspect`'s options, reduced to its load shape (unknown fields dropped). */
export function scenarioOf(name: string, raw: Record<string, unknown>): K6Scenario {
  const scenario: K6Scenario = {
    name,
    executor: typeof raw.executor === "string" ? raw.executor : "unknown",
  };
  for (const field of NUMBER_FIELDS) {
    const value = raw[field];
    if (typeof value === "number" && Number.isFinite(value)) scenario[field] = value;
  }
  for (const field of TEXT_FIELDS) {
    const value = raw[field];
    if (typeof value === "string" && value !== "") scenario[field] = value.slice(0, 200);
  }
  if (Array.isArray(raw.stages)) {
    scenario.stages = raw.stages.flatMap((stage: unknown) => {
      const parsed = k6StageSchema.safeParse(stage);
      return parsed.success ? [parsed.data] : [];
    });
  }
  if (raw.env && typeof raw.env === "object" && !Array.isArray(raw.env)) {
    scenario.envNames = Object.keys(raw.env).slice(0, 100);
  }
  return scenario;
}

/** "constant-vus: 2 VUs for 5s", "ramping-vus: 0 → 10 → 0 VUs over 1m30s", ... */
export function describeScenario(s: K6Scenario): string {
  const parts: string[] = [];
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
  if (s.stages?.length) {
    const start = s.startVUs ?? s.startRate;
    const targets = [...(start === undefined ? [] : [start]), ...s.stages.map((st) => st.target)];
    const unit = s.executor === "ramping-arrival-rate" ? `iterations/${s.timeUnit ?? "1s"}` : "VUs";
    parts.push(
      `${targets.join(" → ")} ${unit} in ${plural(s.stages.length, "stage")} (${s.stages.map((st) => st.duration).join(", ")})`,
    );
  } else if (s.rate !== undefined) {
    parts.push(`${s.rate} iterations/${s.timeUnit ?? "1s"}`);
  } else if (s.vus !== undefined) {
    parts.push(plural(s.vus, "VU"));
  }
  if (s.iterations !== undefined) parts.push(plural(s.iterations, "iteration"));
  if (s.duration) parts.push(`for ${s.duration}`);
  if (s.maxDuration) parts.push(`at most ${s.maxDuration}`);
  if (s.preAllocatedVUs !== undefined) parts.push(`${s.preAllocatedVUs} VUs pre-allocated`);
  if (s.maxVUs !== undefined) parts.push(`up to ${s.maxVUs} VUs`);
  if (s.startTime) parts.push(`starts at ${s.startTime}`);
  if (s.exec) parts.push(`runs ${s.exec}()`);
  return parts.join(", ");
}
