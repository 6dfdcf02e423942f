import nodeAssert from "node:assert/strict";
import { CONTENT_TYPE } from "../metrics/mod.ts";
import { adminFixture, type Answer, b64url, SECRETS } from "./_test_helpers.ts";

const API = "/api/v1";

const assert = (ok: unknown, message?: string) => nodeAssert.ok(ok, message);
const assertEquals = (a: unknown, b: unknown, message?: string) =>
  nodeAssert.deepEqual(a, b, message);
const assertNotEquals = (a: unknown, b: unknown) => nodeAssert.notDeepEqual(a, b);
const assertMatch = (s: string, re: RegExp) => nodeAssert.match(s, re);
const assertStringIncludes = (s: string, part: string) =>
  nodeAssert.ok(s.includes(part), `expected to find ${JSON.stringify(part)} in:\n${s}`);

function assertError(a: Answer, status: number, type: string, message?: RegExp): void {
  assertEquals(a.status, status, a.text);
  assertEquals(a.body?.code, status, a.text);
  assertEquals(a.body?.status, "error", a.text);
  assertEquals(a.body?.error?.type, type, a.text);
  assertEquals(typeof a.body?.error?.message, "string");
  if (message) assertMatch(a.body.error.message, message);
}

function assertSuccess(a: Answer, status: number): void {
  assertEquals(a.status, status, a.text);
  assertEquals(a.body?.code, status, a.text);
  assertEquals(a.body?.status, "success", a.text);
  assert("data" in a.body, a.text);
}

function assertNoSecrets(text: string): void {
  for (const s of SECRETS) assert(!text.includes(s), `secret ${s} leaked: ${text}`);
}

Deno.test("health, ready and metrics stay open when a token is set", async () => {
  let ready = false;
  const f = adminFixture({ authToken: "tok", ready: () => ready });
  const health = await f.app.request("/health");
  assertEquals(health.status, 200);
  assertEquals(await health.json(), { status: "ok" });
  assertEquals((await f.app.request("/ready")).status, 503);
  ready = true;
  assertEquals((await f.app.request("/ready")).status, 200);
  const metrics = await f.app.request("/metrics");
  assertEquals(metrics.status, 200);
  assertEquals(metrics.headers.get("content-type"), CONTENT_TYPE);
  const text = await metrics.text();
  assertStringIncludes(text, "# TYPE llmproxy_http_requests_total counter");
  // The breaker gauge of a member with a breaker is refreshed from the store.
  assertStringIncludes(text, 'llmproxy_circuitbreaker_state{group="primary",upstream="openai"} 0');
});

Deno.test("bearer auth: 401 with WWW-Authenticate without or with a wrong token", async () => {
  const f = adminFixture({ authToken: "s3cret-token" });
  const tries: Record<string, string>[] = [
    {},
    { authorization: "Bearer nope" },
    { authorization: "Basic czNjcmV0" },
  ];
  for (const headers of tries) {
    const res = await f.app.request(`${API}/forwards`, { headers });
    assertEquals(res.status, 401);
    assertEquals(res.headers.get("www-authenticate"), "Bearer");
    const body = await res.json();
    assertEquals(body.code, 401);
    assertEquals(body.status, "error");
    assertEquals(body.error.type, "Unauthorized");
  }
  // Unknown paths and changes need the token too, and nothing changes without it.
  for (const [method, path] of [["GET", `${API}/nope`], ["DELETE", `${API}/upstreams/spare`]]) {
    const res = await f.app.request(path!, { method });
    assertEquals(res.status, 401);
    await res.body?.cancel();
  }
  assert(f.gateway.config.upstreams.some((u) => u.name === "spare"));
  for (const scheme of ["Bearer", "bearer"]) {
    const ok = await f.app.request(`${API}/forwards`, {
      headers: { authorization: `${scheme} s3cret-token` },
    });
    assertEquals(ok.status, 200);
    await ok.body?.cancel();
  }
  // The openapi document is data too.
  assertEquals((await f.app.request(`${API}/openapi.json`)).status, 401);
});

