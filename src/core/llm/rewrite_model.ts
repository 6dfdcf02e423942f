/**
 * `model_map` body rewriting (docs/behaviour.md#model_map): change the value of the top-level
 * `model` and nothing else, byte for byte.
 *
 * @module
 */
import { decodeString, type JsonObjectSpan, scanJsonDocument } from "./json_scan.ts";
import { applyEdits, type ByteEdit } from "./splice.ts";

const encoder = new TextEncoder();

/**
 * Returns body bytes in which the top-level `model` string is `newModel`; every other
 * byte (field order, whitespace, escapes, number spelling, nested `model` keys) is kept.
 *
 * Nothing changes (and `bytes` itself is returned) when the body is not valid JSON, its
 * top level is not an object, the `model` that `JSON.parse` would read (the last one)
 * is not a string, or it already is `newModel`.
 *
 * Duplicate top-level `model` keys: every one of them is rewritten, not only the last.
 * Parsers disagree on duplicates (JSON.parse and most keep the last, some keep the
 * first), so rewriting all of them makes sure the upstream sees the mapped name whatever
 * it parses with, and a client cannot slip an unmapped model past the map that way.
 *
 * `scan` may be passed when the caller already has it (e.g. `RequestBody.scan`)
 * for these very bytes; it saves a second pass over the body.
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode('{"model": "gpt-4o", "n": 1.0}');
 * new TextDecoder().decode(rewriteModel(body, "llama")); // '{"model": "llama", "n": 1.0}'
 * ```
 */
export function rewriteModel(
  bytes: Uint8Array,
  newModel: string,
  scan?: JsonObjectSpan,
): Uint8Array {
  const doc = scan ?? scanJsonDocument(bytes);
  if (doc === undefined) return bytes;
  const models = doc.members.filter((m) => m.key === "model");
  const last = models[models.length - 1];
  if (last === undefined || bytes[last.valueStart] !== 0x22) return bytes;
  let replacement: Uint8Array | undefined;
  const edits: ByteEdit[] = [];
  for (const m of models) {
    // A value that already says newModel keeps its own spelling (escapes included).
    if (
      bytes[m.valueStart] === 0x22 &&
      decodeString(bytes, m.valueStart, m.valueEnd) === newModel
    ) continue;
    // JSON.stringify escapes quotes, backslashes, controls and lone surrogates.
    replacement ??= encoder.encode(JSON.stringify(newModel));
    edits.push({ start: m.valueStart, end: m.valueEnd, bytes: replacement });
  }
  return applyEdits(bytes, edits);
}
