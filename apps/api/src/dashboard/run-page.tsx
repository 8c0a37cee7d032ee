import { formatObserved, type RunRecord } from "@k6-gate/shared";
import {
  canaryPath,
  formatMs,
  formatRate,
  formatTime,
  safeHttpUrl,
  slackThreadUrl,
} from "./format";
import { Layout } from "./layout";
import { liveOutputScript } from "./live-output";
import { VerdictBadge } from "./verdict-badge";

const span = (from: number | null, to: number | null) =>
  from !== null && to !== null ? formatMs(to - from) : "–";

/** What the run's call and its evidence warn about (unknown metadata keys, no thresholds). */
const warningsOf = (run: RunRecord) => [
  ...new Set([...(run.result?.warnings ?? []), ...run.warnings]),
];

/** `/runs/:id`: the verdict, its thresholds and metrics, timings, links and the output. */
export function RunPage(props: { run: RunRecord; output: string; nonce: string | undefined }) {
  const { run } = props;
  const result = run.result;
  const cloudUrl = safeHttpUrl(run.cloudUrl);
  const live = run.status !== "finished";
  return (
    <Layout title={`Run ${run.id}`} nonce={props.nonce}>
      <h1>
        <VerdictBadge run={run} />{" "}
        <a href={canaryPath(run.namespace, run.name)}>
          {run.namespace}/{run.name}
        </a>{" "}
        <span class="muted">run {run.id}</span>
      </h1>
      <dl class="facts">
        <dt>Outcome</dt>
        <dd id="outcome">{run.outcome ?? run.status}</dd>
        <dt>Reason</dt>
        <dd id="reason">{run.reason ?? "–"}</dd>
        {warningsOf(run).length > 0 && (
          <>
            <dt>Warnings</dt>
            <dd id="warnings">
              {warningsOf(run).map((warning) => (
                <div>{warning}</div>
              ))}
            </dd>
          </>
        )}
        <dt>Revision</dt>
        <dd>
          <code>{run.checksum}</code> ({run.phase})
        </dd>
        <dt>Attempt</dt>
        <dd>{run.attempt}</dd>
        <dt>Queued</dt>
        <dd>{formatTime(run.enqueuedAt)}</dd>
        <dt>Started</dt>
        <dd>
          {formatTime(run.startedAt)}{" "}
          {run.startedAt !== null && (
            <span class="muted">(waited {span(run.enqueuedAt, run.startedAt)})</span>
          )}
        </dd>
        <dt>Finished</dt>
        <dd>
          {formatTime(run.finishedAt)}{" "}
          {run.finishedAt !== null && (
            <span class="muted">(ran {span(run.startedAt, run.finishedAt)})</span>
          )}
        </dd>
        <dt>Delivered to Flagger</dt>
        <dd>{run.delivered ? "yes" : "not yet"}</dd>
        {cloudUrl && (
          <>
            <dt>k6 Cloud</dt>
            <dd>
              <a href={cloudUrl} rel="noopener noreferrer">
                {cloudUrl}
              </a>
            </dd>
          </>
        )}
        {run.slackThreads.length > 0 && (
          <>
            <dt>Slack</dt>
            <dd>
              {run.slackThreads.map((thread) => (
                <a href={slackThreadUrl(thread)} rel="noopener noreferrer">
                  {thread.channel}{" "}
                </a>
              ))}
            </dd>
          </>
        )}
      </dl>

      <h2>Thresholds</h2>
      {result && result.thresholds.length > 0 ? (
        <table id="thresholds">
          <thead>
            <tr>
              <th>Metric</th>
              <th>Threshold</th>
              <th>Result</th>
              <th class="num">Observed</th>
            </tr>
          </thead>
          <tbody>
            {result.thresholds.map((t) => (
              <tr class={t.ok ? "" : "failed"}>
                <td>{t.metric}</td>
                <td>
                  <code>{t.expression}</code>
                </td>
                <td>
                  <span class={`badge ${t.ok ? "pass" : "fail"}`}>{t.ok ? "pass" : "fail"}</span>
                </td>
                <td class="num">{formatObserved(t)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">{result ? "The script defines no thresholds." : "Not judged yet."}</p>
      )}

      {result && (
        <>
          <h2>Metrics</h2>
          <table id="metrics">
            <tbody>
              <tr>
                <th>http_req_duration p95</th>
                <td class="num">{formatMs(result.metrics.httpReqDurationP95)}</td>
                <th>http_req_duration avg</th>
                <td class="num">{formatMs(result.metrics.httpReqDurationAvg)}</td>
              </tr>
              <tr>
                <th>http_req_failed</th>
                <td class="num">{formatRate(result.metrics.httpReqFailedRate)}</td>
                <th>checks</th>
                <td class="num">{formatRate(result.metrics.checksRate)}</td>
              </tr>
              <tr>
                <th>iterations</th>
                <td class="num">{result.metrics.iterations ?? "–"}</td>
                <th>k6 exit code</th>
                <td class="num">{result.exitCode ?? "–"}</td>
              </tr>
            </tbody>
          </table>
        </>
      )}

      <h2>
        Output{" "}
        <span id="live-state" class="muted">
          {live ? `${run.status} (live)` : ""}
        </span>
      </h2>
      <pre
        id="output"
        class="output"
        data-src={live ? `/api/runs/${encodeURIComponent(run.id)}/output` : undefined}
      >
        {props.output || (live ? "waiting for output…" : "(no output)")}
      </pre>
      {live && (
        <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: liveOutputScript }} />
      )}
    </Layout>
  );
}
