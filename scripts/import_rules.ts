/**
 * Which part of `src/` may import which (docs/architecture.md#dependencies). A part is a
 * folder of `src/core` (`core/state`), a file directly in it (`core/clock.ts`), an adapter
 * (`adapters/deno`) or another folder or file of `src/`. A part may always import itself;
 * any other arrow must be in the table, so a new one is a decision, not an accident.
 * Test-only modules (`*_test.ts`, `*_bench.ts`, `_test_helpers.ts`)
 * are exempt: tests may reach anything.
 *
 * @module
 */

/** The leaves of the core: they import no other part. */
const LEAVES = [
  "core/clock.ts",
  "core/seeded_random.ts",
  "core/crypto",
  "core/net",
  "core/log",
  "core/llm",
  "core/usage",
  "core/routing",
] as const;

/** Everything below the proxy and the admin API. */
const MODEL = [
  ...LEAVES,
  "core/deadlines.ts",
  "core/config",
  "core/balance",
  "core/breaker",
  "core/ratelimit",
  "core/metrics",
  "core/state",
] as const;

const CORE = [...MODEL, "core/proxy", "core/admin", "core/mod.ts", "version.ts"] as const;

/** Part → the parts it may import. */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  ...Object.fromEntries(LEAVES.map((leaf) => [leaf, []])),
  "core/config": ["core/crypto", "core/llm", "core/net", "core/routing"],
  "core/balance": ["core/config"],
  "core/deadlines.ts": ["core/clock.ts"],
  "core/breaker": ["core/clock.ts"],
  "core/ratelimit": ["core/clock.ts", "core/config"],
  "core/metrics": ["core/breaker"],
  "core/state": ["core/clock.ts", "core/config", "core/balance", "core/breaker", "core/ratelimit"],
  // The pipeline sees its host through ProxyDeps; the admin API sees the proxy through
  // AdminHost: neither imports the other.
  "core/proxy": [...MODEL],
  "core/admin": [...MODEL, "version.ts"],
  "core/mod.ts": [...CORE],
  "version.ts": [],
  "mock": [],
  "state_redis": [...MODEL],
  "daemon": [...CORE, "state_redis", "mock"],
  "adapters/deno": [...CORE, "daemon", "mock"],
  "adapters/node": [...CORE, "daemon"],
  "adapters/cloudflare": [...CORE],
};

/** The part a path (relative to `src/`) belongs to. */
export function partOf(rel: string): string {
  const parts = rel.split("/");
  if (parts[0] === "core" || parts[0] === "adapters") {
    return parts.length > 2 ? `${parts[0]}/${parts[1]}` : rel;
  }
  return parts[0]!;
}

function isTestOnly(name: string): boolean {
  return /_(test|bench|test_helpers)\.ts$/.test(name);
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^"';]*?\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g;
const DYNAMIC = /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

/** One problem per import in `srcDir` that the table does not allow. */
export async function importProblems(srcDir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const file of await sourceFiles(srcDir)) {
    const rel = file.slice(srcDir.length + 1);
    const from = partOf(rel);
    const allowed = MAY_IMPORT[from];
    const text = await Deno.readTextFile(file);
    for (const m of [...text.matchAll(IMPORT), ...text.matchAll(DYNAMIC)]) {
      const target = new URL(m[1]!, `file://${file}`).pathname;
      if (!target.startsWith(`${srcDir}/`)) {
        problems.push(`${rel}: imports ${m[1]}, outside src/`);
        continue;
      }
      const to = partOf(target.slice(srcDir.length + 1));
      if (to === from) continue;
      if (allowed === undefined) {
        problems.push(`${rel}: part "${from}" is not in the table of scripts/import_rules.ts`);
      } else if (!allowed.includes(to)) {
        problems.push(`${rel}: "${from}" may not import "${to}" (${m[1]})`);
      }
    }
  }
  return problems;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await sourceFiles(path));
    else if (e.name.endsWith(".ts") && !isTestOnly(e.name)) out.push(path);
  }
  return out.sort();
}
