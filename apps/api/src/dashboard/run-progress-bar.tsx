import { formatDuration, type RunK6Progress } from "@k6-gate/shared";

/**
 * Updates the figures from each poll of the live output (live-output.ts announces it as a
 * `run-output` event): textContent and attributes only. Static text, like the other
 * dashboard scripts; its duration format is formatDuration's.
 */
const runProgressScript = `
(() => {
  const $ = (id) => document.getElementById(id);
  const fmt = (ms) => {
    if (Math.round(ms) < 1000) return Math.round(ms) + "ms";
    const tenths = Math.round(ms / 100);
    if (tenths < 600) return tenths / 10 + "s";
    const s = Math.round(ms / 1000), m = Math.floor(s / 60);
    return s % 60 ? m + "m" + (s % 60) + "s" : m + "m";
  };
  document.addEventListener("run-output", (event) => {
    const p = event.detail && event.detail.progress;
    if (!p) return;
    $("run-progress-label").hidden = false;
    $("run-progress").hidden = false;
    $("progress-elapsed").textContent = fmt(p.elapsedMs);
    $("progress-expected").textContent = p.expectedMs === null ? "unknown" : "~" + fmt(p.expectedMs);
    $("progress-expected-from").textContent = p.expectedFrom ? "(from the " + p.expectedFrom + ")" : "";
    const bar = $("progress-bar");
    if (p.expectedMs) {
      bar.max = p.expectedMs;
      bar.value = Math.min(p.elapsedMs, p.expectedMs);
      bar.setAttribute("aria-valuetext", fmt(p.elapsedMs) + " of about " + fmt(p.expectedMs));
    } else {
      bar.removeAttribute("value");
      bar.removeAttribute("aria-valuetext");
    }
    if (p.vus !== undefined) {
      $("progress-load").hidden = false;
      $("progress-vus").textContent = p.vus + "/" + p.maxVUs;
      $("progress-iterations").textContent = p.iterations;
      $("progress-interrupted").textContent = p.interrupted;
    }
  });
})();
`;

/**
 * The run page's progress of a run in flight (a `dt`/`dd` pair of its facts): k6's time
 * so far against the expected time in a <progress> bar, and its VUs and iterations so far.
 * Rendered hidden until k6 runs, so a page opened while the run was queued shows it too.
 */
export function RunProgressBar(props: {
  live: boolean;
  progress: RunK6Progress | null;
  nonce: string | undefined;
}) {
  if (!props.live) return null;
  const p = props.progress;
  const expected = p?.expectedMs ?? null;
  const valueText =
    p && expected !== null
      ? `${formatDuration(p.elapsedMs)} of about ${formatDuration(expected)}`
      : undefined;
  return (
    <>
      <dt id="run-progress-label" hidden={!p}>
        Progress
      </dt>
      <dd id="run-progress" hidden={!p}>
        <progress
          id="progress-bar"
          aria-labelledby="run-progress-label"
          max={expected ?? undefined}
          value={p && expected !== null ? Math.min(p.elapsedMs, expected) : undefined}
          aria-valuetext={valueText}
        />{" "}
        <span id="progress-elapsed">{p ? formatDuration(p.elapsedMs) : "–"}</span> of{" "}
        <span id="progress-expected">
          {expected === null ? "unknown" : `~${formatDuration(expected)}`}
        </span>{" "}
        <span id="progress-expected-from" class="muted">
          {p?.expectedFrom ? `(from the ${p.expectedFrom})` : ""}
        </span>
        <div id="progress-load" hidden={p?.vus === undefined}>
          <span id="progress-vus">{p?.vus === undefined ? "–" : `${p.vus}/${p.maxVUs ?? 0}`}</span>{" "}
          VUs, <span id="progress-iterations">{p?.iterations ?? "–"}</span> iterations complete,{" "}
          <span id="progress-interrupted">{p?.interrupted ?? "–"}</span> interrupted
        </div>
        <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: runProgressScript }} />
      </dd>
    </>
  );
}
