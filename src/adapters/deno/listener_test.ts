import assert from "node:assert/strict";
import { setBodyTap, takesTaps } from "../../core/proxy/body_tap.ts";
import { denoServe } from "./listener.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("the Deno listener taps answers that carry a tap, and says when they are sent", async () => {
  const json = '{"usage":{"prompt_tokens":4}}';
  const seen: string[] = [];
  const settled: string[] = [];
  let offered = false;
  let mode: "whole" | "pieces" | "events" | "plain" = "whole";
  const listener = await denoServe({
    hostname: "127.0.0.1",
    port: 0,
    handler(request, conn) {
      offered = takesTaps(request);
      conn.completed?.then(() => settled.push("sent"), () => settled.push("lost"));
      const parts = mode === "pieces" || mode === "events"
        ? ['{"usage":', '{"prompt_tokens":4}}']
        : [json];
      let i = 0;
      const body = new ReadableStream({
        type: "bytes",
        async pull(c) {
          if (i > 0) await new Promise((r) => setTimeout(r, 20));
          const p = parts[i++];
          if (p === undefined) {
            c.close();
            c.byobRequest?.respond(0);
          } else c.enqueue(enc.encode(p));
        },
      });
      const res = new Response(body, {
        headers: {
          "content-type": mode === "events" ? "text/event-stream" : "application/json",
          "content-length": String(json.length),
        },
      });
      if (mode !== "plain") setBodyTap(res, (c) => void seen.push(dec.decode(c)));
      return res;
    },
  });
  try {
    for (const m of ["whole", "pieces", "events", "plain"] as const) {
      mode = m;
      seen.length = 0;
      settled.length = 0;
      const r = await fetch(`http://127.0.0.1:${listener.port}/`, {
        headers: { "accept-encoding": "identity" },
      });
      assert.equal(r.headers.get("content-length"), String(json.length), m);
      assert.equal(await r.text(), json, m);
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(offered, "the listener offers taps");
      assert.equal(seen.join(""), m === "plain" ? "" : json, m);
      // JSON is collected whole (of no use before its end); an event stream passes on
      // piece by piece.
      if (m === "pieces") assert.equal(seen.length, 1, "JSON whole");
      if (m === "events") assert.equal(seen.length, 2, "piece by piece");
      assert.deepEqual(settled, ["sent"], m);
    }
  } finally {
    await listener.close();
  }
});

Deno.test("the Deno listener passes answers uncompressed to clients that accept gzip or br", async () => {
  const json = JSON.stringify({ text: "compressible ".repeat(50) });
  const listener = await denoServe({
    hostname: "127.0.0.1",
    port: 0,
    handler(request) {
      const cached = new URL(request.url).pathname === "/cached";
      return new Response(json, {
        headers: {
          "content-type": "application/json",
          ...(cached ? { "cache-control": "max-age=5" } : {}),
        },
      });
    },
  });
  try {
    for (const path of ["/plain", "/cached"]) {
      const r = await fetch(`http://127.0.0.1:${listener.port}${path}`, {
        headers: { "accept-encoding": "gzip, br" },
      });
      assert.equal(r.headers.get("content-encoding"), null, `${path}: re-encoded by the runtime`);
      assert.equal(
        r.headers.get("cache-control"),
        path === "/cached" ? "max-age=5, no-transform" : "no-transform",
      );
      assert.equal(await r.text(), json);
    }
    // A client that asks for no compression sees the answer's headers as they are.
    const plain = await fetch(`http://127.0.0.1:${listener.port}/plain`, {
      headers: { "accept-encoding": "identity" },
    });
    assert.equal(plain.headers.get("cache-control"), null);
    assert.equal(await plain.text(), json);
  } finally {
    await listener.close();
  }
});
