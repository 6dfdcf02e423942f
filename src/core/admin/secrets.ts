/**
 * Secrets in admin answers: masked as `"***"` on the way out, restored from the stored
 * configuration when a client sends the mask back (docs/behaviour.md#secrets), so whatever a GET
 * returns can be PUT back unchanged without the client ever seeing a key.
 *
 * What counts as a secret:
 * - `auth.token` and `auth.password` of an upstream;
 * - the password in the userinfo of a URL (`http://user:***@proxy:3128`), in an
 *   upstream's `url` and a group's `http_client.proxy.url`;
 * - query parameters of a URL whose name says they carry a key (`?key=***`,
 *   `?api-key=***`, `?sig=***`), as some providers take keys there;
 * - values of header operations whose header name says they carry a credential
 *   (`authorization`, `x-api-key`, `api-key`, `cookie`, names with `token` or `secret`);
 * - a client's `key` (docs/behaviour.md#secrets); its `key_sha256` is shown, a digest gives no key
 *   away.
 *
 * Masking works on the text, never re-serialising a URL, so an unmasked part comes back
 * byte for byte and a round trip changes nothing.
 *
 * A stored secret stays bound to where it is sent (docs/behaviour.md#secrets): `***` stands for it
 * only while the scheme, host and port it goes to are unchanged, i.e. the upstream's `url`
 * for the upstream's secrets, the proxy URL for the proxy's password. Otherwise
 * whoever may write could point an upstream at their own host, send `***`, and receive
 * the real key with the next request; such a change is a 400 asking for the secret.
 *
 * @module
 */

import type { ClientConfig, GroupConfig, HeaderOpConfig, UpstreamConfig } from "../config/types.ts";
import { AdminError } from "./envelope.ts";

/** What a secret is replaced with in answers. */
export const MASK = "***";

const SECRET_PARAMS: ReadonlySet<string> = new Set([
  "key",
  "api-key",
  "api_key",
  "apikey",
  "token",
  "access_token",
  "auth",
  "password",
  "secret",
  "client_secret",
  "sig",
  "signature",
  "code",
]);

const SECRET_HEADER =
  /authorization|cookie|token|secret|passw|api[-_]?key|subscription-key|access-key/i;

/** Whether a request header of this name carries a credential (its value is masked). */
export function isSecretHeader(name: string): boolean {
  return SECRET_HEADER.test(name);
}

interface UrlParts {
  /** `scheme://` */
  readonly scheme: string;
  /** The userinfo before `@`, undefined when there is none. */
  readonly user?: string;
  /** The password after `user:`, undefined when there is none. */
  readonly password?: string;
  /** From the host up to `?` or `#`. */
  readonly rest: string;
  /** `name=value` pairs of the query as written (undefined without `?`). */
  readonly query?: string[];
  /** `#…` or empty. */
  readonly fragment: string;
}

const URL_HEAD = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s;

function splitUrl(url: string): UrlParts | undefined {
  const m = URL_HEAD.exec(url);
  if (!m) return undefined;
  const [, scheme, authority, tail] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf("@");
  let user: string | undefined;
  let password: string | undefined;
  let host = authority;
  if (at >= 0) {
    const info = authority.slice(0, at);
    host = authority.slice(at + 1);
    const colon = info.indexOf(":");
    user = colon >= 0 ? info.slice(0, colon) : info;
    password = colon >= 0 ? info.slice(colon + 1) : undefined;
  }
  const hash = tail.indexOf("#");
  const beforeHash = hash >= 0 ? tail.slice(0, hash) : tail;
  const fragment = hash >= 0 ? tail.slice(hash) : "";
  const q = beforeHash.indexOf("?");
  const path = q >= 0 ? beforeHash.slice(0, q) : beforeHash;
  const query = q >= 0 ? beforeHash.slice(q + 1).split("&") : undefined;
  return { scheme, user, password, rest: host + path, query, fragment };
}

