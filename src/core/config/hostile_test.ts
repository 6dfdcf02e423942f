import assert from "node:assert/strict";
import { type ConfigDiagnostic, formatDiagnostic, loadConfig, validateConfig } from "./mod.ts";
import { report, withProtoAccessor } from "./_test_helpers.ts";
import { isPrintable } from "./text.ts";

const PROTO_NAMES = [
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "__defineGetter__",
];

// KEY stands in every mapping the schema knows, so one file covers each of them.
const EVERYWHERE = `
KEY: 1
http_server:
  KEY: 1
  forwards:
    - name: f
      KEY: 1
      default_group: g
      routing:
        - { path: /v1/x, target_group: g, KEY: 1 }
      ratelimit: { per_second: 5, KEY: 1 }
      timeout: { connect: 5, KEY: 1 }
  admin:
    port: 9001
    KEY: 1
    timeout: { KEY: 1 }
upstreams:
  - name: u
    KEY: 1
    url: https://api.example.com
    auth: { type: bearer, token: t, KEY: 1 }
    headers:
      - { op: insert, key: X-A, value: v, KEY: 1 }
    breaker: { KEY: 1 }
upstream_groups:
  - name: g
    KEY: 1
    upstreams:
      - { name: u, KEY: 1 }
    balance: { strategy: random, KEY: 1 }
    http_client:
      KEY: 1
      timeout: { KEY: 1 }
      retry: { KEY: 1 }
      proxy: { enabled: false, KEY: 1 }
`;

const EVERYWHERE_PATHS = [
  "",
  "http_server",
  "http_server.forwards[0]",
  "http_server.forwards[0].routing[0]",
  "http_server.forwards[0].ratelimit",
  "http_server.forwards[0].timeout",
  "http_server.admin",
  "http_server.admin.timeout",
  "upstreams[0]",
  "upstreams[0].auth",
  "upstreams[0].headers[0]",
  "upstreams[0].breaker",
  "upstream_groups[0]",
  "upstream_groups[0].upstreams[0]",
  "upstream_groups[0].balance",
  "upstream_groups[0].http_client",
  "upstream_groups[0].http_client.timeout",
  "upstream_groups[0].http_client.retry",
  "upstream_groups[0].http_client.proxy",
];

/** Where each occurrence of `word` starts in `text`, as 1-based [line, column]. */
function positionsOf(text: string, word: string): [number, number][] {
  const out: [number, number][] = [];
  text.split("\n").forEach((line, i) => {
    for (let at = line.indexOf(word); at >= 0; at = line.indexOf(word, at + 1)) {
      out.push([i + 1, at + 1]);
    }
  });
  return out;
}

function keyPath(parent: string, key: string): string {
  return parent === "" ? key : `${parent}.${key}`;
}

Deno.test("keys named like Object.prototype members are unknown keys, wherever they are", () => {
  for (const name of PROTO_NAMES) {
    const text = EVERYWHERE.replaceAll("KEY", name);
    const result = loadConfig(text, { file: "c.yaml" });
    assert.ok(result.ok, `${name}: ${report("c.yaml", result).join("\n")}`);
    const places = positionsOf(text, `${name}:`);
    assert.equal(places.length, EVERYWHERE_PATHS.length);
    assert.deepEqual(
      result.warnings.map((w) => [w.line, w.column, w.path]),
      EVERYWHERE_PATHS.map((p, i) => [...places[i]!, keyPath(p, name)]),
      name,
    );
    for (const w of result.warnings) assert.match(w.message, /^unknown key ".+" is ignored; /);
  }
});

Deno.test("a __proto__ mapping lends no keys, also where __proto__ sets the prototype", () => {
  const text = `
http_server:
  forwards: [{ name: f, default_group: g }]
upstreams:
  - __proto__: { name: u, url: "https://api.example.com" }
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
`;
  const expected = [
    'c.yaml:5:5: upstreams[0]: required key "name" is missing',
    'c.yaml:5:5: upstreams[0]: required key "url" is missing',
    'c.yaml:6:50: upstream_groups[0].upstreams[0].name: unknown upstream "u"; no upstream has a valid name',
    'c.yaml:5:5: upstreams[0].__proto__: warning: unknown key "__proto__" is ignored; keys allowed here: name, url, auth, headers, breaker, weight, model_map',
  ];
  assert.deepEqual(report("c.yaml", loadConfig(text)), expected);
  assert.deepEqual(withProtoAccessor(() => report("c.yaml", loadConfig(text))), expected);
});

