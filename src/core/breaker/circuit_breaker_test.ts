import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import type { BreakerState } from "../state/types.ts";
import { CircuitBreaker, type CircuitBreakerOptions } from "./circuit_breaker.ts";

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = new ManualClock();
  const changes: [BreakerState, BreakerState][] = [];
  const breaker = new CircuitBreaker({
    threshold: 0.5,
    cooldownMs: 30_000,
    clock,
    onStateChange: (from, to) => changes.push([from, to]),
    ...options,
  });
  return { clock, breaker, changes };
}

/** One admitted call with the given outcome. */
function call(breaker: CircuitBreaker, ok: boolean): void {
  const permit = breaker.tryAcquire();
  assert.ok(permit.admitted);
  if (ok) breaker.onSuccess(permit.probe, breaker.generation);
  else breaker.onFailure(permit.probe, breaker.generation);
}

function open(breaker: CircuitBreaker): void {
  for (let i = 0; i < 5; i++) call(breaker, false);
  assert.equal(breaker.state(), "open");
}

Deno.test("breaker opens after 5 consecutive failures", () => {
  const { breaker, changes } = setup({ threshold: 1 });
  for (let i = 0; i < 4; i++) call(breaker, false);
  assert.equal(breaker.state(), "closed");
  call(breaker, false);
  assert.equal(breaker.state(), "open");
  assert.equal(breaker.isAvailable(), false);
  assert.equal(breaker.tryAcquire().admitted, false);
  assert.deepEqual(changes, [["closed", "open"]]);
  breaker.dispose();
});

Deno.test("a success resets the consecutive failure count", () => {
  const { breaker } = setup({ threshold: 1 });
  for (let i = 0; i < 4; i++) call(breaker, false);
  call(breaker, true);
  for (let i = 0; i < 4; i++) call(breaker, false);
  assert.equal(breaker.state(), "closed");
  breaker.dispose();
});

Deno.test("breaker opens at 10 calls with failure ratio >= threshold, not at 9", () => {
  const { breaker } = setup({ threshold: 0.5 });
  // 9 calls, 8 failures, never 5 in a row.
  for (const ok of [false, false, false, false, true, false, false, false, false]) {
    call(breaker, ok);
  }
  assert.equal(breaker.state(), "closed");
  call(breaker, true); // 10 calls, 8 failures: 0.8 >= 0.5
  assert.equal(breaker.state(), "open");
  breaker.dispose();
});

Deno.test("breaker opens exactly at the threshold ratio, reached by a success", () => {
  const { breaker } = setup({ threshold: 0.5 });
  for (let i = 0; i < 9; i++) call(breaker, i % 2 === 1); // F S F S F S F S F: 5/9
  assert.equal(breaker.state(), "closed");
  call(breaker, true); // 5/10 = 0.5
  assert.equal(breaker.state(), "open");
  breaker.dispose();
});

Deno.test("breaker stays closed below the threshold ratio", () => {
  const { breaker } = setup({ threshold: 0.5 });
  // 20 calls, 8 failures (0.4), never 5 in a row.
  for (let i = 0; i < 20; i++) call(breaker, i % 5 < 3); // S S S F F
  assert.equal(breaker.state(), "closed");
  breaker.dispose();
});

Deno.test("failures older than the 60 s window do not count", () => {
  const { breaker, clock } = setup({ threshold: 0.5 });
  for (let i = 0; i < 4; i++) call(breaker, false);
  call(breaker, true); // break the run
  for (let i = 0; i < 4; i++) call(breaker, false);
  clock.advance(61_000);
  call(breaker, true); // breaks the run: 1 call in the window
  assert.equal(breaker.state(), "closed");
  for (let i = 0; i < 4; i++) call(breaker, false);
  // 5 calls in window, 4 failures: under minimum calls, fewer than 5 in a row.
  assert.equal(breaker.state(), "closed");
  breaker.dispose();
});

Deno.test("open breaker goes half-open after the cooldown with no traffic (timer event)", () => {
  const { breaker, clock, changes } = setup();
  open(breaker);
  assert.equal(clock.pendingTimers, 1);
  clock.advance(29_999);
  assert.deepEqual(changes, [["closed", "open"]]);
  assert.equal(breaker.msUntilHalfOpen(), 1);
  clock.advance(1);
  // The event fired from the timer, before anyone asked for the state.
  assert.deepEqual(changes, [["closed", "open"], ["open", "half_open"]]);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(breaker.state(), "half_open");
  assert.equal(breaker.msUntilHalfOpen(), 0);
  assert.equal(breaker.isAvailable(), true);
  breaker.dispose();
});

