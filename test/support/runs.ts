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
