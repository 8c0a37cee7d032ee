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

/** The runs of one canary, newest first, from the API's JSON. */
export async function runsOf(
  apiUrl: string,
  name = "podinfo",
  namespace = "test",
): Promise<RunView[]> {
  const response = await fetch(`${apiUrl}/api/runs?namespace=${namespace}&name=${name}`);
  return ((await response.json()) as { runs: RunView[] }).runs;
}
