import assert from "node:assert/strict";
import { ADMIN_DOCS_PATH, generateAdminDocs } from "../../../scripts/gen_admin_docs.ts";

Deno.test("docs/admin_api.md is what scripts/gen_admin_docs.ts generates from openapi.json", async () => {
  const committed = await Deno.readTextFile(ADMIN_DOCS_PATH);
  assert.equal(
    committed,
    await generateAdminDocs(),
    "docs/admin_api.md is out of date; run: deno run -A scripts/gen_admin_docs.ts",
  );
});