Deno.test("without a token (or a blank one) the API is open to loopback peers only", async () => {
  for (const authToken of [undefined, "", "  "]) {
    const f = adminFixture({ authToken });
    const local = await f.app.request(`${API}/forwards`, {}, { remoteAddr: "127.0.0.1" });
    assertEquals(local.status, 200);
    await local.body?.cancel();
    const remote = await f.app.request(`${API}/forwards`, {}, { remoteAddr: "10.0.0.7" });
    assertEquals(remote.status, 403);
    await remote.body?.cancel();
  }
});

Deno.test("forwards: list, one, 404", async () => {
  const f = adminFixture();
  const list = await f.call("GET", `${API}/forwards`);
  assertSuccess(list, 200);
  assertEquals(list.body.data.map((x: { name: string }) => x.name), ["main", "second"]);
  const one = await f.call("GET", `${API}/forwards/second`);
  assertSuccess(one, 200);
  assertEquals(one.body.data.ratelimit, { per_second: 5, burst: 10 });
  assertEquals(one.body.data, JSON.parse(JSON.stringify(f.gateway.config.http_server.forwards[1])));
  assertError(await f.call("GET", `${API}/forwards/nope`), 404, "NotFound", /nope/);
  assertError(await f.call("GET", `${API}/forwards/nope/routes`), 404, "NotFound");
});

Deno.test("routes: list, add (201, live), get by base64 with or without padding", async () => {
  const f = adminFixture();
  const list = await f.call("GET", `${API}/forwards/main/routes`);
  assertSuccess(list, 200);
  assertEquals(list.body.data, [
    { path: "/v1/*", target_group: "primary" },
    { path: "/api/items/{id:[0-9]+}", target_group: "backup" },
  ]);
  const added = await f.call("POST", `${API}/forwards/main/routes`, {
    path: "/embeddings/:model",
    target_group: "other",
  });
  assertSuccess(added, 201);
  assertEquals(added.body.data, { path: "/embeddings/:model", target_group: "other" });
  // Live for forwarding: the new snapshot's router sends the path to the new group.
  const router = f.gateway.snapshot.forwards.get("main")!.router;
  assertEquals(router.match("/embeddings/ada")?.value, "other");

  const id = b64url("/api/items/{id:[0-9]+}");
  for (const form of [id, `${id}${"=".repeat((4 - (id.length % 4)) % 4)}`]) {
    const one = await f.call("GET", `${API}/forwards/main/routes/${form}`);
    assertSuccess(one, 200);
    assertEquals(one.body.data, { path: "/api/items/{id:[0-9]+}", target_group: "backup" });
  }
  // "%3D" is "=" in the URL.
  const padded = b64url("/v1/*") + "=";
  const enc = await f.call("GET", `${API}/forwards/main/routes/${padded.replace("=", "%3D")}`);
  assertSuccess(enc, 200);
});

Deno.test("routes: 400 bad pattern, unknown group, invalid body; 404 no forward; 409 exists", async () => {
  const f = adminFixture();
  const before = f.gateway.config;
  const post = (name: string, body: unknown) =>
    f.call("POST", `${API}/forwards/${name}/routes`, body);
  assertError(
    await post("main", { path: "no-slash", target_group: "primary" }),
    400,
    "BadRequest",
    /must start with "\/"/,
  );
  assertError(
    await post("main", { path: "/x/{id:[0-9+}", target_group: "primary" }),
    400,
    "BadRequest",
  );
  assertError(
    await post("main", { path: "/x", target_group: "nope" }),
    400,
    "BadRequest",
    /target_group: unknown group "nope"/,
  );
  assertError(await post("main", { path: "/x" }), 400, "BadRequest", /target_group/);
  assertError(
    await post("main", { path: "/x", target_group: "primary", extra: 1 }),
    400,
    "BadRequest",
    /unknown key "extra"/,
  );
  assertError(await post("nope", { path: "/x", target_group: "primary" }), 404, "NotFound");
  assertError(
    await post("main", { path: "/v1/*", target_group: "backup" }),
    409,
    "Conflict",
    /already has a rule for "\/v1\/\*"/,
  );
  // Same shape counts as the same path.
  await post("main", { path: "/users/:id", target_group: "backup" });
  assertError(
    await post("main", { path: "/users/:name", target_group: "backup" }),
    409,
    "Conflict",
    /same shape/,
  );
  assertNotEquals(f.gateway.config, before);
  assertEquals(f.gateway.config.http_server.forwards[0]!.routing.length, 3);
});

