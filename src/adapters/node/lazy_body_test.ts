import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { hasBody } from "../../core/proxy/native_body.ts";
import { NodeBodyRequest, NodeBodyResponse, untouchedNodeBody } from "./lazy_body.ts";

const dec = new TextDecoder();

Deno.test("lazy body: a request's arrayBuffer reads the Node stream, no web stream made", async () => {
  const src = new PassThrough();
  const request = new NodeBodyRequest(
    "http://x.test/",
    { method: "POST", headers: new Headers() },
    src,
    () => {},
  );
  assert.equal(hasBody(request), true);
  const whole = request.arrayBuffer();
  src.write('{"a":');
  src.end("1}");
  assert.equal(dec.decode(await whole), '{"a":1}');
});

Deno.test("lazy body: a request body that closes before its end rejects", async () => {
  const src = new PassThrough();
  const request = new NodeBodyRequest(
    "http://x.test/",
    { method: "POST", headers: new Headers() },
    src,
    () => {},
  );
  const whole = request.arrayBuffer();
  src.write("part");
  src.destroy();
  await assert.rejects(whole);
});

Deno.test("lazy body: an answer stays a Node stream until its body is asked for", async () => {
  const src = new PassThrough();
  let cancelled: unknown;
  const response = new NodeBodyResponse({ status: 200 }, src, (reason) => cancelled = reason);
  assert.equal(hasBody(response), true);
  assert.equal(untouchedNodeBody(response), src, "untouched: the writer may pipe it");
  const body = response.body!;
  assert.equal(untouchedNodeBody(response), undefined, "a web stream was made");
  assert.equal(response.body, body, "made once");
  src.end("hello");
  assert.equal(await new Response(body).text(), "hello");
  const other = new PassThrough();
  const r2 = new NodeBodyResponse({}, other, (reason) => cancelled = reason);
  await r2.body!.cancel("gone");
  assert.equal(cancelled, "gone");
});

Deno.test("hasBody: plain messages answer as their body does", () => {
  assert.equal(hasBody(new Response(null)), false);
  assert.equal(hasBody(new Response("x")), true);
  assert.equal(hasBody(new Request("http://x.test/")), false);
});
