/**
 * Snapshots and restores of member state (what a Durable Object does when it restarts).
 */
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import type { GroupConfig, UpstreamConfig } from "../config/types.ts";
import { MemoryStateStore } from "./memory_store.ts";
import type { MemberSnapshot } from "./member_state.ts";

const up: UpstreamConfig = {
  name: "a",
  url: "http://a.test",
  auth: { type: "none" },
  headers: [],
  weight: 1,
  breaker: { threshold: 0.5, cooldown: 30 },
};
const group: GroupConfig = {
  name: "g",
  upstreams: [{ name: "a", weight: 1 }],
  balance: { strategy: "roundrobin" },
  http_client: {
    agent: "LLMProxy/1.0",
    keepalive: 30,
    stream: true,
    timeout: { connect: 10, request: 300, idle: 60 },
    stream_usage: false,
  },
};
const upstreams = new Map([["a", up]]);

async function openBreaker(store: MemoryStateStore): Promise<void> {
  const g = store.group(group, upstreams);
  for (let i = 0; i < 5; i++) {
    const r = await g.select();
    assert.ok(r.ok);
    await g.settle(r.selection, { kind: "failure", latencyMs: 100 });
    await g.release(r.selection);
  }
}

Deno.test("a restored member keeps its open breaker, pause and figures", async () => {
  const clock = new ManualClock();
  const before = new MemoryStateStore({ clock });
  await openBreaker(before);
  const saved: Record<string, MemberSnapshot> = {};
  for (const [name, m] of before.members("g")!) saved[name] = m.toJSON();
  before.dispose();
  assert.equal(saved.a!.breaker?.state, "open");

  const after = new MemoryStateStore({ clock });
  const g = after.group(group, upstreams);
  for (const [name, m] of after.members("g")!) m.restore(saved[name]!);
  const refused = await g.select();
  assert.equal(refused.ok, false);
  const [status] = await g.status();
  assert.equal(status!.breaker, "open");
  assert.equal(status!.inFlight, 0);
  assert.ok(status!.successRate < 1);
  clock.advance(30_000);
  assert.equal((await g.status())[0]!.breaker, "half_open");
  after.dispose();
});

Deno.test("a snapshot of other upstream settings is ignored", async () => {
  const clock = new ManualClock();
  const before = new MemoryStateStore({ clock });
  await openBreaker(before);
  const snap = before.members("g")!.get("a")!.toJSON();
  before.dispose();
  const after = new MemoryStateStore({ clock });
  after.group(group, new Map([["a", { ...up, url: "http://elsewhere.test" }]]));
  after.members("g")!.get("a")!.restore(snap);
  assert.equal(after.members("g")!.get("a")!.breaker!.state(), "closed");
  assert.equal(after.members("unknown"), undefined);
  after.dispose();
});
