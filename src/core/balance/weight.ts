/**
 * The weight a strategy gives a member.
 *
 * @module
 */

import type { Member } from "./types.ts";

/**
 * `member.weight` when it is a finite number ≥ 1, else 1. The configuration only
 * admits integers 1–65535; the guard keeps a hand-built member (tests, a Durable
 * Object fed an old spec) from producing NaN draws or a member that can never win.
 */
export function weightOf(member: Member): number {
  const w = member.weight;
  return Number.isFinite(w) && w >= 1 ? w : 1;
}
