import assert from "node:assert/strict";
import { SseUsageScanner } from "./sse_scanner.ts";
import {
  ANTHROPIC_EXPECTED,
  ANTHROPIC_SSE,
  OPENAI_CHAT_EXPECTED,
  OPENAI_CHAT_SSE,
  OPENAI_CHAT_SSE_NO_USAGE,
  prng,
  randomChunks,
  RESPONSES_EXPECTED,
  RESPONSES_SSE,
  withLineEnds,
} from "./_test_helpers.ts";
import type { UsageReport } from "./usage_shapes.ts";

const enc = new TextEncoder();

/** Scans `chunks` with a clock that says 1000 and returns the report. */
function scanAll(chunks: Uint8Array[], maxLine?: number): UsageReport {
  const s = new SseUsageScanner({ now: () => 1000, ...(maxLine ? { maxLine } : {}) });
  for (const c of chunks) s.scan(c);
  return s.end();
}

/** The report without the event times, for comparing with the corpus' expectations. */
function counts(r: UsageReport): Omit<UsageReport, "firstEventAt" | "lastEventAt"> {
  const { firstEventAt: _f, lastEventAt: _l, ...rest } = r;
  return rest;
}

/**
 * Events whose meaning hangs on their `event:` name (no `type` in the data) and whose
 * data spans lines: a line end seen twice, or a data line lost between chunks, shows.
 */
const NAMED_MULTILINE = "event: message_start\n" +
  'data: {"message":\n' +
  'data:   {"model":"claude-x","usage":{"input_tokens":3,"cache_read_input_tokens":1}}}\n\n' +
  'event: message_delta\ndata: {"usage":{"output_tokens":4}}\n\n' +
  'event: message_delta\ndata: {"usage":\ndata: {"output_tokens":6}}\n\n';
const NAMED_MULTILINE_EXPECTED = {
  input: 3,
  output: 6,
  cachedInput: 1,
  model: "claude-x",
  events: 3,
  found: true,
  oversize: false,
};

const STREAMS = [
  ["OpenAI chat", OPENAI_CHAT_SSE, OPENAI_CHAT_EXPECTED],
  ["Responses", RESPONSES_SSE, RESPONSES_EXPECTED],
  ["Anthropic", ANTHROPIC_SSE, ANTHROPIC_EXPECTED],
  ["named multi-line", NAMED_MULTILINE, NAMED_MULTILINE_EXPECTED],
] as const;
const LINE_ENDS = ["\n", "\r\n", "\r"] as const;

Deno.test("SSE: the three APIs' streams, in one chunk, with every kind of line end", () => {
  for (const [name, text, expected] of STREAMS) {
    for (const end of LINE_ENDS) {
      const r = scanAll([enc.encode(withLineEnds(text, end))]);
      assert.deepEqual(counts(r), expected, `${name} ${JSON.stringify(end)}`);
      assert.equal(r.firstEventAt, 1000);
      assert.equal(r.lastEventAt, 1000);
    }
  }
});

Deno.test("SSE: split in two at every byte position gives the same report", () => {
  for (const [name, text, expected] of STREAMS) {
    for (const end of LINE_ENDS) {
      const bytes = enc.encode(withLineEnds(text, end));
      for (let cut = 0; cut <= bytes.length; cut++) {
        const r = scanAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
        assert.deepEqual(counts(r), expected, `${name} ${JSON.stringify(end)} cut at ${cut}`);
      }
    }
  }
});

Deno.test("SSE: one byte per chunk, and three-way splits around every line end", () => {
  for (const [name, text, expected] of STREAMS) {
    for (const end of LINE_ENDS) {
      const bytes = enc.encode(withLineEnds(text, end));
      const single: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
      assert.deepEqual(counts(scanAll(single)), expected, `${name} byte by byte`);
      // Cuts just before and after each line end: where `\r` / `\n` pairs get separated.
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] !== 0x0a && bytes[i] !== 0x0d) continue;
        for (const j of [i + 1, i + 2, i + 7]) {
          const chunks = [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
          assert.deepEqual(counts(scanAll(chunks)), expected, `${name} cuts ${i},${j}`);
        }
      }
    }
  }
});

