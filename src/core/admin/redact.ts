/**
 * Keeps secrets out of admin error messages (docs/behaviour.md#secrets: secrets are never
 * returned).
 *
 * Error messages quote values to say what came (`url: must be an absolute http(s) URL,
 * got "ftp://x?key=…"`), and a value may carry a secret: one the client just sent, or a
 * stored one a `***` was replaced with before the whole configuration was validated.
 * The validator masks what it knows to be secret; this is the last pass before an
 * answer leaves, replacing every secret value of the stored configuration and of the
 * request body with `***`, wherever in the message it shows up.
 *
 * @module
 */

import { isSecretHeader, MASK, urlSecrets } from "./secrets.ts";

/** Deep enough for the configuration and any admin body (which is checked to 32). */
const MAX_DEPTH = 40;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Every secret value in a configuration-shaped value (a whole configuration, an
 * upstream, a group, a request body): `auth.token`, `auth.password`, passwords and
 * key-carrying query values of any `url`, values of credential-carrying `headers`, the
 * `key` of each entry of a `clients` list. (A client body on its own is a
 * {@linkcode clientBodySecrets} matter: `key` elsewhere names a header.)
 *
 * @example
 * ```ts
 * import { secretValues } from "./redact.ts";
 * secretValues({ url: "https://x?key=k1", auth: { type: "bearer", token: "t1" } });
 * // ["k1", "t1"]
 * ```
 */
export function secretValues(value: unknown): string[] {
  const found = new Set<string>();
  collect(value, found, 0);
  found.delete(MASK);
  found.delete("");
  return [...found];
}

function collect(value: unknown, found: Set<string>, depth: number): void {
  if (depth > MAX_DEPTH || typeof value !== "object" || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) collect(item, found, depth + 1);
    return;
  }
  const record = value as Record<string, unknown>;
  if (typeof record.url === "string") { for (const s of urlSecrets(record.url)) found.add(s); }
  if (isRecord(record.auth)) {
    for (const key of ["token", "password"]) {
      const v = record.auth[key];
      if (typeof v === "string") found.add(v);
    }
  }
  if (Array.isArray(record.clients)) {
    for (const c of record.clients) {
      if (isRecord(c) && typeof c.key === "string") found.add(c.key);
    }
  }
  if (Array.isArray(record.headers)) {
    for (const h of record.headers) {
      if (isRecord(h) && typeof h.key === "string" && typeof h.value === "string") {
        if (isSecretHeader(h.key)) found.add(h.value);
      }
    }
  }
  for (const item of Object.values(record)) collect(item, found, depth + 1);
}

const DIGEST = /^[0-9a-fA-F]{64}$/;

/**
 * The secrets of a client body (`POST`/`PUT /api/v1/clients…`, raw JSON): its `key`,
 * and a `key_sha256` that is no digest (a key pasted into the wrong field, which a
 * message would otherwise quote as the value that came). A real digest is no secret:
 * the API shows it.
 *
 * @example
 * ```ts
 * import { clientBodySecrets } from "./redact.ts";
 * clientBodySecrets({ name: "a", key: "sk-1" }); // ["sk-1"]
 * clientBodySecrets({ name: "a", key_sha256: "sk-2" }); // ["sk-2"]
 * ```
 */
export function clientBodySecrets(body: unknown): string[] {
  if (!isRecord(body)) return [];
  const out: string[] = [];
  if (typeof body.key === "string") out.push(body.key);
  const digest = body.key_sha256;
  if (typeof digest === "string" && !DIGEST.test(digest)) out.push(digest);
  return out.filter((s) => s !== "" && s !== MASK);
}

/**
 * `message` with every occurrence of each secret (as written, and as it reads inside a
 * JSON string) replaced by `***`. Longer secrets go first, so one that contains
 * another is replaced whole.
 */
export function redactSecrets(message: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s === "" || s === MASK) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  let out = message;
  for (const f of [...forms].sort((a, b) => b.length - a.length)) {
    if (f !== "" && out.includes(f)) out = out.replaceAll(f, MASK);
  }
  return out;
}
