/**
 * Property: whatever secrets go in through whichever write path (accepted or refused),
 * no admin answer (GET, success or error) and no admin log line ever holds one.
 * Secrets are random per round, from a seeded generator (the seed is in every failure
 * message; set LLMPROXY_TEST_SEED to replay one).
 */

import assert from "node:assert/strict";
import { adminFixture, type Answer, b64url, fakeClientStore } from "./_test_helpers.ts";
import { seededRandom as prng } from "../seeded_random.ts";

const API = "/api/v1";
const ROUNDS = 12;

const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
// Printable ASCII: quotes, backslashes, slashes, percent signs and spaces included, as
// JSON and messages escape or quote them in different ways.
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");
// What a client key may hold: printable ASCII without the space.
const KEY_CHARS = PRINTABLE.slice(1);

interface Gen {
  /** A fresh secret: `kind` chars, 12–40 long, never seen before in this round. */
  secret(kind: "url" | "text" | "key"): string;
  pick<T>(items: readonly T[]): T;
  readonly all: string[];
}

function generator(seed: number): Gen {
  const rnd = prng(seed);
  const all: string[] = [];
  return {
    all,
    secret(kind) {
      const alphabet = kind === "url" ? URL_SAFE : kind === "key" ? KEY_CHARS : PRINTABLE;
      const n = 12 + Math.floor(rnd() * 29);
      let s = "";
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      // Not blank at the ends (a header value is trimmed) and never the mask itself.
      s = `Z${s.trim()}Q`;
      all.push(s);
      return s;
    },
    pick(items) {
      return items[Math.floor(rnd() * items.length)]!;
    },
  };
}

const SECRET_HEADERS = ["x-api-key", "authorization", "api-key", "x-auth-token", "cookie"];

function upstreamBody(g: Gen, name: string, host: string): Record<string, unknown> {
  const user = g.pick(["u", "svc", "bob"]);
  const param = g.pick(["key", "api-key", "token", "sig"]);
  const url = `https://${user}:${g.secret("url")}@${host}/v1?${param}=${g.secret("url")}&x=1`;
  const auth = g.pick(["bearer", "basic"]) === "bearer"
    ? { type: "bearer", token: g.secret("text") }
    : { type: "basic", username: "svc", password: g.secret("text") };
  return {
    name,
    url,
    auth,
    headers: [
      { op: g.pick(["insert", "replace"]), key: g.pick(SECRET_HEADERS), value: g.secret("text") },
      { op: "insert", key: "x-team", value: "blue" },
    ],
  };
}

function leaks(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => text.includes(s) || text.includes(JSON.stringify(s).slice(1, -1)));
}

