import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setBodyTap } from "../../core/proxy/body_tap.ts";
import { writeResponse } from "./outgoing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A node:http server that answers every request with `make()` through writeResponse. */
async function serve(make: () => Response): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    void writeResponse(res, make(), new AbortController().signal, true);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, server };
}

function pieces(parts: string[], gapMs: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(c) {
      if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
      const p = parts[i++];
      if (p === undefined) c.close();
      else c.enqueue(enc.encode(p));
    },
  });
}

Deno.test("the writer taps every chunk it writes, in order, and nothing else", async () => {
  const cases: { parts: string[]; gapMs: number; length?: number }[] = [
    { parts: ['{"usage":{"prompt_tokens":1}}'], gapMs: 0 }, // one write with a length
    { parts: ['{"a":', '"b"}'], gapMs: 20, length: 9 }, // chunk by chunk
    { parts: ["data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"], gapMs: 20 },
  ];
  for (const { parts, gapMs, length } of cases) {
    const seen: string[] = [];
    const { url, server } = await serve(() => {
      const res = new Response(pieces(parts, gapMs), {
        headers: length === undefined ? {} : { "content-length": String(length) },
      });
      setBodyTap(res, (c) => void seen.push(dec.decode(c)));
      return res;
    });
    try {
      const r = await fetch(url);
      assert.equal(await r.text(), parts.join(""));
      assert.equal(seen.join(""), parts.join(""), "every byte tapped");
      if (gapMs > 0) assert.deepEqual(seen, parts, "chunk by chunk");
    } finally {
      await new Promise((r) => server.close(r));
    }
  }
});

Deno.test("an untouched Node body: whole when buffered, piped when not, tapped either way", async () => {
  const { Readable } = await import("node:stream");
  const { nodeResponse } = await import("./lazy_body.ts");
  const body = '{"usage":{"prompt_tokens":1},"x":"' + "y".repeat(3000) + '"}';
  for (const buffered of [true, false]) {
    const seen: string[] = [];
    const { url, server } = await serve(() => {
      const src = new Readable({ read() {} });
      const headers = new Headers({ "content-length": String(enc.encode(body).byteLength) });
      if (buffered) {
        // As undici holds an answer that came with its head: in pieces, ended.
        src.push(enc.encode(body.slice(0, 100)));
        src.push(enc.encode(body.slice(100)));
        src.push(null);
      } else {
        src.push(enc.encode(body.slice(0, 100)));
        setTimeout(() => {
          src.push(enc.encode(body.slice(100)));
          src.push(null);
        }, 20);
      }
      const res = nodeResponse({ status: 200, headers }, src, () => {});
      setBodyTap(res, (c) => void seen.push(dec.decode(c)));
      return res;
    });
    try {
      const r = await fetch(url);
      assert.equal(await r.text(), body);
      assert.equal(seen.join(""), body, "every byte tapped");
      assert.equal(seen.length, buffered ? 1 : 2, buffered ? "one write" : "chunk by chunk");
    } finally {
      await new Promise((r) => server.close(r));
    }
  }
});
