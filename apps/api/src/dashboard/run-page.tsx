import {
  describeCaller,
  formatDuration,
  formatNumber,
  formatObserved,
  runPath,
  type RunInputs,
  type RunNeighbours,
  type RunK6Progress,
  type RunRecord,
} from "@k6-gate/shared";
import { ComparisonTable } from "./comparison-table";
import { canaryPath, formatMs, formatRate, safeHttpUrl, slackThreadUrl } from "./format";
import { Layout } from "./layout";
import { liveOutputScript } from "./live-output";
import { RunProgressBar } from "./run-progress-bar";
import {
  AttemptFacts,
  DeliveredFact,
  RunNeighboursNav,
  WhatRan,
  type AttemptsInfo,
} from "./run-details";
import { Ago, Time } from "./time";
import { VerdictBadge } from "./verdict-badge";

/**
 * The run page's controls: the cancel button (a JSON POST, which another site cannot make
 * a browser send without a preflight; see browser-writes.ts) and, while the run is queued,
 * its place in the queue, polled from the run's JSON. Static text, like the live output
 * script: the page names the run in data attributes.
 */
const runControlsScript = `
(() => {
  const button = document.getElementById("cancel-run");
  const state = document.getElementById("cancel-state");
  if (button && button.dataset.src) {
    button.addEventListener("click", async () => {
      const reason = prompt("Cancel this run? Flagger gets a failed check. Why?");
      if (reason === null) return;
      button.disabled = true;
      try {
        const res = await fetch(button.dataset.src, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({ reason }),
        });
        if (res.ok) return location.reload();
        const body = await res.json().catch(() => ({}));
        if (state) state.textContent = body.error || "refused (" + res.status + ")";
      } catch (error) {
        if (state) state.textContent = "not sent: " + error;
      }
      button.disabled = false;
    });
  }
  const place = document.getElementById("queue-place");
  if (place && place.dataset.src) {
    const poll = async () => {
      try {
        const res = await fetch(place.dataset.src, { headers: { accept: "application/json" } });
        if (res.ok) {
          const run = await res.json();
          if (!run.queue) return void (place.textContent = run.status);
          const q = run.queue;
          const start = q.estimatedStartAt === null
            ? "start unknown (nothing running to estimate from)"
            : "starts in about " + Math.max(0, Math.round((q.estimatedStartAt - Date.now()) / 1000)) + "s";
          place.textContent = q.position + " of " + q.queued + " (" + q.ahead + " ahead), " + start;
        }
      } catch {}
      setTimeout(poll, 2000);
    };
    poll();
  }
})();
`;

/** How long something took: as the verdict text says it ("1.3s", "2m5s"). */
const span = (from: number | null, to: number | null) =>
  from !== null && to !== null ? formatDuration(to - from) : "–";

/** What the run's call and its evidence warn about (unknown metadata keys, no thresholds). */
const warningsOf = (run: RunRecord) => [
  ...new Set([...(run.result?.warnings ?? []), ...run.warnings]),
];

/** What the run page shows beyond the record (run-details.tsx). */
export interface RunPageDetails {
  inputs: RunInputs | null;
  attempts: AttemptsInfo | null;
  neighbours: RunNeighbours;
  now: number;
  /** k6's progress while the run runs (run-progress.ts). */
  progress: RunK6Progress | null;
}

/**
 * `/runs/:id`: the verdict, its thresholds and metrics, timings, what ran (k6, load,
 * variables by name, the script), links to the canary's other runs, and the output.
 */
export function RunPage(props: {
  run: RunRecord;
  output: string;
  nonce: string | undefined;
  details: RunPageDetails;
}) {
  const { run, details } = props;
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
      <RunNeighboursNav neighbours={details.neighbours} />
      <dl class="facts">
        <dt>Outcome</dt>
        <dd id="outcome">{run.outcome ?? run.status}</dd>
        <dt>Reason</dt>
        <dd id="reason">{run.reason ?? "–"}</dd>
        {run.supersededBy && (
          <>
            <dt>Superseded by</dt>
            <dd id="superseded-by">
              <a href={runPath(run.supersededBy)}>{run.supersededBy}</a>
              {run.supersededByCaller && (
                <span class="muted"> (a call with {describeCaller(run.supersededByCaller)})</span>
              )}
            </dd>
          </>
        )}
        {run.cancelledBy && (
          <>
            <dt>Cancelled by</dt>
            <dd id="cancelled-by">{run.cancelledBy}</dd>
          </>
        )}
        {run.status === "queued" && (
          <>
            <dt>Place in queue</dt>
            <dd id="queue-place" data-src={`/api${runPath(run.id)}`}>
              …
            </dd>
          </>
        )}
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
        <AttemptFacts run={run} attempts={details.attempts} />
        <dt>Queued</dt>
        <dd id="queued-at">
          <Time ms={run.enqueuedAt} />{" "}
          {run.status === "queued" && (
            <span class="muted">
              (waiting for <Ago ms={run.enqueuedAt} now={details.now} mode="for" />)
            </span>
          )}
        </dd>
        <dt>Started</dt>
        <dd id="started-at">
          <Time ms={run.startedAt} />{" "}
          {run.startedAt !== null && (
            <span class="muted">(waited {span(run.enqueuedAt, run.startedAt)})</span>
          )}
        </dd>
        <dt>Finished</dt>
        <dd id="finished-at">
          <Time ms={run.finishedAt} />{" "}
          {run.finishedAt !== null && (
            <span class="muted">(ran {span(run.startedAt, run.finishedAt)})</span>
          )}
          {run.status === "running" && run.startedAt !== null && (
            <span class="muted">
              running for <Ago ms={run.startedAt} now={details.now} mode="for" />
            </span>
          )}
        </dd>
        <RunProgressBar live={live} progress={details.progress} nonce={props.nonce} />
        <DeliveredFact run={run} />
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
      {live && (
        <p>
          <button id="cancel-run" type="button" data-src={`/api${runPath(run.id)}/cancel`}>
            Cancel run
          </button>{" "}
          <span id="cancel-state" class="muted" />
        </p>
      )}
      {live && (
        <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: runControlsScript }} />
      )}

      <h2>Thresholds</h2>
      {result && result.thresholds.length > 0 ? (
        <div class="scroll">
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
        </div>
      ) : (
        <p class="muted">{result ? "The script defines no thresholds." : "Not judged yet."}</p>
      )}

      {result && (
        <>
          <h2>Metrics</h2>
          <div class="scroll">
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
                  <td class="num">{formatNumber(result.metrics.iterations)}</td>
                  <th>k6 exit code</th>
                  <td class="num">{result.exitCode ?? "–"}</td>
                </tr>
              </tbody>
            </table>
          </div>
        </>
      )}

      <ComparisonTable
        comparison={result?.comparison}
        canaryRuns={canaryPath(run.namespace, run.name)}
      />

      <WhatRan
        inputs={details.inputs}
        plan={result?.k6}
        run={run}
        saturation={result?.saturation}
      />

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