Deno.test("validateConfig (the admin API's entry) takes prototype-named keys as unknown keys", () => {
  for (const name of PROTO_NAMES) {
    // JSON.parse makes "__proto__" an own key, as a request body would.
    const body = JSON.parse(
      JSON.stringify({
        http_server: { forwards: [{ name: "f", default_group: "g", routing: [] }] },
        upstreams: [{ name: "u", url: "https://api.example.com", auth: { type: "none" } }],
        upstream_groups: [{ name: "g", upstreams: [{ name: "u" }] }],
      }).replaceAll('"name":', `"${name}":{"a":1},"name":`),
    );
    const result = validateConfig(body);
    assert.ok(result.ok, name);
    assert.deepEqual(result.warnings.map((w) => [w.line, w.column, w.path]), [
      [0, 0, `http_server.forwards[0].${name}`],
      [0, 0, `upstreams[0].${name}`],
      [0, 0, `upstream_groups[0].${name}`],
      [0, 0, `upstream_groups[0].upstreams[0].${name}`],
    ]);
    assert.equal(
      validateConfig(JSON.parse(`{"${name}": 1, "upstreams": [{"${name}": 2}]}`)).ok,
      false,
    );
  }
});

Deno.test("an alias inside the node it names is an error at the alias, not a loop", () => {
  const base = "upstreams: []\n";
  const cases: [string, string][] = [
    [
      "extra: &a\n  b: 1\n  <<: *a\n",
      "c.yaml:4:7: invalid YAML: alias *a is inside the node its anchor &a names (line 3, column 3), so the value would contain itself; an alias may only repeat a node that is complete before it",
    ],
    [
      "extra: &a [1, *a]\n",
      "c.yaml:2:15: invalid YAML: alias *a is inside the node its anchor &a names (line 2, column 11), so the value would contain itself; an alias may only repeat a node that is complete before it",
    ],
    [
      "http_server: &s\n  forwards: [{ name: f, default_group: *s }]\n",
      "c.yaml:3:40: invalid YAML: alias *s is inside the node its anchor &s names (line 3, column 3), so the value would contain itself; an alias may only repeat a node that is complete before it",
    ],
  ];
  for (const [tail, expected] of cases) {
    assert.deepEqual(report("c.yaml", loadConfig(base + tail)), [expected]);
  }
  // YAML 1.1 turns "<<" into a merge; merging a node into itself is refused the same way.
  const merge = loadConfig("%YAML 1.1\n---\nextra: &a\n  b: 1\n  <<: *a\n");
  assert.ok(!merge.ok);
  assert.match(merge.errors[0]!.message, /alias \*a is inside the node its anchor &a names/);
  // A node repeated once it is complete is fine.
  const reuse = loadConfig("x-common: &c { connect: 5 }\nhttp_server:\n  admin: { timeout: *c }\n");
  assert.ok(reuse.ok, report("c.yaml", reuse).join("\n"));
});

Deno.test("alias bombs and deep nesting are errors, found before any data is built", () => {
  const levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < 10; i++) levels.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`)}]`);
  const bomb = loadConfig(levels.join("\n") + "\n");
  assert.ok(!bomb.ok);
  assert.match(bomb.errors[0]!.message, /^invalid YAML: .*(alias|resource exhaustion)/i);

  const deep = loadConfig(`extra: ${"[".repeat(40)}${"]".repeat(40)}\n`);
  assert.deepEqual(report("c.yaml", deep), [
    "c.yaml:1:39: invalid YAML: mappings and lists nested more than 32 deep; a configuration needs far fewer levels",
  ]);
  const deeper = loadConfig(`extra: ${"[".repeat(5000)}${"]".repeat(5000)}\n`);
  assert.ok(!deeper.ok);
  assert.match(deeper.errors[0]!.message, /^invalid YAML: /);
});

