/**
 * Answers shaped like the providers' own (field order, `"usage":null` on every OpenAI
 * chunk with include_usage, Anthropic's ping, Responses' long final event), with text
 * that mentions `"usage"` and `"model"` to trip naive scanners. Test data only.
 *
 * @module
 */

export { seededRandom as prng } from "../seeded_random.ts";

const CHAT_HEAD =
  `"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8"`;

function chatChunk(delta: string, finish: string | null = null): string {
  return `data: {${CHAT_HEAD},"choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${
    finish === null ? "null" : `"${finish}"`
  }}],"usage":null}\n\n`;
}

/** OpenAI Chat Completions stream with `stream_options.include_usage`. */
export const OPENAI_CHAT_SSE = chatChunk(`{"role":"assistant","content":"","refusal":null}`) +
  chatChunk(`{"content":"Here is JSON: {\\"usage\\": {\\"prompt_tokens\\": 999}, "}`) +
  chatChunk(`{"content":"\\"model\\":\\"fake\\"} and a backslash \\\\"}`) +
  chatChunk(`{"content":" — ünïcödé 🎉 g g g"}`) +
  chatChunk(`{}`, "stop") +
  `data: {${CHAT_HEAD},"choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}\n\n` +
  `data: [DONE]\n\n`;

/** What {@linkcode OPENAI_CHAT_SSE} reports (event times aside). */
export const OPENAI_CHAT_EXPECTED = {
  input: 19,
  output: 10,
  cachedInput: 3,
  reasoning: 2,
  model: "gpt-4o-2024-08-06",
  events: 6,
  found: true,
  oversize: false,
};

/** The same stream without include_usage: no usage, but the model. */
export const OPENAI_CHAT_SSE_NO_USAGE = [
  chatChunk(`{"role":"assistant","content":""}`),
  chatChunk(`{"content":"Hi"}`),
  chatChunk(`{}`, "stop"),
  `data: [DONE]\n\n`,
].join("").replaceAll(`,"usage":null`, "");

const RESPONSE_HEAD =
  `"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958`;
const RESPONSE_TAIL =
  `"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":"low","summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled"`;

function responseObject(status: string, output: string, usage: string): string {
  return `{${RESPONSE_HEAD},"status":"${status}","error":null,"incomplete_details":null,"instructions":"Mention \\"usage\\":{\\"input_tokens\\":1} never.","max_output_tokens":null,"model":"o4-mini-2025-04-16","output":${output},${RESPONSE_TAIL},"usage":${usage},"user":null,"metadata":{}}`;
}

function responsesEvent(type: string, seq: number, body: string): string {
  return `event: ${type}\ndata: {"type":"${type}","sequence_number":${seq},${body}}\n\n`;
}

const MESSAGE_ITEM =
  `{"id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi there! \\"usage\\": null","annotations":[]}]}`;

/** OpenAI Responses API stream. */
export const RESPONSES_SSE = responsesEvent(
  "response.created",
  0,
  `"response":${responseObject("in_progress", "[]", "null")}`,
) +
  responsesEvent(
    "response.in_progress",
    1,
    `"response":${responseObject("in_progress", "[]", "null")}`,
  ) +
  responsesEvent(
    "response.output_item.added",
    2,
    `"output_index":0,"item":{"id":"msg_67c9","type":"message","status":"in_progress","role":"assistant","content":[]}`,
  ) +
  responsesEvent(
    "response.output_text.delta",
    3,
    `"item_id":"msg_67c9","output_index":0,"content_index":0,"delta":"Hi there! "`,
  ) +
  responsesEvent(
    "response.output_text.delta",
    4,
    `"item_id":"msg_67c9","output_index":0,"content_index":0,"delta":"\\"usage\\": null"`,
  ) +
  responsesEvent(
    "response.output_text.done",
    5,
    `"item_id":"msg_67c9","output_index":0,"content_index":0,"text":"Hi there! \\"usage\\": null"`,
  ) +
  responsesEvent("response.output_item.done", 6, `"output_index":0,"item":${MESSAGE_ITEM}`) +
  responsesEvent(
    "response.completed",
    7,
    `"response":${
      responseObject(
        "completed",
        `[${MESSAGE_ITEM}]`,
        `{"input_tokens":37,"input_tokens_details":{"cached_tokens":12},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":48}`,
      )
    }`,
  );

/** What {@linkcode RESPONSES_SSE} reports. */
export const RESPONSES_EXPECTED = {
  input: 37,
  output: 11,
  cachedInput: 12,
  reasoning: 4,
  model: "o4-mini-2025-04-16",
  events: 8,
  found: true,
  oversize: false,
};

/** Anthropic Messages stream, with two cumulative message_delta events. */
export const ANTHROPIC_SSE = [
  `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":7,"output_tokens":1}}}\n\n`,
  `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
  `event: ping\ndata: {"type": "ping"}\n\n`,
  `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello \\"usage\\":{\\"output_tokens\\":99}"}}\n\n`,
  `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}\n\n`,
  `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
  `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":null,"stop_sequence":null},"usage":{"output_tokens":10}}\n\n`,
  `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}\n\n`,
  `event: message_stop\ndata: {"type":"message_stop"}\n\n`,
].join("");

