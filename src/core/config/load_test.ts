import assert from "node:assert/strict";
import type { ConfigDiagnostic, LoadResult } from "./diagnostics.ts";
import { loadConfig, validateConfig } from "./load.ts";
import { baseConfig, fakeCompileRoute, report, setAt } from "./_test_helpers.ts";
import type { Config } from "./types.ts";

const compileRoute = fakeCompileRoute;

function ok(result: LoadResult): Config {
  if (!result.ok) assert.fail(`expected success, got:\n${report("c.yaml", result).join("\n")}`);
  return result.config;
}

function errors(result: LoadResult): ConfigDiagnostic[] {
  assert.ok(!result.ok, "expected errors");
  return result.errors;
}

/** Errors as `path: message`, for compact assertions. */
function errorLines(result: LoadResult): string[] {
  return errors(result).map((e) => `${e.path}: ${e.message}`);
}

function validate(change: (c: Record<string, unknown>) => void): LoadResult {
  const c = baseConfig();
  change(c);
  return validateConfig(c, { compileRoute });
}

const MINIMAL = `
http_server:
  forwards:
    - name: f
      default_group: g
upstreams:
  - name: u
    url: https://api.example.com
upstream_groups:
  - name: g
    upstreams:
      - name: u
`;

Deno.test("defaults fill every key of the snapshot", () => {
  const config = ok(loadConfig(MINIMAL, { compileRoute }));
  assert.deepEqual(config, {
    http_server: {
      forwards: [{
        name: "f",
        port: 3000,
        address: "0.0.0.0",
        default_group: "g",
        routing: [],
        model_routing: [],
        timeout: { connect: 10 },
        max_body_size: 10 * 1024 * 1024,
        trusted_proxies: [],
        hosts: [],
        client_auth: "off",
      }],
      admin: { port: 9000, address: "0.0.0.0", timeout: { connect: 10 } },
    },
    upstreams: [{
      name: "u",
      url: "https://api.example.com",
      auth: { type: "none" },
      headers: [],
      weight: 1,
    }],
    upstream_groups: [{
      name: "g",
      upstreams: [{ name: "u", weight: 1 }],
      balance: { strategy: "roundrobin" },
      http_client: {
        agent: "LLMProxy/1.0",
        keepalive: 30,
        stream: true,
        timeout: { connect: 10, request: 300, idle: 60 },
        stream_usage: false,
      },
    }],
    clients: [],
    state: { store: "memory" },
  });
});

Deno.test("present blocks default their keys; the snapshot has no enabled keys", () => {
  const config = ok(validate((c) => {
    setAt(c, "http_server.forwards[0].ratelimit", {});
    setAt(c, "upstreams[0].breaker", { enabled: true });
    setAt(c, "upstream_groups[0].http_client", { retry: {}, proxy: { url: "http://p:8080" } });
  }));
  assert.deepEqual(config.http_server.forwards[0]!.ratelimit, { per_second: 100, burst: 200 });
  assert.deepEqual(config.upstreams[0]!.breaker, { threshold: 0.5, cooldown: 30 });
  assert.deepEqual(config.upstream_groups[0]!.http_client.retry, { attempts: 3, initial: 500 });
  assert.deepEqual(config.upstream_groups[0]!.http_client.proxy, { url: "http://p:8080" });
});

Deno.test("enabled: false switches ratelimit, breaker, retry and proxy off", () => {
  const config = ok(validate((c) => {
    setAt(c, "http_server.forwards[0].ratelimit", { enabled: false, per_second: 5 });
    setAt(c, "upstreams[0].breaker", { enabled: false, threshold: 0.9 });
    setAt(c, "upstream_groups[0].http_client", {
      retry: { enabled: false, attempts: 9 },
      proxy: { enabled: false }, // no url needed when off
    });
  }));
  assert.ok(!("ratelimit" in config.http_server.forwards[0]!));
  assert.ok(!("breaker" in config.upstreams[0]!));
  assert.ok(!("retry" in config.upstream_groups[0]!.http_client));
  assert.ok(!("proxy" in config.upstream_groups[0]!.http_client));
});

