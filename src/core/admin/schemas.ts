/**
 * zod schemas of the admin API: request bodies, path parameters and the shapes of
 * answers (docs/behaviour.md#admin-shapes).
 *
 * Request bodies reuse the configuration file's schemas, so the API documents and
 * checks the same defaults, ranges and messages as a file; answers reuse the
 * snapshot schemas, which are exactly what the configuration holds. A body that passes
 * here is still validated as part of the whole configuration before it is applied
 * (cross references, duplicate routes, unknown keys).
 *
 * @module
 */

import { z } from "zod";
import {
  clientSchema,
  clientSnapshotSchema,
  forwardSnapshotSchema,
  groupSchema,
  groupSnapshotSchema,
  httpClientSchema,
  modelRouteSchema,
  modelRouteSnapshotSchema,
  routeRuleSchema,
  routeRuleSnapshotSchema,
  upstreamSchema,
  upstreamSnapshotSchema,
} from "../config/mod.ts";
import { mapping, nonEmpty } from "../config/rules.ts";

/** `{name}` in a path. */
export const nameParams = z.object({
  name: z.string().min(1).meta({
    description: "The name as in the configuration",
    example: "main",
  }),
});

/** `{name}` and `{b64path}` of a route rule. */
export const routeParams = z.object({
  name: z.string().min(1).meta({ description: "The forward's name", example: "main" }),
  b64path: z.string().min(1).meta({
    description: "URL-safe base64 of the rule's path pattern; padding optional " +
      '(`L3YxLyo` is "/v1/*")',
    example: "L3YxLyo",
  }),
});

/** A forward as answered. */
export const forwardView = forwardSnapshotSchema.meta({
  description: "An inbound listener (its configuration; max_body_size in bytes)",
});

/** A routing rule as answered. */
export const routeView = routeRuleSnapshotSchema.meta({
  description: "A routing rule: a path pattern and the group it sends to",
});

/** Body of `POST …/routes`. */
export const routeCreateBody = routeRuleSchema.meta({
  description: "The rule to add",
  example: { path: "/v1/embeddings", target_group: "embeddings" },
});

/** Body of `PUT …/routes/{b64path}`; `path` may be echoed back but must not change. */
export const routeReplaceBody = z.object({
  target_group: nonEmpty("a group name"),
  path: z.string().optional().meta({
    description: "Optional; when given it must equal the rule's path (rules are not renamed)",
  }),
}).meta({ description: "The rule's new target", example: { target_group: "fallback" } });

/** `{name}` and `{b64model}` of a model routing rule. */
export const modelRouteParams = z.object({
  name: z.string().min(1).meta({ description: "The forward's name", example: "main" }),
  b64model: z.string().min(1).meta({
    description: "URL-safe base64 of the rule's model glob; padding optional " +
      '(`Z3B0LTRvKg` is "gpt-4o*")',
    example: "Z3B0LTRvKg",
  }),
});

/** A model routing rule as answered. */
export const modelRouteView = modelRouteSnapshotSchema.meta({
  description: "A model routing rule: a model glob and the group it sends to",
});

/** Body of `POST …/model-routes`. */
export const modelRouteCreateBody = modelRouteSchema.meta({
  description: "The rule to add (tried after the forward's existing model rules)",
  example: { model: "claude-*", target_group: "anthropic" },
});

/** Body of `PUT …/model-routes/{b64model}`; `model` may be echoed back but must not change. */
export const modelRouteReplaceBody = z.object({
  target_group: nonEmpty("a group name"),
  model: z.string().optional().meta({
    description: "Optional; when given it must equal the rule's glob (rules are not renamed)",
  }),
}).meta({ description: "The rule's new target", example: { target_group: "fallback" } });

/** An upstream as answered: its configuration with secrets masked as `***`. */
export const upstreamView = upstreamSnapshotSchema.meta({
  description: "A backend endpoint; auth.token, auth.password, URL passwords and key-carrying " +
    'header values are shown as "***" (send "***" back to keep the stored value)',
});

/** Body of `POST /upstreams`. */
export const upstreamCreateBody = upstreamSchema.meta({
  description: "The upstream to create (the configuration file's keys and defaults)",
  example: {
    name: "openai",
    url: "https://api.openai.com",
    auth: { type: "bearer", token: "sk-…" },
    breaker: { threshold: 0.5, cooldown: 30 },
  },
});

/** Body of `PUT /upstreams/{name}`; `name` may be echoed back but must not change. */
export const upstreamReplaceBody = upstreamSchema.extend({
  name: nonEmpty().optional().meta({
    description: "Optional; when given it must equal the name in the path",
  }),
}).meta({
  description: 'The upstream\'s whole new configuration; "***" keeps a stored secret',
});

