import type { RunStatus } from "@k6-gate/shared";

/** PASS / FAIL for a judged run, else its status (queued, running). */
export function VerdictBadge(props: {
  run: { verdict: "pass" | "fail" | null; status: RunStatus } | undefined;
}) {
  const run = props.run;
  if (!run) return <span class="muted">–</span>;
  const label = run.verdict ?? run.status;
  return <span class={`badge ${label}`}>{run.verdict ? label.toUpperCase() : label}</span>;
}