/** What {@linkcode ANTHROPIC_SSE} reports. */
export const ANTHROPIC_EXPECTED = {
  input: 25,
  output: 15,
  cachedInput: 7,
  model: "claude-sonnet-4-5-20250929",
  events: 9,
  found: true,
  oversize: false,
};

/** OpenAI Chat Completions answer. */
export const OPENAI_CHAT_JSON =
  `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! {\\"usage\\": {\\"prompt_tokens\\": 999}, \\"model\\": \\"x\\"} \\\\","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default"}`;

/** What {@linkcode OPENAI_CHAT_JSON} reports. */
export const OPENAI_CHAT_JSON_EXPECTED = {
  input: 19,
  output: 10,
  cachedInput: 3,
  reasoning: 2,
  model: "gpt-4.1-2025-04-14",
  events: 0,
  found: true,
  oversize: false,
};

/** OpenAI Responses answer, pretty-printed as some servers do. */
export const RESPONSES_JSON = JSON.stringify(
  {
    id: "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
    object: "response",
    created_at: 1741476777,
    status: "completed",
    error: null,
    model: "o4-mini-2025-04-16",
    output: [{
      type: "message",
      id: "msg_67ccd3acc8d48190a77525dc6de64b4104becb25c45c1d41",
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text: 'The "usage": {"input_tokens": 5}', annotations: [] }],
    }],
    usage: {
      input_tokens: 328,
      input_tokens_details: { cached_tokens: 128 },
      output_tokens: 52,
      output_tokens_details: { reasoning_tokens: 20 },
      total_tokens: 380,
    },
    user: null,
    metadata: {},
  },
  null,
  2,
);

/** What {@linkcode RESPONSES_JSON} reports. */
export const RESPONSES_JSON_EXPECTED = {
  input: 328,
  output: 52,
  cachedInput: 128,
  reasoning: 20,
  model: "o4-mini-2025-04-16",
  events: 0,
  found: true,
  oversize: false,
};

/** Anthropic Messages answer whose tool input holds a `usage` key of its own. */
export const ANTHROPIC_JSON =
  `{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[{"type":"text","text":"Let me record that."},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"record","input":{"usage":{"input_tokens":1,"output_tokens":1},"model":"nested"}}],"model":"claude-opus-4-1-20250805","stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":2095,"cache_creation_input_tokens":0,"cache_read_input_tokens":1800,"output_tokens":503}}`;

/** What {@linkcode ANTHROPIC_JSON} reports. */
export const ANTHROPIC_JSON_EXPECTED = {
  input: 2095,
  output: 503,
  cachedInput: 1800,
  model: "claude-opus-4-1-20250805",
  events: 0,
  found: true,
  oversize: false,
};

/** Rewrites `\n` line ends (the corpus' own) as `\r\n` or `\r`. */
export function withLineEnds(text: string, end: "\n" | "\r\n" | "\r"): string {
  return end === "\n" ? text : text.replaceAll("\n", end);
}

/** Cuts `bytes` into pieces at random places (views into `bytes`). */
export function randomChunks(bytes: Uint8Array, random: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < bytes.length) {
    // Mostly small pieces, sometimes large ones, sometimes empty ones.
    const r = random();
    const size = r < 0.05 ? 0 : r < 0.6 ? 1 + Math.floor(random() * 8) : Math.floor(random() * 400);
    out.push(bytes.subarray(p, Math.min(bytes.length, p + size)));
    p += size;
  }
  return out;
}
