/**
 * The `state.redis.url` of docs/behaviour.md#redis: `redis://` or `rediss://`, `user:password@`
 * allowed. The URL carries a secret (the password, and a user name that some servers
 * take as one), so messages about it name what is wrong, never the value, and logs show
 * it through {@linkcode redisUrlForLogs}.
 *
 * @module
 */

import { unprintableProblem } from "./text.ts";

/** What a valid URL looks like, for messages. */
export const REDIS_URL_SHAPE =
  "a redis:// or rediss:// URL (redis://[user:password@]host[:port][/db])";

/**
 * What is wrong with a Redis URL (`the scheme "http:"`, `no host`), or `undefined`
 * when nothing is. Never quotes the URL, only its scheme.
 *
 * @example
 * ```ts
 * redisUrlProblem("redis://:pw@cache:6379/0"); // undefined
 * redisUrlProblem("http://cache"); // 'the scheme "http:"'
 * ```
 */
export function redisUrlProblem(text: string): string | undefined {
  const bad = unprintableProblem(text);
  if (bad !== undefined) return bad;
  if (/\s/.test(text)) return "a blank";
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return "no scheme (it must start with redis:// or rediss://)";
  // The scheme is no secret; anything after it may be.
  if (scheme !== "redis" && scheme !== "rediss") {
    return `the scheme ${JSON.stringify(`${scheme}:`)}`;
  }
  if (!/^[A-Za-z]+:\/\//.test(text)) return 'no "//" after the scheme';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "a malformed host, port or user part";
  }
  if (url.hostname === "") return "no host";
  if (url.search !== "" || url.hash !== "") return "a query or fragment (neither is used)";
  if (url.pathname !== "" && url.pathname !== "/" && !/^\/\d{1,5}$/.test(url.pathname)) {
    return "a path that is not a database number (/0, /1, …)";
  }
  return undefined;
}

/**
 * The URL as logs may show it: scheme, host, port and database, without user name or
 * password.
 *
 * @example
 * ```ts
 * redisUrlForLogs("redis://app:s3cret@cache:6380/2"); // "redis://***@cache:6380/2"
 * ```
 */
export function redisUrlForLogs(text: string): string {
  try {
    const url = new URL(text);
    const auth = url.username !== "" || url.password !== "" ? "***@" : "";
    const port = url.port === "" ? "" : `:${url.port}`;
    const db = url.pathname === "/" ? "" : url.pathname;
    return `${url.protocol}//${auth}${url.hostname}${port}${db}`;
  } catch {
    return "(an invalid Redis URL)";
  }
}

/**
 * The secrets of a Redis URL: its password and user name, as written and decoded, so
 * that {@linkcode redactRedisSecrets} can take them out of any message.
 */
export function redisUrlSecrets(text: string): string[] {
  const out = new Set<string>();
  try {
    const url = new URL(text);
    for (const raw of [url.password, url.username]) {
      if (raw === "") continue;
      out.add(raw);
      try {
        out.add(decodeURIComponent(raw));
      } catch { /* not percent-encoded text */ }
    }
  } catch { /* an invalid URL holds nothing we could find */ }
  out.add(text);
  out.delete("");
  return [...out];
}

/**
 * `message` with the URL and its credentials replaced by `***` (longest first), for
 * errors of the Redis client that end up in logs.
 */
export function redactRedisSecrets(message: string, url: string): string {
  let out = message;
  const secrets = redisUrlSecrets(url).sort((a, b) => b.length - a.length);
  for (const s of secrets) {
    if (out.includes(s)) out = out.replaceAll(s, "***");
  }
  return out;
}
