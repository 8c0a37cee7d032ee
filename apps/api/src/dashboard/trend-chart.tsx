import { runPath, type RunRecord } from "@k6-gate/shared";
import {
  baselineLevel,
  chartPointsOf,
  thresholdLevels,
  valueText,
  type ChartMetric,
} from "./chart-data";
import { chartLayout, NARROW, WIDE, type ChartLayout, type Label } from "./chart-layout";
import { round, segments } from "./charts";

/**
 * A run-by-run chart across revisions: nice round ticks, the latest run's threshold
 * limits and baseline as lines, each point's change from the previous revision, and
 * regressions ringed. Drawn twice, wide and narrow (CSS shows the one that fits), so
 * labels keep a readable size on a phone.
 */
export function TrendChart(props: { chart: ChartMetric; runs: RunRecord[] }) {
  const { chart } = props;
  const points = chartPointsOf(props.runs, chart);
  if (points.every((p) => p.value === null)) {
    return (
      <figure class="chart">
        <figcaption>{chart.title}</figcaption>
        <p class="muted">No run reported this metric.</p>
      </figure>
    );
  }
  const latest = props.runs.at(-1);
  const thresholds = thresholdLevels(latest, chart);
  const baseline = baselineLevel(latest, chart);
  const layouts = [WIDE, NARROW].map((size) =>
    chartLayout(chart, points, thresholds, baseline, size),
  );
  return (
    <figure class="chart" data-key={`${chart.metric}:${chart.stat}`}>
      <figcaption>{chart.title}</figcaption>
      {layouts.map((layout, i) => (
        <ChartSvg chart={chart} layout={layout} variant={i === 0 ? "wide" : "narrow"} />
      ))}
    </figure>
  );
}

/** What a screen reader hears for the chart: the newest value, its change, its limits. */
function summaryOf(chart: ChartMetric, layout: ChartLayout): string {
  const placed = layout.points.filter((p) => p.point.value !== null);
  const last = placed.at(-1);
  const parts = [`${chart.title}: ${placed.length} runs`];
  if (last?.point.value != null) {
    const delta = last.delta ? ` (${last.delta} vs the previous revision)` : "";
    parts.push(`latest ${valueText(chart, last.point.value)}${delta}`);
  }
  for (const { level } of layout.levels) parts.push(level.title.replace(/ \(latest run\)$/, ""));
  for (const { level } of layout.offScale) parts.push(`${level.label} (above the scale)`);
  const regressed = placed.filter((p) => p.point.regressed).length;
  if (regressed) parts.push(`${regressed} regressed`);
  return parts.join("; ");
}

const Text = (props: { label: Label; class: string }) => (
  <text
    class={props.class}
    x={round(props.label.x)}
    y={round(props.label.y)}
    text-anchor={props.label.anchor}
  >
    {props.label.text}
  </text>
);

function ChartSvg(props: { chart: ChartMetric; layout: ChartLayout; variant: string }) {
  const { chart, layout } = props;
  const { plot, size } = layout;
  const summary = summaryOf(chart, layout);
  const coords = layout.points.map((p) => (p.point.value === null ? null : { x: p.x, y: p.y }));
  return (
    <svg
      class={`plot ${props.variant}`}
      viewBox={`0 0 ${size.width} ${size.height}`}
      role="img"
      aria-label={summary}
      data-points={String(coords.filter((c) => c !== null).length)}
    >
      <title>{summary}</title>
      {layout.ticks.map((tick) => (
        <g class="grid">
          <line x1={plot.x1} x2={plot.x2} y1={round(tick.y)} y2={round(tick.y)} />
          {tick.label && <Text class="tick" label={tick.label} />}
        </g>
      ))}
      <g class="x-axis">
        {layout.xLabels.map(({ x, label }) => (
          <>
            <line x1={round(x)} x2={round(x)} y1={plot.y2} y2={plot.y2 + 5} />
            <Text class="revision" label={label} />
          </>
        ))}
      </g>
      {layout.levels.map((placed) => (
        <g class={`level ${placed.kind}`} data-value={String(placed.level.value)}>
          <title>{placed.level.title}</title>
          <line x1={plot.x1} x2={plot.x2} y1={round(placed.y)} y2={round(placed.y)} />
          {placed.label && <Text class="level-label" label={placed.label} />}
        </g>
      ))}
      {layout.offScale.map(({ level, label }) => (
        <g class="level threshold off-scale" data-value={String(level.value)}>
          <title>{`${level.title}, above the scale`}</title>
          {label && <Text class="level-label" label={label} />}
        </g>
      ))}
      {segments(coords).map((points) => (
        <polyline class="trend" points={points} />
      ))}
      {layout.points.map(({ point, x, y, delta }) => {
        if (point.value === null) return null;
        const change = delta && point.previous ? ` (${delta} vs ${point.previous.checksum})` : "";
        const verdict = point.regressed ? "regressed" : (point.verdict ?? "?");
        return (
          <a href={runPath(point.runId)}>
            {point.regressed && <circle class="regressed-mark" cx={round(x)} cy={round(y)} r="8" />}
            <circle
              class={`point ${point.verdict ?? ""}${point.regressed ? " regressed" : ""}`}
              cx={round(x)}
              cy={round(y)}
              r={String(round(layout.pointRadius))}
              data-checksum={point.checksum}
              data-delta={delta ?? undefined}
            >
              <title>{`${point.checksum} · ${valueText(chart, point.value)}${change} · ${verdict} · ${point.runId}`}</title>
            </circle>
          </a>
        );
      })}
      {layout.deltaLabels.map((label) => (
        <Text class={label.regressed ? "delta regressed" : "delta"} label={label} />
      ))}
    </svg>
  );
}
