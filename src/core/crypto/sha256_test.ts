import assert from "node:assert/strict";
import { constantTimeEqual, sha256Hex, sha256HexAsync } from "./sha256.ts";

Deno.test("sha256Hex: the FIPS 180-4 vectors", () => {
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("sha256Hex equals Web Crypto on text of every length around the block size", async () => {
  for (let n = 0; n < 200; n++) {
    const text = "k€y-".repeat(n).slice(0, n) + String(n);
    assert.equal(sha256Hex(text), await sha256HexAsync(text), `length ${n}`);
  }
});

Deno.test("constantTimeEqual", () => {
  assert.ok(constantTimeEqual("abc", "abc"));
  assert.ok(!constantTimeEqual("abc", "abd"));
  assert.ok(!constantTimeEqual("abc", "ab"));
});
