import { runPath } from "@k6-gate/shared";
import { shortChecksum } from "./format";
import type { TrendPoint } from "./trends";

/**
 * Inline SVG charts: a few dozen points need no charting library and no script. Every
 * label goes through JSX escaping; points are links to their runs.
 */

const round = (n: number) => Math.round(n * 10) / 10;

/** Splits at missing values so a line never bridges a run without the metric. */
function segments(coords: ({ x: number; y: number } | null)[]): string[] {
  const lines: string[] = [];
  let current: string[] = [];
  for (const c of [...coords, null]) {
    if (c) {
      current.push(`${round(c.x)},${round(c.y)}`);
      continue;
    }
    if (current.length > 1) lines.push(current.join(" "));
    current = [];
  }
  return lines;
}

/** Rates have a natural top (1 = 100%); other metrics get headroom over their maximum. */
function scaleMax(values: number[], fixedMax: number | undefined): number {
  if (fixedMax !== undefined) return fixedMax;
  const max = Math.max(0, ...values);
  return max > 0 ? max * 1.15 : 1;
}

/** A tiny trend line for a table cell: one point per revision, newest on the right. */
export function Sparkline(props: {
  points: TrendPoint[];
  format: (value: number) => string;
  fixedMax?: number;
}) {
  const width = 120;
  const height = 28;
  const values = props.points.flatMap((p) => (p.value === null ? [] : [p.value]));
  if (values.length === 0) return <span class="muted">–</span>;
  const max = scaleMax(values, props.fixedMax);
  const step = props.points.length > 1 ? (width - 6) / (props.points.length - 1) : 0;
  const coords = props.points.map((p, i) =>
    p.value === null ? null : { x: 3 + i * step, y: height - 3 - (p.value / max) * (height - 6) },
  );
  const last = coords.filter((c) => c !== null).at(-1);
  const title = props.points
    .map((p) => `${shortChecksum(p.checksum)}: ${p.value === null ? "–" : props.format(p.value)}`)
    .join("\n");
  return (
    <svg
      class="sparkline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
    >
      <title>{title}</title>
      {segments(coords).map((points) => (
        <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />
      ))}
      {last && <circle cx={round(last.x)} cy={round(last.y)} r="2.5" fill="currentColor" />}
    </svg>
  );
}

/**
 * A run-by-run chart across revisions: dashed lines where the checksum changes, each
 * revision labelled by its checksum under its first run, every point titled with its own.
 */
export function TrendChart(props: {
  title: string;
  points: TrendPoint[];
  format: (value: number) => string;
  fixedMax?: number;
}) {
  const width = 760;
  const height = 220;
  const left = 84;
  const right = 16;
  const top = 14;
  const bottom = 58;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const values = props.points.flatMap((p) => (p.value === null ? [] : [p.value]));
  if (values.length === 0) {
    return (
      <figure class="chart">
        <figcaption>{props.title}</figcaption>
        <p class="muted">No run reported this metric.</p>
      </figure>
    );
  }
  const max = scaleMax(values, props.fixedMax);
  const step = props.points.length > 1 ? plotW / (props.points.length - 1) : 0;
  const xOf = (i: number) => left + (props.points.length > 1 ? i * step : plotW / 2);
  const yOf = (v: number) => top + plotH - (v / max) * plotH;
  const coords = props.points.map((p, i) =>
    p.value === null ? null : { x: xOf(i), y: yOf(p.value) },
  );
  const ticks = [0, max / 2, max];
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={props.title}
        data-points={String(values.length)}
      >
        {ticks.map((t) => (
          <g class="grid">
            <line x1={left} x2={width - right} y1={round(yOf(t))} y2={round(yOf(t))} />
            <text x={left - 6} y={round(yOf(t)) + 4} text-anchor="end">
              {props.format(t)}
            </text>
          </g>
        ))}
        {props.points.map((p, i) =>
          i === 0 || props.points[i - 1]?.checksum !== p.checksum ? (
            <g class="revision">
              {i > 0 && (
                <line
                  x1={round(xOf(i) - step / 2)}
                  x2={round(xOf(i) - step / 2)}
                  y1={top}
                  y2={top + plotH}
                />
              )}
              <text
                x={round(xOf(i))}
                y={top + plotH + 14}
                text-anchor="end"
                transform={`rotate(-30 ${round(xOf(i))} ${top + plotH + 14})`}
              >
                {shortChecksum(p.checksum)}
              </text>
            </g>
          ) : null,
        )}
        {segments(coords).map((points) => (
          <polyline class="trend" points={points} />
        ))}
        {props.points.map((p, i) => {
          const c = coords[i];
          if (!c) return null;
          return (
            <a href={runPath(p.runId)}>
              <circle
                class={`point ${p.verdict ?? ""}`}
                cx={round(c.x)}
                cy={round(c.y)}
                r="4.5"
                data-checksum={p.checksum}
              >
                <title>{`${p.checksum} · ${props.format(p.value ?? 0)} · ${p.verdict ?? "?"} · ${p.runId}`}</title>
              </circle>
            </a>
          );
        })}
      </svg>
    </figure>
  );
}
