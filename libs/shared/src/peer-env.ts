/**
 * flagger-k6-webhook's environment variables (its cmd/main.go) that have an equivalent
 * here, so a deployment moving over keeps working, and k6-gate's own former names. Each is
 * read only when the current name is unset, and says once, at start, what to rename it to.
 */
export interface PeerAlias {
  peer: string;
  ours: string;
  /** Whose name `peer` is; flagger-k6-webhook's unless said. */
  of?: string;
}

/** The API: the peer's listen port (its default was 8000, as ours is). */
export const API_PEER_ALIASES: PeerAlias[] = [{ peer: "LISTEN_PORT", ours: "PORT" }];

/**
 * The worker: the peer's cap on k6 processes at once, here across every worker; the
 * per-namespace cap, which counts per owner since decision 42.
 */
export const WORKER_PEER_ALIASES: PeerAlias[] = [
  { peer: "MAX_CONCURRENT_TESTS", ours: "MAX_CONCURRENT_RUNS" },
  { peer: "MAX_RUNS_PER_NAMESPACE", ours: "MAX_RUNS_PER_OWNER", of: "k6-gate's former" },
];

/** `env` with each alias applied, and one notice per alias found (for the start-up log). */
export function applyPeerAliases(
  env: NodeJS.ProcessEnv,
  aliases: PeerAlias[],
): { env: NodeJS.ProcessEnv; notices: string[] } {
  const applied: NodeJS.ProcessEnv = { ...env };
  const notices: string[] = [];
  for (const { peer, ours, of = "flagger-k6-webhook's" } of aliases) {
    const value = env[peer];
    if (value === undefined || value === "") continue;
    if (env[ours] !== undefined && env[ours] !== "") {
      notices.push(`${peer} (${of} name) is ignored: ${ours} is set`);
      continue;
    }
    applied[ours] = value;
    notices.push(
      `${peer} is ${of} name for ${ours}; read as ${ours}=${value}. Rename it: ${peer} is deprecated`,
    );
  }
  return { env: applied, notices };
}
