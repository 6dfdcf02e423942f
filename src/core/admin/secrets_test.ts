import assert from "node:assert/strict";
import type { ClientConfig, GroupConfig, UpstreamConfig } from "../config/types.ts";
import { toDraft } from "./config_editor.ts";
import { AdminError } from "./envelope.ts";
import { clientBodySecrets, redactSecrets, secretValues } from "./redact.ts";
import {
  CLIENT_KEY_PREFIX,
  generateClientKey,
  isSecretHeader,
  maskClient,
  maskGroup,
  maskUpstream,
  maskUrl,
  restoreClientSecrets,
  restoreGroupSecrets,
  restoreUpstreamSecrets,
  restoreUrl,
} from "./secrets.ts";

Deno.test("maskUrl masks the userinfo password and key-carrying query values only", () => {
  const cases: [string, string][] = [
    ["http://bob:hunter2@proxy:3128", "http://bob:***@proxy:3128"],
    ["http://bob@proxy:3128", "http://bob@proxy:3128"],
    ["https://proxy.example", "https://proxy.example"],
    ["https://x.example/v1?key=abc&alt=sse", "https://x.example/v1?key=***&alt=sse"],
    [
      "https://x.example/a?api-version=1&api-key=zzz#frag",
      "https://x.example/a?api-version=1&api-key=***#frag",
    ],
    ["https://x.example/a?Sig=zzz&code=", "https://x.example/a?Sig=***&code="],
    ["https://u:p@x.example:8443/p?token=t", "https://u:***@x.example:8443/p?token=***"],
  ];
  for (const [url, masked] of cases) assert.equal(maskUrl(url), masked, url);
});

Deno.test("restoreUrl puts stored values back where the mask stands", () => {
  const stored = "https://u:p4ss@x.example/p?token=t0k&x=1";
  assert.equal(restoreUrl(maskUrl(stored), stored, "url"), stored);
  // Same scheme, host and port, another path: the secrets stay.
  assert.equal(
    restoreUrl("https://u:***@X.example:443/q?token=***", stored, "url"),
    "https://u:p4ss@X.example:443/q?token=t0k",
  );
  // Another host, same user: the password does not follow (docs/behaviour.md#secrets).
  assert.throws(
    () => restoreUrl("https://u:***@y.example/p", stored, "url"),
    /url: "\*\*\*" stands for the secret stored for https:\/\/x\.example, but url now sends to https:\/\/y\.example/,
  );
  assert.throws(() => restoreUrl("https://y.example/p?token=***", stored, "url"), /y\.example/);
  assert.equal(restoreUrl("https://new:pw@x.example", stored, "url"), "https://new:pw@x.example");
  assert.throws(() => restoreUrl("https://other:***@x.example", stored, "url"), AdminError);
  assert.throws(
    () => restoreUrl("https://x.example?key=***", stored, "url"),
    /query parameter "key"/,
  );
  assert.throws(() => restoreUrl("https://u:***@x.example", undefined, "proxy.url"), /proxy\.url/);
});

Deno.test("header values are masked by header name", () => {
  for (
    const h of [
      "Authorization",
      "x-api-key",
      "api-key",
      "Api_Key",
      "x-auth-token",
      "Cookie",
      "x-client-secret",
      "Ocp-Apim-Subscription-Key",
    ]
  ) {
    assert.ok(isSecretHeader(h), h);
  }
  for (const h of ["x-team", "user-agent", "content-type", "x-request-id"]) {
    assert.ok(!isSecretHeader(h), h);
  }
});

const upstream: UpstreamConfig = {
  name: "u",
  url: "https://a:b@x.example?key=k",
  auth: { type: "basic", username: "svc", password: "pw" },
  headers: [
    { op: "insert", key: "x-api-key", value: "hk" },
    { op: "replace", key: "X-Team", value: "blue" },
    { op: "remove", key: "authorization" },
  ],
  breaker: { threshold: 0.5, cooldown: 30 },
  weight: 1,
};

Deno.test("maskUpstream masks every secret and keeps the shape", () => {
  assert.deepEqual(maskUpstream(upstream), {
    name: "u",
    url: "https://a:***@x.example?key=***",
    auth: { type: "basic", username: "svc", password: "***" },
    headers: [
      { op: "insert", key: "x-api-key", value: "***" },
      { op: "replace", key: "X-Team", value: "blue" },
      { op: "remove", key: "authorization" },
    ],
    breaker: { threshold: 0.5, cooldown: 30 },
    weight: 1,
  });
  assert.deepEqual(maskUpstream({ ...upstream, auth: { type: "bearer", token: "t" } }).auth, {
    type: "bearer",
    token: "***",
  });
});

Deno.test("restoreUpstreamSecrets undoes the masking", () => {
  const shown = JSON.parse(JSON.stringify(maskUpstream(upstream)));
  assert.deepEqual(restoreUpstreamSecrets(shown, upstream), JSON.parse(JSON.stringify(upstream)));
  // The body itself is not changed.
  assert.equal(shown.auth.password, "***");
  assert.throws(() => restoreUpstreamSecrets(shown, undefined), /"\*\*\*" stands for/);
  assert.throws(
    () => restoreUpstreamSecrets({ auth: { type: "bearer", token: "***" } }, upstream),
    /auth\.token/,
  );
  assert.throws(
    () =>
      restoreUpstreamSecrets(
        { headers: [{ op: "insert", key: "x-other-key", value: "***" }] },
        upstream,
      ),
    /headers\[0\]\.value/,
  );
});

