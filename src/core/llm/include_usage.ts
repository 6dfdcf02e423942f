/**
 * `http_client.stream_usage` (docs/behaviour.md#stream_usage): ask an OpenAI-compatible provider to
 * report usage at the end of a streamed chat completion, by adding
 * `"stream_options":{"include_usage":true}` to the request body in place.
 *
 * @module
 */
import {
  isLiteral,
  type JsonObjectSpan,
  lastMember,
  scanJsonDocument,
  scanObject,
} from "./json_scan.ts";
import { applyEdits } from "./splice.ts";

const encoder = new TextEncoder();
const WHOLE_AFTER_MEMBER = encoder.encode(',"stream_options":{"include_usage":true}');
const OPTIONS_OBJECT = encoder.encode('{"include_usage":true}');
const KEY = encoder.encode('"include_usage":true');
const KEY_AFTER_MEMBER = encoder.encode(',"include_usage":true');
const TRUE = encoder.encode("true");

/**
 * Returns body bytes that ask for stream usage, or `bytes` itself when there is nothing
 * to add. Only a body whose top-level `stream` is `true` is touched; every byte already
 * there is kept, new text goes after the last member of the object it joins.
 *
 * What counts as "no `stream_options.include_usage`" (the members read are the ones
 * `JSON.parse` would read, i.e. the last of duplicates):
 * - `stream_options` absent or `null`: the member is added, or `null` becomes
 *   `{"include_usage":true}` (OpenAI treats `null` as "not given").
 * - `stream_options` an object without `include_usage`, or with `include_usage: null`:
 *   the key is added inside it, or `null` becomes `true`; its other keys stay.
 * - `include_usage: false` is left alone: the client opted out explicitly, maybe because
 *   its code cannot take the extra chunk with empty `choices`; usage is then missing and
 *   counted as such, which is the honest outcome.
 * - `stream_options` of another type (string, array, …) is left alone: that is the
 *   client's error for the provider to report, not something to paper over.
 *
 * `scan` may be passed when the caller already has it (e.g. `RequestBody.scan`)
 * for these very bytes; it saves a second pass over the body.
 *
 * @example
 * ```ts
 * const body = new TextEncoder().encode('{"model":"m","stream":true}');
 * new TextDecoder().decode(injectIncludeUsage(body));
 * // '{"model":"m","stream":true,"stream_options":{"include_usage":true}}'
 * ```
 */
export function injectIncludeUsage(bytes: Uint8Array, scan?: JsonObjectSpan): Uint8Array {
  const doc = scan ?? scanJsonDocument(bytes);
  if (doc === undefined) return bytes;
  const stream = lastMember(doc, "stream");
  if (stream === undefined || !isLiteral(bytes, stream.valueStart, stream.valueEnd, "true")) {
    return bytes;
  }
  const options = lastMember(doc, "stream_options");
  if (options === undefined) {
    // `stream` is a member, so the object is not empty: append after its last member.
    const at = doc.members[doc.members.length - 1]!.valueEnd;
    return applyEdits(bytes, [{ start: at, end: at, bytes: WHOLE_AFTER_MEMBER }]);
  }
  const { valueStart, valueEnd } = options;
  if (isLiteral(bytes, valueStart, valueEnd, "null")) {
    return applyEdits(bytes, [{ start: valueStart, end: valueEnd, bytes: OPTIONS_OBJECT }]);
  }
  if (bytes[valueStart] !== 0x7b) return bytes;
  const inner = scanObject(bytes, valueStart);
  if (inner === undefined) return bytes; // cannot happen: the document scanned as valid
  const flag = lastMember(inner, "include_usage");
  if (flag === undefined) {
    const lastInner = inner.members[inner.members.length - 1];
    const at = lastInner === undefined ? inner.start + 1 : lastInner.valueEnd;
    const text = lastInner === undefined ? KEY : KEY_AFTER_MEMBER;
    return applyEdits(bytes, [{ start: at, end: at, bytes: text }]);
  }
  if (isLiteral(bytes, flag.valueStart, flag.valueEnd, "null")) {
    return applyEdits(bytes, [{ start: flag.valueStart, end: flag.valueEnd, bytes: TRUE }]);
  }
  return bytes;
}