Deno.test("an empty optional block in YAML counts as absent", () => {
  const text =
    MINIMAL.replace("default_group: g", "default_group: g\n      ratelimit:\n      routing:") +
    "    http_client:\n";
  const config = ok(loadConfig(text, { compileRoute }));
  assert.ok(!("ratelimit" in config.http_server.forwards[0]!));
  assert.deepEqual(config.http_server.forwards[0]!.routing, []);
  assert.equal(config.upstream_groups[0]!.http_client.keepalive, 30);
});

Deno.test("a proxy that is on needs a url", () => {
  assert.deepEqual(
    errorLines(validate((c) => setAt(c, "upstream_groups[0].http_client.proxy", {}))),
    [
      "upstream_groups[0].http_client.proxy: " +
      'required key "url" is missing: an outbound proxy needs it (or set enabled: false)',
    ],
  );
  assert.deepEqual(
    errorLines(validate((c) => setAt(c, "upstream_groups[0].http_client.proxy.url", "socks5://p"))),
    ['upstream_groups[0].http_client.proxy.url: must be an absolute http(s) URL, got "socks5://p"'],
  );
});

const INT_RANGES: [string, number, number][] = [
  ["http_server.forwards[0].port", 1, 65535],
  ["http_server.forwards[0].ratelimit.per_second", 1, 10000],
  ["http_server.forwards[0].ratelimit.burst", 1, 20000],
  ["http_server.forwards[0].timeout.connect", 1, 120],
  ["http_server.admin.port", 1, 65535],
  ["http_server.admin.timeout.connect", 1, 120],
  ["upstreams[0].breaker.cooldown", 1, 3600],
  ["upstreams[0].weight", 1, 65535],
  ["upstream_groups[0].upstreams[0].weight", 1, 65535],
  ["upstream_groups[0].http_client.keepalive", 5, 600],
  ["upstream_groups[0].http_client.timeout.connect", 1, 120],
  ["upstream_groups[0].http_client.timeout.request", 1, 1200],
  ["upstream_groups[0].http_client.timeout.idle", 5, 1800],
  ["upstream_groups[0].http_client.retry.attempts", 1, 100],
  ["upstream_groups[0].http_client.retry.initial", 100, 10000],
];

Deno.test("each integer range: bounds accepted, outside and fractions refused", () => {
  for (const [path, min, max] of INT_RANGES) {
    for (const good of [min, max]) {
      ok(validate((c) => setAt(c, path, good)));
    }
    for (const bad of [min - 1, max + 1, min + 0.5, "many"]) {
      const got = typeof bad === "string" ? `"${bad}"` : String(bad);
      assert.deepEqual(
        errorLines(validate((c) => setAt(c, path, bad))),
        [`${path}: must be an integer from ${min} to ${max}, got ${got}`],
        path,
      );
    }
  }
});

Deno.test("breaker threshold is a number from 0.01 to 1.0", () => {
  const path = "upstreams[0].breaker.threshold";
  for (const good of [0.01, 0.5, 1]) ok(validate((c) => setAt(c, path, good)));
  for (const bad of [0, 0.009, 1.01, 2]) {
    assert.deepEqual(errorLines(validate((c) => setAt(c, path, bad))), [
      `${path}: must be a number from 0.01 to 1.0, got ${bad}`,
    ]);
  }
});

Deno.test("strings that are whole numbers or true/false are coerced where wanted", () => {
  const text = `
http_server:
  forwards:
    - name: "1234"
      port: "8080"
      default_group: g
      ratelimit: { enabled: "false" }
upstreams:
  - name: u
    url: https://api.example.com
    breaker: { threshold: "0.25" }
upstream_groups:
  - name: g
    upstreams: [{ name: u, weight: "7" }]
    http_client: { stream: "FALSE" }
`;
  const config = ok(loadConfig(text, { compileRoute }));
  const forward = config.http_server.forwards[0]!;
  assert.equal(forward.name, "1234"); // a string where a string is wanted stays one
  assert.equal(forward.port, 8080);
  assert.ok(!("ratelimit" in forward));
  assert.equal(config.upstreams[0]!.breaker?.threshold, 0.25);
  assert.equal(config.upstream_groups[0]!.upstreams[0]!.weight, 7);
  assert.equal(config.upstream_groups[0]!.http_client.stream, false);
  // ...but not where the schema wants a string.
  assert.deepEqual(errorLines(validate((c) => setAt(c, "upstreams[0].name", 5))), [
    "upstreams[0].name: must be a non-empty string, got 5; put it in quotes if it is meant as text",
    'upstream_groups[0].upstreams[0].name: unknown upstream "u"; no upstream has a valid name',
  ]);
});

