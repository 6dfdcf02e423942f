/**
 * The npm packages only tests, benchmarks and tooling use, pinned here rather than in
 * deno.json's `imports`: Deno installs every package of the import map (and of the
 * lockfile a task runs with), so keeping these out lets `deno task demo` and `deno task
 * start` install only what the proxy runs: `deno.lock` holds the proxy's packages, and
 * the tests, checks and benchmarks run with `deno.dev.lock` (docs/development.md#dependencies).
 *
 * @module
 */
export { default as OpenAI } from "npm:openai@7.59.0";
export { Miniflare } from "npm:miniflare@4.20260426.0";
export { type Browser, default as puppeteer, type Page } from "npm:puppeteer-core@25.16.0";
export { createParser, type EventSourceMessage } from "npm:eventsource-parser@4.1.3";
export type { default as uPlot } from "npm:uplot@1.6.32";

/** The uplot release the dashboard embeds (tests/ui/embed_assets.ts reads its files). */
export const UPLOT = "npm:uplot@1.6.32";
