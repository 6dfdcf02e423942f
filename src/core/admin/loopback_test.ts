import assert from "node:assert/strict";
import { isLoopbackAddress } from "./loopback.ts";

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