Deno.test("loadConfig and validateConfig never throw: an internal failure is a diagnostic", () => {
  const loaded = loadConfig("upstreams: []\nx: ${A}\n", {
    env: () => {
      throw new TypeError("lookup failed\nsecond line");
    },
  });
  assert.deepEqual(report("c.yaml", loaded), [
    "c.yaml:1:1: internal error while checking the configuration (TypeError: lookup failed\\nsecond line); the configuration was not applied; please report this with the file that caused it",
  ]);
  const hostile = {};
  Object.defineProperty(hostile, "upstreams", {
    enumerable: true,
    get() {
      throw new Error("getter");
    },
  });
  const validated = validateConfig(hostile);
  assert.ok(!validated.ok);
  assert.deepEqual(
    validated.errors.map((e) => [e.line, e.column, e.path, e.message.slice(0, 40)]),
    [[0, 0, "", "internal error while checking the config"]],
  );
});

// One line per case: where the value goes, its YAML spelling, and the error expected.
const CONTROL_CASES: [string, string, string][] = [
  [
    "FORWARD_NAME",
    '"f\\r"',
    'http_server.forwards[0].name: must be a non-empty string without control characters (such as CR, LF, tab or NUL), got "f\\r"',
  ],
  [
    "DEFAULT_GROUP",
    '"g\\n"',
    'http_server.forwards[0].default_group: must be a group name without control characters (such as CR, LF, tab or NUL), got "g\\n"',
  ],
  [
    "TARGET_GROUP",
    '"g\\u0000"',
    'http_server.forwards[0].routing[0].target_group: must be a group name without control characters (such as CR, LF, tab or NUL), got "g\\u0000"',
  ],
  [
    "UPSTREAM_NAME",
    '"u\\r"',
    'upstreams[0].name: must be a non-empty string without control characters (such as CR, LF, tab or NUL), got "u\\r"',
  ],
  [
    "GROUP_NAME",
    '"g\\u2028"',
    'upstream_groups[0].name: must be a non-empty string without control characters (such as CR, LF, tab or NUL), got "g\\u2028"',
  ],
  [
    "MEMBER_NAME",
    '"u\\t"',
    'upstream_groups[0].upstreams[0].name: must be an upstream name without control characters (such as CR, LF, tab or NUL), got "u\\t"',
  ],
  [
    "HEADER_KEY",
    '"X-A\\r"',
    'upstreams[0].headers[0].key: must be a valid HTTP header name (letters, digits and !#$%&\'*+-.^_`|~), got "X-A\\r"',
  ],
  [
    "HEADER_VALUE",
    '"v\\r\\nX-Injected: 1"',
    "upstreams[0].headers[0].value: must be a valid HTTP header value (no control characters such as CR, LF or NUL; Latin-1 only), got a value with a line break",
  ],
  [
    "HEADER_VALUE",
    '"v\\u0001"',
    "upstreams[0].headers[0].value: must be a valid HTTP header value (no control characters such as CR, LF or NUL; Latin-1 only), got a value with the control character U+0001",
  ],
  [
    "TOKEN",
    '"sk-1\\r\\n"',
    "upstreams[0].auth.token: must be a non-empty string that is a valid HTTP header value (no control characters such as CR, LF or NUL; Latin-1 only), got a value with a line break",
  ],
  [
    "TOKEN",
    '"sk-\\u20ac"',
    'upstreams[0].auth.token: must be a non-empty string that is a valid HTTP header value (no control characters such as CR, LF or NUL; Latin-1 only), got a value with the character "€" (U+20AC)',
  ],
  [
    "AGENT",
    '"bot\\u0000"',
    "upstream_groups[0].http_client.agent: must be a valid HTTP header value (no control characters such as CR, LF or NUL; Latin-1 only), got a value with a NUL character",
  ],
];

const CONTROL_TEMPLATE = `
http_server:
  forwards:
    - name: FORWARD_NAME
      default_group: DEFAULT_GROUP
      routing: [{ path: /v1/x, target_group: TARGET_GROUP }]
upstreams:
  - name: UPSTREAM_NAME
    url: https://api.example.com
    auth: { type: bearer, token: TOKEN }
    headers: [{ op: insert, key: HEADER_KEY, value: HEADER_VALUE }]
upstream_groups:
  - name: GROUP_NAME
    upstreams: [{ name: MEMBER_NAME }]
    http_client: { agent: AGENT }
`;