Deno.test("SSE: property: random chunkings report what one chunk does", () => {
  const random = prng(20260127);
  const mixed = OPENAI_CHAT_SSE.replaceAll("\n\n", "\r\n\r\n") + ": keep-alive\n\n";
  const texts: [string, string][] = [["mixed", mixed]];
  for (const [name, text] of STREAMS) {
    for (const end of LINE_ENDS) {
      texts.push([`${name} ${JSON.stringify(end)}`, withLineEnds(text, end)]);
    }
  }
  for (const [name, text] of texts) {
    const bytes = enc.encode(text);
    const whole = scanAll([bytes]);
    for (let round = 0; round < 300; round++) {
      const chunks = randomChunks(bytes, random);
      assert.deepEqual(scanAll(chunks), whole, `${name} round ${round}`);
    }
  }
});

Deno.test("SSE: comments, keep-alive blank lines, id/retry fields and a BOM are ignored", () => {
  const noisy = "\uFEFF" + OPENAI_CHAT_SSE.slice(0, OPENAI_CHAT_SSE.indexOf("\n\n") + 2) +
    ": hello\n\n\n\nretry: 3000\n" +
    OPENAI_CHAT_SSE.slice(OPENAI_CHAT_SSE.indexOf("\n\n") + 2).replaceAll(
      "data: ",
      ": ping\nid: 7\ndata: ",
    ).replaceAll("\n\n", "\n\n\n");
  const bytes = enc.encode(noisy);
  assert.deepEqual(counts(scanAll([bytes])), OPENAI_CHAT_EXPECTED);
  for (let cut = 0; cut <= 40; cut++) {
    assert.deepEqual(
      counts(scanAll([bytes.subarray(0, cut), bytes.subarray(cut)])),
      OPENAI_CHAT_EXPECTED,
    );
  }
  // Only comments and blank lines: no event at all.
  const r = scanAll([enc.encode(": a\n\n: b\r\n\r\n\r\r")]);
  assert.deepEqual(r, { events: 0, found: false, oversize: false });
});

Deno.test("SSE: multi-line data is joined with \\n before it is parsed", () => {
  const pretty = JSON.stringify(
    {
      id: "x",
      model: "gpt-4o-mini",
      choices: [],
      usage: { prompt_tokens: 4, completion_tokens: 6 },
    },
    null,
    2,
  );
  const text =
    `data: {"model":"gpt-4o-mini","choices":[{"delta":{"content":"a"}}],"usage":null}\n\n` +
    pretty.split("\n").map((l) => `data: ${l}\n`).join("") + "\n" +
    // `"usage"` and its value on different lines; `data:` without the space.
    `data:{"usage"\ndata:  :\ndata: {"prompt_tokens":5,"completion_tokens":8}}\n\n`;
  const bytes = enc.encode(text);
  const expected = {
    input: 5,
    output: 8,
    model: "gpt-4o-mini",
    events: 3,
    found: true,
    oversize: false,
  };
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = scanAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.deepEqual(counts(r), expected, `cut at ${cut}`);
  }
});

Deno.test("SSE: a stream without usage reports found: false (and still the model)", () => {
  const r = scanAll([enc.encode(OPENAI_CHAT_SSE_NO_USAGE)]);
  assert.deepEqual(counts(r), {
    model: "gpt-4o-2024-08-06",
    events: 3,
    found: false,
    oversize: false,
  });
  assert.deepEqual(scanAll([]), { events: 0, found: false, oversize: false });
  // `"usage":null` and a usage object that states no count.
  const r2 = scanAll([
    enc.encode('data: {"usage":null}\n\ndata: {"usage":{"total_tokens":3}}\n\n'),
  ]);
  assert.deepEqual(r2, {
    events: 2,
    found: false,
    oversize: false,
    firstEventAt: 1000,
    lastEventAt: 1000,
  });
});

Deno.test("SSE: [DONE] is not an event; event times come from the injected clock", () => {
  let t = 0;
  const s = new SseUsageScanner({ now: () => ++t * 10 });
  const events = OPENAI_CHAT_SSE.split(/(?<=\n\n)/);
  for (const e of events) s.scan(enc.encode(e));
  const r = s.end();
  assert.equal(r.events, 6);
  assert.equal(r.firstEventAt, 10);
  assert.equal(r.lastEventAt, 60); // the [DONE] chunk took no time stamp
  assert.equal(t, 6);
});

