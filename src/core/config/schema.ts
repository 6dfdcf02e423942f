/**
 * The configuration file schema (docs/behaviour.md#keys-and-defaults), in zod.
 *
 * These schemas describe what a file or an admin request body may contain, with the
 * defaults filled in. They accept the snapshot shape too (a snapshot is a file with
 * every default written out), so whatever the admin API returns can be sent back.
 * Turning a parsed file into the snapshot (dropping switched-off blocks, resolving
 * `stream_mode`, converting sizes) is `normalize.ts`'s job.
 *
 * @module
 */

import { z } from "zod";
import { BYTE_SIZE_UNITS, DEFAULT_MAX_BODY_SIZE, parseByteSize } from "./byte_size.ts";
import { headerValueProblem, isHeaderName, isHttpUrl } from "./http_syntax.ts";
import { isCidr, isHostname, isListenAddress } from "./net.ts";
import {
  bool,
  intIn,
  list,
  mapping,
  mustBe,
  mustBeText,
  name,
  nonEmpty,
  numberIn,
  oneOf,
  secret,
  stringThat,
} from "./rules.ts";
import { unprintableProblem } from "./text.ts";
import { REDIS_URL_SHAPE, redisUrlProblem } from "./redis_url.ts";
import { modelGlobProblem } from "../llm/model_glob.ts";
import { formatHashKey, parseHashKey } from "./hash_key.ts";
import { sha256Hex } from "../crypto/sha256.ts";

/** The balancing strategies of docs/behaviour.md#strategies. */
export const STRATEGIES = [
  "roundrobin",
  "weighted_roundrobin",
  "random",
  "response_aware",
  "failover",
  "least_requests",
  "hash",
] as const;

const port = () => intIn(1, 65535);
const listenAddress = () => stringThat('an IPv4 or IPv6 address or "localhost"', isListenAddress);
const httpUrl = () => stringThat("an absolute http(s) URL", isHttpUrl);
const weight = () => intIn(1, 65535).default(1);
const HEADER_VALUE =
  "a valid HTTP header value (no control characters such as CR, LF or NUL; Latin-1 only)";

// Header values often carry keys (`x-api-key`), and a key read from the environment
// often ends in a newline: say what is wrong with the value without printing it.
const headerValue = () => {
  const other = mustBeText(HEADER_VALUE);
  const error = (issue: { readonly input?: unknown }) => {
    const v = issue.input;
    if (typeof v !== "string") return other(issue);
    return `must be ${HEADER_VALUE}, got a value with ${headerValueProblem(v)}`;
  };
  return z.string({ error }).refine((v) => headerValueProblem(v) === undefined, { error });
};

const byteSize = () => {
  const error = mustBe(
    `a size in bytes: a whole number, or a number with a unit ${BYTE_SIZE_UNITS}, e.g. "10MiB"`,
  );
  return z.union([z.number(), z.string()], { error }).refine(
    (v) => parseByteSize(v) !== undefined,
    { error },
  );
};

/**
 * `routing[]` entry of a forward: a path pattern (docs/behaviour.md#patterns) and the group it goes
 * to.
 */
export const routeRuleSchema = mapping({
  path: nonEmpty("a non-empty path pattern"),
  target_group: name("a group name"),
});

/** A model glob (docs/behaviour.md#model-routing): `*` is any run of characters, the rest exact. */
const modelGlob = () => {
  const base = mustBeText("a model glob (a non-empty string; * matches any run of characters)");
  const error = (issue: { readonly input?: unknown }) => {
    const v = issue.input;
    const why = typeof v === "string" ? modelGlobProblem(v) : undefined;
    return why === undefined ? base(issue) : `invalid model glob ${JSON.stringify(v)}: ${why}`;
  };
  return z.string({ error }).refine((v) => modelGlobProblem(v) === undefined, { error });
};

/** `model_routing[]` entry of a forward: a model glob and the group it goes to. */
export const modelRouteSchema = mapping({
  model: modelGlob(),
  target_group: name("a group name"),
});

/** `model_map` of an upstream: client model glob → the model name this upstream serves. */
export const modelMapSchema = z.record(modelGlob(), name("a model name"), {
  error: (issue: { readonly code?: string; readonly input?: unknown }) => {
    const key = issue.input;
    if (issue.code === "invalid_key" && typeof key === "string") {
      return `invalid model glob ${JSON.stringify(key)}: ${
        modelGlobProblem(key) ?? "not a valid glob"
      }`;
    }
    return mustBe("a mapping of model globs to model names")(issue);
  },
});

