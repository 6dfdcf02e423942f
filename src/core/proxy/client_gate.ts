import { ANONYMOUS, clientKeyOf, type ClientRuntime, permissionProblem } from "./clients.ts";
import type { Exchange } from "./exchange.ts";
import type { ForwardRuntime, Snapshot } from "./snapshot.ts";

/** The label of requests whose key is unknown: unknown keys never become label values. */
const UNKNOWN = "unknown";

/**
 * The client of a request on a forward with `client_auth` (docs/behaviour.md#client-behaviour): its
 * key found, or `anonymous` under `optional` when it sent none. A refusal is the 401 to send.
 */
export async function identifyClient(
  ex: Exchange,
  fwd: ForwardRuntime,
  snap: Snapshot,
  headers: Headers,
): Promise<{ client: ClientRuntime | undefined } | { refusal: Response }> {
  const mode = fwd.config.client_auth;
  const key = clientKeyOf(headers);
  if (key === undefined && mode === "optional") {
    ex.clientName = ANONYMOUS;
    // Nothing further is checked for anonymous requests (no permissions, no limits):
    // admitted here, as the metric's help says ("its name, or anonymous").
    ex.gw.metrics.clientRequests.labels(ANONYMOUS).inc();
    return { client: undefined };
  }
  const found = key === undefined ? undefined : await snap.clients.find(key);
  if (found === undefined) {
    ex.gw.metrics.clientRejected.labels(UNKNOWN, "invalid_api_key").inc();
    const message = key === undefined
      ? "an API key is required: send Authorization: Bearer <key> or x-api-key: <key>"
      : "the API key is not valid";
    return {
      refusal: ex.fail("invalid_api_key", message, {
        headers: { "www-authenticate": "Bearer" },
        close: headers.has("content-length") || headers.has("transfer-encoding"),
      }),
    };
  }
  ex.clientName = found.config.name;
  return { client: found };
}

/**
 * Checks what the client may use and admits the request under its limits: a 403
 * naming what was refused, a 429 with the limit's code and Retry-After, or undefined
 * (go on; a reservation, if any, is on the exchange until its answer ends).
 */
export async function admitClient(
  ex: Exchange,
  client: ClientRuntime,
  group: string,
  model: string | undefined,
  bodyBytes: number,
): Promise<Response | undefined> {
  const m = ex.gw.metrics;
  const name = client.config.name;
  const denied = permissionProblem(client, group, model);
  if (denied !== undefined) {
    m.clientRejected.labels(name, "permission_denied").inc();
    return ex.fail("permission_denied", denied);
  }
  if (client.limited) {
    const estimate = Math.ceil(bodyBytes / 4);
    const d = await ex.gw.store.clients.admit(name, client.config.limits, estimate);
    if (!d.allowed) {
      m.clientRejected.labels(name, d.reason).inc();
      const what = d.reason === "rate_limited"
        ? "requests per minute"
        : d.reason === "tokens_rate_limited"
        ? "tokens per minute"
        : "tokens per day";
      return ex.fail(d.reason, `client ${JSON.stringify(name)} is over its ${what}`, {
        retryAfterMs: d.retryAfterMs,
      });
    }
    ex.reservation = d.reservation;
  }
  m.clientRequests.labels(name).inc();
  return undefined;
}
