/**
 * The `balance.hash_key` setting (docs/behaviour.md#hash): where a `hash` group finds a
 * request's affinity key.
 *
 * @module
 */

/** Where the key of a request comes from. */
export type HashKeySpec =
  /** The value of a request header (`name` is lower-case). */
  | { readonly source: "header"; readonly name: string }
  /**
   * The client IP as the rate limiter sees it (docs/behaviour.md#rate-limits-per-ip,
   * `trusted_proxies`).
   */
  | { readonly source: "client_ip" }
  /** A top-level string field of the JSON body, e.g. `user` or `prompt_cache_key`. */
  | { readonly source: "body"; readonly field: string };

/** Result of {@linkcode parseHashKey}. */
export type HashKeyParse =
  | { readonly ok: true; readonly spec: HashKeySpec }
  | { readonly ok: false; readonly error: string };

const FORMS = '"header:<name>", "client_ip" or "body:<field>"';
/** RFC 9110 token: what a header field name may consist of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TOKEN_TEXT = "letters, digits and !#$%&'*+-.^_`|~";

function fail(error: string): HashKeyParse {
  return { ok: false, error };
}

function quote(s: string): string {
  return JSON.stringify(s);
}

/**
 * Parses a `balance.hash_key` value. The error (a "must be …" sentence that names the
 * offending part and suggests a fix where one is likely) is meant to follow the YAML
 * path in a config diagnostic.
 *
 * - `header:<name>`: a valid HTTP header name, returned lower-cased (header lookups
 *   are case-insensitive, and a normalised spelling compares equal across reloads).
 * - `client_ip`
 * - `body:<field>`: a non-empty top-level field name, taken literally.
 *
 * @example
 * ```ts
 * parseHashKey("header:X-Session-Id"); // { ok: true, spec: { source: "header", name: "x-session-id" } }
 * parseHashKey("body:user");           // { ok: true, spec: { source: "body", field: "user" } }
 * parseHashKey("cookie:sid").ok;       // false
 * ```
 */
export function parseHashKey(value: unknown): HashKeyParse {
  if (typeof value !== "string") {
    const got = value === null ? "null" : Array.isArray(value) ? "a list" : typeof value;
    return fail(`must be a string: ${FORMS}, got ${got}`);
  }
  if (value === "client_ip") return { ok: true, spec: { source: "client_ip" } };
  const colon = value.indexOf(":");
  if (colon < 0) return fail(`must be ${FORMS}, got ${quote(value)}${bareHint(value)}`);
  const source = value.slice(0, colon);
  const arg = value.slice(colon + 1);
  switch (source) {
    case "header":
      return parseHeader(value, arg);
    case "body":
      return parseBody(value, arg);
    case "client_ip":
      return fail(`must be ${FORMS}, got ${quote(value)}: "client_ip" takes no argument`);
    default: {
      const lower = source.trim().toLowerCase();
      const hint = lower === "header" || lower === "body"
        ? `; did you mean ${quote(`${lower}:${arg.trim()}`)}?`
        : "";
      return fail(
        `must be ${FORMS}, got ${quote(value)}: unknown key source ${quote(source)}${hint}`,
      );
    }
  }
}

function parseHeader(value: string, name: string): HashKeyParse {
  if (name === "") {
    return fail(
      `must be ${FORMS}, got ${quote(value)}: the header name is missing, e.g. ` +
        '"header:x-session-id"',
    );
  }
  if (!TOKEN.test(name)) {
    const trimmed = name.trim();
    const hint = trimmed !== name && TOKEN.test(trimmed)
      ? `; did you mean ${quote(`header:${trimmed.toLowerCase()}`)}?`
      : "";
    return fail(
      `must be ${FORMS}, got ${quote(value)}: ${quote(name)} is not a valid HTTP header name ` +
        `(${TOKEN_TEXT})${hint}`,
    );
  }
  return { ok: true, spec: { source: "header", name: name.toLowerCase() } };
}

function parseBody(value: string, field: string): HashKeyParse {
  if (field === "") {
    return fail(
      `must be ${FORMS}, got ${quote(value)}: the field name is missing, e.g. ` +
        '"body:user" or "body:prompt_cache_key"',
    );
  }
  if (field.trim() !== field) {
    const hint = field.trim() === "" ? "" : `; did you mean ${quote(`body:${field.trim()}`)}?`;
    return fail(
      `must be ${FORMS}, got ${quote(value)}: the field name has leading or trailing ` +
        `spaces${hint}`,
    );
  }
  // A path-like name would silently never match (only top-level fields are read) and
  // every request would fall back to least_requests: say so now instead.
  if (/[.[\]]/.test(field)) {
    return fail(
      `must be ${FORMS}, got ${quote(value)}: only a top-level field of the JSON body ` +
        `can be the key, not a path such as ${quote(field)}`,
    );
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(field)) {
    return fail(`must be ${FORMS}, got ${quote(value)}: the field name has control characters`);
  }
  return { ok: true, spec: { source: "body", field } };
}

/** A hint for a value without a colon that looks like a near miss. */
function bareHint(value: string): string {
  const squashed = value.trim().toLowerCase().replace(/[-_ ]/g, "");
  if (squashed === "clientip" || squashed === "ip") return '; did you mean "client_ip"?';
  if (squashed === "header") return '; a header needs its name, e.g. "header:x-session-id"';
  if (squashed === "body") return '; a body field needs its name, e.g. "body:user"';
  return "";
}

/**
 * The config spelling of `spec` (what the admin API returns and accepts back).
 *
 * @example
 * ```ts
 * formatHashKey({ source: "header", name: "x-session-id" }); // "header:x-session-id"
 * ```
 */
export function formatHashKey(spec: HashKeySpec): string {
  switch (spec.source) {
    case "header":
      return `header:${spec.name}`;
    case "client_ip":
      return "client_ip";
    case "body":
      return `body:${spec.field}`;
  }
}
