/**
 * The dashboard's embedded assets (`src/core/admin/ui/assets.ts`) are what
 * `tests/ui/embed_assets.ts` makes of the pinned uPlot package and the page's own
 * client files: a changed client file or a new uplot version fails here until the
 * module is regenerated.
 */
import assert from "node:assert/strict";
// Keeps the uplot package in the test's module graph, so it is installed.
import type { uPlot as _uPlot } from "../../dev_deps.ts";
import { ASSETS_MODULE, generateAssets } from "./embed_assets.ts";

Deno.test("src/core/admin/ui/assets.ts is up to date with uplot and the client files", async () => {
  const current = await Deno.readTextFile(ASSETS_MODULE);
  const wanted = await generateAssets();
  assert.ok(
    current === wanted,
    "src/core/admin/ui/assets.ts is out of date; run: deno run -A tests/ui/embed_assets.ts",
  );
});