Deno.test("maskGroup / restoreGroupSecrets cover the proxy URL", () => {
  const group: GroupConfig = {
    name: "g",
    upstreams: [{ name: "u", weight: 1 }],
    balance: { strategy: "roundrobin" },
    http_client: {
      agent: "a",
      keepalive: 30,
      stream: true,
      timeout: { connect: 1, request: 2, idle: 5 },
      proxy: { url: "http://p:s3@proxy:3128" },
      stream_usage: false,
    },
  };
  const shown = JSON.parse(JSON.stringify(maskGroup(group)));
  assert.equal(shown.http_client.proxy.url, "http://p:***@proxy:3128");
  assert.deepEqual(restoreGroupSecrets(shown, group), JSON.parse(JSON.stringify(group)));
  assert.deepEqual(restoreGroupSecrets({ upstreams: [] }, group), { upstreams: [] });
});

const KEYED: ClientConfig = {
  name: "a",
  key: "sk-a",
  key_sha256: "1".repeat(64),
  groups: ["g"],
  models: ["gpt-*"],
  limits: { requests_per_minute: 5 },
};
const DIGEST_ONLY: ClientConfig = { name: "b", key_sha256: "2".repeat(64), limits: {} };

Deno.test("maskClient masks a configured key and shows the digest", () => {
  assert.deepEqual(maskClient(KEYED), { ...KEYED, key: "***" });
  assert.deepEqual(maskClient(DIGEST_ONLY), DIGEST_ONLY);
  assert.ok(!("key" in maskClient(DIGEST_ONLY)));
});

Deno.test("restoreClientSecrets: *** stands for the stored credential", () => {
  const cases: [string, Record<string, unknown>, ClientConfig | undefined, unknown][] = [
    ["no mask: as sent", { key: "sk-new" }, KEYED, { key: "sk-new" }],
    ["*** alone", { key: "***", limits: {} }, KEYED, { key: "sk-a", limits: {} }],
    [
      "*** with the stored digest (a GET answer)",
      {
        name: "a",
        key: "***",
        key_sha256: "1".repeat(64),
      },
      KEYED,
      { name: "a", key: "sk-a" },
    ],
    [
      "*** with the digest in upper case",
      {
        key: "***",
        key_sha256: "1".repeat(64).toUpperCase(),
      },
      KEYED,
      { key: "sk-a" },
    ],
    ["*** for a digest-only client", { key: "***" }, DIGEST_ONLY, { key_sha256: "2".repeat(64) }],
  ];
  for (const [what, body, stored, expected] of cases) {
    assert.deepEqual(restoreClientSecrets(body, stored), expected, what);
  }
  const refused: [string, Record<string, unknown>, ClientConfig | undefined, RegExp][] = [
    ["*** on create", { key: "***" }, undefined, /this client is new/],
    ["*** with another digest", { key: "***", key_sha256: "3".repeat(64) }, KEYED, /another/],
    ["*** with a non-string digest", { key: "***", key_sha256: 7 }, KEYED, /another digest/],
  ];
  for (const [what, body, stored, message] of refused) {
    assert.throws(
      () => restoreClientSecrets(body, stored),
      (e) => e instanceof AdminError && e.status === 400 && message.test(e.message),
      what,
    );
  }
});

Deno.test("generateClientKey: 32 random bytes, base64url without padding, prefixed", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const key = generateClientKey();
    assert.match(key, /^sk-llmproxy-[A-Za-z0-9_-]{43}$/);
    assert.ok(key.startsWith(CLIENT_KEY_PREFIX));
    const b64 = key.slice(CLIENT_KEY_PREFIX.length).replaceAll("-", "+").replaceAll("_", "/");
    assert.equal(atob(`${b64}=`).length, 32);
    seen.add(key);
  }
  assert.equal(seen.size, 50);
});

Deno.test("redaction knows client keys: in a configuration and in a client body", () => {
  const config = { clients: [KEYED, DIGEST_ONLY], upstreams: [] };
  assert.deepEqual(secretValues(config), ["sk-a"]);
  // A header operation's `key` is a header name, not a secret.
  assert.deepEqual(secretValues({ headers: [{ op: "insert", key: "x-team", value: "b" }] }), []);
  const bodies: [unknown, string[]][] = [
    [{ name: "a", key: "sk-1" }, ["sk-1"]],
    [{ name: "a", key: "***" }, []],
    [{ name: "a", key_sha256: "9".repeat(64) }, []],
    [{ name: "a", key_sha256: "sk-pasted" }, ["sk-pasted"]],
    [{ name: "a", key: 5 }, []],
    [["sk-1"], []],
    [undefined, []],
  ];
  for (const [body, expected] of bodies) {
    assert.deepEqual(clientBodySecrets(body), expected, JSON.stringify(body));
  }
  assert.equal(
    redactSecrets('got "sk-pasted" and sk-a', [...secretValues(config), "sk-pasted"]),
    'got "***" and ***',
  );
});

Deno.test("toDraft: a client with its key leaves its digest out, as a file would", () => {
  const draft = toDraft({ clients: [KEYED, DIGEST_ONLY] } as never);
  assert.deepEqual(draft.clients, [
    {
      name: "a",
      key: "sk-a",
      groups: ["g"],
      models: ["gpt-*"],
      limits: { requests_per_minute: 5 },
    },
    DIGEST_ONLY,
  ]);
});