Deno.test("property: no admin answer or log line ever holds a secret", async () => {
  const base = Number(Deno.env.get("LLMPROXY_TEST_SEED") ?? 20261127);
  for (let round = 0; round < ROUNDS; round++) {
    const seed = base + round;
    const g = generator(seed);
    const logs: string[] = [];
    const f = adminFixture({
      logger: { log: (...args: unknown[]) => logs.push(JSON.stringify(args)) } as never,
    });
    const answers: [string, Answer][] = [];
    const call = async (method: string, path: string, body?: unknown) => {
      const a = await f.call(method, path, body);
      answers.push([`${method} ${path}`, a]);
      assert.ok(a.status < 500, `seed ${seed}: ${method} ${path}: ${a.text}`);
      return a;
    };

    // Accepted writes: create, replace with new secrets, replace with masks, proxy.
    const accepted = async (method: string, path: string, body: unknown) => {
      const r = await call(method, path, body);
      assert.ok(r.status === 200 || r.status === 201, `seed ${seed}: ${method} ${path}: ${r.text}`);
    };
    await accepted("POST", `${API}/upstreams`, upstreamBody(g, "a", "a.example"));
    await accepted("POST", `${API}/upstreams`, upstreamBody(g, "b", "b.example:8443"));
    await accepted("PUT", `${API}/upstreams/b`, upstreamBody(g, "b", "b.example:8443"));
    const shown = (await call("GET", `${API}/upstreams/a`)).body.data;
    await accepted("PUT", `${API}/upstreams/a`, shown);
    await accepted("PATCH", `${API}/upstream-groups/backup`, {
      upstreams: [{ name: "a" }, { name: "b" }],
      http_client: { proxy: { url: `http://p:${g.secret("url")}@proxy.example:3128` } },
    });

    // Refused writes that carry secrets, each for a different reason.
    const refused: [string, string, unknown][] = [
      ["PUT", `${API}/upstreams/a`, { ...shown, url: "https://evil.example/v1" }],
      ["POST", `${API}/upstreams`, upstreamBody(g, "a", "dup.example")],
      ["POST", `${API}/upstreams`, { ...upstreamBody(g, "c", "c.example"), weight: 0 }],
      ["POST", `${API}/upstreams`, { ...upstreamBody(g, "c", "c.example"), brekaer: {} }],
      [
        "POST",
        `${API}/upstreams`,
        { name: "c", url: `ftp://u:${g.secret("url")}@c.example/?key=${g.secret("url")}` },
      ],
      [
        "POST",
        `${API}/upstreams`,
        { name: "c", url: `https://c.example/ bad?api-key=${g.secret("url")}` },
      ],
      [
        "POST",
        `${API}/upstreams`,
        {
          name: "c",
          url: "https://c.example",
          headers: [{ op: "insert", key: "x-api-key", value: `${g.secret("text")}\r\nx: y` }],
        },
      ],
      [
        "POST",
        `${API}/upstreams`,
        {
          name: "c",
          url: "https://c.example",
          headers: [{ op: "upsert", key: "authorization", value: g.secret("text") }],
        },
      ],
      [
        "POST",
        `${API}/upstreams`,
        { name: "c", url: "https://c.example", auth: { type: "bearr", token: g.secret("text") } },
      ],
      ["PUT", `${API}/upstreams/a`, { ...upstreamBody(g, "other", "a.example") }],
      ["PUT", `${API}/upstreams/nope`, upstreamBody(g, "nope", "a.example")],
      [
        "PATCH",
        `${API}/upstream-groups/backup`,
        {
          upstreams: [{ name: "ghost" }],
          http_client: { proxy: { url: `ftp://p:${g.secret("url")}@proxy.example` } },
        },
      ],
      [
        "PATCH",
        `${API}/upstream-groups/backup`,
        {
          upstreams: [{ name: "a" }],
          http_client: { proxy: { url: "http://p:***@evil.example:3128" } },
        },
      ],
    ];
    for (const [method, path, body] of refused) {
      const r = await call(method, path, body);
      assert.ok(r.status >= 400, `seed ${seed}: ${method} ${path} should be refused: ${r.text}`);
    }

    // Every read.
    const reads = [
      "/forwards",
      "/forwards/main",
      "/forwards/main/routes",
      `/forwards/main/routes/${b64url("/v1/*")}`,
      "/upstream-groups",
      ...f.gateway.config.upstream_groups.map((x) => `/upstream-groups/${x.name}`),
      "/upstreams",
      ...f.gateway.config.upstreams.map((u) => `/upstreams/${encodeURIComponent(u.name)}`),
      "/openapi.json",
    ];
    for (const path of reads) await call("GET", `${API}${path}`);
    answers.push(["GET /metrics", await f.call("GET", "/metrics")]);

    // The secrets did reach the configuration (so the property is not vacuous).
    const stored = leaks(JSON.stringify(f.gateway.config), g.all);
    // a: 4 (URL password, query key, auth, header), b after its PUT: 4, the proxy: 1.
    assert.equal(stored.length, 9, `seed ${seed}: secrets stored`);

    for (const [what, answer] of answers) {
      const found = leaks(answer.text, g.all);
      assert.deepEqual(found, [], `seed ${seed}: ${what} leaked ${found}: ${answer.text}`);
    }
    const logged = leaks(logs.join("\n"), g.all);
    assert.deepEqual(logged, [], `seed ${seed}: the log leaked ${logged}`);
  }
});

