import assert from "node:assert/strict";
import { inAnyCidr, parseCidr, parseIp } from "./cidr.ts";

Deno.test("parseIp reads IPv4, IPv6, mapped and bracketed forms", () => {
  assert.equal(parseIp("1.2.3.4"), parseIp("::ffff:1.2.3.4"));
  assert.equal(parseIp("::1"), 1n);
  assert.equal(parseIp("[::1]"), 1n);
  assert.equal(parseIp("fe80::1%eth0"), parseIp("fe80::1"));
  assert.equal(parseIp("1.2.3"), undefined);
  assert.equal(parseIp("256.1.1.1"), undefined);
  assert.equal(parseIp("1:2:3:4:5:6:7:8:9"), undefined);
  assert.equal(parseIp("1::2::3"), undefined);
});

Deno.test("inAnyCidr matches prefixes of both families", () => {
  const blocks = ["10.0.0.0/8", "192.168.1.7", "fd00::/8"].map((c) => parseCidr(c)!);
  assert.ok(inAnyCidr("10.9.8.7", blocks));
  assert.ok(inAnyCidr("::ffff:10.1.1.1", blocks));
  assert.ok(inAnyCidr("192.168.1.7", blocks));
  assert.ok(!inAnyCidr("192.168.1.8", blocks));
  assert.ok(inAnyCidr("fd12::1", blocks));
  assert.ok(!inAnyCidr("fe80::1", blocks));
  assert.ok(!inAnyCidr("garbage", blocks));
  assert.equal(parseCidr("10.0.0.0/33"), undefined);
  assert.ok(inAnyCidr("8.8.8.8", [parseCidr("0.0.0.0/0")!]));
});
