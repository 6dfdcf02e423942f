import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { hasBody } from "../../core/proxy/native_body.ts";
import { nodeRequest, nodeResponse, untouchedNodeBody } from "./lazy_body.ts";

const dec = new TextDecoder();

Deno.test("lazy body: a request's arrayBuffer reads the Node stream, no web stream made", async () => {
  const src = new PassThrough();
  const request = nodeRequest(
    "http://x.test/",
    { method: "POST", headers: new Headers() },
    src,
    () => {},
  );
  assert.equal(hasBody(request), true);
  const whole = request.arrayBuffer();
  assert.equal(request.bodyUsed, true);
  src.write('{"a":');
  src.end("1}");
  assert.equal(dec.decode(await whole), '{"a":1}');
});

Deno.test("lazy body: a request body that closes before its end rejects", async () => {
  const src = new PassThrough();
  const request = nodeRequest(
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
  const response = nodeResponse({ status: 200 }, src, (reason) => cancelled = reason);
  assert.equal(hasBody(response), true);
  assert.equal(untouchedNodeBody(response), src, "untouched: the writer may pipe it");
  const body = response.body!;
  assert.equal(untouchedNodeBody(response), undefined, "a web stream was made");
  assert.equal(response.body, body, "made once");
  src.end("hello");
  assert.equal(await new Response(body).text(), "hello");
  const other = new PassThrough();
  const r2 = nodeResponse({}, other, (reason) => cancelled = reason);
  await r2.body!.cancel("gone");
  assert.equal(cancelled, "gone");
});

Deno.test("hasBody: plain messages answer as their body does", () => {
  assert.equal(hasBody(new Response(null)), false);
  assert.equal(hasBody(new Response("x")), true);
  assert.equal(hasBody(new Request("http://x.test/")), false);
});

Deno.test("node request: answers as a Request made by the constructor would", async () => {
  const headers = new Headers([["content-type", "application/json"], ["x-a", "1"]]);
  const cases = [
    { url: "http://x.test:80/a/../b?q=1#f", method: "post" },
    { url: "http://[::1]:8080/v1/chat", method: "PATCH" },
    { url: "http://x.test/", method: "get" },
    { url: "HTTP://X.TEST/%7e", method: "Custom" },
  ];
  for (const { url, method } of cases) {
    const withBody = method.toUpperCase() !== "GET";
    const src = new PassThrough();
    const lite = withBody
      ? nodeRequest(url, { method, headers }, src, () => {})
      : nodeRequest(url, { method, headers });
    const real = new Request(url, { method, headers });
    assert.ok(lite instanceof Request);
    assert.equal(lite.url, real.url);
    assert.equal(lite.method, real.method);
    assert.deepEqual([...lite.headers], [...real.headers]);
    assert.equal(hasBody(lite), withBody);
    assert.equal(lite.body === null, !withBody);
    // Everything else through a real Request: the same answers.
    assert.equal(lite.mode, real.mode);
    assert.equal(lite.redirect, real.redirect);
    assert.equal(lite.signal.aborted, false);
    assert.equal(Object.prototype.toString.call(lite), "[object Request]");
    if (withBody) {
      src.end('{"a":1}');
      assert.deepEqual(await lite.clone().json(), { a: 1 });
    }
  }
});

// As Node's `Request` constructor does (Deno's accepts a URL with credentials).
Deno.test("node request: refuses what Node's Request constructor refuses", () => {
  const headers = new Headers();
  for (
    const [url, method] of [
      ["http://u:p@x.test/", "GET"],
      ["not a url", "GET"],
      ["http://x.test/", "TRACE"],
      ["http://x.test/", "track"],
      ["http://x.test/", "BAD METHOD"],
    ] as const
  ) {
    assert.throws(() => nodeRequest(url, { method, headers }), TypeError, `${method} ${url}`);
  }
});

Deno.test("node response: answers as a Response made by the constructor would", async () => {
  const headers = new Headers([["content-type", "application/json"]]);
  const src = new PassThrough();
  const lite = nodeResponse({ status: 201, statusText: "Made", headers }, src, () => {});
  assert.ok(lite instanceof Response);
  assert.equal(lite.status, 201);
  assert.equal(lite.statusText, "Made");
  assert.equal(lite.ok, true);
  assert.equal(lite.headers, headers);
  assert.equal(lite.type, "default");
  assert.equal(lite.redirected, false);
  assert.equal(lite.bodyUsed, false);
  src.end('{"b":2}');
  assert.deepEqual(await lite.json(), { b: 2 }, "the body through a real Response");
  assert.equal(lite.bodyUsed, true);
  assert.equal(nodeResponse({ status: 500 }, new PassThrough(), () => {}).ok, false);
  for (const init of [{ status: 199 }, { status: 600 }, { status: 200, statusText: "a\nb" }]) {
    assert.throws(() => new Response(null, init));
    assert.throws(
      () => nodeResponse(init, new PassThrough(), () => {}),
      init.status === 200 ? TypeError : RangeError,
    );
  }
});