Deno.test("stream_mode is accepted as stream; stream wins with a warning", () => {
  const alone = validate((c) => setAt(c, "upstream_groups[0].http_client.stream_mode", false));
  assert.equal(ok(alone).upstream_groups[0]!.http_client.stream, false);
  assert.deepEqual(alone.warnings, []);
  assert.ok(!("stream_mode" in ok(alone).upstream_groups[0]!.http_client));

  const text = `${MINIMAL}    http_client:
      stream: true
      stream_mode: false
`;
  const both = loadConfig(text, { compileRoute });
  assert.equal(ok(both).upstream_groups[0]!.http_client.stream, true);
  assert.deepEqual(both.warnings, [{
    severity: "warning",
    path: "upstream_groups[0].http_client.stream_mode",
    line: 15,
    column: 7,
    message:
      'both "stream" and "stream_mode" are set; "stream" (true) wins and "stream_mode" (false) is ignored',
  }]);
});

Deno.test("max_body_size takes bytes or units", () => {
  const size = (v: unknown) =>
    ok(validate((c) => setAt(c, "http_server.forwards[0].max_body_size", v)))
      .http_server.forwards[0]!.max_body_size;
  assert.equal(size(2048), 2048);
  assert.equal(size("512KiB"), 524288);
  assert.equal(size("10MiB"), 10485760);
  assert.equal(size("1MB"), 1000000);
  assert.equal(size("1GB"), 1000000000);
  assert.equal(size("100B"), 100);
  assert.deepEqual(
    errorLines(validate((c) => setAt(c, "http_server.forwards[0].max_body_size", "10 megs"))),
    [
      "http_server.forwards[0].max_body_size: must be a size in bytes: a whole number, or a " +
      "number with a unit B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), " +
      'e.g. "10MiB", got "10 megs"',
    ],
  );
});

