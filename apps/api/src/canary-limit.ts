/** Canaries listed by default (most recently run first), and the most one page may ask for. */
export const DEFAULT_CANARY_LIMIT = 200;
export const MAX_CANARY_LIMIT = 2000;

/** `?limit=` of a canary listing: a whole number, clamped; anything else is the default. */
export function canaryLimit(query: string | undefined): number {
  const limit = Number(query);
  if (!Number.isInteger(limit) || limit < 1) return DEFAULT_CANARY_LIMIT;
  return Math.min(limit, MAX_CANARY_LIMIT);
}
