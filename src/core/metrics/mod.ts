/**
 * Metrics for llmproxy: a small, runtime-agnostic Prometheus registry (counters,
 * gauges, histograms with fixed label names and cached children) and
 * {@linkcode ProxyMetrics}, the set of metrics the proxy exports (docs/behaviour.md#metrics).
 *
 * @example
 * ```ts
 * import { CONTENT_TYPE, methodLabel, ProxyMetrics } from "./mod.ts";
 * const metrics = new ProxyMetrics();
 * metrics.httpRequests.labels("public", methodLabel("POST"), "/v1/*").inc();
 * new Response(metrics.encode(), { headers: { "content-type": CONTENT_TYPE } });
 * ```
 *
 * @module
 */

export { Counter, CounterChild } from "./counter.ts";
export { Gauge, GaugeChild } from "./gauge.ts";
export { Histogram, HistogramChild, type HistogramOptions } from "./histogram.ts";
export {
  type Collector,
  type LabelValues,
  MetricFamily,
  type MetricOptions,
  type MetricType,
} from "./metric.ts";
export { Registry } from "./registry.ts";
export { CONTENT_TYPE, escapeHelp, escapeLabelValue, formatNumber } from "./format.ts";
export {
  BREAKER_STATE_VALUE,
  type BreakerCallResult,
  DURATION_BUCKETS,
  methodLabel,
  ProxyMetrics,
  TOKEN_BUCKETS,
  type UpstreamErrorLabel,
} from "./proxy_metrics.ts";
export { MAX_MODEL_LABELS, ModelLabels } from "./model_labels.ts";
