import { runPath, type RunSummary } from "@k6-gate/shared";
import { shortChecksum } from "./format";
import { VerdictBadge } from "./verdict-badge";

/**
 * Flagger calls post-rollout hooks once a rollout is over, with phase `Succeeded` after a
 * promotion and `Failed` after a rollback (Flagger v1.41, scheduler.go); every other hook
 * is called with `Progressing` (confirm-rollout: the canary's phase).
 */
const ROLLOUT_ENDED = { Failed: "rolled back", Succeeded: "promoted" } as const;

/**
 * A canary's state as a person asks for it: how its last rollout ended when Flagger told
 * k6-gate (a post-rollout call), else its newest verdict. A rolled-back canary whose
 * post-rollout check passed (it tested the old revision, serving again) is rolled back,
 * never PASS.
 */
export type CanaryState =
  | {
      kind: "rollout";
      ended: (typeof ROLLOUT_ENDED)[keyof typeof ROLLOUT_ENDED];
      revision: string;
      /** The run that failed the revision, when k6-gate judged one (a rollback only). */
      failed: RunSummary | undefined;
      /** The post-rollout call's own run. */
      check: RunSummary;
    }
  | { kind: "verdict"; run: RunSummary | undefined };

/** `runs`: the canary's recent runs, newest first. */
export function canaryStateOf(runs: RunSummary[]): CanaryState {
  const newest = runs[0];
  const ended = newest && ROLLOUT_ENDED[newest.phase as keyof typeof ROLLOUT_ENDED];
  if (!newest || !ended) return { kind: "verdict", run: runs.find((run) => run.result !== null) };
  const failed =
    ended === "rolled back"
      ? runs.find(
          (run) =>
            run.checksum === newest.checksum &&
            run.verdict === "fail" &&
            !(run.phase in ROLLOUT_ENDED),
        )
      : undefined;
  return { kind: "rollout", ended, revision: newest.checksum, failed, check: newest };
}

/** The home page's cell: "ROLLED BACK revision 1a2b3c4d5e", or the newest verdict. */
export function CanaryStateCell(props: { state: CanaryState }) {
  const { state } = props;
  if (state.kind === "verdict") {
    return state.run ? (
      <a href={runPath(state.run.id)}>
        <VerdictBadge run={state.run} />
      </a>
    ) : (
      <span class="muted">none yet</span>
    );
  }
  const rolledBack = state.ended === "rolled back";
  const check = state.check.verdict ? state.check.verdict.toUpperCase() : state.check.status;
  return (
    <span class="rollout" data-rollout={rolledBack ? "rolled-back" : "promoted"}>
      <span class={`badge ${rolledBack ? "fail" : "pass"}`}>{state.ended.toUpperCase()}</span>{" "}
      <a href={runPath((state.failed ?? state.check).id)} title={state.revision}>
        revision <code>{shortChecksum(state.revision)}</code>
      </a>
      {rolledBack && state.failed && <span class="muted"> failed its check</span>}
      <br />
      <a class="muted" href={runPath(state.check.id)}>
        post-rollout check {check}
      </a>
    </span>
  );
}
