/**
 * List positions of members, shared by the strategies that follow list order.
 *
 * @module
 */

import type { Member } from "./types.ts";

/** Maps each member's name to its position in the configured list. */
export function positionsOf(members: readonly Member[]): Map<string, number> {
  const positions = new Map<string, number>();
  members.forEach((m, i) => positions.set(m.name, i));
  return positions;
}

/** The position of the member named `last`, or -1 when there is none. */
export function lastPosition(positions: Map<string, number>, last: string | undefined): number {
  return last === undefined ? -1 : positions.get(last) ?? -1;
}
