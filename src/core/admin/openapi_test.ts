import assert from "node:assert/strict";
import { OPEN_PATHS } from "./access.ts";
import { adminFixture } from "./_test_helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Every endpoint of docs/behaviour.md#endpoints-and-live-changes with the statuses it must
 * document.
 */
const ENDPOINTS: [string, string, number[]][] = [
  ["get", "/api/v1/forwards", [200, 401, 403]],
  ["get", "/api/v1/forwards/{name}", [200, 401, 403, 404]],
  ["get", "/api/v1/forwards/{name}/routes", [200, 401, 403, 404]],
  ["post", "/api/v1/forwards/{name}/routes", [201, 400, 401, 403, 404, 409]],
  ["get", "/api/v1/forwards/{name}/routes/{b64path}", [200, 400, 401, 403, 404]],
  ["put", "/api/v1/forwards/{name}/routes/{b64path}", [200, 400, 401, 403, 404]],
  ["delete", "/api/v1/forwards/{name}/routes/{b64path}", [204, 400, 401, 403, 404]],
  ["get", "/api/v1/forwards/{name}/model-routes", [200, 401, 403, 404]],
  ["post", "/api/v1/forwards/{name}/model-routes", [201, 400, 401, 403, 404, 409]],
  ["get", "/api/v1/forwards/{name}/model-routes/{b64model}", [200, 400, 401, 403, 404]],
  ["put", "/api/v1/forwards/{name}/model-routes/{b64model}", [200, 400, 401, 403, 404]],
  ["delete", "/api/v1/forwards/{name}/model-routes/{b64model}", [204, 400, 401, 403, 404]],
  ["get", "/api/v1/upstream-groups", [200, 401, 403]],
  ["get", "/api/v1/upstream-groups/{name}", [200, 401, 403, 404]],
  ["patch", "/api/v1/upstream-groups/{name}", [200, 400, 401, 403, 404]],
  ["get", "/api/v1/upstreams", [200, 401, 403]],
  ["get", "/api/v1/upstreams/{name}", [200, 401, 403, 404]],
  ["post", "/api/v1/upstreams", [201, 400, 401, 403, 409]],
  ["put", "/api/v1/upstreams/{name}", [200, 400, 401, 403, 404]],
  ["delete", "/api/v1/upstreams/{name}", [204, 401, 403, 404, 409]],
  ["get", "/api/v1/clients", [200, 401, 403]],
  ["get", "/api/v1/clients/{name}", [200, 401, 403, 404]],
  ["post", "/api/v1/clients", [201, 400, 401, 403, 409]],
  ["put", "/api/v1/clients/{name}", [200, 400, 401, 403, 404, 409]],
  ["delete", "/api/v1/clients/{name}", [204, 401, 403, 404]],
  ["get", "/api/v1/clients/{name}/usage", [200, 401, 403, 404]],
  ["get", "/api/v1/openapi.json", [200, 401, 403]],
  ["get", "/api/v1/docs", [200, 403, 404]],
  ["get", "/api/v1/stats", [200, 401, 403]],
  ["get", "/ui", [200, 403]],
  ["get", "/health", [200]],
  ["get", "/ready", [200, 503]],
  ["get", "/metrics", [200]],
];

async function document(): Promise<Json> {
  const f = adminFixture({ authToken: "tok" });
  const res = await f.app.request("/api/v1/openapi.json", {
    headers: { authorization: "Bearer tok" },
  });
  assert.equal(res.status, 200);
  return await res.json();
}

/** Follows `$ref`s into `components`. */
function resolve(doc: Json, schema: Json): Json {
  let s = schema;
  while (s?.$ref) {
    s = s.$ref.replace(/^#\//, "").split("/").reduce((o: Json, k: string) => o?.[k], doc);
  }
  return s;
}

Deno.test("openapi.json is an OpenAPI 3 document with a bearer security scheme", async () => {
  const doc = await document();
  assert.match(doc.openapi, /^3\./);
  assert.equal(doc.info.title, "llmproxy admin API");
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
    type: "http",
    scheme: "bearer",
    description: doc.components.securitySchemes.bearerAuth.description,
  });
  assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
  // The open endpoints say so (the docs page and the dashboard's page: the page itself).
  for (const path of ["/health", "/ready", "/metrics", "/api/v1/docs", "/ui"]) {
    assert.deepEqual(doc.paths[path].get.security, [], path);
  }
});