async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("property: a client key never appears in an admin answer or log line", async () => {
  const base = Number(Deno.env.get("LLMPROXY_TEST_SEED") ?? 20261127);
  for (let round = 0; round < ROUNDS; round++) {
    const seed = base + round;
    const g = generator(seed);
    const logs: string[] = [];
    const f = adminFixture({
      logger: { log: (...args: unknown[]) => logs.push(JSON.stringify(args)) } as never,
      store: fakeClientStore(),
    });
    const answers: [string, Answer][] = [];
    const call = async (method: string, path: string, body?: unknown) => {
      const a = await f.call(method, path, body);
      answers.push([`${method} ${path}`, a]);
      assert.ok(a.status < 500, `seed ${seed}: ${method} ${path}: ${a.text}`);
      return a;
    };
    const accepted = async (method: string, path: string, body: unknown) => {
      const r = await call(method, path, body);
      assert.ok(r.status === 200 || r.status === 201, `seed ${seed}: ${method} ${path}: ${r.text}`);
      return r;
    };

    // Every accepted write path: key, digest, generated key, *** round trip, new keys.
    await accepted("POST", `${API}/clients`, {
      name: "k1",
      key: g.secret("key"),
      groups: ["primary"],
      limits: { requests_per_minute: 5 },
    });
    await accepted("POST", `${API}/clients`, {
      name: "k2",
      key_sha256: await sha256(g.secret("key")),
    });
    // The one answer allowed to show a key is the one that generated it: not checked.
    const made = await f.call("POST", `${API}/clients`, { name: "gen" });
    assert.equal(made.status, 201, `seed ${seed}: ${made.text}`);
    const generated: string = made.body.data.key;
    g.all.push(generated);
    const shown = (await call("GET", `${API}/clients/k1`)).body.data;
    await accepted("PUT", `${API}/clients/k1`, shown);
    const k1Key = g.secret("key");
    await accepted("PUT", `${API}/clients/k1`, { ...shown, key: k1Key, key_sha256: undefined });
    await accepted("PUT", `${API}/clients/k2`, { key: g.secret("key") });
    await accepted("PUT", `${API}/clients/gen`, { key: "***", models: ["gpt-*"] });

    // Refused writes that carry keys, each for a different reason.
    const fresh = () => g.secret("key");
    const key = fresh();
    const refused: [string, string, unknown][] = [
      ["POST", `${API}/clients`, { name: "k1", key: fresh() }],
      ["POST", `${API}/clients`, { name: "x", key: k1Key }],
      ["POST", `${API}/clients`, { name: "x", key_sha256: fresh() }],
      // A key with another key's digest (a key with its own digest is a snapshot: accepted).
      ["POST", `${API}/clients`, { name: "x", key, key_sha256: await sha256(fresh()) }],
      ["POST", `${API}/clients`, { name: "x", key: fresh(), groups: ["ghost"] }],
      ["POST", `${API}/clients`, { name: "x", key: fresh(), limits: { tokens_per_day: 0 } }],
      ["POST", `${API}/clients`, { name: "x", key: fresh(), models: [""] }],
      ["POST", `${API}/clients`, { name: "x", key: fresh(), lmits: {} }],
      ["POST", `${API}/clients`, { name: "x", key: `${fresh()} ${fresh()}` }],
      ["POST", `${API}/clients`, `{"name":"x","key":${JSON.stringify(fresh())}`],
      ["PUT", `${API}/clients/k1`, { key: generated }],
      ["PUT", `${API}/clients/nope`, { key: fresh() }],
      ["PUT", `${API}/clients/k1`, { name: "zz", key: fresh() }],
      ["PUT", `${API}/clients/k1`, { key: "***", key_sha256: await sha256(fresh()) }],
    ];
    for (const [method, path, body] of refused) {
      const r = await call(method, path, body);
      assert.ok(r.status >= 400, `seed ${seed}: ${method} ${path} should be refused: ${r.text}`);
    }

    // Every read.
    const reads = [
      "/clients",
      ...f.gateway.config.clients.flatMap((c) => {
        const one = `/clients/${encodeURIComponent(c.name)}`;
        return [one, `${one}/usage`];
      }),
      "/openapi.json",
    ];
    for (const path of reads) await call("GET", `${API}${path}`);
    answers.push(["GET /metrics", await f.call("GET", "/metrics")]);

    // The keys did reach the configuration (so the property is not vacuous): k1's new
    // key, k2's key (it replaced the digest) and the generated one.
    const stored = leaks(JSON.stringify(f.gateway.config), g.all);
    assert.equal(stored.length, 3, `seed ${seed}: keys stored`);
    assert.ok(stored.includes(generated) && stored.includes(k1Key), `seed ${seed}`);

    for (const [what, answer] of answers) {
      const found = leaks(answer.text, g.all);
      assert.deepEqual(found, [], `seed ${seed}: ${what} leaked ${found}: ${answer.text}`);
    }
    const logged = leaks(logs.join("\n"), g.all);
    assert.deepEqual(logged, [], `seed ${seed}: the log leaked ${logged}`);
  }
});
