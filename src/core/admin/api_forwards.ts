/**
 * `/api/v1/forwards`: the inbound listeners and their routing rules
 * (docs/behaviour.md#endpoints-and-live-changes). Forwards are read-only here (their sockets belong
 * to the process); their rules can be added, retargeted and removed, addressed by the URL-safe
 * base64 of the path pattern.
 *
 * @module
 */

import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Config, RouteRuleConfig } from "../config/types.ts";
import { compilePattern } from "../routing/mod.ts";
import type { DraftForward } from "./config_editor.ts";
import { type AdminApi, type AdminContext, API, apiErrors, rawJson } from "./context.ts";
import { AdminError, success, successSchema } from "./envelope.ts";
import { jsonBody } from "./json_body.ts";
import { decodeRouteId } from "./route_id.ts";
import {
  forwardView,
  nameParams,
  routeCreateBody,
  routeParams,
  routeReplaceBody,
  routeView,
} from "./schemas.ts";
import { findForward, showForward } from "./views.ts";

const TAG = ["forwards"];
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const listForwards = createRoute({
  method: "get",
  path: `${API}/forwards`,
  tags: TAG,
  summary: "List the forwards",
  responses: {
    200: { description: "Every forward", content: json(successSchema(200, z.array(forwardView))) },
    ...apiErrors([]),
  },
});

const getForward = createRoute({
  method: "get",
  path: `${API}/forwards/{name}`,
  tags: TAG,
  summary: "Get one forward",
  request: { params: nameParams },
  responses: {
    200: { description: "The forward", content: json(successSchema(200, forwardView)) },
    ...apiErrors([404], { 404: "No such forward" }),
  },
});

const listRoutes = createRoute({
  method: "get",
  path: `${API}/forwards/{name}/routes`,
  tags: TAG,
  summary: "List a forward's routing rules",
  responses: {
    200: {
      description: "The rules in file order",
      content: json(successSchema(200, z.array(routeView))),
    },
    ...apiErrors([404], { 404: "No such forward" }),
  },
  request: { params: nameParams },
});

const addRoute = createRoute({
  method: "post",
  path: `${API}/forwards/{name}/routes`,
  tags: TAG,
  middleware: [jsonBody] as const,
  summary: "Add a routing rule",
  request: {
    params: nameParams,
    body: { content: json(routeCreateBody), required: true },
  },
  responses: {
    201: { description: "The rule, now live", content: json(successSchema(201, routeView)) },
    ...apiErrors([400, 404, 409], {
      400: "Bad pattern, unknown target group, or invalid body",
      404: "No such forward",
      409: "A rule with this path (or one of the same shape) exists",
    }),
  },
});

const getRoute = createRoute({
  method: "get",
  path: `${API}/forwards/{name}/routes/{b64path}`,
  tags: TAG,
  summary: "Get one routing rule",
  request: { params: routeParams },
  responses: {
    200: { description: "The rule", content: json(successSchema(200, routeView)) },
    ...apiErrors([400, 404], { 400: "Bad base64", 404: "No such forward or rule" }),
  },
});

