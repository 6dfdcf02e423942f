/**
 * `deno task compile`: builds `dist/llmproxyd` with `deno compile`, which downloads
 * Deno's runtime (`denort`) unless `DENORT_BIN` points at one. Offline, that download
 * fails with Deno's own network error; this says what to do instead
 * (docs/runtimes.md#deno-compile).
 */
const args = [
  "compile",
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-sys",
  "-o",
  "dist/llmproxyd",
  "src/adapters/deno/main.ts",
];
const { code } = await new Deno.Command(Deno.execPath(), {
  args,
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (code !== 0 && !Deno.env.get("DENORT_BIN")) {
  console.error(
    `\ndeno compile failed (above). Without network access it cannot download its runtime: ` +
      `set DENORT_BIN to a denort binary of the same Deno release (${Deno.version.deno}), ` +
      `e.g. from https://dl.deno.land/release/v${Deno.version.deno}/` +
      `denort-${Deno.build.target}.zip fetched on a connected machine.`,
  );
}
Deno.exit(code);
