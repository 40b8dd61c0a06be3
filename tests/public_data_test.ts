/**
 * A public-data-shaped file (headers with spaces and `$`, naive timestamps,
 * a day-first local time, a US date) declared with header mapping and
 * loaded exactly into PGlite and PostgreSQL. The pipeline is the one the
 * README shows under "Files as people drop them".
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { runMonth } from "../src/pipeline.ts";
import { openNotifier, openSource, openWarehouse } from "../src/adapters.ts";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { canRun } from "./support/skip.ts";
import { type Workspace, workspace } from "./support/workspace.ts";

const noPostgres = !canRun(!!(await findPostgresBin()), "PostgreSQL server binaries not found");

/** The README's example pipeline. */
export const FLIGHTS = {
  name: "flights",
  key: "{yyyy}/{mm}/flights.csv",
  table: "flight_costs",
  normalize_names: "snake_case",
  predicate: "cost_total > 100",
  month_column: "departure_time",
  max_rejected_share: 0.5,
  columns: [
    { name: "Airport Name", type: "string", max_length: 80 },
    { name: "Origin State", type: "string", max_length: 2 },
    { source: "Cost Total $", name: "cost_total", type: "float" },
    { name: "Flight Date", type: "date", format: "%m/%d/%Y" },
    { name: "Departure Time", type: "timestamp" },
    {
      name: "Local Arrival",
      type: "timestamp",
      format: "%d/%m/%Y %H:%M",
      timezone: "America/New_York",
      nullable: true,
    },
  ],
};

const FILE = [
  "Airport Name,Origin State,Cost Total $,Flight Date,Departure Time,Local Arrival",
  "Chicago O'Hare International,IL,250.75,02/01/2021,2021-02-01T00:01:00,01/02/2021 09:30",
  '"Dallas/Fort Worth, Intl",TX,99.5,02/02/2021,2021-02-02T13:00:00,',
  "Hartsfield-Jackson Atlanta,GA,1200,02/28/2021,2021-02-28T23:59:59,28/02/2021 23:00",
  "Los Angeles International,CA,300,03/01/2021,2021-03-01T00:00:00,01/03/2021 10:00",
  "Denver International,CO,400,02/03/2021,2021-02-03 08:15:00,03/02/2021 12:00",
].join("\n") + "\n";

const EXPECTED = [
  {
    airport_name: "Chicago O'Hare International",
    origin_state: "IL",
    cost_total: 250.75,
    flight_date: "2021-02-01",
    departure_time: "2021-02-01T00:01:00.000Z",
    local_arrival: "2021-02-01T14:30:00.000Z", // 09:30 in New York (EST, UTC-5)
  },
  {
    airport_name: "Denver International",
    origin_state: "CO",
    cost_total: 400,
    flight_date: "2021-02-03",
    departure_time: "2021-02-03T08:15:00.000Z",
    local_arrival: "2021-02-03T17:00:00.000Z",
  },
  {
    airport_name: "Hartsfield-Jackson Atlanta",
    origin_state: "GA",
    cost_total: 1200,
    flight_date: "2021-02-28",
    departure_time: "2021-02-28T23:59:59.000Z",
    local_arrival: "2021-03-01T04:00:00.000Z",
  },
];

async function loadFlights(ws: Workspace, env: Record<string, string> = {}) {
  await Deno.writeTextFile(ws.pipelinesFile, JSON.stringify({ pipelines: [FLIGHTS] }));
  await ws.write("2021/02/flights.csv", FILE);
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error", ...env } });
  const pipeline = config.pipelines[0]!;
  assert.deepEqual(pipeline.columns.map((c) => c.name), [
    "airport_name",
    "origin_state",
    "cost_total",
    "flight_date",
    "departure_time",
    "local_arrival",
  ]);
  const warehouse = await openWarehouse(config);
  try {
    const report = await runMonth(
      { source: await openSource(config), warehouse, notifier: await openNotifier(config) },
      pipeline,
      { year: 2021, month: 2 },
    );
    assert.equal(report.status, "succeeded", JSON.stringify(report.error));
    assert.equal(report.rowsRead, 5);
    assert.equal(report.rowsLoaded, 3);
    assert.deepEqual(report.reasons, [{ reason: "departure_time: outside 2021-02", rows: 1 }]);
    const rows = await warehouse.query(
      `SELECT airport_name, origin_state, cost_total, to_char(flight_date, 'YYYY-MM-DD') AS flight_date,
              departure_time, local_arrival
         FROM flight_costs ORDER BY airport_name`,
    );
    assert.deepEqual(
      rows.map((r) =>
        Object.fromEntries(
          Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
        )
      ),
      EXPECTED,
    );
    const quarantine = await Deno.readTextFile(report.quarantineUrl!);
    assert.match(quarantine, /departure_time: outside 2021-02,Los Angeles International/);
  } finally {
    await warehouse.close();
  }
}

Deno.test("a public-data-shaped file (spaced and $ headers, naive and local times) loads exactly into PGlite", async () => {
  await using ws = await workspace();
  await loadFlights(ws);
});

Deno.test({
  name: "the same file loads exactly into PostgreSQL",
  ignore: noPostgres,
  fn: async () => {
    const pg = await startPostgres();
    try {
      await using ws = await workspace();
      await loadFlights(ws, { DATABASE_URL: pg.url });
    } finally {
      await pg.stop();
    }
  },
});