Deno.test("openapi.json lists every endpoint with its statuses, request and answer schemas", async () => {
  const doc = await document();
  const listed = Object.entries(doc.paths as Record<string, Json>)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`))
    .sort();
  assert.deepEqual(listed, ENDPOINTS.map(([m, p]) => `${m} ${p}`).sort());

  for (const [method, path, statuses] of ENDPOINTS) {
    const op = doc.paths[path][method];
    const where = `${method.toUpperCase()} ${path}`;
    assert.ok(op.summary, `${where} has a summary`);
    assert.deepEqual(Object.keys(op.responses).map(Number).sort(), statuses, where);
    for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
      if (status === "204") {
        assert.equal(response.content, undefined, `${where} 204 has no body`);
        continue;
      }
      const media = Object.values(response.content ?? {}) as Json[];
      assert.equal(media.length, 1, `${where} ${status} has one media type`);
      const schema = resolve(doc, media[0].schema);
      assert.ok(schema && Object.keys(schema).length > 0, `${where} ${status} has a schema`);
      if (!path.startsWith("/api/v1/") || path.endsWith("openapi.json")) continue;
      if (path.endsWith("/docs") && status === "200") continue;
      // The envelope: code (= the status), status, data or error.
      assert.deepEqual(
        schema.required.sort(),
        Number(status) < 300 ? ["code", "data", "status"] : ["code", "error", "status"],
        `${where} ${status}`,
      );
      assert.equal(
        schema.properties.code.const ?? schema.properties.code.enum?.[0],
        Number(status),
      );
      if (Number(status) >= 400) {
        const type = schema.properties.error.properties.type;
        assert.ok(
          ["NotFound", "Conflict", "BadRequest", "Unauthorized", "InternalServerError"]
            .includes(type.const ?? type.enum?.[0]),
          `${where} ${status} error type`,
        );
      }
    }
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    assert.deepEqual(
      (op.parameters ?? []).map((p: Json) => `${p.in}:${p.name}`).sort(),
      params.map((p) => `path:${p}`).sort(),
      `${where} documents its path parameters`,
    );
    if (["post", "put", "patch"].includes(method)) {
      const body = op.requestBody;
      assert.ok(body?.required, `${where} requires a body`);
      const schema = resolve(doc, body.content["application/json"].schema);
      assert.equal(schema.type, "object", `${where} body schema`);
      assert.ok(Object.keys(schema.properties).length > 0, `${where} body properties`);
    }
  }
});

Deno.test("openapi.json documents the shapes: group members and masked upstream secrets", async () => {
  const doc = await document();
  const group = resolve(
    doc,
    doc.paths["/api/v1/upstream-groups/{name}"].get.responses["200"].content["application/json"]
      .schema,
  ).properties.data;
  assert.deepEqual(
    Object.keys(group.properties).sort(),
    ["balance", "http_client", "name", "status", "upstreams"],
  );
  assert.deepEqual(Object.keys(group.properties.upstreams.items.properties).sort(), [
    "name",
    "weight",
  ]);
  const patch = doc.paths["/api/v1/upstream-groups/{name}"].patch.requestBody.content[
    "application/json"
  ].schema;
  assert.deepEqual(patch.required, ["upstreams"]);
  const create = doc.paths["/api/v1/upstreams"].post.requestBody.content["application/json"].schema;
  assert.deepEqual(create.required.sort(), ["name", "url"]);
  assert.equal(create.properties.weight.default, 1);
  assert.equal(create.properties.weight.maximum, 65535);

  const client = resolve(
    doc,
    doc.paths["/api/v1/clients/{name}"].get.responses["200"].content["application/json"].schema,
  ).properties.data;
  assert.deepEqual(
    Object.keys(client.properties).sort(),
    ["groups", "key", "key_sha256", "limits", "models", "name"],
  );
  assert.match(client.properties.key.description, /"\*\*\*"/);
  // A create without key and key_sha256 is valid: a key is generated.
  const newClient = doc.paths["/api/v1/clients"].post.requestBody.content["application/json"]
    .schema;
  assert.deepEqual(newClient.required, ["name"]);
  const usage = resolve(
    doc,
    doc.paths["/api/v1/clients/{name}/usage"].get.responses["200"].content["application/json"]
      .schema,
  ).properties.data;
  assert.deepEqual(
    Object.keys(usage.properties).sort(),
    ["limits", "requests_last_minute", "tokens_last_minute", "tokens_today"],
  );
});

Deno.test("openapi.json describes the 403 of a caller off loopback when no token is set", async () => {
  const doc = await document();
  assert.match(doc.info.description, /only loopback peers .* may call \/api\/v1; others get 403/);
  for (const [method, path] of ENDPOINTS) {
    const op = doc.paths[path][method];
    const where = `${method.toUpperCase()} ${path}`;
    if (OPEN_PATHS.has(path)) {
      assert.equal(op.responses["403"], undefined, `${where} is open to everyone`);
      continue;
    }
    const forbidden = op.responses["403"];
    assert.match(forbidden.description, /LLMPROXY_ADMIN_AUTH_TOKEN is unset .*loopback/, where);
    const schema = resolve(doc, forbidden.content["application/json"].schema);
    const code = schema.properties.code;
    const type = schema.properties.error.properties.type;
    assert.equal(code.const ?? code.enum?.[0], 403, where);
    assert.equal(type.const ?? type.enum?.[0], "Unauthorized", where);
  }
});
