/**
 * The upstream URL of a request (docs/behaviour.md#target-url):
 * - an upstream URL without a path (or `/`): the client's path is appended;
 * - a path that is a prefix of the client's path at a segment boundary is a base: the
 *   client's path is used as it is (`https://api.openai.com/v1` with an SDK sending
 *   `/v1/chat/completions` reaches `/v1/chat/completions`, never `/v1/v1/…`);
 * - any other path is the whole target (as the Rust release does).
 * The client's query is kept, with parameters written in the upstream URL winning.
 */
export function targetUrl(upstream: URL, clientPath: string, clientSearch: string): string {
  const own = upstream.pathname;
  const path = own === "/" || own === "" || isBaseOf(own, clientPath) ? clientPath : own;
  const query = mergeQuery(clientSearch, upstream.search);
  return `${upstream.protocol}//${upstream.host}${path}${query}`;
}

/** Whether `base` is `path` itself or a prefix of it that ends at a `/`. */
function isBaseOf(base: string, path: string): boolean {
  const b = base.endsWith("/") ? base.slice(0, -1) : base;
  return path === b || path.startsWith(`${b}/`);
}

function mergeQuery(clientSearch: string, upstreamSearch: string): string {
  if (upstreamSearch.length <= 1) return clientSearch.length > 1 ? clientSearch : "";
  if (clientSearch.length <= 1) return upstreamSearch;
  const merged = new URLSearchParams(clientSearch);
  const own = new URLSearchParams(upstreamSearch);
  for (const key of new Set(own.keys())) merged.delete(key);
  for (const [k, v] of own) merged.append(k, v);
  return `?${merged.toString()}`;
}
