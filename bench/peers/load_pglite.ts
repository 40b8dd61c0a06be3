/**
 * PGlite load rate: `deno run -A bench/peers/load_pglite.ts <processed.parquet>` opens a fresh
 * embedded warehouse in a temp folder (as the worker's default, persisted to disk) and times the
 * project's `PgliteWarehouse.loadMonth` (COPY FROM '/dev/blob', one blob per CSV chunk), then
 * PGlite's own ceilings on the same rows in a second fresh instance (see `Ceilings`).
 * Prints one JSON line `{"rows","seconds","rowsPerSec","server","ceilings"}`.
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { join } from "node:path";
import { outputColumns } from "../../src/contract/schema.ts";
import { BLOB_ROWS } from "../../src/_shared/csv_chunks.ts";
import { pgliteStartParams, PgliteWarehouse } from "../../src/sinks/pglite.ts";
import { createTargetTable } from "../../src/sinks/tables.ts";
import { quoteIdent } from "../../src/_shared/sql.ts";
import {
  type Ceilings,
  ceilingTables,
  csvInMemory,
  eventsPipeline,
  rate,
  timeLoad,
} from "./load_common.ts";

const [input] = Deno.args;
if (!input) {
  console.error("usage: load_pglite.ts <processed.parquet>");
  Deno.exit(2);
}
const events = await eventsPipeline();
const dir = await Deno.makeTempDir({ prefix: "bench-pglite-" });
try {
  const warehouse = await PgliteWarehouse.open(join(dir, "warehouse"));
  let timing: Awaited<ReturnType<typeof timeLoad>>;
  let server: string;
  try {
    timing = await timeLoad(warehouse, events, input);
    const [row] = await warehouse.query("SHOW server_version");
    server = `PGlite (PostgreSQL ${row?.server_version})`;
  } finally {
    await warehouse.close();
  }
  const ceilings = await measureCeilings(join(dir, "ceilings"), timing.rows);
  console.log(JSON.stringify({ ...timing, server, ceilings }));
} finally {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

async function measureCeilings(path: string, rows: number): Promise<Ceilings> {
  // The same start parameters the worker's warehouse opens with (shared_buffers).
  const db = await PGlite.create(path, { startParams: pgliteStartParams() });
  try {
    // The target table without its index, then the two ceiling tables.
    await db.exec(createTargetTable(events, events.table, "postgres")[0]!);
    const ddl = ceilingTables(events);
    await db.exec(ddl.text);
    await db.exec(ddl.typed);
    const columns = outputColumns(events).map((c) => quoteIdent(c.name)).join(", ");
    const copyIn = async (sql: string, blobs: Blob[]) => {
      let copied = 0;
      for (const blob of blobs) copied += (await db.query(sql, [], { blob })).affectedRows ?? 0;
      return copied;
    };
    const csv = (await csvInMemory(input!, BLOB_ROWS)).map((c) =>
      new Blob([c as Uint8Array<ArrayBuffer>])
    );
    const csvText = await rate(
      rows,
      () => copyIn(`COPY ceiling_text FROM '/dev/blob' WITH (FORMAT csv)`, csv),
    );
    const csvTyped = await rate(
      rows,
      () => copyIn(`COPY ceiling_typed (${columns}) FROM '/dev/blob' WITH (FORMAT csv)`, csv),
    );
    const out = await db.query(
      `COPY ceiling_typed (${columns}) TO '/dev/blob' WITH (FORMAT binary)`,
    );
    if (!out.blob) throw new Error("PGlite returned no blob for COPY TO '/dev/blob'");
    await db.exec("TRUNCATE ceiling_typed");
    const binaryTyped = await rate(
      rows,
      () =>
        copyIn(`COPY ceiling_typed (${columns}) FROM '/dev/blob' WITH (FORMAT binary)`, [
          out.blob!,
        ]),
    );
    return { csvText, csvTyped, binaryTyped };
  } finally {
    await db.close();
  }
}
