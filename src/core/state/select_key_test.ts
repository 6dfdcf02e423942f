import assert from "node:assert/strict";
import { rendezvousPick } from "../balance/mod.ts";
import { seededRandom } from "../balance/_test_helpers.ts";
import { ManualClock } from "../clock.ts";
import type { GroupConfig, Strategy, UpstreamConfig } from "../config/types.ts";
import { selectOptions } from "./group_state.ts";
import { MemoryStateStore } from "./memory_store.ts";
import type { GroupState, SelectOptions } from "./types.ts";

const NAMES = ["a", "b", "c"];

function setup(strategy: string) {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock, random: seededRandom(1) });
  const upstreams = new Map<string, UpstreamConfig>(NAMES.map((name) => [name, {
    name,
    url: `http://${name}.test`,
    auth: { type: "none" },
    headers: [],
    weight: 1,
  }]));
  const group: GroupConfig = {
    name: "g",
    upstreams: NAMES.map((name) => ({ name, weight: 1 })),
    // The config's Strategy does not list `least_requests` and `hash` yet.
    balance: { strategy: strategy as Strategy },
    http_client: {
      agent: "LLMProxy/1.0",
      keepalive: 30,
      stream: true,
      timeout: { connect: 10, request: 300, idle: 60 },
      stream_usage: false,
    },
  };
  return { clock, state: store.group(group, upstreams) };
}

async function pick(state: GroupState, options?: ReadonlySet<string> | SelectOptions) {
  const r = await state.select(options);
  assert.ok(r.ok);
  return r.selection;
}

const MEMBERS = NAMES.map((name) => ({ name, weight: 1 }));

Deno.test("select threads the key to the hash balancer; exclude still applies", async () => {
  const { state } = setup("hash");
  for (let i = 0; i < 50; i++) {
    const key = `user-${i}`;
    const owner = rendezvousPick(MEMBERS, key)!.name;
    const s = await pick(state, { key });
    assert.equal(s.upstream, owner);
    // A retry excluding the owner goes to the key's runner-up, the same everywhere.
    const others = MEMBERS.filter((m) => m.name !== owner);
    const retry = await pick(state, { key, exclude: new Set([owner]) });
    assert.equal(retry.upstream, rendezvousPick(others, key)!.name);
    await state.release(s);
    await state.release(retry);
  }
});

Deno.test("a paused member's keys move away and come back when it returns", async () => {
  const { clock, state } = setup("hash");
  const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
  const owner = async (key: string) => {
    const s = await pick(state, { key });
    await state.release(s);
    return s.upstream;
  };
  const before = await Promise.all(keys.map(owner));
  const victim = before[0]!;
  // A 503 with Retry-After makes the member unavailable for 10 s (docs/behaviour.md#availability).
  const s = await pick(state, { key: keys[0]! });
  await state.settle(s, { kind: "failure", unavailableForMs: 10_000 });
  await state.release(s);
  const during = await Promise.all(keys.map(owner));
  keys.forEach((_, i) => {
    if (before[i] === victim) assert.notEqual(during[i], victim);
    else assert.equal(during[i], before[i]);
  });
  clock.advance(10_001);
  assert.deepEqual(await Promise.all(keys.map(owner)), before);
});

Deno.test("select(exclude) keeps working, and hash without a key uses in-flight counts", async () => {
  const { state } = setup("hash");
  const s = await pick(state, new Set(["a", "b"]));
  assert.equal(s.upstream, "c");
  // Between two members least_requests always compares both: the idle one wins.
  const notC = new Set(["c"]);
  const first = await pick(state, notC);
  const second = await pick(state, { exclude: notC });
  assert.deepEqual([first.upstream, second.upstream].sort(), ["a", "b"]);
  const rr = setup("roundrobin").state;
  assert.equal((await pick(rr, { key: "ignored", exclude: new Set(["a"]) })).upstream, "b");
});

Deno.test("selectOptions reads both argument forms", () => {
  const exclude = new Set(["a"]);
  assert.deepEqual(selectOptions(undefined), {});
  assert.equal(selectOptions(exclude).exclude, exclude);
  assert.deepEqual(selectOptions({ key: "k" }), { key: "k" });
});