/** Live state of one group member (read-only). */
export const memberStatusView = z.object({
  upstream: z.string(),
  breaker: z.enum(["none", "closed", "open", "half_open"]),
  in_flight: z.number().int(),
  latency_ms: z.number().meta({ description: "EWMA of time to response headers" }),
  success_rate: z.number().meta({ description: "EWMA of outcomes, 0–1" }),
});

const statusField = z.array(memberStatusView).meta({
  description: "Read-only live state of each member; ignored when sent back",
});

/** A group as answered: its configuration plus the read-only live `status`. */
export const groupView = groupSnapshotSchema.extend({ status: statusField }).meta({
  description: "A group: members with weights, strategy, HTTP client; plus live status",
});

/**
 * Body of `PATCH /upstream-groups/{name}`: the member list (replaced as a whole) and,
 * optionally, `balance` and `http_client`, merged key by key into the group's (a block
 * such as `retry` is switched off with `enabled: false`, as in a file). `name` and
 * `status` may be echoed back, so a GET answer is a valid PATCH.
 */
export const groupPatchBody = z.object({
  name: nonEmpty().optional().meta({
    description: "Optional; when given it must equal the name in the path",
  }),
  upstreams: groupSchema.shape.upstreams.meta({
    description: "The new member list, replacing the old one atomically",
  }),
  balance: groupSchema.shape.balance.unwrap().partial().optional().meta({
    description: "Keys given replace the group's (strategy, hash_key)",
  }),
  http_client: httpClientSchema.optional().meta({
    description: "Keys given replace the group's, nested blocks merge key by key; " +
      "switch retry or proxy off with enabled: false",
  }),
  status: statusField.optional(),
}).meta({
  example: { upstreams: [{ name: "openai", weight: 3 }, { name: "azure", weight: 1 }] },
});

/** A client as answered: `key` shown as `***`, its `key_sha256` as configured or computed. */
export const clientView = clientSnapshotSchema.extend({
  key: clientSnapshotSchema.shape.key.meta({
    description: '"***" when a key is configured (absent when only key_sha256 is); only the ' +
      "answer of the POST that generated a key shows the key itself, once",
  }),
  key_sha256: clientSnapshotSchema.shape.key_sha256.meta({
    description: "Lower-case hex SHA-256 of the key",
  }),
}).meta({
  description: "A caller known by its key, with the groups and models it may use and its limits",
});

/** What a client has used, and its limits. */
export const clientUsageView = z.object({
  requests_last_minute: z.number().int().meta({ description: "Requests in the last 60 s" }),
  tokens_last_minute: z.number().int().meta({
    description: "Tokens (input + output) in the sliding last 60 s, reservations of " +
      "running requests included",
  }),
  tokens_today: z.number().int().meta({
    description: "Tokens since the last UTC midnight, reservations included",
  }),
  limits: clientSnapshotSchema.shape.limits.meta({
    description: "The client's configured limits (an absent one is off)",
  }),
}).meta({
  example: {
    requests_last_minute: 12,
    tokens_last_minute: 5400,
    tokens_today: 81000,
    limits: { requests_per_minute: 600, tokens_per_day: 2000000 },
  },
});

// The file's client fields, without its "exactly one of key and key_sha256" rule: a
// create may leave both out (a key is generated) and a GET answer PUT back carries both
// ("***" and the digest). The whole configuration's validation applies the rule after.
const clientFields = {
  ...clientSchema.shape,
  key: clientSchema.shape.key.meta({
    description: "The secret the client sends (Authorization: Bearer or x-api-key). Leave " +
      "key and key_sha256 out to have one generated",
  }),
  key_sha256: clientSchema.shape.key_sha256.meta({
    description: "Instead of key: the hex SHA-256 of the key (64 digits)",
  }),
};

/** Body of `POST /clients`. */
export const clientCreateBody = mapping(clientFields).meta({
  description: "The client to create (the configuration file's keys). Without key and " +
    "key_sha256 a key is generated and returned once, in this answer's data.key",
  example: {
    name: "team-a",
    groups: ["chat"],
    models: ["gpt-4o*"],
    limits: { requests_per_minute: 600, tokens_per_minute: 100000, tokens_per_day: 2000000 },
  },
});

/** Body of `PUT /clients/{name}`; `name` may be echoed back but must not change. */
export const clientReplaceBody = mapping({
  ...clientFields,
  name: nonEmpty().optional().meta({
    description: "Optional; when given it must equal the name in the path",
  }),
  key: clientSchema.shape.key.meta({
    description: 'The new key, or "***" to keep the stored one (a key_sha256 beside "***" ' +
      "must be the stored digest)",
  }),
}).meta({
  description: 'The client\'s whole new configuration; "***" as key keeps the stored key',
});
