import assert from "node:assert/strict";
import {
  ADMIN_DOCS_NAME,
  ADMIN_DOCS_PATH,
  currentAdminDocs,
  generateAdminDocs,
} from "../../../scripts/gen_admin_docs.ts";

Deno.test("docs/admin-api.md's generated section is what scripts/gen_admin_docs.ts makes of openapi.json", async () => {
  const page = await Deno.readTextFile(ADMIN_DOCS_PATH);
  const current = currentAdminDocs(page);
  assert.notEqual(current, "", `${ADMIN_DOCS_NAME} lacks its admin:begin … admin:end markers`);
  assert.equal(
    current,
    await generateAdminDocs(),
    `${ADMIN_DOCS_NAME} is out of date; run: deno run -A scripts/gen_admin_docs.ts`,
  );
});
