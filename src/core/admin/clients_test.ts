import assert from "node:assert/strict";
import { adminFixture, type Answer, fakeClientStore, TEAM_B_DIGEST } from "./_test_helpers.ts";

const API = "/api/v1/clients";
const TEAM_A_KEY = "sk-client-secret-a";

/** SHA-256 hex with Web Crypto, independently of the code under test. */
async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function ok(a: Answer, status: number): void {
  assert.equal(a.status, status, a.text);
  assert.equal(a.body?.code, status, a.text);
  assert.equal(a.body?.status, "success", a.text);
}

function err(a: Answer, status: number, type: string, message?: RegExp): void {
  assert.equal(a.status, status, a.text);
  assert.equal(a.body?.code, status, a.text);
  assert.equal(a.body?.status, "error", a.text);
  assert.equal(a.body?.error?.type, type, a.text);
  if (message) assert.match(a.body.error.message, message);
}

/** The stored configuration of client `name`. */
function stored(f: ReturnType<typeof adminFixture>, name: string) {
  return f.gateway.config.clients.find((c) => c.name === name);
}

Deno.test("clients: list and one show the key as *** and its digest; 404", async () => {
  const f = adminFixture();
  const list = await f.call("GET", API);
  ok(list, 200);
  assert.deepEqual(list.body.data, [
    {
      name: "team-a",
      key: "***",
      key_sha256: await sha256(TEAM_A_KEY),
      groups: ["primary"],
      models: ["gpt-4o*"],
      limits: { requests_per_minute: 600, tokens_per_day: 2000000 },
    },
    // Configured by digest only: no key to mask, the digest in lower case.
    { name: "team-b", key_sha256: TEAM_B_DIGEST, limits: {} },
  ]);
  const one = await f.call("GET", `${API}/team-a`);
  ok(one, 200);
  assert.deepEqual(one.body.data, list.body.data[0]);
  assert.ok(!list.text.includes(TEAM_A_KEY) && !one.text.includes(TEAM_A_KEY));
  err(await f.call("GET", `${API}/nope`), 404, "NotFound", /no client named "nope"/);
});

Deno.test("clients: POST without key generates one, shown in that answer only; live at once", async () => {
  const f = adminFixture();
  const made = await f.call("POST", API, { name: "gen", limits: { requests_per_minute: 5 } });
  ok(made, 201);
  const key: string = made.body.data.key;
  assert.match(key, /^sk-llmproxy-[A-Za-z0-9_-]{43}$/, "32 bytes, base64url without padding");
  assert.deepEqual(made.body.data, {
    name: "gen",
    key,
    key_sha256: await sha256(key),
    limits: { requests_per_minute: 5 },
  });
  assert.equal(stored(f, "gen")?.key, key);
  assert.equal((await f.gateway.snapshot.clients.find(key))?.config.name, "gen", "live");

  // Every later answer shows the mask.
  const later = [await f.call("GET", `${API}/gen`), await f.call("GET", API)];
  const put = await f.call("PUT", `${API}/gen`, later[0]!.body.data);
  ok(put, 200);
  later.push(put);
  for (const a of later) assert.ok(!a.text.includes(key), a.text);
  assert.equal(later[0]!.body.data.key, "***");
  assert.equal(put.body.data.key_sha256, await sha256(key), "PUT *** keeps the key");
  assert.equal(stored(f, "gen")?.key, key);

  // Each generated key is new.
  const other = await f.call("POST", API, { name: "gen2" });
  ok(other, 201);
  assert.notEqual(other.body.data.key, key);
});

Deno.test("clients: POST with key or key_sha256 (201), the answer masks the key", async () => {
  const f = adminFixture();
  const withKey = await f.call("POST", API, {
    name: "k",
    key: "sk-mine-123",
    groups: ["backup"],
    models: ["claude-*"],
  });
  ok(withKey, 201);
  assert.deepEqual(withKey.body.data, {
    name: "k",
    key: "***",
    key_sha256: await sha256("sk-mine-123"),
    groups: ["backup"],
    models: ["claude-*"],
    limits: {},
  });
  assert.ok(!withKey.text.includes("sk-mine-123"));
  assert.equal(stored(f, "k")?.key, "sk-mine-123");

  const digest = await sha256("sk-only-digest");
  const withDigest = await f.call("POST", API, { name: "d", key_sha256: digest.toUpperCase() });
  ok(withDigest, 201);
  assert.deepEqual(withDigest.body.data, { name: "d", key_sha256: digest, limits: {} });
  assert.equal((await f.gateway.snapshot.clients.find("sk-only-digest"))?.config.name, "d");
});

