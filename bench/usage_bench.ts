/**
 * What reading token usage costs per SSE event and per JSON answer (docs/behaviour.md#token-usage):
 * `deno run --no-lock bench/usage_bench.ts [--events=2000] [--rounds=9]`.
 *
 * Compares, on the same bytes and the same chunks:
 * - no scanning: the loop that hands chunks on, and nothing else (the floor);
 * - src/core/usage: the byte scanner (`SseUsageScanner` / `JsonUsageScanner`);
 * - eventsource-parser (npm) fed `TextDecoder` output, parsing only events whose data
 *   mentions `"usage"` (the careful way to use it), and parsing every event (the usual
 *   way);
 * - for JSON answers, `TextDecoder` + `JSON.parse` of the whole body.
 *
 * Streams are shaped like the providers' (OpenAI Chat with include_usage, Responses,
 * Anthropic), cut one event per chunk (how LLM servers flush) and in 16 KiB chunks.
 * Every variant's result is checked before it is timed. Times are medians over rounds,
 * variants interleaved within each round so a busy machine hurts them alike.
 *
 * @module
 */
// Pinned here rather than in deno.json: only this bench uses it, for comparison.
import { createParser, type EventSourceMessage } from "../dev_deps.ts";
import { JsonUsageScanner } from "../src/core/usage/json_usage.ts";
import { SseUsageScanner } from "../src/core/usage/sse_scanner.ts";
import {
  applySseEvent,
  modelOf,
  readUsage,
  type SseEventName,
  type TokenTally,
} from "../src/core/usage/usage_shapes.ts";

const args = new Map(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const EVENTS = Number(args.get("events") ?? 2000);
const ROUNDS = Number(args.get("rounds") ?? 9);

const enc = new TextEncoder();

// ---------------------------------------------------------------- workloads

const WORDS = [
  " the",
  " model",
  " returns",
  " tokens",
  " as",
  " they",
  " are",
  " generated",
  ",",
  " über",
  " 日本",
  " usage",
  " is",
  " reported",
  " at",
  " the",
  " end",
  ".",
  ' \\"quoted\\"',
  "\\n",
];
function word(i: number): string {
  return WORDS[(i * 7 + 3) % WORDS.length]!;
}

function openaiChat(n: number): string[] {
  const head =
    `"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8"`;
  const ev: string[] = [
    `data: {${head},"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`,
  ];
  for (let i = 0; i < n; i++) {
    ev.push(
      `data: {${head},"choices":[{"index":0,"delta":{"content":"${
        word(i)
      }"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`,
    );
  }
  ev.push(
    `data: {${head},"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n`,
  );
  ev.push(
    `data: {${head},"choices":[],"usage":{"prompt_tokens":19,"completion_tokens":${n},"total_tokens":${
      19 + n
    },"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}\n\n`,
  );
  ev.push("data: [DONE]\n\n");
  return ev;
}

function anthropic(n: number): string[] {
  const ev = [
    `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}\n\n`,
    `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
    `event: ping\ndata: {"type": "ping"}\n\n`,
  ];
  for (let i = 0; i < n; i++) {
    ev.push(
      `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${
        word(i)
      }"}}\n\n`,
    );
  }
  ev.push(`event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`);
  ev.push(
    `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":${n}}}\n\n`,
  );
  ev.push(`event: message_stop\ndata: {"type":"message_stop"}\n\n`);
  return ev;
}

function responses(n: number): string[] {
  const resp = (status: string, output: string, usage: string) =>
    `{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958,"status":"${status}","error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"gpt-4.1-2025-04-14","output":${output},"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":${usage},"user":null,"metadata":{}}`;
  const ev = [
    `event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":${
      resp("in_progress", "[]", "null")
    }}\n\n`,
    `event: response.in_progress\ndata: {"type":"response.in_progress","sequence_number":1,"response":${
      resp("in_progress", "[]", "null")
    }}\n\n`,
  ];
  let text = "";
  for (let i = 0; i < n; i++) {
    text += word(i);
    ev.push(
      `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":${
        i + 2
      },"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"delta":"${
        word(i)
      }"}\n\n`,
    );
  }
  const item =
    `{"id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"${text}","annotations":[]}]}`;
  ev.push(
    `event: response.completed\ndata: {"type":"response.completed","sequence_number":${
      n + 2
    },"response":${
      resp(
        "completed",
        `[${item}]`,
        `{"input_tokens":37,"input_tokens_details":{"cached_tokens":0},"output_tokens":${n},"output_tokens_details":{"reasoning_tokens":0},"total_tokens":${
          37 + n
        }}`,
      )
    }}\n\n`,
  );
  return ev;
}

