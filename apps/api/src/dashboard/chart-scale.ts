/**
 * Axis arithmetic and label collision for the server-rendered charts. The server cannot
 * measure text, so label boxes are estimated generously; a chart keeps one viewBox, so
 * labels that do not overlap in its units do not overlap at any rendered width.
 */

/** Round ticks from 0: steps of 1, 2, 2.5 or 5 times a power of ten, about `count` of them. */
export function niceTicks(max: number, count: number): number[] {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const steps = Math.max(1, Math.ceil(max / step - 1e-9));
  // toPrecision drops binary noise: 3 × 0.1 is 0.3 on an axis, not 0.30000000000000004.
  return Array.from({ length: steps + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * Glyph widths in em, as wide as DejaVu Sans (Linux's usual system-ui, wider than most):
 * an estimate may leave room, never overlap.
 */
const WIDE_GLYPHS: Record<string, number> = {
  "%": 0.96,
  "+": 0.84,
  "±": 0.84,
  "<": 0.84,
  ">": 0.84,
  m: 0.98,
  w: 0.82,
};
const NARROW_GLYPHS = new Set([..." .,:;()[]-il|'"]);

function textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const char of text) {
    em += WIDE_GLYPHS[char] ?? (NARROW_GLYPHS.has(char) ? 0.4 : /[A-Z]/.test(char) ? 0.78 : 0.66);
  }
  return em * fontSize;
}

/** The box of `text` drawn at (x, baseline y) with an SVG text-anchor. */
export function textBox(
  text: string,
  x: number,
  y: number,
  fontSize: number,
  anchor: "start" | "middle" | "end",
): Box {
  const width = textWidth(text, fontSize);
  const x1 = anchor === "start" ? x : anchor === "middle" ? x - width / 2 : x - width;
  return { x1, x2: x1 + width, y1: y - fontSize, y2: y + fontSize * 0.3 };
}

/** Labels placed so far; a new one goes in only when it keeps `gap` from all of them. */
export class LabelSpace {
  private readonly boxes: Box[] = [];

  constructor(private readonly gap: number) {}

  fits(box: Box): boolean {
    const g = this.gap;
    return this.boxes.every(
      (b) => box.x2 + g <= b.x1 || b.x2 + g <= box.x1 || box.y2 + g <= b.y1 || b.y2 + g <= box.y1,
    );
  }

  /** Takes the box when it fits; says whether it did. */
  claim(box: Box): boolean {
    if (!this.fits(box)) return false;
    this.boxes.push(box);
    return true;
  }
}