Deno.test("routes: PUT retargets (200), DELETE (204); 400 bad base64; 404 missing", async () => {
  const f = adminFixture();
  const id = b64url("/v1/*");
  const put = await f.call("PUT", `${API}/forwards/main/routes/${id}`, { target_group: "backup" });
  assertSuccess(put, 200);
  assertEquals(put.body.data, { path: "/v1/*", target_group: "backup" });
  assertEquals(
    f.gateway.snapshot.forwards.get("main")!.router.match("/v1/models")?.value,
    "backup",
  );
  // What a GET returns is accepted back.
  const got = await f.call("GET", `${API}/forwards/main/routes/${id}`);
  assertSuccess(await f.call("PUT", `${API}/forwards/main/routes/${id}`, got.body.data), 200);
  assertError(
    await f.call("PUT", `${API}/forwards/main/routes/${id}`, { target_group: "nope" }),
    400,
    "BadRequest",
    /unknown group/,
  );
  assertError(
    await f.call("PUT", `${API}/forwards/main/routes/${id}`, {
      path: "/v2/*",
      target_group: "primary",
    }),
    400,
    "BadRequest",
    /cannot change/,
  );
  for (const bad of ["L3Yx+yo", "L3Yx/yo", "L", "L3Y=xLyo", "!!!!", "_w"]) {
    for (const method of ["GET", "PUT", "DELETE"]) {
      const body = method === "PUT" ? { target_group: "primary" } : undefined;
      const a = await f.call(
        method,
        `${API}/forwards/main/routes/${encodeURIComponent(bad)}`,
        body,
      );
      assertError(a, 400, "BadRequest", /base64/);
    }
  }
  const missing = b64url("/nope");
  assertError(await f.call("GET", `${API}/forwards/main/routes/${missing}`), 404, "NotFound");
  assertError(
    await f.call("PUT", `${API}/forwards/main/routes/${missing}`, { target_group: "primary" }),
    404,
    "NotFound",
  );
  assertError(await f.call("DELETE", `${API}/forwards/main/routes/${missing}`), 404, "NotFound");
  assertError(await f.call("GET", `${API}/forwards/nope/routes/${id}`), 404, "NotFound");

  const del = await f.call("DELETE", `${API}/forwards/main/routes/${id}`);
  assertEquals(del.status, 204);
  assertEquals(del.text, "");
  assertEquals(f.gateway.config.http_server.forwards[0]!.routing.map((r) => r.path), [
    "/api/items/{id:[0-9]+}",
  ]);
  assertError(await f.call("DELETE", `${API}/forwards/main/routes/${id}`), 404, "NotFound");
});

Deno.test("groups: shape, masking, live status, 404", async () => {
  const f = adminFixture();
  const list = await f.call("GET", `${API}/upstream-groups`);
  assertSuccess(list, 200);
  assertNoSecrets(list.text);
  const primary = list.body.data[0];
  assertEquals(Object.keys(primary).sort(), [
    "balance",
    "http_client",
    "name",
    "status",
    "upstreams",
  ]);
  assertEquals(primary.upstreams, [{ name: "openai", weight: 3 }, { name: "azure", weight: 1 }]);
  assertEquals(primary.balance, { strategy: "weighted_roundrobin" });
  assertEquals(primary.http_client.proxy.url, "http://proxyuser:***@proxy.local:3128");
  assertEquals(primary.http_client.retry, { attempts: 2, initial: 100 });
  assertEquals(
    primary.status.map((s: { upstream: string; breaker: string }) => [s.upstream, s.breaker]),
    [
      ["openai", "closed"],
      ["azure", "none"],
    ],
  );
  assertEquals(primary.status[0].in_flight, 0);
  const one = await f.call("GET", `${API}/upstream-groups/backup`);
  assertSuccess(one, 200);
  assertEquals(one.body.data.upstreams, [{ name: "local", weight: 1 }]);
  assertError(await f.call("GET", `${API}/upstream-groups/nope`), 404, "NotFound");
});

