/**
 * Canaries listed by default (most recently run first), and the most one page may ask for.
 * 50 rows with their sparklines answer in well under 50 ms with 10,000 runs in Redis
 * (docs/benchmarks.md); "Show more" asks for the rest.
 */
export const DEFAULT_CANARY_LIMIT = 50;
export const MAX_CANARY_LIMIT = 2000;

/** `?limit=` of a canary listing: a whole number, clamped; anything else is the default. */
export function canaryLimit(query: string | undefined): number {
  const limit = Number(query);
  if (!Number.isInteger(limit) || limit < 1) return DEFAULT_CANARY_LIMIT;
  return Math.min(limit, MAX_CANARY_LIMIT);
}