Deno.test("auth, headers, url, address, strategy, trusted_proxies and hosts are checked", () => {
  const cases: [string, unknown, string][] = [
    [
      "upstreams[0].auth",
      { type: "bearer" },
      'upstreams[0].auth: required key "token" is missing: auth type "bearer" needs it',
    ],
    [
      "upstreams[0].auth",
      { type: "basic", username: "a" },
      'upstreams[0].auth: required key "password" is missing: auth type "basic" needs it',
    ],
    [
      "upstreams[0].auth",
      { type: "digest" },
      'upstreams[0].auth.type: must be one of none, bearer, basic, got "digest"',
    ],
    [
      "upstreams[0].headers",
      [{ op: "replace", key: "X-A" }],
      'upstreams[0].headers[0]: required key "value" is missing: op "replace" needs it',
    ],
    [
      "upstreams[0].headers",
      [{ op: "insert", key: "X A", value: "v" }],
      'upstreams[0].headers[0].key: must be a valid HTTP header name (letters, digits and !#$%&\'*+-.^_`|~), got "X A"',
    ],
    [
      "upstreams[0].headers",
      [{ op: "insert", key: "X-A", value: "a\r\nb" }],
      "upstreams[0].headers[0].value: must be a valid HTTP header value (no control characters such as CR, LF or NUL; Latin-1 only), got a value with a line break",
    ],
    [
      "upstreams[0].headers",
      [{ op: "insert", key: "X-Version", value: 2 }],
      "upstreams[0].headers[0].value: must be a valid HTTP header value (no control characters such as CR, LF or NUL; Latin-1 only), got 2; put it in quotes if it is meant as text",
    ],
    [
      "upstreams[0].auth",
      { type: "basic", username: "me", password: 123456 },
      "upstreams[0].auth.password: must be a non-empty string, got a number; put it in quotes if it is meant as text",
    ],
    [
      "upstreams[0].headers",
      [{ op: "delete", key: "X-A" }],
      'upstreams[0].headers[0].op: must be one of insert, replace, remove, got "delete"',
    ],
    [
      "upstreams[0].url",
      "api.example.com",
      'upstreams[0].url: must be an absolute http(s) URL, got "api.example.com"',
    ],
    [
      "upstreams[0].url",
      "ftp://example.com",
      'upstreams[0].url: must be an absolute http(s) URL, got "ftp://example.com"',
    ],
    [
      "http_server.forwards[0].address",
      "example.com",
      'http_server.forwards[0].address: must be an IPv4 or IPv6 address or "localhost", got "example.com"',
    ],
    [
      "upstream_groups[0].balance.strategy",
      "least_conn",
      'upstream_groups[0].balance.strategy: must be one of roundrobin, weighted_roundrobin, random, response_aware, failover, least_requests, hash, got "least_conn"',
    ],
    [
      "upstream_groups[0].balance.strategy",
      "weighted_round_robin",
      'upstream_groups[0].balance.strategy: must be one of roundrobin, weighted_roundrobin, random, response_aware, failover, least_requests, hash, got "weighted_round_robin"; did you mean "weighted_roundrobin"?',
    ],
    [
      "upstream_groups[0].upstreams",
      [],
      "upstream_groups[0].upstreams: must be a list of at least one upstream, got an empty list",
    ],
    [
      "http_server.forwards[0].trusted_proxies",
      ["10.0.0.0/8", "10.0.0.0/40"],
      'http_server.forwards[0].trusted_proxies[1]: must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8), got "10.0.0.0/40"',
    ],
    [
      "http_server.forwards[0].hosts",
      ["api.example.com:443"],
      'http_server.forwards[0].hosts[0]: must be a host name without port (e.g. api.example.com), got "api.example.com:443"',
    ],
    [
      "http_server.forwards[0].routing",
      [{ path: "/a" }],
      'http_server.forwards[0].routing[0]: required key "target_group" is missing',
    ],
    ["http_server", [], "http_server: must be a mapping, got an empty list"],
  ];
  for (const [path, value, expected] of cases) {
    assert.deepEqual(errorLines(validate((c) => setAt(c, path, value))), [expected], path);
  }
  const removed = validate((c) =>
    setAt(c, "upstreams[0].headers", [{ op: "remove", key: "X-A", value: "ignored" }])
  );
  assert.deepEqual(ok(removed).upstreams[0]!.headers, [{ op: "remove", key: "X-A" }]);
});

Deno.test("admin and http_client may be left out; the admin block may be partial", () => {
  const config = ok(validate((c) => setAt(c, "http_server.admin", { address: "127.0.0.1" })));
  assert.deepEqual(config.http_server.admin, {
    port: 9000,
    address: "127.0.0.1",
    timeout: { connect: 10 },
  });
});

Deno.test("${VAR} expansion happens before validation", () => {
  const text = `
http_server:
  forwards:
    - name: f
      port: \${PORT:-3000}
      address: \${ADDRESS:-127.0.0.1}
      default_group: \${GROUP}
upstreams:
  - name: u
    url: https://\${HOST}/v1
    auth: { type: bearer, token: "\${TOKEN}" }
upstream_groups:
  - name: g
    upstreams: [{ name: u }]
`;
  const vars: Record<string, string> = { GROUP: "g", HOST: "api.example.com", TOKEN: "sk-1" };
  const config = ok(loadConfig(text, { compileRoute, env: (n) => vars[n] }));
  assert.equal(config.http_server.forwards[0]!.port, 3000);
  assert.equal(config.http_server.forwards[0]!.address, "127.0.0.1");
  assert.equal(config.upstreams[0]!.url, "https://api.example.com/v1");
  assert.deepEqual(config.upstreams[0]!.auth, { type: "bearer", token: "sk-1" });

  const withPort = ok(
    loadConfig(text, { compileRoute, env: (n) => ({ ...vars, PORT: "8080" })[n] }),
  );
  assert.equal(withPort.http_server.forwards[0]!.port, 8080);
});

