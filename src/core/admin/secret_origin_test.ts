import assert from "node:assert/strict";
import { originOf, restoreUpstreamSecrets } from "./secrets.ts";
import { adminFixture, type Answer, SECRETS } from "./_test_helpers.ts";

const API = "/api/v1";

function assertRefused(a: Answer, where: RegExp): void {
  assert.equal(a.status, 400, a.text);
  assert.equal(a.body.code, 400);
  assert.equal(a.body.error.type, "BadRequest");
  assert.match(a.body.error.message, where);
  assert.match(a.body.error.message, /never follows to another scheme, host or port/);
  for (const s of SECRETS) assert.ok(!a.text.includes(s), `secret ${s} in ${a.text}`);
}

/** openai's answer with the URL swapped: what an attacker who may write would PUT. */
async function shownWithUrl(f: ReturnType<typeof adminFixture>, name: string, url: string) {
  const got = await f.call("GET", `${API}/upstreams/${name}`);
  return { ...got.body.data, url };
}

Deno.test("a bearer token never follows an upstream to another host (PUT with ***)", async () => {
  const f = adminFixture();
  const before = f.gateway.config;
  for (
    const url of [
      "https://evil.example",
      "http://api.openai.com", // scheme: the key would cross the network in clear
      "https://api.openai.com:8443", // port
      "https://api.openai.com.evil.example",
      "https://evil.example/https://api.openai.com",
    ]
  ) {
    const res = await f.call(
      "PUT",
      `${API}/upstreams/openai`,
      await shownWithUrl(f, "openai", url),
    );
    assertRefused(
      res,
      /auth\.token: "\*\*\*" stands for the secret stored for https:\/\/api\.openai\.com/,
    );
  }
  assert.equal(f.gateway.config, before, "nothing changed");
  // What forwarding uses: the key still goes to the host it was configured for only.
  const live = f.gateway.snapshot.upstreams.get("openai")!;
  assert.equal(live.authorization, "Bearer sk-secret-openai");
  assert.equal(live.config.url, "https://api.openai.com");
});

Deno.test("basic passwords, secret headers, URL passwords and query keys stay bound too", async () => {
  const f = adminFixture();
  const before = f.gateway.config;
  // azure: basic password and ?api-key= in the URL.
  const azure = (await f.call("GET", `${API}/upstreams/azure`)).body.data;
  const movedAzure = await f.call("PUT", `${API}/upstreams/azure`, {
    ...azure,
    url: azure.url.replace("azure.example", "evil.example"),
  });
  assertRefused(
    movedAzure,
    /url: "\*\*\*" stands for the secret stored for https:\/\/azure\.example/,
  );
  const basicOnly = await f.call("PUT", `${API}/upstreams/azure`, {
    ...azure,
    url: "https://evil.example/openai",
  });
  assertRefused(basicOnly, /auth\.password: .*sends to https:\/\/evil\.example/);
  // openai: a credential header and the token; only the header masked.
  const header = await f.call("PUT", `${API}/upstreams/openai`, {
    url: "https://evil.example",
    headers: [{ op: "insert", key: "x-api-key", value: "***" }],
  });
  assertRefused(header, /headers\[0\]\.value/);
  assert.equal(f.gateway.config, before);
});

Deno.test("same scheme, host and port: *** keeps the secret (default ports, case, path)", async () => {
  const f = adminFixture();
  for (
    const url of [
      "https://api.openai.com/v2",
      "https://API.OpenAI.com:443",
      "HTTPS://api.openai.com:443/",
    ]
  ) {
    const res = await f.call(
      "PUT",
      `${API}/upstreams/openai`,
      await shownWithUrl(f, "openai", url),
    );
    assert.equal(res.status, 200, `${url}: ${res.text}`);
    assert.deepEqual(f.gateway.config.upstreams[0]!.auth, {
      type: "bearer",
      token: "sk-secret-openai",
    });
    assert.equal(f.gateway.config.upstreams[0]!.headers[0]!.value, "hdr-secret");
  }
  // The azure answer sent back as it is (path and query unchanged) keeps both secrets.
  const azure = (await f.call("GET", `${API}/upstreams/azure`)).body.data;
  assert.equal((await f.call("PUT", `${API}/upstreams/azure`, azure)).status, 200);
  assert.match(f.gateway.config.upstreams[1]!.url, /api-key=qs-secret/);
});

Deno.test("a new host with the secret sent again is fine", async () => {
  const f = adminFixture();
  const shown = await shownWithUrl(f, "openai", "https://other.example");
  const res = await f.call("PUT", `${API}/upstreams/openai`, {
    ...shown,
    auth: { type: "bearer", token: "sk-for-other" },
    headers: [{ op: "insert", key: "x-api-key", value: "hdr-for-other" }],
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(f.gateway.snapshot.upstreams.get("openai")?.authorization, "Bearer sk-for-other");
});

Deno.test("the proxy password stays bound to the proxy's origin (PATCH group)", async () => {
  const f = adminFixture();
  const before = f.gateway.config;
  const got = (await f.call("GET", `${API}/upstream-groups/primary`)).body.data;
  for (
    const url of [
      "http://proxyuser:***@evil.example:3128",
      "http://proxyuser:***@proxy.local:3129",
      "https://proxyuser:***@proxy.local:3128",
    ]
  ) {
    const res = await f.call("PATCH", `${API}/upstream-groups/primary`, {
      ...got,
      http_client: { ...got.http_client, proxy: { url } },
    });
    assertRefused(
      res,
      /http_client\.proxy\.url: "\*\*\*" stands for the secret stored for http:\/\/proxy\.local:3128/,
    );
  }
  assert.equal(f.gateway.config, before);
  const same = await f.call("PATCH", `${API}/upstream-groups/primary`, {
    ...got,
    http_client: { ...got.http_client, proxy: { url: "http://proxyuser:***@PROXY.local:3128/" } },
  });
  assert.equal(same.status, 200, same.text);
  assert.equal(
    f.gateway.config.upstream_groups[0]!.http_client.proxy?.url,
    "http://proxyuser:proxy-secret@PROXY.local:3128/",
  );
});

Deno.test("originOf: scheme, host and port, default ports left out", () => {
  assert.equal(originOf("https://u:p@API.example:443/v1?key=k"), "https://api.example");
  assert.equal(originOf("http://x.example:80"), "http://x.example");
  assert.equal(originOf("http://x.example:8080/"), "http://x.example:8080");
  assert.equal(originOf("not a url"), undefined);
  assert.equal(originOf(undefined), undefined);
});

Deno.test("restoreUpstreamSecrets refuses a mask when the body's url is missing or broken", () => {
  const stored = {
    name: "u",
    url: "https://x.example",
    auth: { type: "bearer" as const, token: "t0k" },
    headers: [],
    weight: 1,
  };
  for (const url of [undefined, "not a url", 42]) {
    assert.throws(
      () => restoreUpstreamSecrets({ url, auth: { type: "bearer", token: "***" } }, stored),
      /auth\.token: .*now is not an absolute URL/,
      String(url),
    );
  }
});