Deno.test("groups: PATCH replaces members atomically; 400 unknown/duplicate; 404", async () => {
  const f = adminFixture();
  const patch = (name: string, body: unknown) =>
    f.call("PATCH", `${API}/upstream-groups/${name}`, body);
  const ok = await patch("backup", {
    upstreams: [{ name: "spare", weight: 2 }, { name: "local" }],
  });
  assertSuccess(ok, 200);
  assertEquals(ok.body.data.upstreams, [{ name: "spare", weight: 2 }, {
    name: "local",
    weight: 1,
  }]);
  assertEquals(f.gateway.snapshot.groups.get("backup")!.config.upstreams.map((m) => m.name), [
    "spare",
    "local",
  ]);
  const before = f.gateway.config;
  assertError(
    await patch("backup", { upstreams: [{ name: "ghost" }] }),
    400,
    "BadRequest",
    /upstream_groups\[1\]\.upstreams\[0\]\.name: unknown upstream "ghost"/,
  );
  assertError(
    await patch("backup", { upstreams: [{ name: "local" }, { name: "local" }] }),
    400,
    "BadRequest",
    /already a member/,
  );
  assertError(await patch("backup", { upstreams: [] }), 400, "BadRequest", /at least one/);
  assertError(await patch("backup", {}), 400, "BadRequest", /upstreams/);
  assertError(
    await patch("backup", { upstreams: [{ name: "local", weight: 0 }] }),
    400,
    "BadRequest",
    /weight/,
  );
  assertError(
    await patch("backup", { name: "renamed", upstreams: [{ name: "local" }] }),
    400,
    "BadRequest",
    /cannot be renamed/,
  );
  assertError(await patch("nope", { upstreams: [{ name: "local" }] }), 404, "NotFound");
  assertEquals(f.gateway.config, before, "a refused change leaves the configuration alone");
});

Deno.test("groups: a GET answer PATCHed back changes nothing and keeps the proxy secret", async () => {
  const f = adminFixture();
  const before = f.gateway.config;
  for (const name of ["primary", "backup", "other"]) {
    const got = await f.call("GET", `${API}/upstream-groups/${name}`);
    const back = await f.call("PATCH", `${API}/upstream-groups/${name}`, got.body.data);
    assertSuccess(back, 200);
    assertNoSecrets(back.text);
  }
  assertEquals(f.gateway.config, before);
  assertEquals(
    f.gateway.config.upstream_groups[0]!.http_client.proxy?.url,
    "http://proxyuser:proxy-secret@proxy.local:3128",
  );
});

Deno.test("groups: PATCH merges balance and http_client into the group's", async () => {
  const f = adminFixture();
  const res = await f.call("PATCH", `${API}/upstream-groups/primary`, {
    upstreams: [{ name: "openai" }],
    balance: { strategy: "failover" },
    http_client: { timeout: { request: 60 }, retry: { enabled: false } },
  });
  assertSuccess(res, 200);
  const g = f.gateway.config.upstream_groups[0]!;
  assertEquals(g.balance.strategy, "failover");
  assertEquals(g.http_client.timeout, { connect: 10, request: 60, idle: 60 });
  assertEquals(g.http_client.retry, undefined);
  // The proxy (with its secret) was not mentioned, so it stays.
  assertEquals(g.http_client.proxy?.url, "http://proxyuser:proxy-secret@proxy.local:3128");
  // A proxy URL with the mask and another user has no stored password to stand for.
  assertError(
    await f.call("PATCH", `${API}/upstream-groups/primary`, {
      upstreams: [{ name: "openai" }],
      http_client: { proxy: { url: "http://someone:***@proxy.local:3128" } },
    }),
    400,
    "BadRequest",
    /http_client\.proxy\.url: "\*\*\*" stands for the stored value/,
  );
});

