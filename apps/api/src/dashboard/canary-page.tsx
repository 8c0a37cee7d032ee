import { formatDuration, runPath, type RunRecord } from "@k6-gate/shared";
import { chartMetrics, chartPointsOf, deltaText, p95Chart, type ChartPoint } from "./chart-data";
import { formatMs, formatRate, shortChecksum } from "./format";
import { Layout } from "./layout";
import { Time } from "./time";
import { TrendChart } from "./trend-chart";
import { judgedOldestFirst } from "./trends";
import { VerdictBadge } from "./verdict-badge";

/** The p95 change of each judged run from the previous revision, for the table. */
function p95Changes(judged: RunRecord[]): Map<string, ChartPoint> {
  return new Map(chartPointsOf(judged, p95Chart).map((point) => [point.runId, point]));
}

/** `/canaries/:namespace/:name`: its runs across revisions, trends first. */
export function CanaryPage(props: {
  namespace: string;
  name: string;
  runs: RunRecord[];
  nonce: string | undefined;
}) {
  const judged = judgedOldestFirst(props.runs);
  const title = `${props.namespace}/${props.name}`;
  const changes = p95Changes(judged);
  return (
    <Layout title={title} nonce={props.nonce}>
      <h1>{title}</h1>
      {props.runs.length === 0 ? (
        <p class="muted">No runs recorded for this canary (or they are past retention).</p>
      ) : (
        <>
          <p class="muted">
            {judged.length} judged runs over {new Set(judged.map((run) => run.checksum)).size}{" "}
            revisions; each point is a run, labelled by its revision's checksum with its change from
            the previous revision. Red dashed lines are the latest run's thresholds; a ringed point
            regressed against its baseline. Click a point for the run.
          </p>
          <div class="charts">
            {chartMetrics.map((chart) => (
              <TrendChart chart={chart} runs={judged} />
            ))}
          </div>
          <h2>Runs</h2>
          <div class="scroll">
            <table id="runs">
              <thead>
                <tr>
                  <th>Queued at</th>
                  <th>Revision</th>
                  <th>Phase</th>
                  <th>Verdict</th>
                  <th>Outcome</th>
                  <th class="num">p95</th>
                  <th class="num" title="p95 change from the previous revision">
                    vs prev
                  </th>
                  <th class="num">Errors</th>
                  <th class="num">Checks</th>
                  <th class="num">Took</th>
                  <th>Run</th>
                </tr>
              </thead>
              <tbody>
                {props.runs.map((run) => {
                  const metrics = run.result?.metrics;
                  const change = changes.get(run.id);
                  return (
                    <tr data-run-id={run.id}>
                      <td>
                        <Time ms={run.enqueuedAt} />
                      </td>
                      <td title={run.checksum}>
                        <code>{shortChecksum(run.checksum)}</code>
                      </td>
                      <td>{run.phase}</td>
                      <td>
                        <VerdictBadge run={run} />
                      </td>
                      <td>{run.outcome ?? ""}</td>
                      <td class="num">{formatMs(metrics?.httpReqDurationP95)}</td>
                      <td
                        class={change?.regressed ? "num regressed" : "num"}
                        title={change?.previous ? `vs ${change.previous.checksum}` : undefined}
                      >
                        {(change && deltaText(p95Chart, change)) ?? "–"}
                      </td>
                      <td class="num">{formatRate(metrics?.httpReqFailedRate)}</td>
                      <td class="num">{formatRate(metrics?.checksRate)}</td>
                      <td class="num">
                        {run.result ? formatDuration(run.result.durationMs) : "–"}
                      </td>
                      <td>
                        <a href={runPath(run.id)}>details</a>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Layout>
  );
}