Deno.test("SSE: only the events that carry usage (and the first with a model) are parsed", () => {
  const parse = JSON.parse;
  let calls = 0;
  JSON.parse =
    ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
      calls++;
      return parse(text, reviver);
    }) as typeof JSON.parse;
  try {
    scanAll([enc.encode(OPENAI_CHAT_SSE)]);
    assert.equal(calls, 2, "OpenAI: first chunk (model) and the usage chunk");
    calls = 0;
    scanAll([enc.encode(RESPONSES_SSE)]);
    assert.equal(calls, 2, "Responses: response.created (model) and response.completed");
    calls = 0;
    scanAll([enc.encode(ANTHROPIC_SSE)]);
    assert.equal(calls, 3, "Anthropic: message_start and two message_delta");
    calls = 0;
    // A long stream whose chunks say nothing of the model: the search stops.
    scanAll([enc.encode('data: {"x":{"model":1}}\n\n'.repeat(100))]);
    assert.equal(calls, 0);
  } finally {
    JSON.parse = parse;
  }
});

Deno.test("SSE: a 2 MiB line is skipped with bounded memory; the stream goes on", () => {
  const max = 1024 * 1024;
  const big = "x".repeat(2 * max);
  const text = `data: {"model":"m1","choices":[]}\n\n` +
    `data: {"content":"${big}","usage":{"prompt_tokens":1}}\n\n` +
    `: ${big}\n` +
    `data: {"usage":{"prompt_tokens":7,"completion_tokens":9}}\n\n`;
  const bytes = enc.encode(text);
  const expected = {
    input: 7,
    output: 9,
    model: "m1",
    events: 3,
    found: true,
    oversize: true,
  };
  for (const size of [1, 4096, 65536, 1_000_003, bytes.length]) {
    const s = new SseUsageScanner({ now: () => 0 });
    // One byte at a time over 4 MiB is slow: single-byte chunks only around the edges.
    const chunks = size === 1
      ? [
        ...Array.from({ length: 300 }, (_, i) => bytes.subarray(i, i + 1)),
        bytes.subarray(300, bytes.length - 300),
        ...Array.from(
          { length: 300 },
          (_, i) => bytes.subarray(bytes.length - 300 + i, bytes.length - 299 + i),
        ),
      ]
      : Array.from(
        { length: Math.ceil(bytes.length / size) },
        (_, i) => bytes.subarray(i * size, (i + 1) * size),
      );
    for (const c of chunks) {
      s.scan(c);
      assert.ok(s.pendingBytes <= max, `pending ${s.pendingBytes} at chunk size ${size}`);
      assert.ok(s.bufferedCapacity <= max, `capacity ${s.bufferedCapacity}`);
    }
    assert.deepEqual(counts(s.end()), expected, `chunk size ${size}`);
    assert.equal(s.bufferedCapacity, 0);
  }
});

Deno.test("SSE: lines at the bound are read, one byte over are skipped, however cut", () => {
  const max = 64;
  const fits = `data: {"usage":{"prompt_tokens":1}}`;
  const line = (n: number) => fits.slice(0, -1) + " ".repeat(n - fits.length) + "}";
  for (const [n, found] of [[max, true], [max + 1, false]] as const) {
    const bytes = enc.encode(`${line(n)}\r\n\r\n`);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = scanAll([bytes.subarray(0, cut), bytes.subarray(cut)], max);
      assert.equal(r.found, found, `length ${n} cut at ${cut}`);
      assert.equal(r.oversize, !found);
      assert.equal(r.events, 1, "a skipped data line is still an event");
    }
  }
  // Joined data over the bound: the event is not parsed.
  const joined = `data: {"usage":${" ".repeat(40)}\ndata: ${
    " ".repeat(20)
  }{"prompt_tokens":1}}\n\n`;
  const r = scanAll([enc.encode(joined)], max);
  assert.equal(r.found, false);
  assert.equal(r.oversize, true);
  assert.equal(scanAll([enc.encode(joined)], 128).found, true);
});

