/**
 * Lever check: PostgreSQL binary COPY built from the processed Parquet's columns (the
 * worker's encoder, `src/sinks/pg_binary.ts`, which `PostgresWarehouse.copyIn` now streams),
 * against the CSV COPY it replaced (`src/_shared/csv_chunks.ts` + `COPY ... FROM STDIN WITH
 * (FORMAT csv)`, still what the sink sends to a table whose column types binary cannot feed).
 *
 * ```sh
 * deno run -A bench/peers/copy_binary.ts <processed.parquet> [--repeat 3] [--chunk-rows 50000]
 * ```
 *
 * Both paths stream the same slices of the Parquet (`chunk-rows` rows each, the project's
 * `STREAM_ROWS`) into one connection of a throwaway cluster (`testing/postgres.ts`), into a
 * table made by the project's `createTargetTable` (the target's types and its month index),
 * emptied before each run. The binary path is `binaryChunks` of `src/sinks/pg_binary.ts` (chunks
 * of `PIECE_ROWS` rows, one buffered ahead, as `PostgresWarehouse.copyIn` streams them): Polars
 * shifts the epochs, casts and builds the null masks, numbers come out as typed arrays of the
 * Arrow buffers, and each text column as one NUL-joined string (one crossing into JavaScript per
 * column, not per value); a JavaScript loop then writes the tuples. There is no Arrow IPC
 * reader among the project's dependencies (adding one would touch deno.json and deno.lock).
 * Each path is also timed without the COPY (Parquet slice + encoding only: the client's
 * share). Both tables are compared row by row (an md5 over every row's text) so the binary
 * encoder is checked, not only timed.
 *
 * Prints a Markdown summary, then one JSON line with the medians.
 *
 * @module
 */