const CLEAN: Record<string, string> = {
  FORWARD_NAME: "f",
  DEFAULT_GROUP: "g",
  TARGET_GROUP: "g",
  UPSTREAM_NAME: "u",
  GROUP_NAME: "g",
  MEMBER_NAME: "u",
  HEADER_KEY: "X-A",
  HEADER_VALUE: "v",
  TOKEN: "sk-1",
  AGENT: "bot",
};

function fill(slot: string, value: string): string {
  let text = CONTROL_TEMPLATE;
  for (const [name, clean] of Object.entries(CLEAN)) {
    text = text.replace(name, name === slot ? value : clean);
  }
  return text;
}

function errorsAt(text: string): ConfigDiagnostic[] {
  const result = loadConfig(text, { file: "c.yaml" });
  assert.ok(!result.ok, `expected errors for:\n${text}`);
  return result.errors;
}

Deno.test("control characters in names, header ops and secrets are refused at their value", () => {
  assert.ok(loadConfig(fill("", "")).ok);
  for (const [slot, value, expected] of CONTROL_CASES) {
    const text = fill(slot, value);
    const [line, column] = positionsOf(text, value)[0]!;
    const lines = errorsAt(text).map((d) => formatDiagnostic("c.yaml", d));
    // A name with a CR also breaks the references to it; the name's own error is the one
    // that matters, at the value.
    assert.ok(
      lines.includes(`c.yaml:${line}:${column}: ${expected}`),
      `${slot}:\n${lines.join("\n")}`,
    );
    for (const l of lines) assert.ok(isPrintable(l), JSON.stringify(l));
  }
});

Deno.test("basic auth: no colon in the user name, no control characters in either", () => {
  const text = (username: string, password: string) => `
upstreams:
  - name: u
    url: https://api.example.com
    auth: { type: basic, username: ${username}, password: ${password} }
`;
  assert.ok(loadConfig(text('"me"', '"pässword with : and spaces"')).ok);
  assert.deepEqual(report("c.yaml", loadConfig(text('"me:you"', "pw"))), [
    'c.yaml:5:36: upstreams[0].auth.username: must be a user name without ":" (Basic auth puts one between the name and the password), got "me:you"',
  ]);
  assert.deepEqual(report("c.yaml", loadConfig(text('"me\\r"', "pw"))), [
    'c.yaml:5:36: upstreams[0].auth.username: must be a non-empty user name without control characters (such as CR, LF, tab or NUL), got "me\\r"',
  ]);
  // The password is a secret: the message names what is wrong, not the value.
  assert.deepEqual(report("c.yaml", loadConfig(text("me", '"hunter2\\n"'))), [
    "c.yaml:5:50: upstreams[0].auth.password: must be a non-empty string without control characters (such as CR, LF or NUL), got a value with a line break",
  ]);
});

Deno.test("a ${VAR} that brings a line break into a token is refused too", () => {
  const text = `
upstreams:
  - name: u
    url: https://api.example.com
    auth: { type: bearer, token: "\${KEY}" }
`;
  const result = loadConfig(text, { env: () => "sk-1\n" });
  assert.deepEqual(report("c.yaml", result), [
    "c.yaml:5:34: upstreams[0].auth.token: must be a non-empty string that is a valid HTTP header value (no control characters such as CR, LF or NUL; Latin-1 only), got a value with a line break",
  ]);
});

Deno.test("an unknown key holding a line break is reported on one line", () => {
  const result = loadConfig('upstreams: []\n"a\\r\\nb": 1\n');
  assert.deepEqual(report("c.yaml", result), [
    'c.yaml:2:1: a\\r\\nb: warning: unknown key "a\\r\\nb" is ignored; keys allowed here: http_server, upstreams, upstream_groups, clients, state',
  ]);
});

Deno.test("a route regex that could backtrack catastrophically is refused at its line", () => {
  const text = `
http_server:
  forwards:
    - name: f
      default_group: g
      routing:
        - { path: "/api/items/{id:(a+)+$}", target_group: g }
upstreams: [{ name: u, url: "https://api.example.com" }]
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
`;
  const lines = report("c.yaml", loadConfig(text));
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /^c\.yaml:7:19: http_server\.forwards\[0\]\.routing\[0\]\.path: invalid route pattern "\/api\/items\/\{id:\(a\+\)\+\$\}": regex "\(a\+\)\+\$" may backtrack catastrophically: nested quantifier/,
  );
});
