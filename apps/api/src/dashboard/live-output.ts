/**
 * The dashboard's only script: while a run is in flight, poll its output (JSON) and show
 * it with textContent, never as HTML, and announce each poll (a `run-output` event); reload
 * once the verdict is in. Static text: the run is named by the page (data attributes),
 * never spliced into the script.
 */
export const liveOutputScript = `
(() => {
  const pre = document.getElementById("output");
  const state = document.getElementById("live-state");
  if (!pre || !pre.dataset.src) return;
  const poll = async () => {
    try {
      const res = await fetch(pre.dataset.src, { headers: { accept: "application/json" } });
      if (res.ok) {
        const body = await res.json();
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.textContent = body.output;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
        // The run's progress figures (run-progress-bar.tsx) update from the same poll.
        document.dispatchEvent(new CustomEvent("run-output", { detail: body }));
        if (body.status === "finished") return location.reload();
        if (state) state.textContent = body.status + " (live)";
      }
    } catch {}
    setTimeout(poll, 1000);
  };
  poll();
})();
`;
