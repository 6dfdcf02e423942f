import assert from "node:assert/strict";
import { seededRandom } from "../_test_helpers.ts";
import { fmix64 } from "./fmix64.ts";
import { Fnv1a64, hex64 } from "./fnv1a64.ts";

const M = (1n << 64n) - 1n;

/** Textbook FNV-1a 64 over TextEncoder bytes, in BigInt: the reference. */
function refFnv(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & M;
  return h;
}

function refFmix(k: bigint): bigint {
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & M;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & M;
  return k ^ (k >> 33n);
}

const hex = (v: bigint) => v.toString(16).padStart(16, "0");

Deno.test("FNV-1a 64 matches the published test vectors", () => {
  // From the FNV reference test suite (Fowler/Noll/Vo).
  assert.equal(new Fnv1a64().text("").hex(), "cbf29ce484222325");
  assert.equal(new Fnv1a64().text("a").hex(), "af63dc4c8601ec8c");
  assert.equal(new Fnv1a64().text("foobar").hex(), "85944171f73967e8");
});

Deno.test("FNV-1a 64 equals the BigInt reference on random UTF-8 text", () => {
  const random = seededRandom(5);
  // ASCII, 2-byte, 3-byte, surrogate pairs, lone surrogates (→ U+FFFD like TextEncoder).
  const alphabet = [
    "a",
    "Z",
    "\0",
    "\u007f",
    "é",
    "\u07ff",
    "中",
    "\uffff",
    "🔑",
    "\ud800",
    "\udc00",
  ];
  const h = new Fnv1a64();
  for (let i = 0; i < 500; i++) {
    let s = "";
    const len = Math.floor(random() * 24);
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(random() * alphabet.length)];
    assert.equal(h.reset().text(s).hex(), hex(refFnv(s)), JSON.stringify(s));
  }
});

Deno.test("fmix64 equals the BigInt reference, including carries through every half", () => {
  const random = seededRandom(9);
  const cases: [number, number][] = [[0, 0], [0, 1], [0xffffffff, 0xffffffff], [1, 0]];
  for (let i = 0; i < 500; i++) {
    cases.push([Math.floor(random() * 2 ** 32), Math.floor(random() * 2 ** 32)]);
  }
  for (const [hi, lo] of cases) {
    const h = { hi, lo };
    fmix64(h);
    assert.equal(hex64(h), hex(refFmix((BigInt(hi) << 32n) | BigInt(lo))), `${hi}:${lo}`);
  }
  const one = { hi: 0, lo: 1 };
  fmix64(one);
  assert.equal(hex64(one), "b456bcfc34c2cb2c");
});
