/**
 * Shared pieces of the admin tests: a real {@linkcode Gateway} from a YAML
 * configuration and a small client for the admin app. Not part of the module's API.
 *
 * @module
 */

import { loadConfig } from "../config/mod.ts";
import type { ClientLimiter, ClientUsage, StateStore } from "../state/types.ts";
import { MemoryStateStore } from "../state/memory_store.ts";
import { Gateway } from "../proxy/gateway.ts";
import { fetchTransport } from "../proxy/transport.ts";
import { type AdminOptions, createAdminApp } from "./app.ts";

/** Secrets of {@linkcode ADMIN_TEST_YAML}; none may appear in any admin answer. */
export const SECRETS = [
  "sk-secret-openai",
  "hdr-secret",
  "pw-secret",
  "qs-secret",
  "proxy-secret",
  "sk-client-secret-a",
] as const;

/** The digest team-b is configured with in {@linkcode ADMIN_TEST_YAML}. */
export const TEAM_B_DIGEST = "b".repeat(64);

/** A configuration with every kind of secret and two forwards. */
export const ADMIN_TEST_YAML = `
http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: 3000
      default_group: primary
      routing:
        - { path: /v1/*, target_group: primary }
        - { path: "/api/items/{id:[0-9]+}", target_group: backup }
    - name: second
      address: 127.0.0.1
      port: 3001
      default_group: backup
      ratelimit: { per_second: 5, burst: 10 }
  admin: { address: 127.0.0.1, port: 9000 }
upstreams:
  - name: openai
    url: https://api.openai.com
    auth: { type: bearer, token: sk-secret-openai }
    headers:
      - { op: insert, key: x-api-key, value: hdr-secret }
      - { op: replace, key: x-team, value: blue }
    breaker: { threshold: 0.5, cooldown: 30 }
  - name: azure
    url: "https://azure.example/openai/chat/completions?api-version=2024-02-01&api-key=qs-secret"
    auth: { type: basic, username: svc, password: pw-secret }
  - name: local
    url: http://127.0.0.1:8000
  - name: spare
    url: http://127.0.0.1:8001
upstream_groups:
  - name: primary
    upstreams: [{ name: openai, weight: 3 }, { name: azure }]
    balance: { strategy: weighted_roundrobin }
    http_client:
      proxy: { url: "http://proxyuser:proxy-secret@proxy.local:3128" }
      retry: { attempts: 2, initial: 100 }
  - name: backup
    upstreams: [{ name: local }]
  - name: other
    upstreams: [{ name: local }, { name: openai }]
clients:
  - name: team-a
    key: sk-client-secret-a
    groups: [primary]
    models: ["gpt-4o*"]
    limits: { requests_per_minute: 600, tokens_per_day: 2000000 }
  - name: team-b
    key_sha256: "${"B".repeat(64)}"
`;

/** A JSON answer of the admin app. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  // deno-lint-ignore no-explicit-any
  readonly body: any;
  readonly text: string;
}

/** An admin app over a fresh gateway, and a client for it. */
export interface AdminFixture {
  readonly gateway: Gateway;
  readonly app: ReturnType<typeof createAdminApp>;
  /** Sends a request; a non-string `body` is sent as JSON. */
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer>;
}

/**
 * Builds the fixture; `fetchFn` serves the gateway's upstream requests. `call` sends
 * its requests as from `peer` (default `127.0.0.1`, as a local operator; `null`: no
 * peer address at all).
 */
export function adminFixture(
  options: Partial<Omit<AdminOptions, "gateway">> & {
    yaml?: string;
    fetchFn?: typeof fetch;
    peer?: string | null;
    store?: StateStore;
  } = {},
): AdminFixture {
  const loaded = loadConfig(options.yaml ?? ADMIN_TEST_YAML);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const gateway = new Gateway({
    config: loaded.config,
    transports: () => fetchTransport(options.fetchFn),
    ...(options.store ? { store: options.store } : {}),
  });
  const app = createAdminApp({ ready: () => true, ...options, gateway });
  const defaults: Record<string, string> = options.authToken
    ? { authorization: `Bearer ${options.authToken}` }
    : {};
  return {
    gateway,
    app,
    async call(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...defaults, ...headers } };
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)["content-type"] ??= "application/json";
      }
      const peer = options.peer === undefined ? "127.0.0.1" : options.peer;
      const res = await app.request(path, init, peer === null ? undefined : { remoteAddr: peer });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch { /* not JSON */ }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
  };
}

/** URL-safe base64 without padding, computed independently of the code under test. */
export function b64url(text: string): string {
  const bin = String.fromCharCode(...new TextEncoder().encode(text));
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * A state store whose client limiter answers `usage` from `figures` (zero for a client
 * not listed) and records every client asked about; the rest is the memory store.
 */
export function fakeClientStore(
  figures: Record<string, ClientUsage> = {},
): StateStore & { readonly asked: string[] } {
  const memory = new MemoryStateStore();
  const asked: string[] = [];
  const clients: ClientLimiter = {
    admit: () => Promise.reject(new Error("not used by the admin API")),
    settle: () => Promise.resolve(),
    usage: (client) => {
      asked.push(client);
      return Promise.resolve(
        figures[client] ?? { requests_last_minute: 0, tokens_last_minute: 0, tokens_today: 0 },
      );
    },
  };
  return {
    asked,
    clients,
    rateLimit: (key, limit) => memory.rateLimit(key, limit),
    group: (group, upstreams) => memory.group(group, upstreams),
    retain: (names) => memory.retain(names),
  };
}
