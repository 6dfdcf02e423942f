import assert from "node:assert/strict";
import type { Member } from "../types.ts";
import { affinityHash, rendezvousPick, rendezvousScore, unitInterval } from "./rendezvous.ts";

const M = (1n << 64n) - 1n;

/** The reference written in rendezvous.ts's module comment, verbatim. */
function reference(key: string, name: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(key + "\0" + name)) {
    h = ((h ^ BigInt(b)) * 0x100000001b3n) & M;
  }
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & M;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & M;
  h ^= h >> 33n;
  return h.toString(16).padStart(16, "0");
}

/** Fleet contract: changing any of these moves every key of every `hash` group. */
const GOLDEN: [key: string, name: string, hash: string][] = [
  ["", "", "b9034ad37056f5fb"],
  ["user-42", "vllm-a", "b634a58af5b57456"],
  ["user-42", "vllm-b", "7da13cedb49e328f"],
  ["10.0.0.7", "openai", "e059504733f25291"],
  ["ключ-🔑", "gpu-1", "75df7a8ff4c59174"],
];

const KEYS = Array.from({ length: 10_000 }, (_, i) => `session-${i}`);

function owners(available: readonly Member[]): string[] {
  return KEYS.map((k) => rendezvousPick(available, k)!.name);
}

function shares(picks: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of picks) out[p] = (out[p] ?? 0) + 1 / picks.length;
  return out;
}

Deno.test("affinity hash golden vectors (check other runtimes against these)", () => {
  for (const [key, name, hash] of GOLDEN) {
    assert.equal(affinityHash(key, name), hash, `${key} / ${name}`);
    assert.equal(reference(key, name), hash, `reference ${key} / ${name}`);
  }
});

Deno.test("affinity hash equals the documented reference on many inputs", () => {
  for (let i = 0; i < 300; i++) {
    const key = `k${i}-${"é🔑x".repeat(i % 5)}`;
    const name = `upstream-${i % 7}`;
    assert.equal(affinityHash(key, name), reference(key, name));
  }
});

Deno.test("unit interval stays strictly inside (0, 1), so scores are finite", () => {
  for (const h of [{ hi: 0, lo: 0 }, { hi: 0xffffffff, lo: 0xffffffff }]) {
    const u = unitInterval(h);
    assert.ok(u > 0 && u < 1, String(u));
    const s = rendezvousScore(1, h);
    assert.ok(Number.isFinite(s) && s > 0, String(s));
  }
});

Deno.test("rendezvous: the same key always goes to the same member, whatever the order", () => {
  const ms = ["a", "b", "c", "d"].map((name) => ({ name, weight: 1 }));
  const reversed = [...ms].reverse();
  for (const key of KEYS.slice(0, 500)) {
    const first = rendezvousPick(ms, key)!.name;
    assert.equal(rendezvousPick(ms, key)!.name, first);
    assert.equal(rendezvousPick(reversed, key)!.name, first);
    // Fresh member objects (another process, another snapshot): only names count.
    assert.equal(rendezvousPick(ms.map((m) => ({ ...m })), key)!.name, first);
  }
  assert.equal(rendezvousPick([], "k"), undefined);
  assert.equal(rendezvousPick([ms[2]!], "k")!.name, "c");
});

Deno.test("rendezvous with weights 1:1:2 shares keys about 25/25/50%", () => {
  const ms = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }, { name: "c", weight: 2 }];
  const got = shares(owners(ms));
  for (const [name, want] of Object.entries({ a: 0.25, b: 0.25, c: 0.5 })) {
    assert.ok(Math.abs(got[name]! - want) < 0.02, `${name}: ${JSON.stringify(got)}`);
  }
  const even = shares(owners(["p", "q", "r", "s"].map((name) => ({ name, weight: 1 }))));
  for (const share of Object.values(even)) assert.ok(Math.abs(share - 0.25) < 0.02);
});

Deno.test("rendezvous: removing a member moves exactly its keys; restoring returns them", () => {
  const ms = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }, { name: "c", weight: 2 }];
  const before = owners(ms);
  for (const gone of ms) {
    const without = owners(ms.filter((m) => m !== gone));
    const moved: string[] = [];
    KEYS.forEach((_, i) => {
      if (before[i] === gone.name) moved.push(without[i]!);
      else assert.equal(without[i], before[i], `key ${i} moved though ${gone.name} did not own it`);
    });
    assert.ok(moved.length > 2000, `${gone.name} owned ${moved.length}`);
    // Its keys spread over the others by weight.
    const spread = shares(moved);
    const rest = ms.filter((m) => m !== gone);
    const total = rest.reduce((s, m) => s + m.weight, 0);
    for (const m of rest) {
      assert.ok(Math.abs(spread[m.name]! - m.weight / total) < 0.03, JSON.stringify(spread));
    }
    assert.deepEqual(owners(ms), before, `restoring ${gone.name}`);
  }
});

Deno.test("rendezvous: raising one member's weight only moves keys onto it", () => {
  const ms = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }, { name: "c", weight: 2 }];
  const before = owners(ms);
  const after = owners([ms[0]!, ms[1]!, { name: "c", weight: 4 }]);
  let gained = 0;
  KEYS.forEach((_, i) => {
    if (after[i] === before[i]) return;
    assert.equal(after[i], "c", `key ${i} moved ${before[i]} → ${after[i]}`);
    gained++;
  });
  const got = shares(after);
  assert.ok(gained > 0 && Math.abs(got.c! - 4 / 6) < 0.02, JSON.stringify(got));
});
