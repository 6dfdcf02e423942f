/**
 * The admin API under a path prefix, for runtimes where it shares the public host with
 * the proxied traffic (Workers: `/_llmproxy` by default, docs/workers.md).
 *
 * @module
 */

/** The prefix when none is configured. */
export const DEFAULT_ADMIN_PREFIX = "/_llmproxy";

/**
 * A configured prefix as used: a leading slash, no trailing slash; blank or `/` give
 * {@linkcode DEFAULT_ADMIN_PREFIX} (the admin API never takes over the whole host).
 */
export function normalizeAdminPrefix(raw: string | undefined): string {
  const p = (raw ?? DEFAULT_ADMIN_PREFIX).trim();
  if (p === "" || p === "/") return DEFAULT_ADMIN_PREFIX;
  const withSlash = p.startsWith("/") ? p : `/${p}`;
  return withSlash.endsWith("/") ? withSlash.slice(0, -1) : withSlash;
}

/**
 * The admin path of `path` under `prefix` (`/_llmproxy/health` → `/health`, the prefix
 * itself → `/`), or undefined when `path` is not under the prefix (a prefix matches whole
 * segments only: `/_llmproxyx` is not under `/_llmproxy`).
 */
export function adminSubpath(path: string, prefix: string): string | undefined {
  if (path === prefix) return "/";
  if (!path.startsWith(prefix + "/")) return undefined;
  return path.slice(prefix.length);
}
