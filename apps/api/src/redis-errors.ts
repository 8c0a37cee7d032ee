import { ReplyError } from "ioredis";

/** Socket errors (Node's `code`) of a Redis that is not there. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"]);
/** Redis's own error codes (first word of a reply error) for a server that cannot serve now. */
const UNAVAILABLE_REPLIES = new Set([
  "LOADING",
  "READONLY",
  "MASTERDOWN",
  "MISCONF",
  "OOM",
  "BUSY",
]);
/**
 * ioredis rejects commands on a closed or offline connection, and on its command timeout,
 * with plain Errors: their messages are all it offers to tell them apart.
 */
const CLIENT_STATES = /enableOfflineQueue|Connection is closed|Command timed out/;

/** An error Redis answered with (ioredis re-exports redis-errors' class, untyped). */
function isReplyError(error: Error): boolean {
  return error instanceof (ReplyError as new () => Error);
}

/** Errors that mean "Redis is not there right now" rather than a bug: answer 503. */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "MaxRetriesPerRequestError") return true;
  const { code } = error as NodeJS.ErrnoException;
  if (code !== undefined && SOCKET_CODES.has(code)) return true;
  if (isReplyError(error)) return UNAVAILABLE_REPLIES.has(error.message.split(" ")[0] ?? "");
  return CLIENT_STATES.test(error.message);
}

/**
 * Redis refused a write because it is out of memory (`maxmemory` reached under
 * `noeviction`): full, not unreachable. It stays so until memory is freed or added.
 */
export function isRedisFull(error: unknown): boolean {
  return error instanceof Error && isReplyError(error) && error.message.startsWith("OOM ");
}