import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { type ColumnType, outputColumns } from "../../src/contract/schema.ts";
import { csvChunks, parquetRows, STREAM_ROWS } from "../../src/_shared/csv_chunks.ts";
import { binaryChunks } from "../../src/sinks/pg_binary.ts";
import { quoteIdent } from "../../src/_shared/sql.ts";
import { createTargetTable } from "../../src/sinks/tables.ts";
import { startPostgres } from "../../testing/postgres.ts";
import { stats } from "../measure.ts";
import { eventsPipeline } from "./load_common.ts";

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { repeat: { type: "string" }, "chunk-rows": { type: "string" } },
    allowPositionals: true,
  });
  const input = positionals[0];
  const repeat = Number(values.repeat ?? 3);
  const chunkRows = Number(values["chunk-rows"] ?? STREAM_ROWS);
  if (!input || !(repeat > 0) || !(chunkRows > 0)) {
    console.error("usage: copy_binary.ts <processed.parquet> [--repeat N] [--chunk-rows N]");
    Deno.exit(2);
  }
  const events = await eventsPipeline();
  const columns = outputColumns(events);
  const names = columns.map((c) => c.name);
  const kinds: ColumnType[] = columns.map((c) => c.type);
  const list = names.map(quoteIdent).join(", ");
  const rows = await parquetRows(input);

  const drain = async (chunks: AsyncIterable<Uint8Array>) => {
    const t0 = performance.now();
    let bytes = 0;
    for await (const c of chunks) bytes += c.length;
    return { seconds: (performance.now() - t0) / 1000, bytes };
  };

  const cluster = await startPostgres();
  const client = new pg.Client({ connectionString: cluster.url });
  try {
    await client.connect();
    for (const table of ["copy_csv", "copy_binary"]) {
      for (const sql of createTargetTable(events, table, "postgres")) await client.query(sql);
    }
    const copy = async (table: string, format: "csv" | "binary") => {
      await client.query(`TRUNCATE ${quoteIdent(table)}`);
      const chunks = format === "csv"
        ? csvChunks(input, chunkRows)
        : binaryChunks(input, names, kinds, chunkRows);
      const t0 = performance.now();
      const stream = client.query(
        copyFrom(`COPY ${quoteIdent(table)} (${list}) FROM STDIN WITH (FORMAT ${format})`),
      );
      // As the sinks do: binary chunks one ahead (PostgresWarehouse.copyIn), CSV as before.
      await pipeline(
        Readable.from(chunks, format === "binary" ? { highWaterMark: 1 } : {}),
        stream,
      );
      const seconds = (performance.now() - t0) / 1000;
      const copied = Number(stream.rowCount ?? 0);
      if (copied !== rows) {
        throw new Error(`${format} COPY loaded ${copied} rows, expected ${rows}`);
      }
      return seconds;
    };
    // One unmeasured round first (JIT, caches), then interleaved measured rounds.
    await copy("copy_csv", "csv");
    await copy("copy_binary", "binary");
    const t = { csv: [] as number[], binary: [] as number[], csvEnc: [] as number[] };
    const binEnc: number[] = [];
    let sizes = { csv: 0, binary: 0 };
    for (let r = 0; r < repeat; r++) {
      t.csv.push(await copy("copy_csv", "csv"));
      t.binary.push(await copy("copy_binary", "binary"));
      const c = await drain(csvChunks(input, chunkRows));
      const b = await drain(binaryChunks(input, names, kinds, chunkRows));
      t.csvEnc.push(c.seconds);
      binEnc.push(b.seconds);
      sizes = { csv: c.bytes, binary: b.bytes };
    }
    const digest = async (table: string) => {
      const res = await client.query(
        `SELECT md5(string_agg(t::text, E'\\n' ORDER BY source_line, event_id)) AS h FROM ${
          quoteIdent(table)
        } t`,
      );
      return String(res.rows[0].h);
    };
    const same = (await digest("copy_csv")) === (await digest("copy_binary"));
    if (!same) {
      const diff = await client.query(
        "SELECT 'binary' AS side, * FROM (SELECT * FROM copy_binary EXCEPT SELECT * FROM copy_csv) b " +
          "UNION ALL SELECT 'csv', * FROM (SELECT * FROM copy_csv EXCEPT SELECT * FROM copy_binary) c " +
          "ORDER BY side LIMIT 2",
      );
      console.error(diff.rows);
      throw new Error("the binary COPY loaded different rows than the CSV COPY");
    }
    const server = (await client.query("SHOW server_version")).rows[0].server_version;
    const med = (xs: number[]) => stats(xs).median;
    const rate = (s: number) => Math.round(rows / s).toLocaleString("en-US");
    const summary = {
      rows,
      repeat,
      chunkRows,
      server: `PostgreSQL ${server}`,
      csvCopyS: med(t.csv),
      binaryCopyS: med(t.binary),
      csvEncodeS: med(t.csvEnc),
      binaryEncodeS: med(binEnc),
      csvBytes: sizes.csv,
      binaryBytes: sizes.binary,
      identical: same,
    };
    console.log(
      [
        `| path (${
          rows.toLocaleString("en-US")
        } rows, median of ${repeat}) | COPY s (rows/s) | encode only s (rows/s) | bytes sent |`,
        "| --- | --- | --- | --- |",
        `| CSV (project's csvChunks) | ${med(t.csv).toFixed(3)} (${rate(med(t.csv))}) | ${
          med(t.csvEnc).toFixed(3)
        } (${rate(med(t.csvEnc))}) | ${sizes.csv.toLocaleString("en-US")} |`,
        `| binary from columns | ${med(t.binary).toFixed(3)} (${rate(med(t.binary))}) | ${
          med(binEnc).toFixed(3)
        } (${rate(med(binEnc))}) | ${sizes.binary.toLocaleString("en-US")} |`,
        `binary / CSV COPY wall: ${
          (med(t.binary) / med(t.csv)).toFixed(2)
        }x; tables identical: ${same}`,
      ].join("\n"),
    );
    console.log(JSON.stringify(summary));
  } finally {
    await client.end().catch(() => {});
    await cluster.stop();
  }
}