function joinUrl(p: UrlParts): string {
  const info = p.user === undefined
    ? ""
    : p.password === undefined
    ? `${p.user}@`
    : `${p.user}:${p.password}@`;
  const query = p.query === undefined ? "" : `?${p.query.join("&")}`;
  return `${p.scheme}${info}${p.rest}${query}${p.fragment}`;
}

function paramName(pair: string): string {
  const eq = pair.indexOf("=");
  const raw = eq >= 0 ? pair.slice(0, eq) : pair;
  try {
    return decodeURIComponent(raw.replace(/\+/g, " ")).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

function paramValue(pair: string): string | undefined {
  const eq = pair.indexOf("=");
  return eq >= 0 ? pair.slice(eq + 1) : undefined;
}

function isSecretParam(pair: string): boolean {
  const value = paramValue(pair);
  return value !== undefined && value !== "" && SECRET_PARAMS.has(paramName(pair));
}

/**
 * A URL with its userinfo password and secret-carrying query values replaced by
 * `***`; everything else exactly as written.
 *
 * @example
 * ```ts
 * import { maskUrl } from "./secrets.ts";
 * maskUrl("http://bob:hunter2@proxy:3128"); // "http://bob:***@proxy:3128"
 * maskUrl("https://api.example/v1?key=abc&alt=sse"); // "https://api.example/v1?key=***&alt=sse"
 * ```
 */
export function maskUrl(url: string): string {
  const p = splitUrl(url);
  if (!p) return url;
  const password = p.password === undefined || p.password === "" ? p.password : MASK;
  const query = p.query?.map((pair) =>
    isSecretParam(pair) ? `${pair.slice(0, pair.indexOf("="))}=${MASK}` : pair
  );
  return joinUrl({ ...p, password, query });
}

/**
 * The secret values written in a URL: its userinfo password and the values of its
 * key-carrying query parameters, as written (and percent-decoded, when that differs).
 */
export function urlSecrets(url: string): string[] {
  const p = splitUrl(url);
  if (!p) return [];
  const raw = [
    ...(p.password ? [p.password] : []),
    ...(p.query ?? []).filter(isSecretParam).map((pair) => paramValue(pair)!),
  ];
  const out = new Set(raw);
  for (const v of raw) {
    try {
      out.add(decodeURIComponent(v.replace(/\+/g, " ")));
    } catch { /* not percent-encoded text */ }
  }
  out.delete(MASK);
  out.delete("");
  return [...out];
}

/**
 * The origin (`scheme://host[:port]`, lower case, default port left out) a URL sends
 * to, or undefined when it is not an absolute URL.
 *
 * @example
 * ```ts
 * import { originOf } from "./secrets.ts";
 * originOf("HTTPS://u:p@API.example:443/v1?key=k"); // "https://api.example"
 * ```
 */
export function originOf(url: string | undefined): string | undefined {
  if (typeof url !== "string") return undefined;
  try {
    const origin = new URL(url).origin;
    return origin === "null" ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * Refuses to restore a stored secret when the URL it is sent to (`incoming`) has a
 * scheme, host or port other than the stored URL's: a secret never follows to a new
 * host. `what` names the URL in the message (`url`, `http_client.proxy.url`).
 */
function requireSameOrigin(
  incoming: string | undefined,
  stored: string | undefined,
  where: string,
  what: string,
): void {
  const from = originOf(stored);
  const to = originOf(incoming);
  if (from !== undefined && from === to) return;
  throw new AdminError(
    400,
    `${where}: "${MASK}" stands for the secret stored for ${from ?? "the old URL"}, but ` +
      `${what} now ${to === undefined ? "is not an absolute URL" : `sends to ${to}`}; a stored ` +
      "secret never follows to another scheme, host or port: send the secret itself",
  );
}

/**
 * The URL a client meant when it sent `incoming`: each `***` (userinfo password,
 * secret query value) is replaced by the stored URL's value at the same place (same
 * user name, same parameter name). Throws a 400 {@linkcode AdminError} naming `where`
 * when a mask has nothing stored to stand for, or when `incoming` sends to another
 * scheme, host or port than `stored`.
 */
export function restoreUrl(incoming: string, stored: string | undefined, where: string): string {
  if (incoming === stored || !incoming.includes(MASK)) return incoming;
  const p = splitUrl(incoming);
  if (!p) return incoming;
  const s = stored === undefined ? undefined : splitUrl(stored);
  const restore = () => requireSameOrigin(incoming, stored, where, where);
  let password = p.password;
  if (password === MASK) {
    if (s?.password === undefined || s.password === "" || s.user !== p.user) {
      throw maskWithoutSecret(where, "the URL password");
    }
    restore();
    password = s.password;
  }
  const query = p.query?.map((pair) => {
    if (paramValue(pair) !== MASK) return pair;
    const name = paramName(pair);
    const old = s?.query?.find((q) => paramName(q) === name && isSecretParam(q));
    if (old === undefined) throw maskWithoutSecret(where, `query parameter "${name}"`);
    restore();
    return `${pair.slice(0, pair.indexOf("="))}=${paramValue(old)}`;
  });
  return joinUrl({ ...p, password, query });
}

function maskWithoutSecret(where: string, what: string): AdminError {
  return new AdminError(
    400,
    `${where}: "${MASK}" stands for the stored value of ${what}, but none is stored ` +
      `there; send the real value`,
  );
}

/** An upstream as the admin API shows it: secrets masked (docs/behaviour.md#admin-shapes). */
export function maskUpstream(u: UpstreamConfig): UpstreamConfig {
  const auth = u.auth.type === "bearer"
    ? { type: "bearer" as const, token: MASK }
    : u.auth.type === "basic"
    ? { type: "basic" as const, username: u.auth.username, password: MASK }
    : { type: "none" as const };
  return {
    name: u.name,
    url: maskUrl(u.url),
    auth,
    headers: u.headers.map((h) =>
      h.value !== undefined && isSecretHeader(h.key) ? { ...h, value: MASK } : { ...h }
    ),
    ...(u.breaker ? { breaker: { ...u.breaker } } : {}),
    weight: u.weight,
    ...(u.model_map ? { model_map: { ...u.model_map } } : {}),
  };
}

/** A group as the admin API shows it: the proxy URL's password masked. */
export function maskGroup(g: GroupConfig): GroupConfig {
  const c = g.http_client;
  return {
    name: g.name,
    upstreams: g.upstreams.map((m) => ({ name: m.name, weight: m.weight })),
    balance: { ...g.balance },
    http_client: {
      agent: c.agent,
      keepalive: c.keepalive,
      stream: c.stream,
      timeout: { ...c.timeout },
      ...(c.retry ? { retry: { ...c.retry } } : {}),
      ...(c.proxy ? { proxy: { url: maskUrl(c.proxy.url) } } : {}),
      stream_usage: c.stream_usage,
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Puts stored secrets back where an upstream body (raw JSON, as the client sent it)
 * carries `***`: `auth.token`, `auth.password`, the URL, secret header values. The
 * body is not changed; a copy comes back. `stored` is the upstream being replaced
 * (undefined on create, where any mask is an error). Each restored secret needs the
 * body's `url` to send to the stored `url`'s scheme, host and port.
 */
export function restoreUpstreamSecrets(
  body: Record<string, unknown>,
  stored: UpstreamConfig | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  const incomingUrl = typeof body.url === "string" ? body.url : undefined;
  const sameHost = (where: string) => requireSameOrigin(incomingUrl, stored?.url, where, "url");
  if (incomingUrl !== undefined) out.url = restoreUrl(incomingUrl, stored?.url, "url");
  if (isRecord(out.auth)) {
    const auth: Record<string, unknown> = { ...out.auth };
    const storedAuth = stored?.auth;
    if (auth.token === MASK) {
      if (storedAuth?.type !== "bearer") throw maskWithoutSecret("auth.token", "a bearer token");
      sameHost("auth.token");
      auth.token = storedAuth.token;
    }
    if (auth.password === MASK) {
      if (storedAuth?.type !== "basic") throw maskWithoutSecret("auth.password", "a password");
      sameHost("auth.password");
      auth.password = storedAuth.password;
    }
    out.auth = auth;
  }
  if (Array.isArray(out.headers)) {
    out.headers = out.headers.map((h, i) => {
      if (!isRecord(h) || h.value !== MASK || typeof h.key !== "string") return h;
      const value = storedHeaderValue(stored?.headers ?? [], h.key, h.op);
      if (value === undefined) throw maskWithoutSecret(`headers[${i}].value`, `header ${h.key}`);
      sameHost(`headers[${i}].value`);
      return { ...h, value };
    });
  }
  return out;
}

function storedHeaderValue(
  stored: readonly HeaderOpConfig[],
  key: string,
  op: unknown,
): string | undefined {
  const same = stored.filter((h) => h.key.toLowerCase() === key.toLowerCase() && h.value);
  return (same.find((h) => h.op === op) ?? same[0])?.value;
}

/**
 * Puts the stored proxy URL password back where a group body (raw JSON) carries
 * `***` in `http_client.proxy.url`. Returns a copy.
 */
export function restoreGroupSecrets(
  body: Record<string, unknown>,
  stored: GroupConfig | undefined,
): Record<string, unknown> {
  const client = body.http_client;
  if (!isRecord(client) || !isRecord(client.proxy) || typeof client.proxy.url !== "string") {
    return body;
  }
  const url = restoreUrl(
    client.proxy.url,
    stored?.http_client.proxy?.url,
    "http_client.proxy.url",
  );
  return { ...body, http_client: { ...client, proxy: { ...client.proxy, url } } };
}

/** A client as the admin API shows it: `key` masked (when one is configured). */
export function maskClient(c: ClientConfig): ClientConfig {
  return {
    name: c.name,
    ...(c.key !== undefined ? { key: MASK } : {}),
    key_sha256: c.key_sha256,
    ...(c.groups ? { groups: [...c.groups] } : {}),
    ...(c.models ? { models: [...c.models] } : {}),
    limits: { ...c.limits },
  };
}

/**
 * What a client body (raw JSON) means when its `key` is `***`: the stored credential
 * (the key, or only its digest when no key is stored), so a GET answer, which shows
 * `"key": "***"` beside the `key_sha256`, can be PUT back unchanged. A `key_sha256`
 * sent beside the mask must be the stored digest (it is then dropped: the key carries
 * it); another digest contradicts the mask and is a 400. `stored` is the client being
 * replaced (undefined on create, where a mask stands for nothing). A copy comes back.
 */
export function restoreClientSecrets(
  body: Record<string, unknown>,
  stored: ClientConfig | undefined,
): Record<string, unknown> {
  if (body.key !== MASK) return body;
  if (stored === undefined) {
    throw new AdminError(
      400,
      `key: "${MASK}" stands for a stored key, but this client is new; send its key, ` +
        "its key_sha256, or neither to have a key generated",
    );
  }
  const given = body.key_sha256;
  if (
    given !== undefined && (typeof given !== "string" || given.toLowerCase() !== stored.key_sha256)
  ) {
    throw new AdminError(
      400,
      `key_sha256: "${MASK}" in key keeps the stored key, whose SHA-256 is ` +
        `${stored.key_sha256}, but key_sha256 names another digest; to change the key send ` +
        "either the new key or its key_sha256, not the mask",
    );
  }
  const out: Record<string, unknown> = { ...body };
  delete out.key;
  delete out.key_sha256;
  if (stored.key !== undefined) out.key = stored.key;
  else out.key_sha256 = stored.key_sha256;
  return out;
}

/** The prefix of a generated client key. */
export const CLIENT_KEY_PREFIX = "sk-llmproxy-";

/**
 * A new client key: 32 random bytes from `crypto.getRandomValues`, URL-safe base64
 * without padding, prefixed `sk-llmproxy-`
 * (docs/behaviour.md#client-admin-api-and-metrics).
 *
 * @example
 * ```ts
 * import { generateClientKey } from "./secrets.ts";
 * generateClientKey(); // "sk-llmproxy-" followed by 43 characters of A-Z a-z 0-9 - _
 * ```
 */
export function generateClientKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  const b64 = btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return CLIENT_KEY_PREFIX + b64;
}