Deno.test("SSE: non-UTF-8 and random bytes never throw", () => {
  const random = prng(7);
  const bad = new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28]);
  const text = enc.encode(
    `data: {"model":"m\u00e9","usage":{"prompt_tokens":2,"completion_tokens":3},"x":"`,
  );
  const tail = enc.encode(`"}\n\n`);
  const bytes = new Uint8Array([...bad, 0x0a, 0x0a, ...text, ...bad, ...tail]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = scanAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.equal(r.input, 2);
    assert.equal(r.output, 3);
    assert.equal(r.model, "mé");
  }
  for (let round = 0; round < 200; round++) {
    const noise = new Uint8Array(2000);
    for (let i = 0; i < noise.length; i++) {
      // Bias towards the bytes the scanner looks at.
      const r = random();
      noise[i] = r < 0.1 ? 0x0a : r < 0.15 ? 0x0d : r < 0.2 ? 0x3a : Math.floor(random() * 256);
    }
    const withData = new Uint8Array([...enc.encode("data: "), ...noise]);
    const report = scanAll(randomChunks(withData, random));
    assert.equal(typeof report.events, "number");
  }
});

Deno.test("SSE: a reused chunk buffer (BYOB style) is read correctly", () => {
  for (const [name, text, expected] of STREAMS) {
    for (const end of LINE_ENDS) {
      const bytes = enc.encode(withLineEnds(text, end));
      for (let size = 1; size <= 80; size++) {
        const s = new SseUsageScanner({ now: () => 0 });
        const buffer = new Uint8Array(size);
        for (let p = 0; p < bytes.length; p += size) {
          const piece = bytes.subarray(p, p + size);
          buffer.set(piece);
          // The same array object each time, as a BYOB reader hands it back.
          s.scan(piece.length === size ? buffer : buffer.subarray(0, piece.length));
          buffer.fill(0x67); // `g`, the byte the usage search looks for
        }
        assert.deepEqual(counts(s.end()), expected, `${name} buffer of ${size}`);
      }
    }
  }
});

Deno.test("SSE: usage sent without the final blank line still counts at the end", () => {
  const r1 = scanAll([enc.encode('data: {"usage":{"prompt_tokens":4,"completion_tokens":2}}\n')]);
  assert.equal(r1.found, true);
  const r2 = scanAll([enc.encode('data: {"usage":{"prompt_tokens":4,"completion_tokens":2}}')]);
  assert.equal(r2.found, true);
  assert.equal(r2.events, 1);
  // Cut inside the JSON: nothing, no throw.
  const r3 = scanAll([enc.encode('data: {"usage":{"prompt_tokens":4,"complet')]);
  assert.equal(r3.found, false);
  // Calls after end change nothing.
  const s = new SseUsageScanner({ now: () => 0 });
  const first = s.end();
  s.scan(enc.encode('data: {"usage":{"prompt_tokens":4}}\n\n'));
  assert.equal(s.end(), first);
});

Deno.test("SSE: event names stand in for a missing type; other shapes are not mistaken", () => {
  const text = 'event: message_start\ndata: {"message":{"usage":{"input_tokens":3}}}\n\n' +
    'event: message_delta\ndata: {"usage":{"output_tokens":4}}\n\n' +
    // A Responses event that is not the last: its usage is ignored.
    'data: {"type":"response.in_progress","response":{"usage":{"input_tokens":99}}}\n\n' +
    // `"usage"` as a value or inside a string is no key.
    'data: {"k":"usage","a":["usage"],"s":"\\"usage\\":{\\"prompt_tokens\\":5}"}\n\n';
  assert.deepEqual(counts(scanAll([enc.encode(text)])), {
    input: 3,
    output: 4,
    events: 4,
    found: true,
    oversize: false,
  });
  const incomplete =
    'event: response.incomplete\ndata: {"response":{"model":"o3","usage":{"input_tokens":8,"output_tokens":100}}}\n\n';
  assert.deepEqual(counts(scanAll([enc.encode(incomplete)])), {
    input: 8,
    output: 100,
    model: "o3",
    events: 1,
    found: true,
    oversize: false,
  });
});

Deno.test("SSE: a key after a look-alike in the same line is still found", () => {
  const text = 'data: {"k":"usage","s":"\\"usage\\"","usage":null,"usage":{"prompt_tokens":3}}\n\n';
  const bytes = enc.encode(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = scanAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.equal(r.input, 3, `cut at ${cut}`);
  }
});
