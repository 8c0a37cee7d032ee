import { waitFor } from "./wait";

export interface RunView {
  id: string;
  status: string;
  verdict: string | null;
  delivered: boolean;
  attempt: number;
  checksum: string;
  enqueuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** An instant of the API's JSON (ISO 8601) as epoch ms; null stays null. */
export const epochMs = (iso: string | null): number | null =>
  iso === null ? null : Date.parse(iso);

/** The runs of one canary, newest first, from the API's JSON (its instants as epoch ms here). */
export async function runsOf(
  apiUrl: string,
  name = "podinfo",
  namespace = "test",
): Promise<RunView[]> {
  const response = await fetch(`${apiUrl}/api/runs?namespace=${namespace}&name=${name}`);
  type Json = Omit<RunView, "enqueuedAt" | "startedAt" | "finishedAt"> & {
    enqueuedAt: string;
    startedAt: string | null;
    finishedAt: string | null;
  };
  return ((await response.json()) as { runs: Json[] }).runs.map((run) => ({
    ...run,
    enqueuedAt: Date.parse(run.enqueuedAt),
    startedAt: epochMs(run.startedAt),
    finishedAt: epochMs(run.finishedAt),
  }));
}

/** The run id in a verdict body ("run <id>, attempt N, ..."), or undefined. */
export function findRunId(verdict: string): string | undefined {
  return /^run (\S+), attempt \d+/m.exec(verdict)?.[1];
}

/** The run id in a verdict body; a body without one fails the test, showing the body. */
export function runIdIn(verdict: string): string {
  const id = findRunId(verdict);
  if (!id) throw new Error(`no run id in verdict:\n${verdict}`);
  return id;
}

/** A canary by namespace and name (a check as a test or benchmark submits it). */
export interface CanaryName {
  namespace: string;
  name: string;
}

/** The newest run of a canary, or undefined before it has one. */
export const latestRun = async (apiUrl: string, { namespace, name }: CanaryName) =>
  (await runsOf(apiUrl, name, namespace))[0];

/** Waits until a canary's newest run is `ready`; `what` ("to start") names it on timeout. */
export const runWhen = (
  apiUrl: string,
  canary: CanaryName,
  what: string,
  ready: (run: RunView) => boolean,
  timeoutMs = 60_000,
): Promise<RunView> =>
  waitFor(
    `${canary.namespace}/${canary.name} ${what}`,
    async () => {
      const run = await latestRun(apiUrl, canary);
      return run && ready(run) ? run : undefined;
    },
    { timeoutMs },
  );

/** How many of `canaries`' newest runs started within [from, to] (who overtook whom). */
export async function startedBetween(
  apiUrl: string,
  canaries: CanaryName[],
  from: number,
  to: number,
): Promise<number> {
  const runs = await Promise.all(canaries.map((canary) => latestRun(apiUrl, canary)));
  return runs.filter(
    (run) => run?.startedAt != null && run.startedAt >= from && run.startedAt <= to,
  ).length;
}

/** A canary's newest run once it has started. */
export const startedRun = (apiUrl: string, canary: CanaryName, timeoutMs?: number) =>
  runWhen(apiUrl, canary, "to start", (run) => run.startedAt !== null, timeoutMs);

/** A canary's newest run once it has ended. */
export const endedRun = (apiUrl: string, canary: CanaryName, timeoutMs?: number) =>
  runWhen(apiUrl, canary, "to end", (run) => run.finishedAt !== null, timeoutMs);
