import assert from "node:assert/strict";
import { adminFixture, type Answer, b64url } from "./_test_helpers.ts";

const API = "/api/v1/forwards/main/model-routes";

function ok(a: Answer, status: number): void {
  assert.equal(a.status, status, a.text);
  assert.equal(a.body?.status, "success", a.text);
}

function err(a: Answer, status: number, type: string, message?: RegExp): void {
  assert.equal(a.status, status, a.text);
  assert.equal(a.body?.code, status, a.text);
  assert.equal(a.body?.error?.type, type, a.text);
  if (message) assert.match(a.body.error.message, message);
}

Deno.test("model routes: add (201, live), list, get, retarget, delete", async () => {
  const f = adminFixture();
  const list0 = await f.call("GET", API);
  ok(list0, 200);
  assert.deepEqual(list0.body.data, []);
  const added = await f.call("POST", API, { model: "gpt-4o*", target_group: "other" });
  ok(added, 201);
  assert.deepEqual(added.body.data, { model: "gpt-4o*", target_group: "other" });
  ok(await f.call("POST", API, { model: "claude-*", target_group: "backup" }), 201);
  // Live at once: the new snapshot's forward has the compiled rules, in order.
  const rules = f.gateway.snapshot.forwards.get("main")!.modelRules;
  assert.deepEqual(rules.map((r) => [r.model, r.group]), [
    ["gpt-4o*", "other"],
    ["claude-*", "backup"],
  ]);
  assert.ok(rules[0]!.matches("gpt-4o-mini"));

  const id = b64url("gpt-4o*");
  const one = await f.call("GET", `${API}/${id}`);
  ok(one, 200);
  // What a GET returns is accepted back by PUT.
  ok(await f.call("PUT", `${API}/${id}`, one.body.data), 200);
  const put = await f.call("PUT", `${API}/${id}`, { target_group: "primary" });
  ok(put, 200);
  assert.equal(f.gateway.snapshot.forwards.get("main")!.modelRules[0]!.group, "primary");

  const del = await f.call("DELETE", `${API}/${id}`);
  assert.equal(del.status, 204);
  assert.deepEqual(
    f.gateway.config.http_server.forwards[0]!.model_routing,
    [{ model: "claude-*", target_group: "backup" }],
  );
});

Deno.test("model routes: 400 bad glob / unknown group / bad base64, 404, 409", async () => {
  const f = adminFixture();
  err(await f.call("POST", API, { model: "", target_group: "primary" }), 400, "BadRequest");
  err(
    await f.call("POST", API, { model: "x", target_group: "nope" }),
    400,
    "BadRequest",
    /unknown group "nope"/,
  );
  err(
    await f.call("POST", "/api/v1/forwards/nope/model-routes", {
      model: "x",
      target_group: "primary",
    }),
    404,
    "NotFound",
  );
  ok(await f.call("POST", API, { model: "x*", target_group: "primary" }), 201);
  err(
    await f.call("POST", API, { model: "x*", target_group: "backup" }),
    409,
    "Conflict",
    /already has a model rule/,
  );
  err(await f.call("GET", `${API}/${b64url("y")}`), 404, "NotFound");
  err(await f.call("GET", `${API}/a+b`), 400, "BadRequest", /model glob/);
  err(
    await f.call("PUT", `${API}/${b64url("x*")}`, { model: "z", target_group: "primary" }),
    400,
    "BadRequest",
    /cannot change/,
  );
});
