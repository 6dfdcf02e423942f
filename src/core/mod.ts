/**
 * llmproxy's runtime-agnostic core: configuration, routing, balancing, breakers, rate
 * limits, the proxy pipeline, metrics and the admin app. It uses only web standards
 * (`fetch`, Web Streams, Web Crypto, timers); adapters supply sockets, signals, files,
 * outbound pools and shared state.
 *
 * @example
 * ```ts
 * import { fetchTransport, Gateway, loadConfig } from "./mod.ts";
 *
 * const loaded = loadConfig(yamlText);
 * if (!loaded.ok) throw new Error("invalid configuration");
 * const gateway = new Gateway({ config: loaded.config, transports: () => fetchTransport() });
 * const response = await gateway.handle("main", request, { remoteAddr: "127.0.0.1" });
 * ```
 *
 * @module
 */
export * from "./config/mod.ts";
export { compilePattern, type RouteMatch, RoutePatternError, Router } from "./routing/mod.ts";
export { createBalancer } from "./balance/mod.ts";
export type { Balancer, Member } from "./balance/mod.ts";
export { CircuitBreaker } from "./breaker/mod.ts";
export { RateLimiter, TokenBucket } from "./ratelimit/mod.ts";
export { MemoryStateStore } from "./state/mod.ts";
export type * from "./state/types.ts";
export { type Clock, ManualClock, systemClock } from "./clock.ts";
export { JsonLogger, type Logger, type LogLevel, silentLogger } from "./log/logger.ts";
export { CONTENT_TYPE, methodLabel, ProxyMetrics, Registry } from "./metrics/mod.ts";
export { type ConnInfo, Gateway, type GatewayOptions, type ProxyDeps } from "./proxy/gateway.ts";
export {
  fetchTransport,
  type Transport,
  TransportError,
  type TransportFactory,
  type UpstreamRequest,
} from "./proxy/transport.ts";
export { errorResponse, type ProxyErrorCode } from "./proxy/errors.ts";
export { createAdminApp } from "./admin/app.ts";