/** `balance.hash_key` of a group, kept in its normalised spelling. */
const hashKey = () => {
  const error = (issue: { readonly input?: unknown }) => {
    const r = parseHashKey(issue.input);
    return r.ok ? mustBe('"header:<name>", "client_ip" or "body:<field>"')(issue) : r.error;
  };
  return z.string({ error }).refine((v) => parseHashKey(v).ok, { error }).transform((v) => {
    const r = parseHashKey(v);
    return r.ok ? formatHashKey(r.spec) : v;
  });
};

/** `limits` of a client; each absent limit is off. */
export const clientLimitsSchema = mapping({
  requests_per_minute: intIn(1, 1_000_000).optional(),
  tokens_per_minute: intIn(1, 1_000_000_000).optional(),
  tokens_per_day: intIn(1, 1_000_000_000_000).optional(),
});

/**
 * One `clients[]` entry (docs/behaviour.md#client-configuration): a name, its key or the key's
 * digest, limits.
 */
export const clientSchema = mapping({
  name: name(),
  // The key goes into headers: printable ASCII only, no spaces.
  key: secret(
    "a non-empty key of printable ASCII without spaces",
    (v) => /^[\x21-\x7e]+$/.test(v) ? undefined : "a space, a control or a non-ASCII character",
  ).optional(),
  key_sha256: stringThat(
    "the lower- or upper-case hex SHA-256 of the key (64 hex digits)",
    (v) => /^[0-9a-fA-F]{64}$/.test(v),
  ).transform((v) => v.toLowerCase()).optional(),
  groups: list(name("a group name")).optional(),
  models: list(modelGlob()).optional(),
  limits: clientLimitsSchema.prefault({}),
}).superRefine((c, ctx) => {
  // A snapshot carries both (the digest of its key): accepted back when they agree.
  if (c.key !== undefined && c.key_sha256 !== undefined) {
    if (sha256Hex(c.key) !== c.key_sha256) {
      ctx.addIssue({
        code: "custom",
        path: ["key_sha256"],
        message: 'give either "key" or "key_sha256", not both (the digest given is not the key\'s)',
      });
    }
  } else if (c.key === undefined && c.key_sha256 === undefined) {
    ctx.addIssue({
      code: "custom",
      path: [],
      message: 'required key "key" or "key_sha256" is missing: a client needs exactly one',
    });
  }
});

/** `client_auth` of a forward. */
export const CLIENT_AUTH_MODES = ["off", "optional", "required"] as const;

/** `ratelimit` of a forward; present means on unless `enabled: false`. */
export const rateLimitSchema = mapping({
  enabled: bool().optional(),
  per_second: intIn(1, 10000).default(100),
  burst: intIn(1, 20000).default(200),
});

const connectTimeout = () => mapping({ connect: intIn(1, 120).default(10) }).prefault({});

/** One `http_server.forwards[]` entry (an inbound listener). */
export const forwardSchema = mapping({
  name: name(),
  port: port().default(3000),
  address: listenAddress().default("0.0.0.0"),
  default_group: name("a group name"),
  routing: list(routeRuleSchema).default([]),
  model_routing: list(modelRouteSchema).default([]),
  ratelimit: rateLimitSchema.optional(),
  timeout: connectTimeout(),
  max_body_size: byteSize().default(DEFAULT_MAX_BODY_SIZE),
  trusted_proxies: list(
    stringThat("an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)", isCidr),
  ).default([]),
  hosts: list(stringThat("a host name without port (e.g. api.example.com)", isHostname))
    .default([]),
  client_auth: oneOf(CLIENT_AUTH_MODES).default("off"),
});

/** `http_server.admin`, the management listener. */
export const adminSchema = mapping({
  port: port().default(9000),
  address: listenAddress().default("0.0.0.0"),
  timeout: connectTimeout(),
});

const AUTH_TYPES = ["none", "bearer", "basic"] as const;

// Basic auth joins the user name and the password with ":", so the name cannot hold one.
const userName = () => {
  const colon = mustBe(
    'a user name without ":" (Basic auth puts one between the name and the password)',
  );
  return name("a non-empty user name").refine((v) => !v.includes(":"), { error: colon });
};

/** `auth` of an upstream; `bearer` needs `token`, `basic` needs `username` and `password`. */
export const authSchema = mapping({
  type: oneOf(AUTH_TYPES).default("none"),
  // "Bearer <token>" is sent as it is, so the token must be a header value itself.
  token: secret(`a non-empty string that is ${HEADER_VALUE}`, headerValueProblem).optional(),
  username: userName().optional(),
  // Basic credentials are base64-encoded, so any text fits; a control character is
  // still a mistake (a newline from a file or the environment), and would be sent.
  password: secret(
    "a non-empty string without control characters (such as CR, LF or NUL)",
    unprintableProblem,
  ).optional(),
}).superRefine((auth, ctx) => {
  const need = (key: "token" | "username" | "password") => {
    if (auth[key] === undefined) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `required key "${key}" is missing: auth type "${auth.type}" needs it`,
      });
    }
  };
  if (auth.type === "bearer") need("token");
  if (auth.type === "basic") {
    need("username");
    need("password");
  }
});

