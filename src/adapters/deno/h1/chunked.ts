/**
 * The chunked transfer coding (RFC 9112 §7.1), decoded as bytes arrive: fed any slice
 * of the stream, it hands out the data inside and keeps its place between slices.
 * Chunk extensions and trailer fields are read over and dropped; each size, extension
 * and trailer line is bounded, so an upstream cannot make it hold unbounded state.
 *
 * @module
 */

import { ProtocolError } from "./head.ts";

/** The longest chunk-size line (size and extensions) or trailer line accepted. */
const MAX_LINE = 4096;

const SIZE = 0;
const EXT = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER = 6;
const TRAILER_LF = 7;
const DONE = 8;

/** Decodes one chunked body. */
export class ChunkedDecoder {
  #state = SIZE;
  /** Bytes of data left in the current chunk. */
  #left = 0;
  #digits = 0;
  /** Bytes of the current size or trailer line, for the bound. */
  #line = 0;

  /** The terminating chunk and the trailer section were read. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Reads `buf[s, e)`, calling `onData` with each piece of chunk data (a view into
   * `buf`, to be copied if kept). Returns the index after the last byte used: `e`, or
   * less once the body is done (what follows belongs to the next answer). Throws a
   * {@link ProtocolError} on anything that is not chunked coding.
   */
  feed(buf: Uint8Array, s: number, e: number, onData: (data: Uint8Array) => void): number {
    let i = s;
    while (i < e) {
      switch (this.#state) {
        case SIZE: {
          const c = buf[i]!;
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.#digits > 13) throw new ProtocolError("chunk size too large");
            this.#left = this.#left * 16 + v;
            i++;
            this.#line++;
          } else if (this.#digits === 0) {
            throw new ProtocolError(`chunk size expected, got byte ${c}`);
          } else if (c === 0x3b || c === 0x20 || c === 0x09) {
            this.#state = EXT;
          } else if (c === 0x0d) {
            this.#state = SIZE_LF;
            i++;
          } else throw new ProtocolError(`invalid byte ${c} after a chunk size`);
          break;
        }
        case EXT: {
          // `;name=value` extensions (and whitespace before them) are not used.
          const c = buf[i]!;
          if (c === 0x0d) this.#state = SIZE_LF;
          else if (c === 0x0a || c === 0) throw new ProtocolError("bare LF in a chunk extension");
          if (++this.#line > MAX_LINE) throw new ProtocolError("chunk extension too long");
          i++;
          break;
        }
        case SIZE_LF: {
          if (buf[i] !== 0x0a) throw new ProtocolError("CR without LF after a chunk size");
          i++;
          this.#line = 0;
          this.#digits = 0;
          this.#state = this.#left === 0 ? TRAILER : DATA;
          break;
        }
        case DATA: {
          const n = Math.min(this.#left, e - i);
          onData(buf.subarray(i, i + n));
          i += n;
          this.#left -= n;
          if (this.#left === 0) this.#state = DATA_CR;
          break;
        }
        case DATA_CR: {
          if (buf[i] !== 0x0d) throw new ProtocolError("chunk data longer than its size");
          i++;
          this.#state = DATA_LF;
          break;
        }
        case DATA_LF: {
          if (buf[i] !== 0x0a) throw new ProtocolError("CR without LF after chunk data");
          i++;
          this.#state = SIZE;
          break;
        }
        case TRAILER: {
          // Trailer fields are dropped; an empty line ends the body.
          const c = buf[i]!;
          if (c === 0x0d) this.#state = TRAILER_LF;
          else if (c === 0x0a) throw new ProtocolError("bare LF in the trailer section");
          else if (++this.#line > MAX_LINE) throw new ProtocolError("trailer line too long");
          i++;
          break;
        }
        case TRAILER_LF: {
          if (buf[i] !== 0x0a) throw new ProtocolError("CR without LF in the trailer section");
          i++;
          if (this.#line === 0) {
            this.#state = DONE;
            return i;
          }
          this.#line = 0;
          this.#state = TRAILER;
          break;
        }
        default:
          return i;
      }
    }
    return i;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
