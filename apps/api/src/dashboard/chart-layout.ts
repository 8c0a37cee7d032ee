import { shortChecksum } from "./format";
import { deltaText, tickText, type ChartMetric, type ChartPoint, type Level } from "./chart-data";
import { LabelSpace, niceTicks, textBox, type Box } from "./chart-scale";

/**
 * Where everything of one trend chart goes, in viewBox units. Labels are placed in order
 * of importance (axis ticks, limits, the newest revisions, regressions, the largest
 * changes) and one that would touch a placed label or point is left out.
 */

export interface ChartSize {
  width: number;
  height: number;
}
/** About 1:1 in a two-column desktop grid, and at a 360 px phone's width. */
export const WIDE: ChartSize = { width: 560, height: 240 };
export const NARROW: ChartSize = { width: 320, height: 220 };

const FONT = 11;
const MARGIN = { left: 56, right: 10, top: 14, bottom: 30 };
/** Keeps the first and last points (and their rings) off the plot's edges. */
const INSET = 9;
/** A limit far above the data would flatten it; past this factor it is listed, not drawn. */
const LEVEL_IN_SCALE = 10;

export interface Label {
  x: number;
  y: number;
  text: string;
  anchor: "start" | "middle" | "end";
}

export interface PlacedLevel {
  kind: "threshold" | "baseline";
  level: Level;
  y: number;
  label: Label | null;
}

export interface PlacedPoint {
  point: ChartPoint;
  x: number;
  y: number;
  delta: string | null;
}

export interface ChartLayout {
  size: ChartSize;
  plot: Box;
  ticks: { y: number; label: Label | null }[];
  /** Labelled revisions: a tick at the revision's first run, its checksum under it. */
  xLabels: { x: number; label: Label }[];
  /** Dense charts get smaller dots, so neighbours do not merge into a bar. */
  pointRadius: number;
  levels: PlacedLevel[];
  /** Limits above the scale: named at the top of the plot, not drawn. */
  offScale: { level: Level; label: Label | null }[];
  points: PlacedPoint[];
  deltaLabels: (Label & { regressed: boolean })[];
}

/** Moves a label horizontally so it stays within [min, max], keeping its anchor. */
function clampLabel(label: Label, min: number, max: number): Label {
  const box = textBox(label.text, label.x, label.y, FONT, label.anchor);
  const shift = box.x1 < min ? min - box.x1 : box.x2 > max ? max - box.x2 : 0;
  return { ...label, x: label.x + shift };
}

const boxOf = (label: Label) => textBox(label.text, label.x, label.y, FONT, label.anchor);

/** Scale top: the data and the levels near it, rounded up to a tick. */
function scaleTicks(values: number[], levels: Level[], chart: ChartMetric, plotH: number) {
  const count = Math.max(2, Math.floor(plotH / 40));
  if (chart.fullRange) return niceTicks(1, count);
  const dataMax = Math.max(0, ...values);
  const near = levels.filter(
    (l) => l.value > 0 && (dataMax === 0 || l.value <= dataMax * LEVEL_IN_SCALE),
  );
  const headroom = Math.max(dataMax, ...near.map((l) => l.value)) * 1.08;
  // A rate never passes 100%, so neither does its axis: from a top <= 1 niceTicks ends at
  // most at 1 (its steps, 0.25, 0.2, 0.05..., divide 1). Unbounded, 100% data drew 150%.
  const top = chart.unit === "rate" ? Math.min(headroom, 1) : headroom;
  return niceTicks(top > 0 ? top : chart.unit === "ms" ? 1 : 0.01, count);
}