Deno.test("a missing variable is an error naming the variable and the path, and only that", () => {
  const text = `
http_server:
  forwards:
    - name: f
      port: \${PORT}
      default_group: g
upstreams:
  - name: u
    url: https://api.example.com
    auth: { type: bearer, token: "\${OPENAI_KEY}" }
upstream_groups:
  - name: g
    upstreams: [{ name: u }]
`;
  assert.deepEqual(errors(loadConfig(text, { compileRoute })), [
    {
      severity: "error",
      path: "http_server.forwards[0].port",
      line: 5,
      column: 13,
      message:
        'environment variable "PORT" is not set and has no default (write ${PORT:-value} to give one)',
    },
    {
      severity: "error",
      path: "upstreams[0].auth.token",
      line: 10,
      column: 34,
      message:
        'environment variable "OPENAI_KEY" is not set and has no default (write ${OPENAI_KEY:-value} to give one)',
    },
  ]);
});

Deno.test("validateConfig does not expand variables", () => {
  const config = ok(
    validate((c) => setAt(c, "upstreams[0].auth", { type: "bearer", token: "${SECRET}" })),
  );
  assert.deepEqual(config.upstreams[0]!.auth, { type: "bearer", token: "${SECRET}" });
});

Deno.test("unknown keys are warnings with path, position and did-you-mean", () => {
  const text = `
http_server:
  forwards:
    - name: f
      portt: 3001
      upstream_group: g
      default_group: g
      ratelimit:
        enabled: true
        per_secnod: 5
  tls: true
upstreams:
  - name: u
    url: https://api.example.com
    breaker: { enabled: false, treshold: 0.3 }
upstream_groups:
  - name: g
    upstreams: [{ name: u, wieght: 2 }]
    http_client: { retry: { enabled: false }, proxy: { enabled: false } }
`;
  const result = loadConfig(text, { compileRoute });
  ok(result);
  assert.deepEqual(result.warnings.map((w) => `${w.line}:${w.column} ${w.path}: ${w.message}`), [
    '5:7 http_server.forwards[0].portt: unknown key "portt" is ignored; did you mean "port"?',
    '6:7 http_server.forwards[0].upstream_group: unknown key "upstream_group" is ignored; did you mean "default_group"?',
    '10:9 http_server.forwards[0].ratelimit.per_secnod: unknown key "per_secnod" is ignored; did you mean "per_second"?',
    '11:3 http_server.tls: unknown key "tls" is ignored; keys allowed here: forwards, admin',
    '15:32 upstreams[0].breaker.treshold: unknown key "treshold" is ignored; did you mean "threshold"?',
    '18:28 upstream_groups[0].upstreams[0].wieght: unknown key "wieght" is ignored; did you mean "weight"?',
  ]);
});

Deno.test("cross references: members, groups, duplicate names", () => {
  const text = `
http_server:
  forwards:
    - name: f
      default_group: gpt
      routing:
        - { path: /a, target_group: claude }
    - name: f
      port: 3001
      default_group: g
upstreams:
  - { name: u, url: "https://a.example" }
  - { name: u, url: "https://b.example" }
  - { name: v, url: "https://c.example" }
upstream_groups:
  - name: g
    upstreams: [{ name: u }, { name: w }, { name: u }]
  - name: g
    upstreams: [{ name: v }]
`;
  assert.deepEqual(report("c.yaml", loadConfig(text, { compileRoute })), [
    'c.yaml:5:22: http_server.forwards[0].default_group: unknown group "gpt"; defined groups: g',
    'c.yaml:7:37: http_server.forwards[0].routing[0].target_group: unknown group "claude"; defined groups: g',
    'c.yaml:8:13: http_server.forwards[1].name: duplicate forward name "f": already used by http_server.forwards[0]; names must be unique',
    'c.yaml:13:13: upstreams[1].name: duplicate upstream name "u": already used by upstreams[0]; names must be unique',
    'c.yaml:17:38: upstream_groups[0].upstreams[1].name: unknown upstream "w"; defined upstreams: u, v; did you mean "u"?',
    'c.yaml:17:51: upstream_groups[0].upstreams[2].name: upstream "u" is already a member of this group at upstream_groups[0].upstreams[0]; each upstream may appear once per group',
    'c.yaml:18:11: upstream_groups[1].name: duplicate group name "g": already used by upstream_groups[0]; names must be unique',
  ]);
});

Deno.test("cross references are checked even where the schema fails", () => {
  const result = validate((c) => {
    setAt(c, "http_server.forwards[0].port", 0);
    setAt(c, "http_server.forwards[0].default_group", "nope");
    setAt(c, "upstreams[0].url", 42);
  });
  assert.deepEqual(errorLines(result), [
    // Without positions, schema errors come first, then cross references.
    "http_server.forwards[0].port: must be an integer from 1 to 65535, got 0",
    "upstreams[0].url: must be an absolute http(s) URL, got 42",
    'http_server.forwards[0].default_group: unknown group "nope"; defined groups: g',
  ]);
});

