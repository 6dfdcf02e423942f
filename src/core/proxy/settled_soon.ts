/**
 * Microtask turns a read of bytes the runtime already holds takes to settle: Deno polls
 * an async op once as it starts, so such a read settles without waiting for the event
 * loop (2 turns on Deno 2.9.6, through the stream machinery).
 */
const TURNS = 16;

/**
 * `p`'s value when it settles within a few microtask turns, i.e. when what it reads is
 * already here; else (or when it rejects) undefined, at once: no timer, no event-loop
 * turn. `p` is left running either way (a rejection is observed, never unhandled).
 */
export async function settledSoon<T>(p: Promise<T>): Promise<T | undefined> {
  let settled = false;
  let value: T | undefined;
  p.then((v) => {
    settled = true;
    value = v;
  }, () => {
    settled = true;
  });
  for (let i = 0; i < TURNS && !settled; i++) await null;
  return value;
}