Deno.test("upstreams: list and one are masked; no secret appears anywhere", async () => {
  const f = adminFixture();
  const list = await f.call("GET", `${API}/upstreams`);
  assertSuccess(list, 200);
  assertNoSecrets(list.text);
  const [openai, azure, local] = list.body.data;
  assertEquals(openai.auth, { type: "bearer", token: "***" });
  assertEquals(openai.headers, [
    { op: "insert", key: "x-api-key", value: "***" },
    { op: "replace", key: "x-team", value: "blue" },
  ]);
  assertEquals(openai.breaker, { threshold: 0.5, cooldown: 30 });
  assertEquals(azure.auth, { type: "basic", username: "svc", password: "***" });
  assertEquals(
    azure.url,
    "https://azure.example/openai/chat/completions?api-version=2024-02-01&api-key=***",
  );
  assertEquals(local, {
    name: "local",
    url: "http://127.0.0.1:8000",
    auth: { type: "none" },
    headers: [],
    weight: 1,
  });
  const one = await f.call("GET", `${API}/upstreams/azure`);
  assertSuccess(one, 200);
  assertEquals(one.body.data, azure);
  assertError(await f.call("GET", `${API}/upstreams/nope`), 404, "NotFound");
  for (const path of ["/forwards", "/upstream-groups", "/openapi.json"]) {
    assertNoSecrets((await f.call("GET", `${API}${path}`)).text);
  }
});

Deno.test("upstreams: every GET answer PUT back keeps the stored secrets", async () => {
  const f = adminFixture();
  const before = f.gateway.config;
  const list = await f.call("GET", `${API}/upstreams`);
  for (const u of list.body.data) {
    const res = await f.call("PUT", `${API}/upstreams/${u.name}`, u);
    assertSuccess(res, 200);
    assertEquals(res.body.data, u);
  }
  assertEquals(f.gateway.config, before);
  const openai = f.gateway.config.upstreams[0]!;
  assertEquals(openai.auth, { type: "bearer", token: "sk-secret-openai" });
  assertEquals(openai.headers[0]!.value, "hdr-secret");
  assertEquals(f.gateway.config.upstreams[1]!.auth, {
    type: "basic",
    username: "svc",
    password: "pw-secret",
  });
  assertStringIncludes(f.gateway.config.upstreams[1]!.url, "api-key=qs-secret");
});

Deno.test("upstreams: POST 201, 409 name taken, 400 invalid", async () => {
  const f = adminFixture();
  const created = await f.call("POST", `${API}/upstreams`, {
    name: "groq",
    url: "https://api.groq.com/openai",
    auth: { type: "bearer", token: "gsk-new-secret" },
    breaker: {},
  });
  assertSuccess(created, 201);
  assertEquals(created.body.data, {
    name: "groq",
    url: "https://api.groq.com/openai",
    auth: { type: "bearer", token: "***" },
    headers: [],
    breaker: { threshold: 0.5, cooldown: 30 },
    weight: 1,
  });
  assert(!created.text.includes("gsk-new-secret"));
  assertEquals(f.gateway.snapshot.upstreams.get("groq")?.authorization, "Bearer gsk-new-secret");

  assertError(
    await f.call("POST", `${API}/upstreams`, { name: "openai", url: "https://x.example" }),
    409,
    "Conflict",
    /"openai" exists/,
  );
  const before = f.gateway.config;
  assertError(
    await f.call("POST", `${API}/upstreams`, { name: "bad", url: "ftp://x", weight: 0 }),
    400,
    "BadRequest",
    /url: must be an absolute http\(s\) URL.*weight: must be an integer from 1 to 65535/,
  );
  assertError(
    await f.call("POST", `${API}/upstreams`, {
      name: "bad",
      url: "https://x",
      auth: { type: "bearer" },
    }),
    400,
    "BadRequest",
    /token/,
  );
  assertError(
    await f.call("POST", `${API}/upstreams`, {
      name: "bad",
      url: "https://x",
      auth: { type: "bearer", token: "***" },
    }),
    400,
    "BadRequest",
    /auth\.token: "\*\*\*" stands for the stored value/,
  );
  assertError(
    await f.call("POST", `${API}/upstreams`, { name: "bad", url: "https://x", brekaer: {} }),
    400,
    "BadRequest",
    /unknown key "brekaer"; did you mean "breaker"/,
  );
  assertError(await f.call("POST", `${API}/upstreams`, { url: "https://x" }), 400, "BadRequest");
  assertError(await f.call("POST", `${API}/upstreams`, "{not json"), 400, "BadRequest");
  assertError(
    await f.call("POST", `${API}/upstreams`, "name=x", { "content-type": "text/plain" }),
    400,
    "BadRequest",
    /application\/json/,
  );
  assertEquals(f.gateway.config, before);
});

