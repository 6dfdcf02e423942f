import assert from "node:assert/strict";
import { LineBuffer } from "./line_buffer.ts";

Deno.test("lines are batched into one write and flushed on demand", async () => {
  const writes: string[] = [];
  const b = new LineBuffer((t) => writes.push(t), 5);
  b.push("a");
  b.push("b");
  assert.deepEqual(writes, []);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(writes, ["a\nb\n"]);
  b.push("c");
  b.flush();
  b.flush();
  assert.deepEqual(writes, ["a\nb\n", "c\n"]);
});
