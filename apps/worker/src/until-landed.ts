/**
 * Retries `write` until it succeeds: for writes that must not be lost (a verdict) while
 * Redis refuses them for a while (out of memory, READONLY after a failover, MISCONF).
 * Backs off from 100 ms to 5 s; the caller's process exiting is the only other way out.
 */
export async function untilLanded<T>(
  write: () => Promise<T>,
  { onRetry }: { onRetry: (error: unknown, delayMs: number) => void },
): Promise<T> {
  for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 5000)) {
    try {
      return await write();
    } catch (error) {
      onRetry(error, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