Deno.test("no groups at all: the message says so", () => {
  assert.deepEqual(errorLines(validate((c) => setAt(c, "upstream_groups", []))), [
    'http_server.forwards[0].default_group: unknown group "g"; no groups are defined',
  ]);
});

Deno.test("routes: patterns must compile and may not repeat a shape", () => {
  const result = validate((c) =>
    setAt(c, "http_server.forwards[0].routing", [
      { path: "/x/:a", target_group: "g" },
      { path: "/x/:b", target_group: "g" },
      { path: "v1/chat", target_group: "g" },
      { path: "/y", target_group: "g" },
      { path: "/y", target_group: "g" },
    ])
  );
  assert.deepEqual(errorLines(result), [
    'http_server.forwards[0].routing[1].path: duplicate route "/x/:b": already routed by http_server.forwards[0].routing[0] "/x/:a" (same shape); each path may appear once per forward',
    'http_server.forwards[0].routing[2].path: invalid route pattern "v1/chat": must start with "/"',
    'http_server.forwards[0].routing[4].path: duplicate route "/y": already routed by http_server.forwards[0].routing[3]; each path may appear once per forward',
  ]);
  // The same path in two forwards is fine.
  ok(validate((c) => {
    setAt(c, "http_server.forwards[0].routing", [{ path: "/y", target_group: "g" }]);
    setAt(c, "http_server.forwards[1]", {
      name: "f2",
      port: 3001,
      default_group: "g",
      routing: [{ path: "/y", target_group: "g" }],
    });
  }));
});

Deno.test("without a route compiler only identical paths are duplicates", () => {
  const c = baseConfig();
  setAt(c, "http_server.forwards[0].routing", [
    { path: "/x/:a", target_group: "g" },
    { path: "/x/:b", target_group: "g" },
  ]);
  ok(validateConfig(c));
});

Deno.test("listeners may not overlap: same port on overlapping addresses", () => {
  const forwards = (list: Record<string, unknown>[]) =>
    validate((c) =>
      setAt(
        c,
        "http_server.forwards",
        list.map((f, i) => ({ name: `f${i}`, default_group: "g", ...f })),
      )
    );
  assert.deepEqual(errorLines(forwards([{}, { address: "127.0.0.1" }])), [
    'http_server.forwards[1].address: listener 127.0.0.1:3000 overlaps forward "f0" on 0.0.0.0:3000 (http_server.forwards[0]); each listener needs its own address and port',
  ]);
  assert.deepEqual(
    errorLines(forwards([{ address: "::1", port: 80 }, { address: "::", port: 80 }])),
    [
      'http_server.forwards[1].port: listener [::]:80 overlaps forward "f0" on [::1]:80 (http_server.forwards[0]); each listener needs its own address and port',
    ],
  );
  assert.deepEqual(
    errorLines(forwards([{ address: "::", port: 80 }, { address: "10.0.0.1", port: 80 }])),
    [
      'http_server.forwards[1].port: listener 10.0.0.1:80 overlaps forward "f0" on [::]:80 (http_server.forwards[0]); each listener needs its own address and port',
    ],
  );
  assert.deepEqual(errorLines(forwards([{ address: "localhost", port: 9000 }])), [
    'http_server.admin: listener 0.0.0.0:9000 overlaps forward "f0" on localhost:9000 (http_server.forwards[0]); each listener needs its own address and port',
  ]);
  // Different ports, or addresses that cannot meet, are fine.
  ok(
    forwards([{ address: "127.0.0.1" }, { address: "127.0.0.2" }, { address: "::1" }, {
      port: 3001,
    }]),
  );
  ok(forwards([{ address: "0.0.0.0" }, { address: "::1" }]));
});

Deno.test("a host name belongs to one forward only", () => {
  const result = validate((c) =>
    setAt(c, "http_server.forwards", [
      { name: "a", default_group: "g", hosts: ["api.example.com"] },
      { name: "b", default_group: "g", port: 3001, hosts: ["API.example.com"] },
    ])
  );
  assert.deepEqual(errorLines(result), [
    'http_server.forwards[1].hosts[0]: host "API.example.com" is already claimed by http_server.forwards[0].hosts[0]; a host name may belong to one forward only',
  ]);
});

