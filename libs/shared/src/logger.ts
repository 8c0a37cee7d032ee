import { pino, type DestinationStream, type Logger } from "pino";
import { ConfigError } from "./config";
import { VERSION } from "./version";

export type { Logger };

/** Fields that carry secrets, scripts or env values: job data, HTTP requests, configs. */
const SECRET_FIELDS = [
  "token",
  "envVars",
  "env",
  "secrets",
  "script",
  "password",
  "WEBHOOK_TOKEN",
  "SLACK_TOKEN",
  "K6_CLOUD_TOKEN",
  "DASHBOARD_PASSWORD",
  "REDIS_URL",
  "REDIS_PASSWORD",
  "REDIS_SENTINELS",
  "sentinelPassword",
];

/**
 * JSON logs. Known secret-bearing fields are redacted up to two levels down (a job's
 * `data.envVars`, a config's `SLACK_TOKEN`), as a second line of defence: the first is
 * never logging scripts, env values or tokens at all. `destination` is for tests.
 */
export function createLogger(
  service: string,
  level: string,
  destination?: DestinationStream,
): Logger {
  const paths = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);
  return pino(
    {
      // `service`, not pino's `name`: `name` is a canary's name in k6-gate's log lines.
      base: { service, pid: process.pid, version: VERSION },
      level,
      redact: {
        paths: [...paths, "headers.authorization", "*.headers.authorization"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}

/**
 * For main.ts: a start that cannot go on is logged as fatal, one JSON line (a bad setting
 * with the variables it names), and the process exits 1.
 */
export function exitOnStartFailure(logger: Logger): (error: unknown) => never {
  return (error) => {
    if (error instanceof ConfigError) logger.fatal({ variables: error.variables }, error.message);
    else logger.fatal(error instanceof Error ? error.message : String(error));
    process.exit(1);
  };
}

/** For main.ts: the configuration `load` parses, or exitOnStartFailure's line and exit 1. */
export function configOrExit<C>(service: string, load: () => C): C {
  try {
    return load();
  } catch (error) {
    // Before the configuration there is no LOG_LEVEL: a fatal line is always written.
    return exitOnStartFailure(createLogger(service, "info"))(error);
  }
}
