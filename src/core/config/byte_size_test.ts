import assert from "node:assert/strict";
import { DEFAULT_MAX_BODY_SIZE, parseByteSize } from "./byte_size.ts";

Deno.test("parseByteSize: binary units are powers of 1024", () => {
  assert.equal(parseByteSize("512KiB"), 512 * 1024);
  assert.equal(parseByteSize("10MiB"), 10 * 1024 ** 2);
  assert.equal(parseByteSize("1GiB"), 1024 ** 3);
  assert.equal(DEFAULT_MAX_BODY_SIZE, 10 * 1024 ** 2);
});

Deno.test("parseByteSize: decimal units are powers of 1000", () => {
  assert.equal(parseByteSize("1KB"), 1000);
  assert.equal(parseByteSize("1MB"), 1_000_000);
  assert.equal(parseByteSize("1GB"), 1_000_000_000);
  assert.equal(parseByteSize("100B"), 100);
});

Deno.test("parseByteSize: plain integers, spaces, case and fractions", () => {
  assert.equal(parseByteSize(4096), 4096);
  assert.equal(parseByteSize("4096"), 4096);
  assert.equal(parseByteSize("10 MiB"), 10 * 1024 ** 2);
  assert.equal(parseByteSize("10mib"), 10 * 1024 ** 2);
  assert.equal(parseByteSize("1.5MiB"), 1.5 * 1024 ** 2);
  assert.equal(parseByteSize("2.3MB"), 2_300_000);
  assert.equal(parseByteSize("0.5KiB"), 512);
});

Deno.test("parseByteSize: refuses what is not a size", () => {
  for (const bad of [0, -1, 1.5, "1.5", "", "MiB", "10 megs", "10TB", "-1KB", "0B", "1e3"]) {
    assert.equal(parseByteSize(bad), undefined, String(bad));
  }
  assert.equal(parseByteSize(null), undefined);
  assert.equal(parseByteSize(true), undefined);
  assert.equal(parseByteSize(Number.MAX_SAFE_INTEGER + 2), undefined);
});
