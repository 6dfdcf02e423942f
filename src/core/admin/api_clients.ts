/**
 * `/api/v1/clients`: callers known by their key (docs/behaviour.md#client-admin-api-and-metrics).
 * Created, replaced and deleted through the whole-configuration validation, live at once for
 * forwarding.
 *
 * A client's key is a secret: every answer shows it as `"***"` (and its `key_sha256`),
 * a `"***"` sent back keeps the stored key, and no message quotes it. The one exception
 * is a key the API generates itself (a POST without `key` and `key_sha256`): the answer
 * of that POST carries it in `data.key`, once; nothing stores or shows it again.
 *
 * @module
 */

import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ClientConfig } from "../config/types.ts";
import { sha256Hex } from "../crypto/sha256.ts";
import { type AdminApi, type AdminContext, API, apiErrors, rawJson } from "./context.ts";
import { AdminError, success, successSchema } from "./envelope.ts";
import { jsonBody } from "./json_body.ts";
import {
  clientCreateBody,
  clientReplaceBody,
  clientUsageView,
  clientView,
  nameParams,
} from "./schemas.ts";
import { generateClientKey, restoreClientSecrets } from "./secrets.ts";
import { findClient, showClient } from "./views.ts";

const TAG = ["clients"];
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const listClients = createRoute({
  method: "get",
  path: `${API}/clients`,
  tags: TAG,
  summary: "List the clients (keys masked)",
  responses: {
    200: { description: "Every client", content: json(successSchema(200, z.array(clientView))) },
    ...apiErrors([]),
  },
});

const getClient = createRoute({
  method: "get",
  path: `${API}/clients/{name}`,
  tags: TAG,
  summary: "Get one client (key masked)",
  request: { params: nameParams },
  responses: {
    200: { description: "The client", content: json(successSchema(200, clientView)) },
    ...apiErrors([404], { 404: "No such client" }),
  },
});

const createClient = createRoute({
  method: "post",
  path: `${API}/clients`,
  tags: TAG,
  middleware: [jsonBody] as const,
  summary: "Create a client",
  description: "Give the client's key, or its key_sha256, or neither: then a random key " +
    "(32 bytes, URL-safe base64, prefixed sk-llmproxy-) is generated and returned in this " +
    'answer\'s data.key. It is shown this once; every later answer shows "***".',
  request: { body: { content: json(clientCreateBody), required: true } },
  responses: {
    201: {
      description: "Created, now live",
      content: json(successSchema(201, clientView)),
    },
    ...apiErrors([400, 409], {
      400: "Invalid client: a bad key or digest, both key and key_sha256, an unknown group, " +
        "a bad model glob or limit",
      409: "The name is taken, or the key is another client's",
    }),
  },
});

const replaceClient = createRoute({
  method: "put",
  path: `${API}/clients/{name}`,
  tags: TAG,
  middleware: [jsonBody] as const,
  summary: "Replace a client's configuration",
  description: 'Send the whole client; "***" as key keeps the stored key (and its digest), ' +
    "so a GET answer can be sent back as it is.",
  request: {
    params: nameParams,
    body: { content: json(clientReplaceBody), required: true },
  },
  responses: {
    200: { description: "Replaced, now live", content: json(successSchema(200, clientView)) },
    ...apiErrors([400, 404, 409], {
      400: "Invalid client",
      404: "No such client",
      409: "The key is another client's",
    }),
  },
});

const deleteClient = createRoute({
  method: "delete",
  path: `${API}/clients/{name}`,
  tags: TAG,
  summary: "Delete a client",
  description: "Its key stops working at once.",
  request: { params: nameParams },
  responses: {
    204: { description: "Deleted" },
    ...apiErrors([404], { 404: "No such client" }),
  },
});

const getUsage = createRoute({
  method: "get",
  path: `${API}/clients/{name}/usage`,
  tags: TAG,
  summary: "What a client has used, beside its limits",
  request: { params: nameParams },
  responses: {
    200: { description: "The figures now", content: json(successSchema(200, clientUsageView)) },
    ...apiErrors([404], { 404: "No such client" }),
  },
});

const DIGEST = /^[0-9a-fA-F]{64}$/;

