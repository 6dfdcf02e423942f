import type { ClientConfig, Config } from "../config/types.ts";
import { constantTimeEqual, sha256HexAsync } from "../crypto/sha256.ts";
import { modelGlob, type ModelMatcher } from "../llm/mod.ts";

/** A client with what each request needs precomputed. */
export interface ClientRuntime {
  readonly config: ClientConfig;
  /** Groups it may reach; undefined means all. */
  readonly groups: ReadonlySet<string> | undefined;
  /** Model globs it may request; undefined means all. */
  readonly models: readonly ModelMatcher[] | undefined;
  /** Some limit is set: admission goes through the state store. */
  readonly limited: boolean;
}

/** Matched keys remembered per snapshot (see {@linkcode ClientIndex}). */
const MAX_REMEMBERED = 4096;

/** The name requests without a key pass under when a forward's `client_auth` is optional. */
export const ANONYMOUS = "anonymous";

/** The clients of one snapshot, found by the SHA-256 of their key. */
export class ClientIndex {
  readonly #byDigest = new Map<string, ClientRuntime>();
  /**
   * Keys already found, so a client's every request does not pay a SHA-256 (about
   * 25 µs of Web Crypto per request); only keys that matched a client are kept, at
   * most {@linkcode MAX_REMEMBERED}, so unknown keys always pay the hash.
   */
  readonly #found = new Map<string, ClientRuntime>();
  readonly byName = new Map<string, ClientRuntime>();

  constructor(config: Config) {
    for (const c of config.clients) {
      const l = c.limits;
      const rt: ClientRuntime = {
        config: c,
        groups: c.groups ? new Set(c.groups) : undefined,
        models: c.models?.map((g) => modelGlob(g)),
        limited: l.requests_per_minute !== undefined || l.tokens_per_minute !== undefined ||
          l.tokens_per_day !== undefined,
      };
      this.#byDigest.set(c.key_sha256, rt);
      this.byName.set(c.name, rt);
    }
  }

  /**
   * The client whose key this is: the key is hashed with Web Crypto and the digests
   * are compared in constant time, so neither the key nor how much of it matched can
   * be read from the time an answer takes.
   */
  async find(key: string): Promise<ClientRuntime | undefined> {
    const known = this.#found.get(key);
    if (known !== undefined) return known;
    const digest = await sha256HexAsync(key);
    const hit = this.#byDigest.get(digest);
    if (hit === undefined || !constantTimeEqual(hit.config.key_sha256, digest)) return undefined;
    if (this.#found.size >= MAX_REMEMBERED) this.#found.clear();
    this.#found.set(key, hit);
    return hit;
  }
}

/**
 * The key a client sent: `Authorization: Bearer <key>` or `x-api-key: <key>`;
 * undefined when it sent neither (an empty or other-scheme Authorization is no key).
 */
export function clientKeyOf(headers: Headers): string | undefined {
  const auth = headers.get("authorization");
  if (auth !== null) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (m) return m[1];
  }
  const api = headers.get("x-api-key");
  return api !== null && api.trim() !== "" ? api.trim() : undefined;
}

/** Why a client may not make this request, or undefined when it may. */
export function permissionProblem(
  client: ClientRuntime,
  group: string,
  model: string | undefined,
): string | undefined {
  const name = JSON.stringify(client.config.name);
  if (client.groups !== undefined && !client.groups.has(group)) {
    return `client ${name} may not use group ${JSON.stringify(group)}`;
  }
  if (client.models !== undefined && model !== undefined) {
    if (!client.models.some((m) => m(model))) {
      return `client ${name} may not use model ${JSON.stringify(model)}`;
    }
  }
  return undefined;
}