export function chartLayout(
  chart: ChartMetric,
  points: ChartPoint[],
  thresholds: Level[],
  baseline: Level | null,
  size: ChartSize,
): ChartLayout {
  const plot = {
    x1: MARGIN.left,
    x2: size.width - MARGIN.right,
    y1: MARGIN.top,
    y2: size.height - MARGIN.bottom,
  };
  const values = points.flatMap((p) => (p.value === null ? [] : [p.value]));
  const allLevels = [...thresholds, ...(baseline ? [baseline] : [])];
  const tickValues = scaleTicks(values, allLevels, chart, plot.y2 - plot.y1);
  const max = tickValues.at(-1) ?? 1;
  const yOf = (v: number) => plot.y2 - (v / max) * (plot.y2 - plot.y1);
  const span = plot.x2 - plot.x1 - 2 * INSET;
  const xOf = (i: number) =>
    plot.x1 + INSET + (points.length > 1 ? (i * span) / (points.length - 1) : span / 2);
  const space = new LabelSpace(2);
  const pointRadius = Math.max(2, Math.min(4, (span / Math.max(1, points.length - 1)) * 0.4));

  const ticks = tickValues.map((t) => {
    const label: Label = {
      x: plot.x1 - 6,
      y: yOf(t) + FONT * 0.35,
      text: tickText(chart, t),
      anchor: "end",
    };
    return { y: yOf(t), label: space.claim(boxOf(label)) ? label : null };
  });

  const placed: PlacedPoint[] = points.map((point, i) => ({
    point,
    x: xOf(i),
    y: point.value === null ? plot.y2 : yOf(Math.min(point.value, max)),
    delta: deltaText(chart, point),
  }));
  for (const p of placed) {
    const r = pointRadius;
    if (p.point.value !== null) space.claim({ x1: p.x - r, x2: p.x + r, y1: p.y - r, y2: p.y + r });
  }

  const levels = [
    ...thresholds.map((level) => ({ kind: "threshold" as const, level })),
    ...(baseline ? [{ kind: "baseline" as const, level: baseline }] : []),
  ]
    .filter(({ level }) => level.value >= 0 && level.value <= max)
    .map(({ kind, level }): PlacedLevel => {
      const y = yOf(level.value);
      // On the line's right end, else its left; just above or below it, else a little
      // further off where the points crowd around it (a baseline runs through them).
      const spots = [-4, FONT + 2, -12, FONT + 10, -20].flatMap((dy): Label[] => [
        { x: plot.x2 - 2, y: y + dy, text: level.label, anchor: "end" },
        { x: plot.x1 + 2, y: y + dy, text: level.label, anchor: "start" },
      ]);
      const label = spots.find((s) => {
        const box = boxOf(s);
        return box.y1 >= 0 && box.y2 <= plot.y2 && space.claim(box);
      });
      return { kind, level, y, label: label ?? null };
    });
  const offScale = allLevels
    .filter((l) => l.value > max)
    .map((level) => {
      const label: Label = {
        x: plot.x2 - 2,
        y: plot.y1 - 3,
        text: `${level.label} (above)`,
        anchor: "end",
      };
      return { level, label: space.claim(boxOf(label)) ? label : null };
    });

  const starts = points.flatMap((p, i) =>
    i === 0 || points[i - 1]?.checksum !== p.checksum ? [{ checksum: p.checksum, x: xOf(i) }] : [],
  );
  // Revisions are labelled from the newest back: the latest is the one being judged.
  const xLabels: ChartLayout["xLabels"] = [];
  for (const start of [...starts].reverse()) {
    const label = clampLabel(
      { x: start.x, y: plot.y2 + 22, text: shortChecksum(start.checksum), anchor: "middle" },
      2,
      size.width - 2,
    );
    if (space.claim(boxOf(label))) xLabels.unshift({ x: start.x, label });
  }

  const magnitude = (p: PlacedPoint) => {
    const before = p.point.previous?.value ?? 0;
    const change = Math.abs((p.point.value ?? before) - before);
    return chart.unit === "ms" && before > 0 ? change / before : change;
  };
  const candidates = placed
    .filter((p) => p.delta !== null && (p.point.regressed || !p.delta.startsWith("±")))
    .sort(
      (a, b) =>
        Number(b.point.regressed) - Number(a.point.regressed) || magnitude(b) - magnitude(a),
    );
  const deltaLabels: ChartLayout["deltaLabels"] = [];
  for (const p of candidates) {
    const text = p.point.regressed ? `${p.delta} regressed` : (p.delta ?? "");
    // Clear of the point, and of the ring a regressed point wears.
    const off = p.point.regressed ? 12 : 7;
    const spots = [p.y - off - 3, p.y + off + FONT].map((y) =>
      clampLabel({ x: p.x, y, text, anchor: "middle" }, plot.x1, plot.x2),
    );
    const label = spots.find((s) => {
      const box = boxOf(s);
      return box.y1 >= 0 && box.y2 <= plot.y2 && space.claim(box);
    });
    if (label) deltaLabels.push({ ...label, regressed: p.point.regressed });
  }

  return {
    size,
    plot,
    ticks,
    xLabels,
    pointRadius,
    levels,
    offScale,
    points: placed,
    deltaLabels,
  };
}
