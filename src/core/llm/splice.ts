/**
 * Byte splicing for in-place JSON edits: replace a few byte ranges of a body and copy
 * everything else as it was.
 *
 * @module
 */

/** Replace the bytes in `[start, end)` with `bytes` (`start === end` inserts). */
export interface ByteEdit {
  readonly start: number;
  readonly end: number;
  readonly bytes: Uint8Array;
}

/**
 * Applies non-overlapping edits, given in ascending order, to a copy of `source`.
 * Returns `source` itself when there is no edit.
 */
export function applyEdits(source: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  if (edits.length === 0) return source;
  let size = source.length;
  for (const e of edits) size += e.bytes.length - (e.end - e.start);
  const out = new Uint8Array(size);
  let from = 0;
  let to = 0;
  for (const e of edits) {
    if (e.start < from || e.end < e.start || e.end > source.length) {
      throw new RangeError(
        `byte edits must be ascending and inside the body (${source.length} bytes), got [${e.start}, ${e.end}) after offset ${from}`,
      );
    }
    out.set(source.subarray(from, e.start), to);
    to += e.start - from;
    out.set(e.bytes, to);
    to += e.bytes.length;
    from = e.end;
  }
  out.set(source.subarray(from), to);
  return out;
}
