import type { InFlightCounts, RunSummary } from "@k6-gate/shared";
import { CanaryStateCell, type CanaryState } from "./canary-state";
import { Sparkline } from "./charts";
import { canaryPath, formatMs, formatRate } from "./format";
import { MAX_CANARY_LIMIT } from "../canary-limit";
import { Layout } from "./layout";
import { Ago } from "./time";
import { errorRateOf, p95Of, pointsOf } from "./trends";

export interface CanaryRow {
  namespace: string;
  name: string;
  lastRunAt: number;
  /** The newest judged run: its figures are the row's. */
  lastJudged: RunSummary | undefined;
  /** How the last rollout ended, when Flagger said so, else the newest verdict. */
  state: CanaryState;
  /** One judged run per recent revision, oldest first. */
  revisions: RunSummary[];
  inFlight: InFlightCounts;
}

/**
 * When the canary last ran, and whether that run is still going: "2m ago" for a judged
 * run, "running · queued 14s ago" while one is in flight (never an "ago" that reads as done).
 */
function LastRun(props: { row: CanaryRow; now: number }) {
  const { row } = props;
  const state = row.inFlight.running > 0 ? "running" : row.inFlight.queued > 0 ? "queued" : null;
  if (!state) return <Ago ms={row.lastRunAt} now={props.now} />;
  return (
    <>
      <span class={`badge ${state}`}>{state}</span> <span class="muted">· queued</span>{" "}
      <Ago ms={row.lastRunAt} now={props.now} />
    </>
  );
}

/** `/`: every canary, its state (last rollout or verdict) and how its revisions trend. */
export function CanariesPage(props: {
  rows: CanaryRow[];
  total: number;
  nonce: string | undefined;
  now: number;
}) {
  return (
    <Layout title="Canaries" nonce={props.nonce}>
      <h1>Canaries</h1>
      {props.total > props.rows.length && (
        <p class="muted" id="canaries-shown">
          Showing the {props.rows.length} most recently run of {props.total} canaries.{" "}
          <a href={`/?limit=${Math.min(props.total, MAX_CANARY_LIMIT)}`}>Show more</a>
        </p>
      )}
      {props.rows.length === 0 ? (
        <p class="muted">No runs yet. Point a Flagger webhook at /launch-test.</p>
      ) : (
        // A table on a screen, a card per canary on a phone (layout.tsx, `table.cards`).
        <div class="scroll">
          <table id="canaries" class="cards">
            <thead>
              <tr>
                <th>Canary</th>
                <th>State</th>
                <th>Last run</th>
                <th class="num">p95</th>
                <th>p95 by revision</th>
                <th class="num">Errors</th>
                <th>Errors by revision</th>
                <th class="num">Running</th>
                <th class="num">Queued</th>
              </tr>
            </thead>
            <tbody>
              {props.rows.map((row) => {
                const metrics = row.lastJudged?.result?.metrics;
                return (
                  <tr data-canary={`${row.namespace}/${row.name}`}>
                    <td class="canary">
                      <a href={canaryPath(row.namespace, row.name)}>
                        {row.namespace}/{row.name}
                      </a>
                    </td>
                    <td class="state" data-label="State">
                      <CanaryStateCell state={row.state} />
                    </td>
                    <td class="last-run" data-label="Last run">
                      <LastRun row={row} now={props.now} />
                    </td>
                    <td class="num" data-label="p95">
                      {formatMs(metrics?.httpReqDurationP95)}
                    </td>
                    <td data-label="p95 by revision">
                      <Sparkline points={pointsOf(row.revisions, p95Of)} format={formatMs} />
                    </td>
                    <td class="num" data-label="Errors">
                      {formatRate(metrics?.httpReqFailedRate)}
                    </td>
                    <td data-label="Errors by revision">
                      <Sparkline
                        points={pointsOf(row.revisions, errorRateOf)}
                        format={formatRate}
                        fixedMax={1}
                      />
                    </td>
                    <td class="num" data-label="Running">
                      {row.inFlight.running}
                    </td>
                    <td class="num" data-label="Queued">
                      {row.inFlight.queued}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}