Deno.test("state is computed lazily even when the timer has not run yet", () => {
  const clock = new ManualClock();
  const changes: string[] = [];
  // A clock whose timers never fire: the state must still move on.
  const frozenTimers = {
    now: () => clock.now(),
    setTimeout: () => 1,
    clearTimeout: () => {},
  };
  const breaker = new CircuitBreaker({
    threshold: 0.5,
    cooldownMs: 1000,
    clock: frozenTimers,
    onStateChange: (from, to) => changes.push(`${from}>${to}`),
  });
  open(breaker);
  clock.advance(1000);
  assert.equal(breaker.state(), "half_open");
  assert.deepEqual(changes, ["closed>open", "open>half_open"]);
});

Deno.test("half-open admits exactly one concurrent probe; success closes", () => {
  const { breaker, clock, changes } = setup();
  open(breaker);
  clock.advance(30_000);
  const first = breaker.tryAcquire();
  assert.deepEqual(first, { admitted: true, probe: true });
  assert.equal(breaker.isAvailable(), false);
  assert.equal(breaker.tryAcquire().admitted, false);
  assert.equal(breaker.tryAcquire().admitted, false);
  breaker.onSuccess(true);
  assert.equal(breaker.state(), "closed");
  assert.deepEqual(changes.at(-1), ["half_open", "closed"]);
  // Counts were reset: 4 failures do not re-open it.
  for (let i = 0; i < 4; i++) call(breaker, false);
  assert.equal(breaker.state(), "closed");
  breaker.dispose();
});

Deno.test("failed probe re-opens for another cooldown", () => {
  const { breaker, clock, changes } = setup();
  open(breaker);
  clock.advance(30_000);
  const probe = breaker.tryAcquire();
  assert.ok(probe.probe);
  clock.advance(500);
  breaker.onFailure(true);
  assert.equal(breaker.state(), "open");
  assert.equal(breaker.msUntilHalfOpen(), 30_000);
  assert.deepEqual(changes.at(-1), ["half_open", "open"]);
  clock.advance(30_000);
  assert.deepEqual(changes.at(-1), ["open", "half_open"]);
  breaker.dispose();
});

Deno.test("cancelled probe frees the slot", () => {
  const { breaker, clock } = setup();
  open(breaker);
  clock.advance(30_000);
  const probe = breaker.tryAcquire();
  assert.ok(probe.probe);
  assert.equal(breaker.tryAcquire().admitted, false);
  breaker.onCancel(true);
  assert.equal(breaker.state(), "half_open");
  assert.equal(breaker.isAvailable(), true);
  assert.deepEqual(breaker.tryAcquire(), { admitted: true, probe: true });
  breaker.dispose();
});

Deno.test("stale outcomes from before the breaker opened are ignored", () => {
  const { breaker, clock } = setup();
  const old = Array.from({ length: 6 }, () => ({
    permit: breaker.tryAcquire(),
    generation: breaker.generation,
  }));
  for (let i = 0; i < 5; i++) breaker.onFailure(false, old[i]!.generation);
  assert.equal(breaker.state(), "open");
  breaker.onSuccess(false, old[5]!.generation); // does not close an open breaker
  assert.equal(breaker.state(), "open");
  clock.advance(30_000);
  breaker.tryAcquire();
  breaker.onSuccess(true);
  assert.equal(breaker.state(), "closed");
  // Five late timeouts from the previous closed period: no effect.
  for (let i = 0; i < 5; i++) breaker.onFailure(false, old[0]!.generation);
  assert.equal(breaker.state(), "closed");
  breaker.dispose();
});

Deno.test("dispose cancels the timer and silences events", () => {
  const { breaker, clock, changes } = setup();
  open(breaker);
  assert.equal(clock.pendingTimers, 1);
  breaker.dispose();
  assert.equal(clock.pendingTimers, 0);
  clock.advance(30_000);
  assert.equal(breaker.state(), "half_open");
  assert.deepEqual(changes, [["closed", "open"]]);
});

Deno.test("toJSON / fromJSON round-trips an open breaker with its timer", () => {
  const { breaker, clock } = setup();
  open(breaker);
  clock.advance(10_000);
  const snapshot = JSON.parse(JSON.stringify(breaker));
  breaker.dispose();
  const changes: string[] = [];
  const restored = CircuitBreaker.fromJSON(snapshot, {
    threshold: 0.5,
    cooldownMs: 30_000,
    clock,
    onStateChange: (from, to) => changes.push(`${from}>${to}`),
  });
  assert.equal(restored.state(), "open");
  assert.equal(restored.msUntilHalfOpen(), 20_000);
  clock.advance(20_000);
  assert.deepEqual(changes, ["open>half_open"]);
  restored.dispose();
});

Deno.test("toJSON / fromJSON keeps window counts", () => {
  const { breaker, clock } = setup();
  for (let i = 0; i < 4; i++) call(breaker, false);
  const restored = CircuitBreaker.fromJSON(breaker.toJSON(), {
    threshold: 0.5,
    cooldownMs: 30_000,
    clock,
  });
  call(restored, false);
  assert.equal(restored.state(), "open");
  restored.dispose();
  breaker.dispose();
});
