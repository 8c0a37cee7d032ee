/**
 * Go-style durations ("90s", "2m", "1h30m", "250ms"), the format Flagger users already
 * write in Canary specs and that flagger-k6-webhook accepts for `min_failure_delay`.
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

/** Short human form for messages: 1500 -> "1.5s", 120000 -> "2m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
}
