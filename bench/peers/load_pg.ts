/**
 * PostgreSQL load rate: `deno run -A bench/peers/load_pg.ts <processed.parquet>` starts the
 * throwaway cluster of `testing/postgres.ts` (fsync off, on /dev/shm when writable),
 * then times the project's `PostgresWarehouse.loadMonth` (COPY FROM STDIN through
 * `pg-copy-streams`), then the server's own ceilings on the same rows (see `Ceilings`).
 * Prints one JSON line `{"rows","seconds","rowsPerSec","server","ceilings"}`.
 *
 * @module
 */

import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { outputColumns } from "../../src/contract/schema.ts";
import { quoteIdent } from "../../src/_shared/sql.ts";
import { PostgresWarehouse } from "../../src/sinks/postgres.ts";
import { startPostgres } from "../../testing/postgres.ts";
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
  console.error("usage: load_pg.ts <processed.parquet>");
  Deno.exit(2);
}
const events = await eventsPipeline();
const cluster = await startPostgres();
try {
  const warehouse = await PostgresWarehouse.open(cluster.url);
  try {
    const timing = await timeLoad(warehouse, events, input);
    const [row] = await warehouse.query("SHOW server_version");
    const ceilings = await measureCeilings(cluster.url, timing.rows);
    console.log(
      JSON.stringify({ ...timing, server: `PostgreSQL ${row?.server_version}`, ceilings }),
    );
  } finally {
    await warehouse.close();
  }
} finally {
  await cluster.stop();
}

async function measureCeilings(url: string, rows: number): Promise<Ceilings> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const ddl = ceilingTables(events);
    await client.query(ddl.text);
    await client.query(ddl.typed);
    const columns = outputColumns(events).map((c) => quoteIdent(c.name)).join(", ");
    const copyIn = async (sql: string, chunks: Uint8Array[]) => {
      const stream = client.query(copyFrom(sql));
      await pipeline(Readable.from(chunks), stream);
      return Number(stream.rowCount ?? 0);
    };
    const csv = await csvInMemory(input!);
    const csvText = await rate(
      rows,
      () => copyIn(`COPY ceiling_text FROM STDIN WITH (FORMAT csv)`, csv),
    );
    const csvTyped = await rate(
      rows,
      () => copyIn(`COPY ceiling_typed (${columns}) FROM STDIN WITH (FORMAT csv)`, csv),
    );
    const binary: Uint8Array[] = [];
    // Events, not pipeline()/for-await: under Deno those never see this stream end.
    // A fresh connection: after a COPY FROM, this one never ends a COPY TO under Deno.
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    await new Promise<void>((resolve, reject) => {
      const out = reader.query(
        copyTo(`COPY ceiling_typed (${columns}) TO STDOUT WITH (FORMAT binary)`),
      );
      out.on("data", (chunk: Uint8Array) => binary.push(chunk));
      out.on("end", resolve);
      out.on("error", reject);
    }).finally(() => reader.end());
    await client.query("TRUNCATE ceiling_typed");
    const binaryTyped = await rate(
      rows,
      () => copyIn(`COPY ceiling_typed (${columns}) FROM STDIN WITH (FORMAT binary)`, binary),
    );
    return { csvText, csvTyped, binaryTyped };
  } finally {
    await client.end();
  }
}
