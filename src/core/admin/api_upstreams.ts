/**
 * `/api/v1/upstreams`: backend endpoints (docs/behaviour.md#endpoints-and-live-changes). Created,
 * replaced and deleted through the whole-configuration validation; secrets masked in every answer
 * and kept when `"***"` is sent back.
 *
 * @module
 */

import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { type AdminApi, type AdminContext, API, apiErrors, rawJson } from "./context.ts";
import { AdminError, success, successSchema } from "./envelope.ts";
import { jsonBody } from "./json_body.ts";
import { nameParams, upstreamCreateBody, upstreamReplaceBody, upstreamView } from "./schemas.ts";
import { restoreUpstreamSecrets } from "./secrets.ts";
import { findUpstream, showUpstream } from "./views.ts";

const TAG = ["upstreams"];
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const listUpstreams = createRoute({
  method: "get",
  path: `${API}/upstreams`,
  tags: TAG,
  summary: "List the upstreams (secrets masked)",
  responses: {
    200: {
      description: "Every upstream",
      content: json(successSchema(200, z.array(upstreamView))),
    },
    ...apiErrors([]),
  },
});

const getUpstream = createRoute({
  method: "get",
  path: `${API}/upstreams/{name}`,
  tags: TAG,
  summary: "Get one upstream (secrets masked)",
  request: { params: nameParams },
  responses: {
    200: { description: "The upstream", content: json(successSchema(200, upstreamView)) },
    ...apiErrors([404], { 404: "No such upstream" }),
  },
});

const createUpstream = createRoute({
  method: "post",
  path: `${API}/upstreams`,
  tags: TAG,
  middleware: [jsonBody] as const,
  summary: "Create an upstream",
  description: "The upstream receives traffic once a group lists it " +
    "(PATCH /api/v1/upstream-groups/{name}).",
  request: { body: { content: json(upstreamCreateBody), required: true } },
  responses: {
    201: { description: "Created", content: json(successSchema(201, upstreamView)) },
    ...apiErrors([400, 409], { 400: "Invalid upstream", 409: "The name is taken" }),
  },
});

const replaceUpstream = createRoute({
  method: "put",
  path: `${API}/upstreams/{name}`,
  tags: TAG,
  middleware: [jsonBody] as const,
  summary: "Replace an upstream's configuration",
  description: 'Send the whole upstream; "***" where a GET showed a secret keeps the stored ' +
    "one. Breaker and balancer state carry over unless url or breaker change.",
  request: {
    params: nameParams,
    body: { content: json(upstreamReplaceBody), required: true },
  },
  responses: {
    200: { description: "Replaced, now live", content: json(successSchema(200, upstreamView)) },
    ...apiErrors([400, 404], { 400: "Invalid upstream", 404: "No such upstream" }),
  },
});

const deleteUpstream = createRoute({
  method: "delete",
  path: `${API}/upstreams/{name}`,
  tags: TAG,
  summary: "Delete an upstream",
  request: { params: nameParams },
  responses: {
    204: { description: "Deleted" },
    ...apiErrors([404, 409], {
      404: "No such upstream",
      409: "A group still uses it (the message names the groups)",
    }),
  },
});

/** Registers the upstream endpoints. */
export function registerUpstreams(app: AdminApi, ctx: AdminContext): void {
  const { gateway, editor } = ctx;

  app.openapi(listUpstreams, (c) => {
    return c.json(success(200, gateway.config.upstreams.map(showUpstream)), 200);
  });

  app.openapi(getUpstream, (c) => {
    const u = findUpstream(gateway.config, c.req.valid("param").name);
    return c.json(success(200, showUpstream(u)), 200);
  });

  app.openapi(createUpstream, async (c) => {
    const { name } = c.req.valid("json");
    const raw = await rawJson(c.req);
    const config = await editor.change(`create upstream ${name}`, (draft) => {
      if (draft.upstreams.some((u) => u.name === name)) {
        throw new AdminError(
          409,
          `an upstream named ${JSON.stringify(name)} exists; replace it with PUT ` +
            `${API}/upstreams/${encodeURIComponent(name)} or choose another name`,
        );
      }
      draft.upstreams.push(restoreUpstreamSecrets(raw, undefined));
    });
    return c.json(success(201, showUpstream(findUpstream(config, name))), 201);
  });

  app.openapi(replaceUpstream, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    if (body.name !== undefined && body.name !== name) {
      throw new AdminError(
        400,
        `name ${JSON.stringify(body.name)} in the body differs from ${JSON.stringify(name)} ` +
          "in the path; upstreams cannot be renamed (create a new one instead)",
      );
    }
    const raw = await rawJson(c.req);
    const config = await editor.change(`replace upstream ${name}`, (draft, current) => {
      const i = draft.upstreams.findIndex((u) => u.name === name);
      const stored = findUpstream(current, name);
      draft.upstreams[i] = { ...restoreUpstreamSecrets(raw, stored), name };
    });
    return c.json(success(200, showUpstream(findUpstream(config, name))), 200);
  });

  app.openapi(deleteUpstream, async (c) => {
    const { name } = c.req.valid("param");
    await editor.change(`delete upstream ${name}`, (draft, current) => {
      findUpstream(current, name);
      const users = draft.upstream_groups
        .filter((g) => g.upstreams.some((m) => m.name === name))
        .map((g) => JSON.stringify(g.name));
      if (users.length > 0) {
        const groups = users.length === 1 ? `group ${users[0]}` : `groups ${users.join(", ")}`;
        throw new AdminError(
          409,
          `upstream ${JSON.stringify(name)} is still used by ${groups}; remove it from ` +
            `${users.length === 1 ? "that group" : "them"} first ` +
            `(PATCH ${API}/upstream-groups/{name})`,
        );
      }
      draft.upstreams = draft.upstreams.filter((u) => u.name !== name);
    });
    return c.body(null, 204);
  });
}
