import { LogLevel, WebClient, type Logger as SlackLogger } from "@slack/web-api";
import type { Logger } from "@k6-gate/shared";

export interface SlackClientOptions {
  token: string;
  /** Slack Web API base URL; undefined = https://slack.com/api/. */
  apiUrl: string | undefined;
  timeoutMs: number;
  logger: Logger;
}

/**
 * A WebClient that fails fast: one attempt per call (its default retries for half an
 * hour), each HTTP request aborted after `timeoutMs`, and a rate limit reported as an
 * error instead of waited out. A notification that cannot go now is logged and dropped.
 */
export function createSlackClient(options: SlackClientOptions): WebClient {
  return new WebClient(options.token, {
    slackApiUrl: options.apiUrl,
    timeout: options.timeoutMs,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logger: slackLogger(options.logger.child({ component: "slack" })),
  });
}

/** The WebClient's own messages, as JSON logs; its debug output (request bodies) is dropped. */
function slackLogger(logger: Logger): SlackLogger {
  const line = (parts: unknown[]) => parts.map(String).join(" ");
  return {
    debug: () => {},
    info: (...parts) => logger.info(line(parts)),
    warn: (...parts) => logger.warn(line(parts)),
    error: (...parts) => logger.error(line(parts)),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
}