interface Workload {
  name: string;
  chunks: Uint8Array[];
  events: number;
  output: number;
}

function perEvent(name: string, events: string[], output: number): Workload {
  return { name, chunks: events.map((e) => enc.encode(e)), events: events.length, output };
}

function bulk(w: Workload, size: number): Workload {
  const all = new Uint8Array(w.chunks.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of w.chunks) all.set(c, (p += c.length) - c.length);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < all.length; i += size) chunks.push(all.slice(i, i + size));
  return { ...w, name: `${w.name}, ${size / 1024} KiB chunks`, chunks };
}

// ---------------------------------------------------------------- SSE variants

type Variant = (w: Workload) => number | undefined;

let sink = 0;

const noScan: Variant = (w) => {
  for (const c of w.chunks) sink += c.length;
  return w.output;
};

const ours: Variant = (w) => {
  const s = new SseUsageScanner({ now: () => performance.now() });
  for (const c of w.chunks) s.scan(c);
  return s.end().output;
};

function eventsourceParser(parseAll: boolean): Variant {
  return (w) => {
    const tally: TokenTally = {};
    let model: string | undefined;
    let first: number | undefined;
    let last = 0;
    const decoder = new TextDecoder();
    const parser = createParser({
      onEvent(e: EventSourceMessage) {
        if (e.data === "[DONE]") return;
        const at = performance.now();
        first ??= at;
        last = at;
        // The string search a careful user would do first (`"usage":null` is on every
        // OpenAI chunk with include_usage, so look for an object after the key).
        if (!parseAll && model !== undefined && !e.data.includes('"usage":{')) return;
        let data: unknown;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        applySseEvent(data, e.event as SseEventName, tally);
        model ??= modelOf(data);
      },
    });
    for (const c of w.chunks) parser.feed(decoder.decode(c, { stream: true }));
    sink += last - (first ?? 0);
    return tally.output;
  };
}

// ---------------------------------------------------------------- JSON variants

interface JsonWorkload {
  name: string;
  chunks: Uint8Array[];
  input: number;
}

function jsonWorkload(name: string, text: string, input: number): JsonWorkload {
  const bytes = enc.encode(text);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 16 * 1024) chunks.push(bytes.slice(i, i + 16 * 1024));
  return { name: `${name} (${(bytes.length / 1024).toFixed(1)} KiB)`, chunks, input };
}

type JsonVariant = (w: JsonWorkload) => number | undefined;

const jsonNoScan: JsonVariant = (w) => {
  for (const c of w.chunks) sink += c.length;
  return w.input;
};

const jsonOurs: JsonVariant = (w) => {
  const s = new JsonUsageScanner();
  for (const c of w.chunks) s.scan(c);
  return s.end().input;
};

const jsonParse: JsonVariant = (w) => {
  // Collect, decode and parse the whole answer: what a straightforward reader does.
  const parts: Uint8Array[] = [];
  let len = 0;
  for (const c of w.chunks) {
    parts.push(c.slice());
    len += c.length;
  }
  const all = new Uint8Array(len);
  let p = 0;
  for (const c of parts) all.set(c, (p += c.length) - c.length);
  try {
    const obj = JSON.parse(new TextDecoder().decode(all));
    const tally: TokenTally = {};
    readUsage(obj?.usage, tally);
    sink += typeof obj?.model === "string" ? 1 : 0;
    return tally.input;
  } catch {
    return undefined;
  }
};

function chatJson(contentChars: number): string {
  let content = "";
  for (let i = 0; content.length < contentChars; i++) content += word(i);
  return `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"${content}","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default"}`;
}

const anthropicJson =
  `{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[{"type":"text","text":"Hello! How can I help you today?"}],"model":"claude-sonnet-4-5-20250929","stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":2095,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":503}}`;

const responsesJson = JSON.stringify(
  {
    id: "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
    object: "response",
    created_at: 1741476777,
    status: "completed",
    model: "gpt-4.1-2025-04-14",
    output: [{
      type: "message",
      id: "msg_67ccd3acc8d48190a77525dc6de64b4104becb25c45c1d41",
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text: chatJson(600), annotations: [] }],
    }],
    usage: {
      input_tokens: 328,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 52,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 380,
    },
  },
  null,
  2,
);

