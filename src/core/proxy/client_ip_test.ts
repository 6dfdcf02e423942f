import assert from "node:assert/strict";
import { parseCidr } from "../net/cidr.ts";
import { clientIp } from "./client_ip.ts";

const trusted = [parseCidr("10.0.0.0/8")!];

Deno.test("X-Forwarded-For is ignored from untrusted peers", () => {
  assert.equal(clientIp("203.0.113.9", "1.2.3.4", trusted), "203.0.113.9");
  assert.equal(clientIp("10.0.0.2", "1.2.3.4", []), "10.0.0.2");
});

Deno.test("from a trusted peer, the right-most untrusted hop is the client", () => {
  assert.equal(clientIp("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.1.1.1", trusted), "1.2.3.4");
  assert.equal(clientIp("10.0.0.2", "10.9.9.9", trusted), "10.9.9.9");
  assert.equal(clientIp("10.0.0.2", null, trusted), "10.0.0.2");
});
