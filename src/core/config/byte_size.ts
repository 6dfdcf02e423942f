/**
 * Sizes such as `max_body_size`: an integer number of bytes, or a number with a unit.
 *
 * @module
 */

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** The units {@linkcode parseByteSize} accepts, for messages. */
export const BYTE_SIZE_UNITS = "B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)";

/** 10 MiB, the default `max_body_size` (docs/behaviour.md#request-body). */
export const DEFAULT_MAX_BODY_SIZE = 10 * 1024 ** 2;

const PATTERN = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/;

/**
 * Parses a size into whole bytes, or returns `undefined` when it is not one.
 *
 * Integers (or strings of digits) are bytes. Strings may carry a unit, case-insensitive,
 * with optional space: `512KiB`, `10MiB`, `1MB`, `1GB`, `100B`, `1.5 MiB`. Fractions of
 * a byte are dropped. Zero, negative and fractional plain numbers are refused.
 *
 * @example
 * ```ts
 * parseByteSize("10MiB"); // 10485760
 * parseByteSize("1MB"); // 1000000
 * parseByteSize(4096); // 4096
 * parseByteSize("10 megs"); // undefined
 * ```
 */
export function parseByteSize(value: unknown): number | undefined {
  let bytes: number;
  if (typeof value === "number") {
    bytes = value;
  } else if (typeof value === "string") {
    const m = PATTERN.exec(value.trim());
    if (m === null) return undefined;
    const factor = m[2] === "" ? 1 : UNITS[m[2]!.toLowerCase()];
    if (factor === undefined) return undefined;
    if (m[2] === "" && m[1]!.includes(".")) return undefined;
    // Round away binary noise first ("2.3MB" is 2299999.9999999995 in floating point).
    bytes = Math.floor(Math.round(Number(m[1]) * factor * 1e6) / 1e6);
  } else {
    return undefined;
  }
  if (!Number.isSafeInteger(bytes) || bytes < 1) return undefined;
  return bytes;
}
