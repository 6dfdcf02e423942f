import assert from "node:assert/strict";
import {
  addressesOverlap,
  formatListener,
  isCidr,
  isHostname,
  isListenAddress,
  parseIPv6,
  parseListenAddress,
} from "./net.ts";

Deno.test("listen addresses: IP literals and localhost only", () => {
  for (
    const ok of [
      "0.0.0.0",
      "127.0.0.1",
      "::",
      "::1",
      "fe80::1",
      "2001:db8::8a2e:370:7334",
      "localhost",
      "::ffff:10.0.0.1",
    ]
  ) {
    assert.ok(isListenAddress(ok), ok);
  }
  for (
    const bad of [
      "",
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3",
      "[::1]",
      "fe80::1%eth0",
      "example.com",
      "1::2::3",
      " 127.0.0.1",
      "1:2:3:4:5:6:7:8:9",
    ]
  ) {
    assert.ok(!isListenAddress(bad), bad);
  }
});

Deno.test("parseIPv6 expands :: and IPv4 tails", () => {
  assert.deepEqual(parseIPv6("::1")?.parts, [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(parseIPv6("1:2:3:4:5:6:7:8")?.parts, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(parseIPv6("::ffff:1.2.3.4")?.parts, [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
  assert.equal(parseIPv6("1:2:3:4:5:6:7::8"), undefined);
});

Deno.test("listener overlap: wildcards, localhost and mapped addresses", () => {
  const ip = (s: string) => parseListenAddress(s)!;
  assert.ok(addressesOverlap(ip("0.0.0.0"), ip("127.0.0.1")));
  assert.ok(addressesOverlap(ip("10.0.0.1"), ip("0.0.0.0")));
  assert.ok(addressesOverlap(ip("::"), ip("127.0.0.1")));
  assert.ok(addressesOverlap(ip("::1"), ip("::")));
  assert.ok(addressesOverlap(ip("localhost"), ip("127.0.0.1")));
  assert.ok(addressesOverlap(ip("::ffff:127.0.0.1"), ip("127.0.0.1")));
  assert.ok(addressesOverlap(ip("::1"), ip("0:0::1")));
  assert.ok(!addressesOverlap(ip("0.0.0.0"), ip("::1")));
  assert.ok(!addressesOverlap(ip("127.0.0.1"), ip("127.0.0.2")));
  assert.ok(!addressesOverlap(ip("127.0.0.1"), ip("::1")));
  assert.equal(formatListener("::1", 80), "[::1]:80");
  assert.equal(formatListener("0.0.0.0", 80), "0.0.0.0:80");
});

Deno.test("isCidr: addresses and prefixes within the family's width", () => {
  for (
    const ok of [
      "10.0.0.0/8",
      "0.0.0.0/0",
      "1.2.3.4/32",
      "1.2.3.4",
      "fd00::/8",
      "::/0",
      "::1/128",
      "::1",
    ]
  ) {
    assert.ok(isCidr(ok), ok);
  }
  for (
    const bad of [
      "10.0.0.0/33",
      "::/129",
      "1.2.3.4/",
      "1.2.3.4/08",
      "1.2.3.4/x",
      "/8",
      "localhost",
      "10.0.0.0/8/8",
    ]
  ) {
    assert.ok(!isCidr(bad), bad);
  }
});

Deno.test("isHostname: RFC 1123 names without port", () => {
  for (const ok of ["localhost", "api.example.com", "a-b.c", "x1.example", "EXAMPLE.com"]) {
    assert.ok(isHostname(ok), ok);
  }
  for (
    const bad of [
      "",
      "-a.com",
      "a-.com",
      "a..b",
      "example.com:80",
      "*.example.com",
      "a_b.com",
      "a.com.",
      `${"a".repeat(64)}.com`,
    ]
  ) {
    assert.ok(!isHostname(bad), bad);
  }
});
