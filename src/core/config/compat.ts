/**
 * Remarks about spellings kept for the Rust release's users.
 *
 * @module
 */

import type { Finding } from "./diagnostics.ts";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Warns where a group's `http_client` sets both `stream` and `stream_mode` (the Rust
 * release's name for it): `stream` wins, and the user should know the other is ignored.
 */
export function compatWarnings(data: unknown): Finding[] {
  const findings: Finding[] = [];
  const groups = isRecord(data) && Array.isArray(data.upstream_groups) ? data.upstream_groups : [];
  groups.forEach((group, i) => {
    if (!isRecord(group) || !isRecord(group.http_client)) return;
    const client = group.http_client;
    if (client.stream === undefined || client.stream_mode === undefined) return;
    findings.push({
      severity: "warning",
      path: ["upstream_groups", i, "http_client", "stream_mode"],
      message: `both "stream" and "stream_mode" are set; "stream" (${String(client.stream)}) ` +
        `wins and "stream_mode" (${String(client.stream_mode)}) is ignored`,
      at: "key",
    });
  });
  return findings;
}
