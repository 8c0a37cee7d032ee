import { formatDuration, runPath, type RunRecord } from "@k6-gate/shared";
import { TrendChart } from "./charts";
import { formatMs, formatRate, shortChecksum } from "./format";
import { Layout } from "./layout";
import { Time } from "./time";
import { checksRateOf, errorRateOf, judgedOldestFirst, p95Of, pointsOf } from "./trends";
import { VerdictBadge } from "./verdict-badge";

/** `/canaries/:namespace/:name`: its runs across revisions, trends first. */
export function CanaryPage(props: {
  namespace: string;
  name: string;
  runs: RunRecord[];
  nonce: string | undefined;
}) {
  const judged = judgedOldestFirst(props.runs);
  const title = `${props.namespace}/${props.name}`;
  return (
    <Layout title={title} nonce={props.nonce}>
      <h1>{title}</h1>
      {props.runs.length === 0 ? (
        <p class="muted">No runs recorded for this canary (or they are past retention).</p>
      ) : (
        <>
          <p class="muted">
            {judged.length} judged runs over {new Set(judged.map((run) => run.checksum)).size}{" "}
            revisions; each point is a run, labelled by its revision's checksum. Click a point for
            the run.
          </p>
          <div class="charts">
            <TrendChart title="p95 latency" points={pointsOf(judged, p95Of)} format={formatMs} />
            <TrendChart
              title="Error rate (http_req_failed)"
              points={pointsOf(judged, errorRateOf)}
              format={formatRate}
              fixedMax={1}
            />
            <TrendChart
              title="Checks pass rate"
              points={pointsOf(judged, checksRateOf)}
              format={formatRate}
              fixedMax={1}
            />
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
                  <th class="num">Errors</th>
                  <th class="num">Checks</th>
                  <th class="num">Took</th>
                  <th>Run</th>
                </tr>
              </thead>
              <tbody>
                {props.runs.map((run) => {
                  const metrics = run.result?.metrics;
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