Deno.test("positions: a missing key points at the mapping, a wrong value at the value", () => {
  const text = `
upstreams:
  - name: u
    auth:
      type: basic
      username: me
  - name: v
    url: 42
`;
  assert.deepEqual(
    errors(loadConfig(text, { compileRoute })).map((e) => [e.line, e.column, e.path, e.message]),
    [
      [3, 5, "upstreams[0]", 'required key "url" is missing'],
      [5, 7, "upstreams[0].auth", 'required key "password" is missing: auth type "basic" needs it'],
      [8, 10, "upstreams[1].url", "must be an absolute http(s) URL, got 42"],
    ],
  );
});

Deno.test("YAML syntax errors are reported with their position, all of them", () => {
  const result = loadConfig("upstreams:\n  - name: a\n  name: b\nx: [1, 2\n", { compileRoute });
  const list = errors(result);
  assert.ok(list.length >= 1);
  for (const e of list) {
    assert.equal(e.path, "");
    assert.ok(e.line >= 1 && e.column >= 1);
    assert.match(e.message, /^invalid YAML: /);
  }
  assert.deepEqual(
    report("c.yaml", loadConfig("upstreams: []\nupstreams: []\n")),
    ['c.yaml:2:1: duplicate key "upstreams"; each key may appear once in a mapping'],
  );
});

Deno.test("an empty file or a file that is not a mapping is an error", () => {
  assert.deepEqual(report("c.yaml", loadConfig("# only a comment\n", { file: "c.yaml" })), [
    'c.yaml:1:1: "c.yaml" is empty; expected a mapping with http_server, upstreams and upstream_groups',
  ]);
  assert.deepEqual(report("c.yaml", loadConfig("- a\n")), [
    "c.yaml:1:1: the configuration must be a mapping with http_server, upstreams and upstream_groups, got a list",
  ]);
});

Deno.test("the snapshot is deep-frozen", () => {
  const config = ok(
    validate((c) => setAt(c, "upstreams[0].headers", [{ op: "insert", key: "a", value: "b" }])),
  );
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.http_server.forwards));
  assert.ok(Object.isFrozen(config.http_server.forwards[0]!.timeout));
  assert.ok(Object.isFrozen(config.upstreams[0]!.headers[0]));
  assert.ok(Object.isFrozen(config.upstream_groups[0]!.http_client.timeout));
});

Deno.test("validateConfig accepts a snapshot back unchanged, with line and column 0", () => {
  const first = ok(
    loadConfig(MINIMAL.replace("default_group: g", "default_group: g\n      ratelimit: {}"), {
      compileRoute,
    }),
  );
  const again = validateConfig(JSON.parse(JSON.stringify(first)), { compileRoute });
  assert.deepEqual(ok(again), first);
  const bad = validateConfig({ ...first, upstreams: [] }, { compileRoute });
  assert.deepEqual(errors(bad), [{
    severity: "error",
    path: "upstream_groups[0].upstreams[0].name",
    line: 0,
    column: 0,
    message: 'unknown upstream "u"; no upstreams are defined',
  }]);
});

Deno.test("the input object is never changed", () => {
  const c = baseConfig();
  setAt(c, "http_server.forwards[0].port", "3001");
  const before = JSON.stringify(c);
  ok(validateConfig(c, { compileRoute }));
  assert.equal(JSON.stringify(c), before);
});

Deno.test("checkListeners: false lets forwards share a port (Workers have none)", () => {
  const yaml = `
http_server:
  forwards:
    - { name: a, default_group: g }
    - { name: b, default_group: g }
upstreams: [{ name: u, url: "http://127.0.0.1:1" }]
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
`;
  const daemon = loadConfig(yaml, { compileRoute: fakeCompileRoute });
  assert.equal(daemon.ok, false);
  if (!daemon.ok) assert.match(daemon.errors[0]!.message, /overlaps/);
  const workers = loadConfig(yaml, { compileRoute: fakeCompileRoute, checkListeners: false });
  assert.equal(workers.ok, true);
});