const replaceRoute = createRoute({
  method: "put",
  path: `${API}/forwards/{name}/routes/{b64path}`,
  tags: TAG,
  middleware: [jsonBody] as const,
  summary: "Change a rule's target group",
  request: {
    params: routeParams,
    body: { content: json(routeReplaceBody), required: true },
  },
  responses: {
    200: { description: "The rule, now live", content: json(successSchema(200, routeView)) },
    ...apiErrors([400, 404], {
      400: "Bad base64, unknown target group, or invalid body",
      404: "No such forward or rule",
    }),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: `${API}/forwards/{name}/routes/{b64path}`,
  tags: TAG,
  summary: "Remove a routing rule",
  request: { params: routeParams },
  responses: {
    204: { description: "Removed; its paths now go to the default group" },
    ...apiErrors([400, 404], { 400: "Bad base64", 404: "No such forward or rule" }),
  },
});

function decodePath(b64path: string): string {
  const decoded = decodeRouteId(b64path);
  if (!decoded.ok) throw new AdminError(400, decoded.message);
  return decoded.path;
}

function noRule(forward: string, path: string): AdminError {
  return new AdminError(
    404,
    `forward ${JSON.stringify(forward)} has no rule with path ${JSON.stringify(path)}`,
  );
}

function findRule(config: Config, forward: string, path: string): RouteRuleConfig {
  const rule = findForward(config, forward).routing.find((r) => r.path === path);
  if (!rule) throw noRule(forward, path);
  return { path: rule.path, target_group: rule.target_group };
}

function draftForward(forwards: DraftForward[], name: string): DraftForward {
  const f = forwards.find((x) => x.name === name);
  if (!f) throw new AdminError(404, `no forward named ${JSON.stringify(name)}`);
  return f;
}

function ruleIndex(f: DraftForward, path: string): number {
  const i = f.routing.findIndex((r) => r.path === path);
  if (i < 0) throw noRule(f.name, path);
  return i;
}

function shapeOf(path: string): string {
  try {
    return compilePattern(path).shapeKey;
  } catch (e) {
    throw new AdminError(400, e instanceof Error ? e.message : String(e));
  }
}

/** Registers the forward and routing-rule endpoints. */
export function registerForwards(app: AdminApi, ctx: AdminContext): void {
  const { gateway, editor } = ctx;

  app.openapi(listForwards, (c) => {
    const list = gateway.config.http_server.forwards.map(showForward);
    return c.json(success(200, list), 200);
  });

  app.openapi(getForward, (c) => {
    const f = findForward(gateway.config, c.req.valid("param").name);
    return c.json(success(200, showForward(f)), 200);
  });

  app.openapi(listRoutes, (c) => {
    const f = findForward(gateway.config, c.req.valid("param").name);
    return c.json(success(200, showForward(f).routing), 200);
  });

  app.openapi(addRoute, async (c) => {
    const { name } = c.req.valid("param");
    const { path } = c.req.valid("json");
    const raw = await rawJson(c.req);
    const config = await editor.change(`add route ${path} to forward ${name}`, (draft) => {
      const f = draftForward(draft.http_server.forwards, name);
      const shape = shapeOf(path);
      const clash = f.routing.find((r) => typeof r.path === "string" && shapeOf(r.path) === shape);
      if (clash) {
        const same = clash.path === path ? "" : ` (${JSON.stringify(clash.path)}, same shape)`;
        throw new AdminError(
          409,
          `forward ${JSON.stringify(name)} already has a rule for ${
            JSON.stringify(path)
          }${same}; ` +
            "change its target with PUT or delete it first",
        );
      }
      f.routing.push(raw);
    });
    return c.json(success(201, findRule(config, name, path)), 201);
  });

  app.openapi(getRoute, (c) => {
    const { name, b64path } = c.req.valid("param");
    const path = decodePath(b64path);
    return c.json(success(200, findRule(gateway.config, name, path)), 200);
  });

  app.openapi(replaceRoute, async (c) => {
    const { name, b64path } = c.req.valid("param");
    const path = decodePath(b64path);
    const body = c.req.valid("json");
    const raw = await rawJson(c.req);
    if (body.path !== undefined && body.path !== path) {
      throw new AdminError(
        400,
        `path ${JSON.stringify(body.path)} in the body differs from the rule addressed ` +
          `(${JSON.stringify(path)}); a rule's path cannot change: add a new rule instead`,
      );
    }
    const config = await editor.change(`retarget route ${path} of forward ${name}`, (draft) => {
      const f = draftForward(draft.http_server.forwards, name);
      const i = ruleIndex(f, path);
      f.routing[i] = { ...raw, path };
    });
    return c.json(success(200, findRule(config, name, path)), 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const { name, b64path } = c.req.valid("param");
    const path = decodePath(b64path);
    await editor.change(`delete route ${path} of forward ${name}`, (draft) => {
      const f = draftForward(draft.http_server.forwards, name);
      f.routing.splice(ruleIndex(f, path), 1);
    });
    return c.body(null, 204);
  });
}
