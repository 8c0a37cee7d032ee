/** Errors that mean "Redis is not there right now" rather than a bug: answer 503. */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === "MaxRetriesPerRequestError" ||
    /enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|LOADING|Stream isn't writeable/i.test(
      error.message,
    )
  );
}
