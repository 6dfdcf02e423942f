/**
 * Proves `src/core` is runtime-agnostic: (1) no runtime-specific names in its source,
 * (2) it type-checks against the web platform's lib set only (no `Deno` namespace, no
 * Node types), so a stray `Deno.env` or `Buffer` fails even if the grep misses it.
 * Test files (`*_test.ts`, `*_bench.ts`) are exempt: they run on Deno.
 *
 * Then (3) proves every import in `src/` points the way `import_rules.ts` allows
 * (docs/architecture.md#dependencies).
 */
import { importProblems } from "./import_rules.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FORBIDDEN = [
  /\bDeno\./,
  /from\s+["']node:/,
  /from\s+["']cloudflare:/,
  /\bprocess\.(env|argv|exit|on|stdout|stderr)\b/,
  /\bBuffer\.(from|alloc|concat|isBuffer)\b/,
  /\brequire\(/,
];

const problems: string[] = [];
async function walk(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) await walk(path);
    else if (e.name.endsWith(".ts") && !/_(test|bench)\.ts$/.test(e.name)) {
      const lines = (await Deno.readTextFile(path)).split("\n");
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, "");
        if (/^\s*\*/.test(code)) return;
        for (const re of FORBIDDEN) {
          if (re.test(code)) problems.push(`${path.slice(ROOT.length)}:${i + 1}: ${line.trim()}`);
        }
      });
    }
  }
}
await walk(`${ROOT}src/core`);
const wrongWay = await importProblems(`${ROOT}src`);
if (wrongWay.length) {
  console.error("imports must point the way scripts/import_rules.ts allows; found:");
  for (const p of wrongWay) console.error(`  ${p}`);
  Deno.exit(1);
}
if (problems.length) {
  console.error(
    "src/core must stay runtime-agnostic (fetch, Web Streams, Web Crypto only); found:",
  );
  for (const p of problems) console.error(`  ${p}`);
  Deno.exit(1);
}

const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
const coreConfig = {
  imports: denoJson.imports,
  nodeModulesDir: denoJson.nodeModulesDir,
  compilerOptions: {
    ...denoJson.compilerOptions,
    lib: ["esnext", "dom", "dom.iterable", "dom.asynciterable"],
    types: [],
  },
};
const tmp = `${ROOT}.core_check.json`;
await Deno.writeTextFile(tmp, JSON.stringify(coreConfig, null, 2));
try {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--config", tmp, `${ROOT}src/core/mod.ts`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    console.error("src/core does not type-check without the Deno namespace (see above)");
    Deno.exit(1);
  }
} finally {
  await Deno.remove(tmp).catch(() => {});
}
console.log(
  "src/core is runtime-agnostic: no runtime names, type-checks against web libs only; " +
    "imports point one way",
);