Deno.test("clients: POST 400 for every invalid body, never quoting the key", async () => {
  const f = adminFixture();
  const before = f.gateway.config;
  const key = "sk-never-shown-7";
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["bad digest", { name: "x", key_sha256: "abc" }, /key_sha256: must be .*hex SHA-256/],
    [
      "both",
      { name: "x", key, key_sha256: "a".repeat(64) },
      /give either "key" or "key_sha256", not both/,
    ],
    ["unknown group", { name: "x", key, groups: ["nope"] }, /unknown group "nope"/],
    ["bad glob", { name: "x", key, models: ["gpt\u0000"] }, /models\[0\]/],
    ["zero limit", { name: "x", key, limits: { requests_per_minute: 0 } }, /requests_per_minute/],
    ["fraction", { name: "x", key, limits: { tokens_per_day: 1.5 } }, /tokens_per_day/],
    ["key with a space", { name: "x", key: `${key} x` }, /key: must be .*without spaces/],
    ["mask on create", { name: "x", key: "***" }, /this client is new/],
    ["unknown field", { name: "x", key, limts: {} }, /limts/],
    ["no name", { key }, /name/],
  ];
  for (const [what, body, message] of cases) {
    const a = await f.call("POST", API, body);
    err(a, 400, "BadRequest", message);
    assert.ok(!a.text.includes(key), `${what}: ${a.text}`);
  }
  assert.equal(f.gateway.config, before, "a refused change leaves the configuration alone");
});

Deno.test("clients: 409 when the name or the key (compared by digest) is taken", async () => {
  const f = adminFixture();
  const before = f.gateway.config;
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["name", { name: "team-a", key: "sk-fresh-1" }, /a client named "team-a" exists/],
    ["key", { name: "x", key: TEAM_A_KEY }, /key: this key is already the key of client "team-a"/],
    [
      "digest of a key",
      { name: "x", key_sha256: await sha256(TEAM_A_KEY) },
      /key_sha256: this key is already the key of client "team-a"/,
    ],
    [
      "digest in another case",
      { name: "x", key_sha256: TEAM_B_DIGEST.toUpperCase() },
      /already the key of client "team-b"/,
    ],
  ];
  for (const [what, body, message] of cases) {
    const a = await f.call("POST", API, body);
    err(a, 409, "Conflict", message);
    assert.ok(!a.text.includes(TEAM_A_KEY) && !a.text.includes("sk-fresh-1"), `${what}: ${a.text}`);
  }
  // PUT: another client's key is a conflict too.
  ok(await f.call("POST", API, { name: "c", key: "sk-c-1" }), 201);
  const mid = f.gateway.config;
  const put = await f.call("PUT", `${API}/c`, { key: TEAM_A_KEY });
  err(put, 409, "Conflict", /already the key of client "team-a"/);
  assert.ok(!put.text.includes(TEAM_A_KEY));
  assert.equal(f.gateway.config, mid);
  assert.notEqual(mid, before);
});

Deno.test("clients: PUT keeps the key for ***, changes the digest with a new key; 400, 404", async () => {
  const f = adminFixture();
  const digestA = await sha256(TEAM_A_KEY);
  const shown = (await f.call("GET", `${API}/team-a`)).body.data;

  // What a GET returns goes back unchanged.
  const same = await f.call("PUT", `${API}/team-a`, shown);
  ok(same, 200);
  assert.deepEqual(same.body.data, shown);
  assert.equal(stored(f, "team-a")?.key, TEAM_A_KEY);

  // *** without the digest, other fields changed: the key stays.
  const edited = await f.call("PUT", `${API}/team-a`, {
    key: "***",
    limits: { tokens_per_minute: 1000 },
  });
  ok(edited, 200);
  assert.deepEqual(edited.body.data, {
    name: "team-a",
    key: "***",
    key_sha256: digestA,
    limits: { tokens_per_minute: 1000 },
  });
  assert.equal(stored(f, "team-a")?.key, TEAM_A_KEY);
  assert.equal(
    (await f.gateway.snapshot.clients.find(TEAM_A_KEY))?.config.limits.tokens_per_minute,
    1000,
  );

  // A new key: a new digest, the old key stops working at once.
  const rekeyed = await f.call("PUT", `${API}/team-a`, { name: "team-a", key: "sk-new-a" });
  ok(rekeyed, 200);
  assert.equal(rekeyed.body.data.key, "***");
  assert.equal(rekeyed.body.data.key_sha256, await sha256("sk-new-a"));
  assert.ok(!rekeyed.text.includes("sk-new-a"));
  assert.equal(await f.gateway.snapshot.clients.find(TEAM_A_KEY), undefined);
  assert.equal((await f.gateway.snapshot.clients.find("sk-new-a"))?.config.name, "team-a");

  // A digest instead of the key: the key text is no longer stored.
  const byDigest = await f.call("PUT", `${API}/team-a`, { key_sha256: digestA });
  ok(byDigest, 200);
  assert.deepEqual(byDigest.body.data, { name: "team-a", key_sha256: digestA, limits: {} });
  assert.equal(stored(f, "team-a")?.key, undefined);

  // A digest-only client round-trips, and *** keeps its digest.
  const b = (await f.call("GET", `${API}/team-b`)).body.data;
  ok(await f.call("PUT", `${API}/team-b`, b), 200);
  const bMasked = await f.call("PUT", `${API}/team-b`, { key: "***" });
  ok(bMasked, 200);
  assert.equal(bMasked.body.data.key_sha256, TEAM_B_DIGEST);
  assert.equal(bMasked.body.data.key, undefined);

  const before = f.gateway.config;
  const refused: [string, Record<string, unknown>, number, RegExp][] = [
    ["team-a", { key: "***", key_sha256: "c".repeat(64) }, 400, /names another digest/],
    ["team-a", { name: "other", key: "sk-x" }, 400, /cannot be renamed/],
    ["team-a", { limits: {} }, 400, /"key" or "key_sha256" is missing/],
    ["team-a", { key: "sk-y", limits: { tokens_per_day: -1 } }, 400, /tokens_per_day/],
    ["nope", { key: "sk-z" }, 404, /no client named "nope"/],
  ];
  for (const [name, body, status, message] of refused) {
    const a = await f.call("PUT", `${API}/${name}`, body);
    err(a, status, status === 404 ? "NotFound" : "BadRequest", message);
    assert.ok(!/sk-[xyz]/.test(a.text), a.text);
  }
  assert.equal(f.gateway.config, before);
});

