import assert from "node:assert/strict";
import { VERSION } from "./version.ts";

// One version: src/version.ts is what the binaries report (`-V`, the admin API), deno.json's
// "version" is the package's; a release changes both, and this fails until it does.
Deno.test("src/version.ts and deno.json name the same version", async () => {
  const denoJson = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as { version?: string };
  assert.equal(VERSION, denoJson.version);
});
