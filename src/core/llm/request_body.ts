/**
 * The request's JSON body, parsed at most once and only when something asks
 * (docs/behaviour.md#request-model): the model for routing, mapping, client limits and usage
 * labels, a field for `hash_key: body:<field>`, and the streaming flags for `stream_usage`.
 *
 * It is read with the same strict scanner the in-place editors use ({@linkcode
 * scanJsonDocument}) rather than `JSON.parse`: a body is then valid for the view exactly
 * when it is valid for the editors, the scan can be handed on to them instead of being
 * repeated, and no object tree is built for a 10 MiB body (the scan is also about three
 * times faster than decoding and parsing such a body).
 *
 * @module
 */
import {
  decodeString,
  isLiteral,
  type JsonMember,
  type JsonObjectSpan,
  lastMember,
  scanJsonDocument,
  scanObject,
} from "./json_scan.ts";

/**
 * A read-only view of a buffered request body. Nothing is read until a getter needs
 * it; then the body is scanned once, and every later question is answered from that
 * scan. A body that is not JSON by its `Content-Type`, not valid JSON (or UTF-8), or
 * not an object at the top level simply has no fields: no getter ever throws.
 * Duplicate keys follow `JSON.parse`: the last one counts.
 *
 * @example
 * ```ts
 * const body = new RequestBody(
 *   new TextEncoder().encode('{"model":"gpt-4o","user":"u1","stream":true}'),
 *   "application/json",
 * );
 * body.model; // "gpt-4o"
 * body.field("user"); // "u1"
 * body.stream; // true
 * body.includeUsage; // undefined
 * ```
 */
export class RequestBody {
  /** The buffered body bytes, as received. */
  readonly bytes: Uint8Array | null;
  /** Whether the `Content-Type` names JSON (contains `json`, any case). */
  readonly isJson: boolean;
  #scanned = false;
  #scan: JsonObjectSpan | undefined;
  #model: string | undefined | null = null;

  constructor(bytes: Uint8Array | null, contentType: string | null | undefined) {
    this.bytes = bytes;
    this.isJson = typeof contentType === "string" && contentType.toLowerCase().includes("json");
  }

  /** Whether the body has been looked at (it is, at most once, on the first question). */
  get parsed(): boolean {
    return this.#scanned;
  }

  /**
   * The scan of the top-level object, or `undefined` when the body is not a JSON object.
   * Hand it to {@linkcode rewriteModel} or {@linkcode injectIncludeUsage} with
   * {@linkcode RequestBody.bytes} to save them a second scan.
   */
  get scan(): JsonObjectSpan | undefined {
    if (!this.#scanned) {
      this.#scanned = true;
      const b = this.bytes;
      this.#scan = this.isJson && b !== null && b.length > 0 ? scanJsonDocument(b) : undefined;
    }
    return this.#scan;
  }

  /** The top-level string `model`, else `undefined` (docs/behaviour.md#request-model). */
  get model(): string | undefined {
    if (this.#model === null) this.#model = this.field("model");
    return this.#model;
  }

  /** A top-level string field (e.g. `user`, `prompt_cache_key`), else `undefined`. */
  field(name: string): string | undefined {
    const m = this.#member(name);
    return m !== undefined && this.bytes![m.valueStart] === 0x22
      ? decodeString(this.bytes!, m.valueStart, m.valueEnd)
      : undefined;
  }

  /** The top-level boolean `stream`, else `undefined`. */
  get stream(): boolean | undefined {
    return this.#boolean(this.#member("stream"));
  }

  /**
   * `stream_options.include_usage` when it is a boolean, else `undefined` (absent,
   * `null`, or `stream_options` not an object).
   */
  get includeUsage(): boolean | undefined {
    const options = this.#member("stream_options");
    if (options === undefined || this.bytes![options.valueStart] !== 0x7b) return undefined;
    const inner = scanObject(this.bytes!, options.valueStart);
    return inner === undefined ? undefined : this.#boolean(lastMember(inner, "include_usage"));
  }

  #member(name: string): JsonMember | undefined {
    const scan = this.scan;
    return scan === undefined ? undefined : lastMember(scan, name);
  }

  #boolean(m: JsonMember | undefined): boolean | undefined {
    if (m === undefined) return undefined;
    if (isLiteral(this.bytes!, m.valueStart, m.valueEnd, "true")) return true;
    if (isLiteral(this.bytes!, m.valueStart, m.valueEnd, "false")) return false;
    return undefined;
  }
}