/**
 * The digest of the key a client body (secrets restored) configures; undefined when it
 * configures none or both, which the configuration's validation refuses with its own
 * message.
 */
function digestOf(body: Record<string, unknown>): string | undefined {
  const { key, key_sha256: given } = body;
  if (typeof key === "string" && given === undefined) return sha256Hex(key);
  if (key === undefined && typeof given === "string" && DIGEST.test(given)) {
    return given.toLowerCase();
  }
  return undefined;
}

/**
 * A 409 when the body's key is another client's (compared as digests,
 * docs/behaviour.md#client-configuration). The configuration's cross-check refuses it too, but as
 * any invalid value; here it is the conflict it is. The message names the other client, never the
 * key.
 */
function requireOwnKey(
  clients: readonly ClientConfig[],
  name: string,
  body: Record<string, unknown>,
): void {
  const digest = digestOf(body);
  if (digest === undefined) return;
  const other = clients.find((c) => c.name !== name && c.key_sha256 === digest);
  if (other === undefined) return;
  throw new AdminError(
    409,
    `${body.key !== undefined ? "key" : "key_sha256"}: this key is already the key of ` +
      `client ${JSON.stringify(other.name)}; each client needs its own key`,
  );
}

/** Registers the client endpoints. */
export function registerClients(app: AdminApi, ctx: AdminContext): void {
  const { gateway, editor } = ctx;

  app.openapi(listClients, (c) => {
    return c.json(success(200, gateway.config.clients.map(showClient)), 200);
  });

  app.openapi(getClient, (c) => {
    const client = findClient(gateway.config, c.req.valid("param").name);
    return c.json(success(200, showClient(client)), 200);
  });

  app.openapi(createClient, async (c) => {
    const { name } = c.req.valid("json");
    const raw = await rawJson(c.req);
    const generated = raw.key === undefined && raw.key_sha256 === undefined
      ? generateClientKey()
      : undefined;
    const body = generated === undefined ? raw : { ...raw, key: generated };
    const config = await editor.change(`create client ${name}`, (draft, current) => {
      if (current.clients.some((x) => x.name === name)) {
        throw new AdminError(
          409,
          `a client named ${JSON.stringify(name)} exists; replace it with PUT ` +
            `${API}/clients/${encodeURIComponent(name)} or choose another name`,
        );
      }
      const client = restoreClientSecrets(body, undefined);
      requireOwnKey(current.clients, name, client);
      draft.clients.push(client);
    });
    const shown = showClient(findClient(config, name));
    // The one answer that shows a key: the one just made up, which nobody knows yet.
    return c.json(
      success(201, generated === undefined ? shown : { ...shown, key: generated }),
      201,
    );
  });

  app.openapi(replaceClient, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    if (body.name !== undefined && body.name !== name) {
      throw new AdminError(
        400,
        `name ${JSON.stringify(body.name)} in the body differs from ${JSON.stringify(name)} ` +
          "in the path; clients cannot be renamed (create a new one and delete this one)",
      );
    }
    const raw = await rawJson(c.req);
    const config = await editor.change(`replace client ${name}`, (draft, current) => {
      const stored = findClient(current, name);
      const client = { ...restoreClientSecrets(raw, stored), name };
      requireOwnKey(current.clients, name, client);
      const i = draft.clients.findIndex((x) => x.name === name);
      draft.clients[i] = client;
    });
    return c.json(success(200, showClient(findClient(config, name))), 200);
  });

  app.openapi(deleteClient, async (c) => {
    const { name } = c.req.valid("param");
    await editor.change(`delete client ${name}`, (draft, current) => {
      findClient(current, name);
      draft.clients = draft.clients.filter((x) => x.name !== name);
    });
    return c.body(null, 204);
  });

  app.openapi(getUsage, async (c) => {
    const { name } = c.req.valid("param");
    const client = findClient(gateway.config, name);
    const used = await gateway.clientUsage(client.name);
    return c.json(
      success(200, {
        requests_last_minute: used.requests_last_minute,
        tokens_last_minute: used.tokens_last_minute,
        tokens_today: used.tokens_today,
        limits: { ...client.limits },
      }),
      200,
    );
  });
}
