/**
 * The upstream URL of a request (SPEC §5.1): an upstream URL with a path other than
 * `/` is the whole target; otherwise the client's path is appended. The client's
 * query is kept, with parameters written in the upstream URL winning.
 */
export function targetUrl(upstream: URL, clientPath: string, clientSearch: string): string {
  const hasOwnPath = upstream.pathname !== "/" && upstream.pathname !== "";
  const path = hasOwnPath ? upstream.pathname : clientPath;
  const query = mergeQuery(clientSearch, upstream.search);
  return `${upstream.protocol}//${upstream.host}${path}${query}`;
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