Deno.test("clients: DELETE 204 (the key stops working), 404", async () => {
  const f = adminFixture();
  const del = await f.call("DELETE", `${API}/team-a`);
  assert.equal(del.status, 204);
  assert.equal(del.text, "");
  assert.deepEqual(f.gateway.config.clients.map((c) => c.name), ["team-b"]);
  assert.equal(await f.gateway.snapshot.clients.find(TEAM_A_KEY), undefined);
  err(await f.call("GET", `${API}/team-a`), 404, "NotFound");
  err(await f.call("DELETE", `${API}/team-a`), 404, "NotFound", /no client named "team-a"/);
});

Deno.test("clients: usage gives the store's figures beside the configured limits; 404", async () => {
  const store = fakeClientStore({
    "team-a": { requests_last_minute: 3, tokens_last_minute: 1200, tokens_today: 45000 },
  });
  const f = adminFixture({ store });
  const cases: [string, unknown][] = [
    ["team-a", {
      requests_last_minute: 3,
      tokens_last_minute: 1200,
      tokens_today: 45000,
      limits: { requests_per_minute: 600, tokens_per_day: 2000000 },
    }],
    ["team-b", { requests_last_minute: 0, tokens_last_minute: 0, tokens_today: 0, limits: {} }],
  ];
  for (const [name, expected] of cases) {
    const a = await f.call("GET", `${API}/${name}/usage`);
    ok(a, 200);
    assert.deepEqual(a.body.data, expected, name);
  }
  err(await f.call("GET", `${API}/nope/usage`), 404, "NotFound", /no client named "nope"/);
  assert.deepEqual(store.asked, ["team-a", "team-b"], "a missing client never reaches the store");
});

Deno.test("clients: the same access rules as the rest of /api/v1", async () => {
  const withToken = adminFixture({ authToken: "tok", store: fakeClientStore() });
  const offLoopback = adminFixture({ peer: "203.0.113.9", store: fakeClientStore() });
  const calls: [string, string, unknown?][] = [
    ["GET", API],
    ["GET", `${API}/team-a`],
    ["GET", `${API}/team-a/usage`],
    ["POST", API, { name: "x" }],
    ["PUT", `${API}/team-a`, { key: "***" }],
    ["DELETE", `${API}/team-a`],
  ];
  for (const [method, path, body] of calls) {
    const noToken = await withToken.call(method, path, body, { authorization: "" });
    err(noToken, 401, "Unauthorized");
    assert.equal(noToken.headers.get("www-authenticate"), "Bearer");
    err(await offLoopback.call(method, path, body), 403, "Unauthorized");
    const allowed = await withToken.call(method, path, body);
    assert.ok(allowed.status < 300, `${method} ${path}: ${allowed.text}`);
  }
  assert.equal(withToken.gateway.config.clients.some((c) => c.name === "team-a"), false);
  assert.equal(offLoopback.gateway.config.clients.length, 2, "nothing changed from off loopback");
});

Deno.test("clients: usage reads the gateway's own store (the memory store)", async () => {
  const f = adminFixture();
  const limits = f.gateway.config.clients[0]!.limits;
  const admitted = await f.gateway.store.clients.admit("team-a", limits, 250);
  assert.ok(admitted.allowed);
  const a = await f.call("GET", `${API}/team-a/usage`);
  ok(a, 200);
  assert.deepEqual(a.body.data, {
    requests_last_minute: 1,
    // The running request's reservation counts.
    tokens_last_minute: 250,
    tokens_today: 250,
    limits: { requests_per_minute: 600, tokens_per_day: 2000000 },
  });
});