Deno.test("upstreams: PUT 200 (state of unchanged members carries over), 404, 400", async () => {
  const f = adminFixture();
  const stateBefore = f.gateway.snapshot.groups.get("primary")!.state;
  const res = await f.call("PUT", `${API}/upstreams/openai`, {
    url: "https://api.openai.com",
    auth: { type: "bearer", token: "***" },
    headers: [{ op: "insert", key: "x-api-key", value: "***" }],
    breaker: { threshold: 0.5, cooldown: 30 },
    weight: 2,
  });
  assertSuccess(res, 200);
  assertEquals(res.body.data.weight, 2);
  assertEquals(res.body.data.headers, [{ op: "insert", key: "x-api-key", value: "***" }]);
  const openai = f.gateway.config.upstreams[0]!;
  assertEquals(openai.headers, [{ op: "insert", key: "x-api-key", value: "hdr-secret" }]);
  assertEquals(openai.auth, { type: "bearer", token: "sk-secret-openai" });
  assertNotEquals(f.gateway.snapshot.groups.get("primary")!.state, undefined);
  assert(stateBefore !== undefined);
  // A new token replaces the old one.
  await f.call("PUT", `${API}/upstreams/openai`, {
    url: "https://api.openai.com",
    auth: { type: "bearer", token: "sk-rotated" },
  });
  assertEquals(f.gateway.snapshot.upstreams.get("openai")?.authorization, "Bearer sk-rotated");
  assertEquals(
    f.gateway.config.upstreams[0]!.breaker,
    undefined,
    "PUT replaces the whole upstream",
  );

  assertError(
    await f.call("PUT", `${API}/upstreams/nope`, { url: "https://x.example" }),
    404,
    "NotFound",
  );
  assertError(
    await f.call("PUT", `${API}/upstreams/local`, { url: "not a url" }),
    400,
    "BadRequest",
    /url/,
  );
  assertError(
    await f.call("PUT", `${API}/upstreams/local`, { name: "other-name", url: "http://x" }),
    400,
    "BadRequest",
    /cannot be renamed/,
  );
  // Basic auth "***" needs a stored basic password.
  assertError(
    await f.call("PUT", `${API}/upstreams/local`, {
      url: "http://x",
      auth: { type: "basic", username: "u", password: "***" },
    }),
    400,
    "BadRequest",
    /auth\.password/,
  );
});

Deno.test("upstreams: DELETE 409 names every group using it, 204 when unused, 404", async () => {
  const f = adminFixture();
  assertError(
    await f.call("DELETE", `${API}/upstreams/openai`),
    409,
    "Conflict",
    /still used by groups "primary", "other"/,
  );
  assertError(
    await f.call("DELETE", `${API}/upstreams/azure`),
    409,
    "Conflict",
    /still used by group "primary"/,
  );
  const del = await f.call("DELETE", `${API}/upstreams/spare`);
  assertEquals(del.status, 204);
  assertEquals(del.text, "");
  assertEquals(f.gateway.config.upstreams.map((u) => u.name), ["openai", "azure", "local"]);
  assertError(await f.call("DELETE", `${API}/upstreams/spare`), 404, "NotFound");
});

Deno.test("unknown /api/v1 paths and methods answer the 404 envelope", async () => {
  const f = adminFixture();
  assertError(await f.call("GET", `${API}/nope`), 404, "NotFound");
  assertError(await f.call("GET", API), 404, "NotFound");
  assertError(await f.call("POST", `${API}/forwards`, {}), 404, "NotFound");
  assertError(await f.call("DELETE", `${API}/upstream-groups/primary`), 404, "NotFound");
});