// ---------------------------------------------------------------- timing

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median ms per run of each variant; variants interleaved in every round. */
function time<W>(
  work: W,
  variants: [string, (w: W) => unknown][],
  targetMs: number,
): Map<string, number> {
  const reps = new Map<string, number>();
  for (const [name, fn] of variants) {
    for (let i = 0; i < 20; i++) fn(work); // warm-up (JIT)
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < targetMs / 4) {
      fn(work);
      n++;
    }
    reps.set(name, Math.max(1, Math.round(n * 4 * (targetMs / 4) / (performance.now() - t0))));
  }
  const samples = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of variants) {
      const n = reps.get(name)!;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) fn(work);
      samples.get(name)!.push((performance.now() - t0) / n);
    }
  }
  return new Map([...samples].map(([n, s]) => [n, median(s)]));
}

function fmt(x: number, digits = 2): string {
  return x.toFixed(digits).padStart(8);
}

// ---------------------------------------------------------------- run

console.log(
  `usage scanning cost, Deno ${Deno.version.deno}, ${EVENTS} content events per stream, ` +
    `median of ${ROUNDS} rounds\n`,
);

const streams = [
  perEvent("OpenAI Chat SSE", openaiChat(EVENTS), EVENTS),
  perEvent("Anthropic SSE", anthropic(EVENTS), EVENTS),
  perEvent("Responses SSE", responses(EVENTS), EVENTS),
];
const sseWork = [...streams, ...streams.map((w) => bulk(w, 16 * 1024))];
const sseVariants: [string, Variant][] = [
  ["no scanning", noScan],
  ["src/core/usage", ours],
  ["eventsource-parser, parse usage events", eventsourceParser(false)],
  ["eventsource-parser, parse every event", eventsourceParser(true)],
];

console.log("SSE: µs per event (added over no scanning in brackets)");
console.log(
  `${"workload".padEnd(42)} ${"bytes/ev".padStart(8)} | ` +
    sseVariants.map(([n]) => n.padStart(n === "no scanning" ? 11 : 22)).join(" | "),
);
for (const w of sseWork) {
  for (const [name, fn] of sseVariants) {
    const got = fn(w);
    if (got !== w.output) throw new Error(`${name} on ${w.name}: output ${got}, want ${w.output}`);
  }
  const t = time(w, sseVariants, 150);
  const floor = t.get("no scanning")!;
  const bytes = w.chunks.reduce((n, c) => n + c.length, 0);
  const cells = sseVariants.map(([name]) => {
    const us = (t.get(name)! * 1000) / w.events;
    if (name === "no scanning") return fmt(us, 3).padStart(11);
    const added = ((t.get(name)! - floor) * 1000) / w.events;
    return `${fmt(us, 3)} (+${added.toFixed(3)})`.padStart(22);
  });
  console.log(
    `${w.name.padEnd(42)} ${String(Math.round(bytes / w.events)).padStart(8)} | ${
      cells.join(" | ")
    }`,
  );
}

const jsonWork = [
  jsonWorkload("OpenAI Chat JSON", chatJson(400), 19),
  jsonWorkload("Anthropic JSON", anthropicJson, 2095),
  jsonWorkload("Responses JSON, pretty", responsesJson, 328),
  jsonWorkload("OpenAI Chat JSON, long answer", chatJson(200_000), 19),
];
const jsonVariants: [string, JsonVariant][] = [
  ["no scanning", jsonNoScan],
  ["src/core/usage", jsonOurs],
  ["TextDecoder + JSON.parse", jsonParse],
];
console.log("\nJSON: µs per answer (16 KiB chunks)");
console.log(
  `${"workload".padEnd(42)} | ` + jsonVariants.map(([n]) => n.padStart(24)).join(" | "),
);
for (const w of jsonWork) {
  for (const [name, fn] of jsonVariants) {
    const got = fn(w);
    if (got !== w.input) throw new Error(`${name} on ${w.name}: input ${got}, want ${w.input}`);
  }
  const t = time(w, jsonVariants, 150);
  console.log(
    `${w.name.padEnd(42)} | ` +
      jsonVariants.map(([name]) => fmt(t.get(name)! * 1000, 2).padStart(24)).join(" | "),
  );
}

// Memory an open stream keeps: the scanner object plus its carry buffers mid-event.
const s = new SseUsageScanner({ now: () => 0 });
const half = streams[0]!.chunks[5]!;
s.scan(half.subarray(0, half.length >> 1));
console.log(
  `\nbuffers held by a stream paused mid-event: ${s.bufferedCapacity} bytes (grown on demand, ` +
    `dropped above 16 KiB after use)`,
);
if (sink === -1) console.log(sink);
