import type { UsageReport } from "../usage/mod.ts";
import type { Exchange } from "./exchange.ts";

/**
 * Records what an answer reported about tokens (docs/behaviour.md#token-usage): the token counters,
 * time to first token and per output token, `usage_missing` for a successful JSON POST
 * whose complete answer reported nothing (`complete`: the body reached its end; an
 * answer cut short or left by its client says nothing of the upstream's reporting), and
 * the access log's fields.
 */
export function recordUsage(
  ex: Exchange,
  route: { group: string; upstream: string; status: number; complete: boolean },
  report: UsageReport,
): void {
  const { group, upstream, status } = route;
  const gw = ex.gw;
  const m = gw.metrics;
  const ttftMs = report.firstEventAt !== undefined ? report.firstEventAt - ex.start : undefined;
  const model = report.model ?? ex.requestModel();
  const label = gw.modelLabels.label(model);
  // Resolved only when something is recorded under it.
  const series = ttftMs !== undefined || report.found
    ? m.usageSeries(group, upstream, label)
    : undefined;
  // Time to first token is known from the stream itself, usage or not.
  if (ttftMs !== undefined) series!.timeToFirstToken.observe(ttftMs / 1000);
  if (!report.found) {
    if (
      route.complete && status >= 200 && status < 300 && ex.method === "POST" &&
      ex.requestBody?.isJson
    ) {
      m.usageMissing.labels(group, upstream).inc();
    }
    if (ttftMs !== undefined) ex.usage = { ttftMs };
    return;
  }
  const client = ex.clientName;
  if (client !== undefined) {
    if (report.input) m.clientTokens.labels(client, "input").inc(report.input);
    if (report.output) m.clientTokens.labels(client, "output").inc(report.output);
  }
  const { input, output, cachedInput, reasoning } = report;
  if (input !== undefined && input > 0) series!.count(0, input);
  if (output !== undefined && output > 0) series!.count(1, output);
  if (cachedInput !== undefined && cachedInput > 0) series!.count(2, cachedInput);
  if (reasoning !== undefined && reasoning > 0) series!.count(3, reasoning);
  if (ttftMs !== undefined) {
    const out = report.output;
    if (out !== undefined && out >= 2 && report.lastEventAt !== undefined) {
      const per = (report.lastEventAt - report.firstEventAt!) / (out - 1);
      series!.timePerOutputToken.observe(per / 1000);
    }
  }
  const logged: NonNullable<Exchange["usage"]> = {};
  if (model !== undefined) logged.model = model;
  if (input !== undefined) logged.input = input;
  if (output !== undefined) logged.output = output;
  if (ttftMs !== undefined) logged.ttftMs = ttftMs;
  ex.usage = logged;
}
