import assert from "node:assert/strict";
import { JsonUsageScanner } from "./json_usage.ts";
import { scanStream } from "./scan_stream.ts";
import { SseUsageScanner } from "./sse_scanner.ts";
import { ANTHROPIC_EXPECTED, ANTHROPIC_SSE, OPENAI_CHAT_JSON } from "./_test_helpers.ts";
import { createUsageScanner, usageMode } from "./usage_scanner.ts";
import type { UsageReport } from "./usage_shapes.ts";

const enc = new TextEncoder();

Deno.test("the mode follows Content-Type (and Content-Encoding)", () => {
  assert.equal(usageMode("text/event-stream"), "sse");
  assert.equal(usageMode("Text/Event-Stream; charset=utf-8"), "sse");
  assert.equal(usageMode("application/json"), "json");
  assert.equal(usageMode("application/problem+json"), "json");
  assert.equal(usageMode("application/x-ndjson"), "json");
  assert.equal(usageMode("text/plain"), "none");
  assert.equal(usageMode("application/octet-stream"), "none");
  assert.equal(usageMode(null), "none");
  assert.equal(usageMode(""), "none");
  assert.equal(usageMode("application/json", "gzip"), "none");
  assert.equal(usageMode("text/event-stream", "br"), "none");
  assert.equal(usageMode("application/json", "identity"), "json");
});

Deno.test("createUsageScanner builds the reader for the headers, or none", () => {
  const now = () => 0;
  const sse = createUsageScanner(new Headers({ "content-type": "text/event-stream" }), { now });
  assert.ok(sse instanceof SseUsageScanner);
  const json = createUsageScanner(new Headers({ "content-type": "application/json" }), { now });
  assert.ok(json instanceof JsonUsageScanner);
  assert.equal(
    createUsageScanner(new Headers({ "content-type": "text/html" }), { now }),
    undefined,
  );
  assert.equal(createUsageScanner(new Headers(), { now }), undefined);
  // A JSON answer declared over the bound is not copied.
  const big = createUsageScanner(
    new Headers({ "content-type": "application/json", "content-length": "2000000" }),
    { now },
  )!;
  big.scan(enc.encode(OPENAI_CHAT_JSON));
  assert.deepEqual(big.end(), { events: 0, found: false, oversize: true });
  const small = createUsageScanner(
    new Headers({ "content-type": "application/json", "content-length": "bogus" }),
    { now, maxBytes: 4096 },
  )!;
  small.scan(enc.encode(OPENAI_CHAT_JSON));
  assert.equal(small.end().input, 19);
});

function streamOf(chunks: Uint8Array[], fail = false): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]!);
      else if (fail) c.error(new Error("reset"));
      else c.close();
    },
  });
}

Deno.test("scanStream passes the very same chunks through and reports at the end", async () => {
  const bytes = enc.encode(ANTHROPIC_SSE);
  const chunks = [bytes.subarray(0, 100), bytes.subarray(100, 101), bytes.subarray(101)];
  let report: UsageReport | undefined;
  let how = "";
  const out = scanStream(streamOf(chunks), new SseUsageScanner({ now: () => 5 }), (r, e) => {
    report = r;
    how = e;
  });
  const seen: Uint8Array[] = [];
  for await (const c of out) seen.push(c);
  assert.equal(seen.length, 3);
  seen.forEach((c, i) => assert.equal(c, chunks[i]));
  assert.equal(how, "complete");
  assert.equal(report?.output, ANTHROPIC_EXPECTED.output);
  assert.equal(report?.firstEventAt, 5);
});

Deno.test("scanStream reports a cut body and a client that left, once", async () => {
  const bytes = enc.encode(ANTHROPIC_SSE);
  let calls = 0;
  let how = "";
  let report: UsageReport | undefined;
  const failing = scanStream(
    streamOf([bytes.subarray(0, 400)], true),
    new SseUsageScanner({ now: () => 0 }),
    (r, e) => {
      calls++;
      how = e;
      report = r;
    },
  );
  await assert.rejects(async () => {
    for await (const _ of failing) { /* drain */ }
  });
  assert.equal(how, "error");
  assert.equal(report?.input, ANTHROPIC_EXPECTED.input, "what came before the cut counts");
  let cancelledUpstream = false;
  const upstream = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(bytes.subarray(0, 10));
    },
    cancel() {
      cancelledUpstream = true;
    },
  });
  const out = scanStream(upstream, new SseUsageScanner({ now: () => 0 }), (_r, e) => {
    calls++;
    how = e;
  });
  const reader = out.getReader();
  await reader.read();
  await reader.cancel("gone");
  assert.equal(how, "cancelled");
  assert.equal(cancelledUpstream, true);
  assert.equal(calls, 2);
});