/** One `headers[]` operation of an upstream. */
export const headerOpSchema = mapping({
  op: oneOf(["insert", "replace", "remove"]),
  key: stringThat(
    "a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
    isHeaderName,
  ),
  value: headerValue().optional(),
}).superRefine((h, ctx) => {
  if (h.op !== "remove" && h.value === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["value"],
      message: `required key "value" is missing: op "${h.op}" needs it`,
    });
  }
});

/** `breaker` of an upstream; present means on unless `enabled: false`. */
export const breakerSchema = mapping({
  enabled: bool().optional(),
  threshold: numberIn(0.01, 1, "0.01", "1.0").default(0.5),
  cooldown: intIn(1, 3600).default(30),
});

/** One `upstreams[]` entry (a backend endpoint). Accepts its own snapshot back. */
export const upstreamSchema = mapping({
  name: name(),
  url: httpUrl(),
  auth: authSchema.prefault({}),
  headers: list(headerOpSchema).default([]),
  breaker: breakerSchema.optional(),
  weight: weight(),
  model_map: modelMapSchema.optional(),
});

/** `retry` of a group's client; present means on unless `enabled: false`. */
export const retrySchema = mapping({
  enabled: bool().optional(),
  attempts: intIn(1, 100).default(3),
  initial: intIn(100, 10000).default(500),
});

/** `proxy` of a group's client; `url` is needed unless `enabled: false`. */
export const proxySchema = mapping({
  enabled: bool().optional(),
  url: httpUrl().optional(),
}).superRefine((p, ctx) => {
  if (p.enabled !== false && p.url === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["url"],
      message: 'required key "url" is missing: an outbound proxy needs it (or set enabled: false)',
    });
  }
});

/** `http_client` of a group. `stream_mode` is the Rust release's spelling of `stream`. */
export const httpClientSchema = mapping({
  agent: headerValue().refine((s) => s !== "", { error: mustBe("a non-empty User-Agent") })
    .default("LLMProxy/1.0"),
  keepalive: intIn(5, 600).default(30),
  stream: bool().optional(),
  stream_mode: bool().optional(),
  timeout: mapping({
    connect: intIn(1, 120).default(10),
    request: intIn(1, 1200).default(300),
    idle: intIn(5, 1800).default(60),
  }).prefault({}),
  retry: retrySchema.optional(),
  proxy: proxySchema.optional(),
  stream_usage: bool().default(false),
});

/** A member of a group: an upstream name and its weight. */
export const groupMemberSchema = mapping({
  name: name("an upstream name"),
  weight: weight(),
});

/** One `upstream_groups[]` entry. Accepts its own snapshot back. */
export const groupSchema = mapping({
  name: name(),
  upstreams: list(groupMemberSchema).min(1, {
    error: mustBe("a list of at least one upstream"),
  }),
  balance: mapping({
    strategy: oneOf(STRATEGIES).default("roundrobin"),
    hash_key: hashKey().optional(),
  }).prefault({}),
  http_client: httpClientSchema.prefault({}),
});

/** Where shared state lives (docs/behaviour.md#shared-state). */
export const STATE_STORES = ["memory", "redis"] as const;

/** `state.redis`: the Redis a fleet of daemons shares (docs/behaviour.md#shared-state). */
export const redisStateSchema = mapping({
  // The URL may carry a password: messages name what is wrong, never the value.
  url: secret(REDIS_URL_SHAPE, redisUrlProblem),
  prefix: name("a non-empty key prefix").refine((v) => v.length <= 200, {
    error: mustBe("a key prefix of at most 200 characters"),
  }).default("llmproxy:"),
  timeout: intIn(1, 10_000).default(250),
});

/**
 * `state`: `store: memory` (default) or `redis` with its `redis` block
 * (docs/behaviour.md#shared-state).
 */
export const stateSchema = mapping({
  store: oneOf(STATE_STORES).default("memory"),
  redis: redisStateSchema.optional(),
}).superRefine((s, ctx) => {
  if (s.store === "redis" && s.redis === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["redis"],
      message: 'required key "redis" is missing: store "redis" needs it (at least its url)',
    });
  }
});

/** The whole file. */
export const configSchema = mapping({
  http_server: mapping({
    forwards: list(forwardSchema).default([]),
    admin: adminSchema.prefault({}),
  }).prefault({}),
  upstreams: list(upstreamSchema).default([]),
  upstream_groups: list(groupSchema).default([]),
  clients: list(clientSchema).default([]),
  state: stateSchema.prefault({}),
});

/** A configuration as the file schema outputs it: defaults filled, not yet a snapshot. */
export type ParsedConfig = z.output<typeof configSchema>;
