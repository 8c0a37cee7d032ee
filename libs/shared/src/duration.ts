/**
 * Durations as Flagger users write them in Canary specs ("90s", "2m", "1h30m", "250ms").
 * Exactly what parseDuration accepts: after trimming surrounding whitespace, at most 32
 * characters of one or more `<number><unit>` parts with nothing between them, summed
 * ("30s1m" and "1m1m" too). A number is digits with an optional fraction ("1.5", not ".5"
 * or "1."); a unit is `ms`, `s`, `m`, `h` or `d`, lower case. A bare "0" is 0. The result is
 * rounded to whole milliseconds.
 *
 * Close to, not the same as, Go's time.ParseDuration (what flagger-k6-webhook reads
 * `min_failure_delay` with): `d` is accepted here and refused by Go; signs ("-1s", "+1s"),
 * `us`/`µs`/`ns`, ".5s", "1.s" and anything over 32 characters are refused here and
 * accepted by Go.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const input = text.trim();
  if (input === "0") return 0;
  if (input === "" || input.length > 32) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < input.length) {
    const match = PART.exec(input);
    if (!match) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2] as string] ?? 0);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/**
 * Short human form for messages: 1500 -> "1.5s", 120000 -> "2m". Rounded to what is shown
 * first, so a value just under a unit carries (59950 -> "1m", not "60s").
 */
export function formatDuration(ms: number): string {
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${tenths / 10}s`;
  const seconds = Math.round(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return seconds % 60 ? `${minutes}m${seconds % 60}s` : `${minutes}m`;
}
