import assert from "node:assert/strict";
import {
  ADMIN_DOCS_PATH,
  currentAdminDocs,
  generateAdminDocs,
} from "../../../scripts/gen_admin_docs.ts";

Deno.test("README's admin section is what scripts/gen_admin_docs.ts generates from openapi.json", async () => {
  const readme = await Deno.readTextFile(ADMIN_DOCS_PATH);
  assert.equal(
    currentAdminDocs(readme),
    await generateAdminDocs(),
    "README.md's admin section is out of date; run: deno run -A scripts/gen_admin_docs.ts",
  );
});
