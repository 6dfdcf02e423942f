/**
 * `/api/v1/forwards/{name}/model-routes`: a forward's model routing rules
 * (docs/behaviour.md#model-routing), addressed by the URL-safe base64 of their glob, with the same
 * envelope, validation and live, atomic application as the path rules.
 *
 * @module
 */

import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Config, ModelRouteConfig } from "../config/types.ts";
import type { DraftForward } from "./config_editor.ts";
import { type AdminApi, type AdminContext, API, apiErrors, rawJson } from "./context.ts";
import { AdminError, success, successSchema } from "./envelope.ts";
import { jsonBody } from "./json_body.ts";
import { decodeRouteId } from "./route_id.ts";
import {
  modelRouteCreateBody,
  modelRouteParams,
  modelRouteReplaceBody,
  modelRouteView,
  nameParams,
} from "./schemas.ts";
import { findForward } from "./views.ts";

const TAG = ["forwards"];
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });
const PATH = `${API}/forwards/{name}/model-routes`;

const listModelRoutes = createRoute({
  method: "get",
  path: PATH,
  tags: TAG,
  summary: "List a forward's model routing rules",
  request: { params: nameParams },
  responses: {
    200: {
      description: "The rules in the order they are tried",
      content: json(successSchema(200, z.array(modelRouteView))),
    },
    ...apiErrors([404], { 404: "No such forward" }),
  },
});

const addModelRoute = createRoute({
  method: "post",
  path: PATH,
  tags: TAG,
  middleware: [jsonBody] as const,
  summary: "Add a model routing rule (tried after the existing ones)",
  request: { params: nameParams, body: { content: json(modelRouteCreateBody), required: true } },
  responses: {
    201: { description: "The rule, now live", content: json(successSchema(201, modelRouteView)) },
    ...apiErrors([400, 404, 409], {
      400: "Bad glob, unknown target group, or invalid body",
      404: "No such forward",
      409: "A rule with this glob exists",
    }),
  },
});

const getModelRoute = createRoute({
  method: "get",
  path: `${PATH}/{b64model}`,
  tags: TAG,
  summary: "Get one model routing rule",
  request: { params: modelRouteParams },
  responses: {
    200: { description: "The rule", content: json(successSchema(200, modelRouteView)) },
    ...apiErrors([400, 404], { 400: "Bad base64", 404: "No such forward or rule" }),
  },
});

const replaceModelRoute = createRoute({
  method: "put",
  path: `${PATH}/{b64model}`,
  tags: TAG,
  middleware: [jsonBody] as const,
  summary: "Change a model rule's target group",
  request: {
    params: modelRouteParams,
    body: { content: json(modelRouteReplaceBody), required: true },
  },
  responses: {
    200: { description: "The rule, now live", content: json(successSchema(200, modelRouteView)) },
    ...apiErrors([400, 404], {
      400: "Bad base64, unknown target group, or invalid body",
      404: "No such forward or rule",
    }),
  },
});

const deleteModelRoute = createRoute({
  method: "delete",
  path: `${PATH}/{b64model}`,
  tags: TAG,
  summary: "Remove a model routing rule",
  request: { params: modelRouteParams },
  responses: {
    204: { description: "Removed; such models now go by path" },
    ...apiErrors([400, 404], { 400: "Bad base64", 404: "No such forward or rule" }),
  },
});

function decodeGlob(b64model: string): string {
  const decoded = decodeRouteId(b64model);
  if (!decoded.ok) {
    throw new AdminError(400, decoded.message.replace("of a path", "of a model glob"));
  }
  return decoded.path;
}

function noRule(forward: string, model: string): AdminError {
  return new AdminError(
    404,
    `forward ${JSON.stringify(forward)} has no model rule for ${JSON.stringify(model)}`,
  );
}

function findRule(config: Config, forward: string, model: string): ModelRouteConfig {
  const rule = findForward(config, forward).model_routing.find((r) => r.model === model);
  if (!rule) throw noRule(forward, model);
  return { model: rule.model, target_group: rule.target_group };
}

function draftForward(forwards: DraftForward[], name: string): DraftForward {
  const f = forwards.find((x) => x.name === name);
  if (!f) throw new AdminError(404, `no forward named ${JSON.stringify(name)}`);
  return f;
}

function ruleIndex(f: DraftForward, model: string): number {
  const i = (f.model_routing ?? []).findIndex((r) => r.model === model);
  if (i < 0) throw noRule(f.name, model);
  return i;
}

/** Registers the model routing rule endpoints. */
export function registerModelRoutes(app: AdminApi, ctx: AdminContext): void {
  const { gateway, editor } = ctx;

  app.openapi(listModelRoutes, (c) => {
    const f = findForward(gateway.config, c.req.valid("param").name);
    return c.json(success(200, f.model_routing.map((r) => ({ ...r }))), 200);
  });

  app.openapi(addModelRoute, async (c) => {
    const { name } = c.req.valid("param");
    const { model } = c.req.valid("json");
    const raw = await rawJson(c.req);
    const config = await editor.change(`add model route ${model} to forward ${name}`, (d) => {
      const f = draftForward(d.http_server.forwards, name);
      f.model_routing ??= [];
      if (f.model_routing.some((r) => r.model === model)) {
        throw new AdminError(
          409,
          `forward ${JSON.stringify(name)} already has a model rule for ${
            JSON.stringify(model)
          }; ` +
            "change its target with PUT or delete it first",
        );
      }
      f.model_routing.push(raw);
    });
    return c.json(success(201, findRule(config, name, model)), 201);
  });

  app.openapi(getModelRoute, (c) => {
    const { name, b64model } = c.req.valid("param");
    return c.json(success(200, findRule(gateway.config, name, decodeGlob(b64model))), 200);
  });

  app.openapi(replaceModelRoute, async (c) => {
    const { name, b64model } = c.req.valid("param");
    const model = decodeGlob(b64model);
    const body = c.req.valid("json");
    const raw = await rawJson(c.req);
    if (body.model !== undefined && body.model !== model) {
      throw new AdminError(
        400,
        `model ${JSON.stringify(body.model)} in the body differs from the rule addressed ` +
          `(${JSON.stringify(model)}); a rule's glob cannot change: add a new rule instead`,
      );
    }
    const config = await editor.change(`retarget model route ${model} of ${name}`, (d) => {
      const f = draftForward(d.http_server.forwards, name);
      f.model_routing[ruleIndex(f, model)] = { ...raw, model };
    });
    return c.json(success(200, findRule(config, name, model)), 200);
  });

  app.openapi(deleteModelRoute, async (c) => {
    const { name, b64model } = c.req.valid("param");
    const model = decodeGlob(b64model);
    await editor.change(`delete model route ${model} of ${name}`, (d) => {
      const f = draftForward(d.http_server.forwards, name);
      f.model_routing.splice(ruleIndex(f, model), 1);
    });
    return c.body(null, 204);
  });
}
