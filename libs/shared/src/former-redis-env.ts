import { DEFAULT_REDIS_URL } from "./redis-target";

/**
 * k6-gate's former Redis variables, folded into the two that say where Redis is (issue 32):
 * the sentinels' login and primary set into REDIS_SENTINELS
 * (`[user:password@]host:port,host:port[/name]`), the CA file, Cluster mode and the consent
 * to a Redis without a password into REDIS_URL (`?ca=<file>`, `?cluster=true`,
 * `?allow_unauthenticated=true`). A deployment that still sets one keeps
 * working: its value is written where it belongs now, and a notice at start says so.
 */
const FORMER_SENTINEL_VARIABLES = [
  "REDIS_SENTINEL_USERNAME",
  "REDIS_SENTINEL_PASSWORD",
  "REDIS_SENTINEL_NAME",
] as const;

const isSet = (value: string | undefined): value is string =>
  value !== undefined && value.trim() !== "";

const movedNotice = (name: string, into: string, form: string) =>
  `${name} is k6-gate's former setting, read into ${into} (${form}). ` +
  `Move it there: ${name} is deprecated`;

function foldSentinels(env: NodeJS.ProcessEnv, notices: string[]): NodeJS.ProcessEnv {
  const found = FORMER_SENTINEL_VARIABLES.filter((name) => isSet(env[name]));
  if (found.length === 0) return env;
  const sentinels = env.REDIS_SENTINELS?.trim() ?? "";
  if (sentinels === "" || sentinels.includes("@") || sentinels.includes("/")) {
    // Nothing to fold into, or REDIS_SENTINELS already says it: the new form wins.
    const why = sentinels ? "says it" : "is unset";
    notices.push(...found.map((name) => `${name} is ignored: REDIS_SENTINELS ${why}`));
    return env;
  }
  const user = encodeURIComponent(env.REDIS_SENTINEL_USERNAME?.trim() ?? "");
  const password = env.REDIS_SENTINEL_PASSWORD?.trim();
  const userinfo = isSet(password)
    ? `${user}:${encodeURIComponent(password)}@`
    : user
      ? `${user}@`
      : "";
  const name = env.REDIS_SENTINEL_NAME?.trim();
  const form = "[user:password@]host:port,...[/name]";
  notices.push(...found.map((variable) => movedNotice(variable, "REDIS_SENTINELS", form)));
  return { ...env, REDIS_SENTINELS: `${userinfo}${sentinels}${isSet(name) ? `/${name}` : ""}` };
}

function foldIntoUrl(env: NodeJS.ProcessEnv, notices: string[]): NodeJS.ProcessEnv {
  const ca = env.REDIS_TLS_CA?.trim();
  const cluster = env.REDIS_CLUSTER?.trim();
  const allowUnauthenticated = env.REDIS_ALLOW_UNAUTHENTICATED?.trim();
  if (!isSet(ca) && !isSet(cluster) && !isSet(allowUnauthenticated)) return env;
  let url: URL;
  try {
    url = new URL(isSet(env.REDIS_URL) ? env.REDIS_URL : DEFAULT_REDIS_URL);
  } catch {
    return env; // REDIS_URL's own error says what is wrong
  }
  for (const [variable, value, parameter] of [
    ["REDIS_TLS_CA", ca, "ca"],
    ["REDIS_CLUSTER", cluster, "cluster"],
    ["REDIS_ALLOW_UNAUTHENTICATED", allowUnauthenticated, "allow_unauthenticated"],
  ] as const) {
    if (!isSet(value)) continue;
    if (url.searchParams.has(parameter)) {
      notices.push(`${variable} is ignored: REDIS_URL has ?${parameter}=`);
      continue;
    }
    url.searchParams.set(parameter, value);
    notices.push(movedNotice(variable, "REDIS_URL", `?${parameter}=${value}`));
  }
  return { ...env, REDIS_URL: url.href };
}

/** `env` with the former Redis variables folded where they belong now, and a notice for each. */
export function foldFormerRedisVariables(env: NodeJS.ProcessEnv): {
  env: NodeJS.ProcessEnv;
  notices: string[];
} {
  const notices: string[] = [];
  const folded = foldIntoUrl(foldSentinels(env, notices), notices);
  return { env: folded, notices };
}
