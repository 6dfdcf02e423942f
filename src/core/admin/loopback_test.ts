import assert from "node:assert/strict";
import { isLoopbackAddress, isLoopbackPeer } from "./loopback.ts";

Deno.test("isLoopbackAddress: 127.0.0.0/8, ::1, localhost", () => {
  for (
    const a of [
      "127.0.0.1",
      "127.1.2.3",
      "localhost",
      "LOCALHOST",
      "::1",
      "0:0:0:0:0:0:0:1",
      "[::1]",
      "::ffff:127.0.0.1",
    ]
  ) {
    assert.ok(isLoopbackAddress(a), a);
  }
  for (
    const a of [
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "128.0.0.1",
      "::2",
      "fe80::1",
      "::ffff:10.0.0.1",
      "127.0.0.256",
      "example.com",
    ]
  ) {
    assert.ok(!isLoopbackAddress(a), a);
  }
});

Deno.test("isLoopbackPeer: only IP literals in 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104", () => {
  for (
    const a of [
      "127.0.0.1",
      "127.255.255.254",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "0000:0000:0000:0000:0000:0000:0000:0001",
      "::ffff:127.0.0.1",
      "::FFFF:127.1.2.3",
      "::ffff:7f00:1",
    ]
  ) {
    assert.ok(isLoopbackPeer(a), a);
  }
  for (
    const a of [
      undefined,
      "",
      "localhost",
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "128.0.0.1",
      "126.255.255.255",
      "::2",
      "fe80::1",
      "::1%lo0",
      "::ffff:10.0.0.1",
      "::127.0.0.1",
      "64:ff9b::127.0.0.1",
      "127.0.0.256",
      "127.000.000.001",
      "0177.0.0.1",
      "127.1",
      " 127.0.0.1",
      "127.0.0.1.example.com",
      "[127.0.0.1]x",
    ]
  ) {
    assert.ok(!isLoopbackPeer(a), String(a));
  }
});
