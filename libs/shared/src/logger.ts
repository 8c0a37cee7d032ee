import { pino, type Logger } from "pino";

export type { Logger };

/**
 * JSON logs. Known secret-bearing fields are redacted wherever they appear, as a second
 * line of defence: the first is never logging scripts, env values or tokens at all.
 */
export function createLogger(name: string, level: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        "token",
        "*.token",
        "envVars",
        "*.envVars",
        "env",
        "*.env",
        "script",
        "*.script",
        "headers.authorization",
        "*.headers.authorization",
        "password",
        "*.password",
      ],
      censor: "[redacted]",
    },
  });
}
