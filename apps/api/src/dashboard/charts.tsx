import { shortChecksum } from "./format";
import type { TrendPoint } from "./trends";

/**
 * Inline SVG charts: a few dozen points need no charting library and no script. Every
 * label goes through JSX escaping; points are links to their runs.
 */

export const round = (n: number) => Math.round(n * 10) / 10;

/** Splits at missing values so a line never bridges a run without the metric. */
export function segments(coords: ({ x: number; y: number } | null)[]): string[] {
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
