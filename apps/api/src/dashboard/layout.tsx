import type { Child } from "hono/jsx";
import { K6_VERSION, VERSION } from "@k6-gate/shared";
import { clockScript } from "./time";

/**
 * Down to 360 px wide with no sideways page scroll: the header wraps, tables scroll
 * inside their own box (`.scroll`) or, marked `cards`, turn into a card per row on a
 * phone, long ids and checksums break, times never do.
 */
const css = `
:root { color-scheme: light; --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --pass: #15803d; --fail: #b91c1c; --run: #1d4ed8; --regress: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f8fafc; }
header { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; align-items: baseline; padding: .75rem 1rem; background: #111827; }
header a { color: #e5e7eb; text-decoration: none; } header a.brand { font-weight: 700; color: #fff; }
main { padding: 1rem; max-width: 1200px; }
footer { padding: 0 1rem 1.25rem; font-size: .8rem; }
@media (min-width: 720px) { header, main, footer { padding-left: 1.5rem; padding-right: 1.5rem; } main { padding-top: 1.25rem; } }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; overflow-wrap: anywhere; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; } h3 { font-size: .95rem; margin: 1rem 0 .4rem; }
.scroll { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-weight: 600; color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
a { color: var(--run); }
code { overflow-wrap: anywhere; }
time { white-space: nowrap; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .8rem; font-weight: 600; color: #fff; background: var(--muted); white-space: nowrap; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.running, .badge.queued { background: var(--run); }
.sparkline { color: var(--run); vertical-align: middle; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); gap: 1rem; }
figure.chart { margin: 0; background: #fff; border: 1px solid var(--line); padding: .5rem; min-width: 0; container-type: inline-size; }
figure.chart figcaption { font-weight: 600; margin-bottom: .25rem; }
figure.chart svg { display: block; width: 100%; height: auto; font-size: 11px; } figure.chart svg.narrow { display: none; }
@container (max-width: 440px) { figure.chart svg.wide { display: none; } figure.chart svg.narrow { display: block; } }
.grid line { stroke: var(--line); } .grid text, .x-axis text { fill: var(--muted); } .x-axis line { stroke: #94a3b8; }
.level line { stroke-width: 1.5; } .level.threshold line { stroke: var(--fail); stroke-dasharray: 6 3; } .level.threshold text { fill: var(--fail); }
.level.baseline line { stroke: var(--regress); stroke-dasharray: 2 3; } .level.baseline text { fill: var(--regress); }
.trend { fill: none; stroke: #94a3b8; stroke-width: 1.5; }
.point { fill: var(--muted); stroke: #fff; stroke-width: 1.5; } .point.pass { fill: var(--pass); } .point.fail { fill: var(--fail); } .point.regressed { fill: var(--regress); }
.regressed-mark { fill: none; stroke: var(--regress); stroke-width: 2.5; }
.delta { fill: var(--fg); } .delta.regressed, td.regressed { fill: var(--regress); color: var(--regress); font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .25rem 1rem; background: #fff; border: 1px solid var(--line); padding: .75rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
@media (max-width: 560px) { dl.facts { grid-template-columns: minmax(0, 1fr); gap: 0; } dl.facts dd { margin-bottom: .5rem; } }
ul.plain { list-style: none; margin: 0; padding: 0; }
nav.neighbours { display: flex; flex-wrap: wrap; justify-content: space-between; gap: .5rem; margin: -.5rem 0 1rem; }
pre.output { background: #0f172a; color: #e2e8f0; padding: .75rem 1rem; overflow: auto; max-height: 36rem; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
pre.script { counter-reset: line; background: #fff; border: 1px solid var(--line); margin: 0; padding: .5rem 0; overflow: auto; max-height: 40rem; font-size: 12px; line-height: 1.5; }
pre.script code.line { display: block; min-height: 1.5em; padding-right: .75rem; overflow-wrap: normal; }
pre.script code.line::before { counter-increment: line; content: counter(line); display: inline-block; width: 3.5em; margin-right: .75em; padding-right: .5em; text-align: right; color: var(--muted); border-right: 1px solid var(--line); user-select: none; }
tr.failed td { background: #fef2f2; }
@media (max-width: 640px) {
  table.cards, table.cards tbody, table.cards tr, table.cards td { display: block; }
  table.cards { border: 0; background: none; } table.cards thead { display: none; }
  table.cards tr { background: #fff; border: 1px solid var(--line); margin-bottom: .6rem; padding: .4rem .6rem; }
  table.cards td, table.cards td.num { border: 0; padding: .1rem 0; text-align: left; white-space: normal; }
  table.cards td.canary { font-weight: 600; overflow-wrap: anywhere; padding-bottom: .25rem; }
  table.cards td[data-label]::before { content: attr(data-label); display: inline-block; width: 8.5rem; color: var(--muted); font-size: .8rem; vertical-align: top; }
}
.rollout { display: inline-block; vertical-align: top; }
#metrics th { text-transform: none; letter-spacing: 0; font-size: .85rem; }
`;

/**
 * The page shell. Styles and scripts carry the response's CSP nonce, so nothing else
 * inline can run even if escaping ever failed. Every page runs the clock (times in the
 * browser's zone, relative times kept right).
 */
export function Layout(props: { title: string; nonce: string | undefined; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · k6-gate`}</title>
        <link rel="icon" href="data:," />
        <style nonce={props.nonce} dangerouslySetInnerHTML={{ __html: css }} />
      </head>
      <body>
        <header>
          <a class="brand" href="/">
            k6-gate
          </a>
          <a href="/">Canaries</a>
          <a href="/admin/queues">Queue</a>
        </header>
        <main>{props.children}</main>
        <footer class="muted">
          {`k6-gate ${VERSION} · k6 ${K6_VERSION} · `}
          <a href="/metrics">/metrics</a> (Prometheus text, for scraping)
        </footer>
        <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: clockScript }} />
      </body>
    </html>
  );
}
