import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";

/**
 * Per-namespace webhook credentials (`WEBHOOK_TOKENS_FILE`): each token admits its
 * caller to /launch-test for its own namespaces only. A JSON file, e.g. a key of a
 * Kubernetes Secret mounted as a volume:
 *
 *   { "tokens": [
 *       { "name": "team-a", "token": "<openssl rand -hex 24>", "namespaces": ["team-a", "team-a-*"] },
 *       { "name": "team-b", "token": "...", "namespaces": ["team-b"] } ] }
 *
 * `name` says whose token it is (shown in a 403 and safe to log; the token never is).
 * A namespace entry is a name, a prefix ending in `*` (`team-a-*`), or `*` (any). A prefix
 * with no `-` before its `*` is allowed, and warned of at start (loosePrefixPatterns).
 */
export interface WebhookCaller {
  name: string;
  namespaces: readonly string[];
  allows(namespace: string): boolean;
  /** `WEBHOOK_TOKEN`: one token every caller may hold, so it speaks for no one in particular. */
  shared?: true;
}

/** The caller `WEBHOOK_TOKEN` admits: any namespace, named after the setting. */
export const SHARED_TOKEN_CALLER: WebhookCaller = {
  name: "WEBHOOK_TOKEN",
  namespaces: ["*"],
  allows: () => true,
  shared: true,
};

/** A credential from the file: the caller it admits and the SHA-256 of its token. */
export interface WebhookCredential extends WebhookCaller {
  digest: Buffer;
}

export const tokenDigest = (token: string): Buffer => createHash("sha256").update(token).digest();

const NAMESPACE_ENTRY = /^(?:\*|[a-z0-9](?:[-a-z0-9]*[a-z0-9])?|[a-z0-9][-a-z0-9]*\*)$/;

const tokensFileSchema = z
  .object({
    tokens: z
      .array(
        z
          .object({
            name: z
              .string()
              .regex(/^[A-Za-z0-9._-]{1,63}$/, "1-63 letters, digits, '.', '_' or '-'"),
            // It travels in the webhook URL (`?token=`): URL-safe characters only.
            token: z
              .string()
              .regex(
                /^[A-Za-z0-9._~-]{16,256}$/,
                "16-256 characters from A-Z a-z 0-9 . _ ~ - (e.g. `openssl rand -hex 24`)",
              ),
            namespaces: z
              .array(
                z
                  .string()
                  .regex(
                    NAMESPACE_ENTRY,
                    "a namespace name, a prefix ending in * (team-a-*), or * for any",
                  ),
              )
              .min(1, "at least one namespace"),
          })
          .strict(),
      )
      .min(1, "at least one token"),
  })
  .strict()
  .superRefine(({ tokens }, ctx) => {
    tokens.forEach((entry, index) => {
      const first = tokens.findIndex((other) => other.name === entry.name);
      if (first < index)
        ctx.addIssue({
          code: "custom",
          path: ["tokens", index, "name"],
          message: `"${entry.name}" is already the name of tokens.${first}`,
        });
      const same = tokens.findIndex((other) => other.token === entry.token);
      if (same < index)
        ctx.addIssue({
          code: "custom",
          path: ["tokens", index, "token"],
          message: `the same token as tokens.${same}: each token binds one set of namespaces`,
        });
    });
  });

function callerOf(name: string, namespaces: string[]): WebhookCaller {
  return {
    name,
    namespaces,
    allows: (namespace) =>
      namespaces.some((entry) =>
        entry.endsWith("*") ? namespace.startsWith(entry.slice(0, -1)) : namespace === entry,
      ),
  };
}

/** A prefix pattern that admits more than its namespaces (loosePrefixPatterns). */
export interface LoosePrefixPattern {
  tokenName: string;
  pattern: string;
  /** The same prefix ending at a separator: what the pattern most likely meant. */
  safePattern: string;
  message: string;
}

/**
 * Prefix patterns with no separator before the `*`: `team-a*` admits `team-admin` and
 * `team-analytics`, not only `team-a-dev`. Valid (a team may own every namespace starting
 * with `ml`), so a warning at start, not an error. `-` is the only separator a
 * namespace name can hold.
 */
export function loosePrefixPatterns(callers: readonly WebhookCaller[]): LoosePrefixPattern[] {
  return callers.flatMap(({ name, namespaces }) =>
    namespaces
      .filter((entry) => entry.length > 1 && entry.endsWith("*") && !entry.endsWith("-*"))
      .map((pattern) => {
        const prefix = pattern.slice(0, -1);
        const safePattern = `${prefix}-*`;
        return {
          tokenName: name,
          pattern,
          safePattern,
          message: `WEBHOOK_TOKENS_FILE: token ${name}: namespace pattern "${pattern}" admits every namespace starting with "${prefix}", such as "${prefix}x", not only "${prefix}-..."; the safe form is "${safePattern}" (with "${prefix}" for the namespace itself)`,
        };
      }),
  );
}

/**
 * Reads and checks the file once, at start. Problems become config issues naming the
 * file and the entry; neither a token nor the file's text is ever part of a message.
 */
export function loadWebhookTokens(
  path: string,
  ctx: z.RefinementCtx,
): WebhookCredential[] | typeof z.NEVER {
  const fail = (message: string) => {
    ctx.addIssue({ code: "custom", message: `${path}: ${message}` });
    return z.NEVER;
  };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return fail(`cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // V8 quotes the text around the error: only its position is kept.
    const where = /(?:at )?position \d+(?: \(line \d+ column \d+\))?/.exec(String(error));
    return fail(
      `is not valid JSON${where ? ` (${where[0]})` : ""}; the file must be JSON, not YAML`,
    );
  }
  const parsed = tokensFileSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({
        code: "custom",
        message: `${path}: ${issue.path.join(".") || "(file)"}: ${issue.message}`,
      });
    }
    return z.NEVER;
  }
  return parsed.data.tokens.map(({ name, token, namespaces }) => ({
    ...callerOf(name, namespaces),
    digest: tokenDigest(token),
  }));
}
