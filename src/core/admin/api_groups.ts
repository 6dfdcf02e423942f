/**
 * `/api/v1/upstream-groups`: groups with their members, weights and live member state
 * (docs/behaviour.md#endpoints-and-live-changes). A PATCH replaces the member list atomically.
 *
 * @module
 */

import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { type AdminApi, type AdminContext, API, apiErrors, rawJson } from "./context.ts";
import { AdminError, success, successSchema } from "./envelope.ts";
import { jsonBody } from "./json_body.ts";
import { groupPatchBody, groupView, nameParams } from "./schemas.ts";
import { restoreGroupSecrets } from "./secrets.ts";
import { findGroup, showGroup } from "./views.ts";

const TAG = ["upstream-groups"];
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const listGroups = createRoute({
  method: "get",
  path: `${API}/upstream-groups`,
  tags: TAG,
  summary: "List the groups with their members and weights",
  responses: {
    200: { description: "Every group", content: json(successSchema(200, z.array(groupView))) },
    ...apiErrors([]),
  },
});

const getGroup = createRoute({
  method: "get",
  path: `${API}/upstream-groups/{name}`,
  tags: TAG,
  summary: "Get one group",
  request: { params: nameParams },
  responses: {
    200: { description: "The group", content: json(successSchema(200, groupView)) },
    ...apiErrors([404], { 404: "No such group" }),
  },
});

const patchGroup = createRoute({
  method: "patch",
  path: `${API}/upstream-groups/{name}`,
  tags: TAG,
  middleware: [jsonBody] as const,
  summary: "Replace a group's member list",
  description: "The member list is replaced as a whole, atomically: requests already " +
    "running finish where they are, new ones see the new members. Breaker and balancer " +
    "state of members that stay is kept. balance and http_client, when given, are merged " +
    "into the group's; a GET answer can be sent back as it is.",
  request: {
    params: nameParams,
    body: { content: json(groupPatchBody), required: true },
  },
  responses: {
    200: { description: "The group, now live", content: json(successSchema(200, groupView)) },
    ...apiErrors([400, 404], {
      400: "Unknown or duplicate member, or invalid body",
      404: "No such group",
    }),
  },
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Merges `patch` into `target` key by key: nested mappings merge, anything else
 * (lists, scalars) replaces. Neither input is changed.
 */
export function mergeInto(
  target: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    const old = out[key];
    out[key] = isRecord(old) && isRecord(value) ? mergeInto(old, value) : value;
  }
  return out;
}

/** Registers the group endpoints. */
export function registerGroups(app: AdminApi, ctx: AdminContext): void {
  const { gateway, editor } = ctx;

  app.openapi(listGroups, async (c) => {
    const status = await gateway.status();
    const list = gateway.config.upstream_groups.map((g) => showGroup(g, status.get(g.name) ?? []));
    return c.json(success(200, list), 200);
  });

  app.openapi(getGroup, async (c) => {
    const g = findGroup(gateway.config, c.req.valid("param").name);
    const status = await gateway.status();
    return c.json(success(200, showGroup(g, status.get(g.name) ?? [])), 200);
  });

  app.openapi(patchGroup, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    if (body.name !== undefined && body.name !== name) {
      throw new AdminError(
        400,
        `name ${JSON.stringify(body.name)} in the body differs from ${JSON.stringify(name)} ` +
          "in the path; groups cannot be renamed",
      );
    }
    const raw = await rawJson(c.req);
    const config = await editor.change(`patch upstream group ${name}`, (draft, current) => {
      const stored = findGroup(current, name);
      const i = draft.upstream_groups.findIndex((g) => g.name === name);
      // `status` is the read-only live view a GET adds; `name` was checked above.
      const { status: _status, name: _name, upstreams, ...rest } = restoreGroupSecrets(
        raw,
        stored,
      );
      const merged = mergeInto(draft.upstream_groups[i]!, rest);
      draft.upstream_groups[i] = { ...merged, name, upstreams: upstreams as never };
    });
    const status = await gateway.status();
    return c.json(success(200, showGroup(findGroup(config, name), status.get(name) ?? [])), 200);
  });
}
