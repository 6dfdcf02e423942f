import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "./mod.ts";

Deno.test("Registry.encode writes the exact 0.0.4 text of counters, gauges and histograms", () => {
  const registry = new Registry();
  const counter = registry.register(
    new Counter({
      name: "demo_requests_total",
      help: 'Requests with "quotes", a back\\slash\nand a newline.',
      labelNames: ["path", "code"] as const,
    }),
  );
  const gauge = registry.register(
    new Gauge({ name: "demo_in_flight", help: "In flight.", labelNames: ["who"] as const }),
  );
  const histogram = registry.register(
    new Histogram({
      name: "demo_duration_seconds",
      help: "Duration in seconds.",
      labelNames: ["route"] as const,
      buckets: [0.01, 0.5, 1, 2.5],
    }),
  );

  counter.labels('/a"b\\c\nd', "200").inc();
  counter.labels('/a"b\\c\nd', "200").inc(2);
  counter.labels("/plain", "500").inc(0.5);
  gauge.labels("x").inc(3);
  gauge.labels("x").dec();
  gauge.labels("y").set(-1.25);
  const h = histogram.labels("r");
  h.observe(0.01); // on the bound: counts in le="0.01"
  h.observe(0.3);
  h.observe(2);
  h.observe(7);

  assert.equal(
    registry.encode(),
    [
      '# HELP demo_requests_total Requests with "quotes", a back\\\\slash\\nand a newline.',
      "# TYPE demo_requests_total counter",
      'demo_requests_total{path="/a\\"b\\\\c\\nd",code="200"} 3',
      'demo_requests_total{path="/plain",code="500"} 0.5',
      "# HELP demo_in_flight In flight.",
      "# TYPE demo_in_flight gauge",
      'demo_in_flight{who="x"} 2',
      'demo_in_flight{who="y"} -1.25',
      "# HELP demo_duration_seconds Duration in seconds.",
      "# TYPE demo_duration_seconds histogram",
      'demo_duration_seconds_bucket{route="r",le="0.01"} 1',
      'demo_duration_seconds_bucket{route="r",le="0.5"} 2',
      'demo_duration_seconds_bucket{route="r",le="1"} 2',
      'demo_duration_seconds_bucket{route="r",le="2.5"} 3',
      'demo_duration_seconds_bucket{route="r",le="+Inf"} 4',
      'demo_duration_seconds_sum{route="r"} 9.31',
      'demo_duration_seconds_count{route="r"} 4',
      "",
    ].join("\n"),
  );
});

Deno.test("metrics without labels export one series from the start", () => {
  const registry = new Registry();
  const c = registry.register(new Counter({ name: "up_total", help: "Up.", labelNames: [] }));
  registry.register(
    new Histogram({ name: "lat_seconds", help: "Lat.", labelNames: [], buckets: [1] }),
  );
  assert.equal(
    registry.encode(),
    [
      "# HELP up_total Up.",
      "# TYPE up_total counter",
      "up_total 0",
      "# HELP lat_seconds Lat.",
      "# TYPE lat_seconds histogram",
      'lat_seconds_bucket{le="1"} 0',
      'lat_seconds_bucket{le="+Inf"} 0',
      "lat_seconds_sum 0",
      "lat_seconds_count 0",
      "",
    ].join("\n"),
  );
  c.labels().inc();
  assert.match(registry.encode(), /^up_total 1$/m);
});

Deno.test("an empty registry encodes to the empty string", () => {
  assert.equal(new Registry().encode(), "");
});

Deno.test("Registry rejects a second metric of the same name", () => {
  const registry = new Registry();
  registry.register(new Counter({ name: "a_total", help: "A.", labelNames: [] }));
  assert.throws(
    () => registry.register(new Gauge({ name: "a_total", help: "A.", labelNames: [] })),
    /a_total is already registered/,
  );
  assert.equal(registry.get("a_total")?.type, "counter");
  assert.deepEqual([...registry.collectors()].map((c) => c.name), ["a_total"]);
});
