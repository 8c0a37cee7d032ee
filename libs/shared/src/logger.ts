import { pino, type DestinationStream, type Logger } from "pino";

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
];

/**
 * JSON logs. Known secret-bearing fields are redacted up to two levels down (a job's
 * `data.envVars`, a config's `SLACK_TOKEN`), as a second line of defence: the first is
 * never logging scripts, env values or tokens at all. `destination` is for tests.
 */
export function createLogger(name: string, level: string, destination?: DestinationStream): Logger {
  const paths = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);
  return pino(
    {
      name,
      level,
      redact: {
        paths: [...paths, "headers.authorization", "*.headers.authorization"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
