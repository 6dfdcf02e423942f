import type { AttemptOutcome, Selection } from "../state/types.ts";
import type { Deadline } from "../deadlines.ts";
import type { Exchange } from "./exchange.ts";
import type { GroupRuntime } from "./snapshot.ts";
import type { MemberSeries } from "../metrics/proxy_metrics.ts";

/** How an attempt's exchange with its upstream ended. */
export type AttemptEnd =
  /** Answer complete (or the client left while the upstream was answering well). */
  | "complete"
  /** Failed: transport error, 5xx, a body cut short, a deadline. */
  | "failure"
  /** Nothing can be said about the upstream (the client left before an answer). */
  | "cancelled";

/**
 * One try against one member, holding what it took: the member's in-flight slot (and
 * half-open probe), the in-flight gauge, an abort controller tied to the client, a
 * listener on the client's signal, the request deadline and a place in the gateway's
 * running set. `end` gives all of it back exactly once, whatever happened before:
 * callers reach it from `finally`.
 */
export class Attempt {
  readonly #ac = new AbortController();
  readonly #ex: Exchange;
  readonly #group: GroupRuntime;
  readonly #sel: Selection;
  readonly #inFlight: { inc(): void; dec(): void };
  readonly #onClientAbort: () => void;
  readonly #t0: number;
  #deadline: Deadline | undefined;
  #ended = false;
  /** The request deadline (`timeout.request` with `stream: false`) passed. */
  timedOut = false;
  /** Time to response headers, once known. */
  latencyMs: number | undefined;
  /** The answer asked to pause the member (429/503 with Retry-After). */
  unavailableForMs: number | undefined;

  /** The member's metric series. */
  readonly series: MemberSeries;

  constructor(
    ex: Exchange,
    group: GroupRuntime,
    sel: Selection,
    deadlineMs: number,
    series: MemberSeries,
  ) {
    this.#ex = ex;
    this.#group = group;
    this.#sel = sel;
    this.series = series;
    const gw = ex.gw;
    this.#t0 = gw.clock.now();
    this.#inFlight = series.inFlight;
    this.#inFlight.inc();
    const client = ex.signal;
    this.#onClientAbort = () => this.#ac.abort(client.reason);
    client.addEventListener("abort", this.#onClientAbort, { once: true });
    gw.running.add(this.#ac);
    if (deadlineMs > 0) {
      this.#deadline = gw.deadlines.add(deadlineMs, () => {
        this.timedOut = true;
        this.#ac.abort(new DOMException("upstream request timed out", "TimeoutError"));
      });
    }
  }

  /** Aborts the upstream exchange: client gone, deadline or shutdown. */
  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  /** Lets the transport end the exchange itself (e.g. a connect it saw time out). */
  readonly abort = (reason: unknown): void => this.#ac.abort(reason);

  /** When the try started (the gateway clock). */
  get startedAt(): number {
    return this.#t0;
  }

  /**
   * Releases everything the attempt holds and records its outcome for the breaker and
   * the balancer stats. Idempotent; never throws (a failing store call is logged).
   */
  async end(how: AttemptEnd): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    const gw = this.#ex.gw;
    if (this.#deadline !== undefined) gw.deadlines.cancel(this.#deadline);
    this.#ex.signal.removeEventListener("abort", this.#onClientAbort);
    gw.running.delete(this.#ac);
    this.#inFlight.dec();
    this.series.duration.observe((gw.clock.now() - this.#t0) / 1000);
    const outcome: AttemptOutcome = how === "cancelled" ? { kind: "cancelled" } : {
      kind: how === "complete" ? "success" : "failure",
      ...(this.latencyMs !== undefined ? { latencyMs: this.latencyMs } : {}),
      ...(this.unavailableForMs !== undefined ? { unavailableForMs: this.unavailableForMs } : {}),
    };
    const state = this.#group.state;
    try {
      await state.settle(this.#sel, outcome);
    } catch (e) {
      this.#storeError("settle", e);
    }
    try {
      await state.release(this.#sel);
    } catch (e) {
      this.#storeError("release", e);
    }
  }

  #storeError(op: string, e: unknown): void {
    this.#ex.gw.logger.log("warn", "state store call failed", {
      op,
      group: this.#group.config.name,
      upstream: this.#sel.upstream,
      error: e instanceof Error ? e.message : String(e),
    });
  }
}