Deno.test("concurrent changes are serialised: none is lost", async () => {
  const f = adminFixture();
  const answers = await Promise.all([
    f.call("PATCH", `${API}/upstream-groups/backup`, { upstreams: [{ name: "spare" }] }),
    f.call("PATCH", `${API}/upstream-groups/other`, { upstreams: [{ name: "azure" }] }),
    f.call("PATCH", `${API}/upstream-groups/primary`, { upstreams: [{ name: "local" }] }),
    f.call("POST", `${API}/upstreams`, { name: "n1", url: "http://127.0.0.1:1" }),
    f.call("POST", `${API}/upstreams`, { name: "n2", url: "http://127.0.0.1:2" }),
    ...Array.from(
      { length: 10 },
      (_, i) =>
        f.call("POST", `${API}/forwards/main/routes`, { path: `/r${i}/*`, target_group: "backup" }),
    ),
  ]);
  for (const a of answers) assert(a.status === 200 || a.status === 201, a.text);
  const c = f.gateway.config;
  assertEquals(c.upstream_groups.map((g) => g.upstreams.map((m) => m.name)), [
    ["local"],
    ["spare"],
    ["azure"],
  ]);
  assertEquals(c.upstreams.map((u) => u.name).slice(-2).sort(), ["n1", "n2"]);
  assertEquals(c.http_server.forwards[0]!.routing.length, 12);
  // A refused change in the queue does not block the ones after it.
  const [bad, good] = await Promise.all([
    f.call("PATCH", `${API}/upstream-groups/backup`, { upstreams: [{ name: "ghost" }] }),
    f.call("PATCH", `${API}/upstream-groups/backup`, { upstreams: [{ name: "n1" }] }),
  ]);
  assertEquals(bad!.status, 400);
  assertEquals(good!.status, 200);
});

Deno.test("a change is live for forwarding: new upstream + PATCH receives the traffic", async () => {
  const seen: string[] = [];
  const fetchFn = ((input: string | URL | Request) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    seen.push(url);
    return Promise.resolve(new Response("ok", { headers: { "x-served-by": new URL(url).host } }));
  }) as typeof fetch;
  const f = adminFixture({ fetchFn });
  const send = async () => {
    const res = await f.gateway.handle(
      "main",
      new Request("http://proxy.local/api/items/1", { method: "POST", body: "{}" }),
      { remoteAddr: "127.0.0.1" },
    );
    await res.body?.cancel();
    return res.headers.get("x-served-by");
  };
  assertEquals(await send(), "127.0.0.1:8000");
  assertSuccess(
    await f.call("POST", `${API}/upstreams`, { name: "fresh", url: "http://fresh.local:9999" }),
    201,
  );
  assertSuccess(
    await f.call("PATCH", `${API}/upstream-groups/backup`, { upstreams: [{ name: "fresh" }] }),
    200,
  );
  assertEquals(await send(), "fresh.local:9999");
  assertEquals(seen.at(-1), "http://fresh.local:9999/api/items/1");
});

Deno.test("metrics: gauges of members that left a group are no longer exported", async () => {
  const f = adminFixture();
  const scrape = async () => await (await f.app.request("/metrics")).text();
  assertStringIncludes(
    await scrape(),
    'llmproxy_upstream_in_flight{group="other",upstream="openai"}',
  );
  await f.call("PATCH", `${API}/upstream-groups/other`, { upstreams: [{ name: "local" }] });
  const text = await scrape();
  assert(!text.includes('llmproxy_upstream_in_flight{group="other",upstream="openai"}'), text);
  assert(!text.includes('llmproxy_circuitbreaker_state{group="other",upstream="openai"}'), text);
  assertStringIncludes(text, 'llmproxy_circuitbreaker_state{group="primary",upstream="openai"}');
});

Deno.test("docs: 404 without debug, an offline HTML page with debug", async () => {
  const plain = adminFixture();
  assertError(await plain.call("GET", `${API}/docs`), 404, "NotFound", /--debug/);
  const debug = adminFixture({ debug: true, authToken: "tok" });
  // The static page needs no token (a browser cannot send one); its calls do.
  const res = await debug.app.request(`${API}/docs`);
  assertEquals(res.status, 200);
  assertMatch(res.headers.get("content-type") ?? "", /^text\/html/);
  assertStringIncludes(res.headers.get("content-security-policy") ?? "", "default-src 'none'");
  const html = await res.text();
  assertStringIncludes(html, "/api/v1/openapi.json");
  assert(!/(src|href)=["']?(https?:)?\/\//.test(html), "the page loads nothing from elsewhere");
  assertEquals((await debug.app.request(`${API}/openapi.json`)).status, 401);
  const otherApi = await debug.app.request(`${API}/upstreams`);
  assertEquals(otherApi.status, 401);
});
