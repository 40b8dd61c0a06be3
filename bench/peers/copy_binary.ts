/**
 * Lever prototype: PostgreSQL binary COPY built from the processed Parquet's columns, against
 * the project's current CSV COPY (`src/_shared/csv_chunks.ts` + `COPY ... FROM STDIN WITH
 * (FORMAT csv)`, as `PostgresWarehouse.copyIn` streams it).
 *
 * ```sh
 * deno run -A bench/peers/copy_binary.ts <processed.parquet> [--repeat 3] [--chunk-rows 50000]
 * ```
 *
 * Both paths stream the same slices of the Parquet (`chunk-rows` rows each, the project's
 * `STREAM_ROWS`) into one connection of a throwaway cluster (`testing/postgres.ts`), into a
 * table made by the project's `createTargetTable` (the target's types and its month index),
 * emptied before each run. The binary path encodes each slice from Polars' columns: Polars
 * shifts the epochs, casts and builds the null masks, numbers come out as typed arrays of the
 * Arrow buffers, and each text column as one NUL-joined string (one crossing into JavaScript per
 * column, not per value); a JavaScript loop then writes the tuples. There is no Arrow IPC
 * reader among the project's dependencies (adding one would touch deno.json and deno.lock). Each path is also timed without the COPY
 * (Parquet slice + encoding only: the client's share). Both tables are compared row by row
 * (an md5 over every row's text) so the binary encoder is checked, not only timed.
 *
 * Prints a Markdown summary, then one JSON line with the medians.
 *
 * @module
 */

import pl from "nodejs-polars";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { outputColumns } from "../../src/contract/schema.ts";
import { csvChunks, parquetRows, STREAM_ROWS } from "../../src/_shared/csv_chunks.ts";
import { quoteIdent } from "../../src/_shared/sql.ts";
import { createTargetTable } from "../../src/sinks/tables.ts";
import { startPostgres } from "../../testing/postgres.ts";
import { stats } from "../measure.ts";
import { eventsPipeline } from "./load_common.ts";

type Kind = "string" | "int" | "float" | "bool" | "timestamp" | "date";

/** Microseconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch). */
const PG_EPOCH_US = 946_684_800_000_000n;
/** Days from 1970-01-01 to 2000-01-01. */
const PG_EPOCH_DAYS = 10_957;
const SIGNATURE = new Uint8Array([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0]);

/** A growable output buffer with a DataView. */
class Out {
  buf = new Uint8Array(1 << 20);
  view = new DataView(this.buf.buffer);
  pos = 0;
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** The binary COPY header (signature, flags 0, no extension). */
export function copyHeader(): Uint8Array {
  const out = new Uint8Array(SIGNATURE.length + 8);
  out.set(SIGNATURE);
  return out;
}

/** The binary COPY trailer (field count -1). */
export function copyTrailer(): Uint8Array {
  return new Uint8Array([0xff, 0xff]);
}

const encoder = new TextEncoder();

/** One column ready for the row loop: raw bytes and offsets, or a typed array. */
type Prepared =
  | { kind: "string"; nulls?: Uint8Array; bytes: Uint8Array; ends: Int32Array }
  | { kind: "int64"; nulls?: Uint8Array; words: Int32Array }
  | { kind: "float"; nulls?: Uint8Array; values: Float64Array }
  | { kind: "date"; nulls?: Uint8Array; values: Int32Array }
  | { kind: "bool"; nulls?: Uint8Array; values: Uint8Array };

/** Where each NUL-separated value ends in `bytes` (`n` values). */
function valueEnds(bytes: Uint8Array, n: number): Int32Array {
  const ends = new Int32Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const e = bytes.indexOf(0, at);
    ends[i] = e < 0 ? bytes.length : e;
    at = ends[i]! + 1;
  }
  return ends;
}

/**
 * Encodes the rows of `df` (columns in `kinds` order) as binary COPY tuples. Polars does the
 * column work (epoch shifts, casts, null masks, and each text column joined into one string
 * with NUL separators, a byte PostgreSQL text cannot hold); the row loop only copies bytes.
 */
export function encodeBinary(df: pl.DataFrame, names: string[], kinds: Kind[]): Uint8Array {
  const n = df.height;
  const exprs = names.flatMap((name, i) => {
    const c = pl.col(name);
    const nulls = c.isNull().cast(pl.UInt8).alias(`${name}__null`);
    // Every value expression ends in its cast: a JS number literal is a Float64 in Polars, and
    // fillNull(0) would otherwise widen an integer column to floats.
    switch (kinds[i]!) {
      case "string":
        return [nulls, c.fillNull("").str.concat("\u0000").alias(name)];
      case "int":
        return [nulls, c.fillNull(0).cast(pl.Int64).alias(name)];
      case "timestamp":
        return [
          nulls,
          c.cast(pl.Int64).sub(pl.lit(Number(PG_EPOCH_US)).cast(pl.Int64)).fillNull(0)
            .cast(pl.Int64).alias(name),
        ];
      case "float":
        return [nulls, c.fillNull(0).cast(pl.Float64).alias(name)];
      case "date":
        return [
          nulls,
          c.cast(pl.Int32).sub(pl.lit(PG_EPOCH_DAYS).cast(pl.Int32)).fillNull(0).cast(pl.Int32)
            .alias(name),
        ];
      case "bool":
        return [nulls, c.cast(pl.UInt8).fillNull(0).cast(pl.UInt8).alias(name)];
    }
  });
  const cols: Prepared[] = [];
  const prepared = df.lazy().select(...exprs).collectSync();
  names.forEach((name, i) => {
    const maskSeries = prepared.getColumn(`${name}__null`);
    const nulls = maskSeries.sum() > 0
      ? (maskSeries.toTypedArray() as Uint8Array).slice()
      : undefined;
    const s = prepared.getColumn(name);
    switch (kinds[i]!) {
      case "string": {
        const bytes = encoder.encode((n > 0 ? s.get(0) : "") as string);
        cols.push({ kind: "string", nulls, bytes, ends: valueEnds(bytes, n) });
        break;
      }
      case "int":
      case "timestamp": {
        // Copied: the typed arrays may borrow Polars' memory, which does not outlive the frame.
        const v = (s.toTypedArray() as BigInt64Array).slice();
        cols.push({ kind: "int64", nulls, words: new Int32Array(v.buffer, v.byteOffset, 2 * n) });
        break;
      }
      case "float":
        cols.push({ kind: "float", nulls, values: (s.toTypedArray() as Float64Array).slice() });
        break;
      case "date":
        cols.push({ kind: "date", nulls, values: (s.toTypedArray() as Int32Array).slice() });
        break;
      case "bool":
        cols.push({ kind: "bool", nulls, values: (s.toTypedArray() as Uint8Array).slice() });
        break;
    }
  });
  const fields = cols.length;
  const out = new Out();
  out.reserve(
    n * (2 + 12 * fields) +
      cols.reduce((a, c) => a + (c.kind === "string" ? c.bytes.length : 0), 0),
  );
  const starts = new Int32Array(fields);
  for (let r = 0; r < n; r++) {
    out.reserve(2 + 12 * fields);
    const view = out.view;
    view.setInt16(out.pos, fields);
    out.pos += 2;
    for (let f = 0; f < fields; f++) {
      const c = cols[f]!;
      if (c.nulls?.[r]) {
        if (c.kind === "string") starts[f] = c.ends[r]! + 1;
        view.setInt32(out.pos, -1);
        out.pos += 4;
        continue;
      }
      switch (c.kind) {
        case "string": {
          const start = starts[f]!;
          const end = c.ends[r]!;
          const len = end - start;
          out.reserve(4 + len);
          out.view.setInt32(out.pos, len);
          // A byte loop: short values are cheaper to copy than to wrap in a subarray.
          const dst = out.buf;
          const src = c.bytes;
          for (let k = 0, o = out.pos + 4; k < len; k++) dst[o + k] = src[start + k]!;
          out.pos += 4 + len;
          starts[f] = end + 1;
          break;
        }
        case "int64":
          // Little-endian words of the int64, written big-endian.
          view.setInt32(out.pos, 8);
          view.setInt32(out.pos + 4, c.words[2 * r + 1]!);
          view.setInt32(out.pos + 8, c.words[2 * r]!);
          out.pos += 12;
          break;
        case "float":
          view.setInt32(out.pos, 8);
          view.setFloat64(out.pos + 4, c.values[r]!);
          out.pos += 12;
          break;
        case "date":
          view.setInt32(out.pos, 4);
          view.setInt32(out.pos + 4, c.values[r]!);
          out.pos += 8;
          break;
        case "bool":
          view.setInt32(out.pos, 1);
          out.buf[out.pos + 4] = c.values[r]!;
          out.pos += 5;
          break;
      }
    }
  }
  return out.bytes();
}

/** The Parquet as binary COPY chunks: header, one chunk per slice, trailer. */
export async function* binaryChunks(
  path: string,
  names: string[],
  kinds: Kind[],
  chunkRows = STREAM_ROWS,
): AsyncGenerator<Uint8Array> {
  yield copyHeader();
  const total = await parquetRows(path);
  for (let offset = 0; offset < total; offset += chunkRows) {
    const df = await pl.scanParquet(path).slice(offset, chunkRows).collect();
    yield encodeBinary(df, names, kinds);
  }
  yield copyTrailer();
}

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
  const kinds = columns.map((c) => c.type as Kind);
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
      await pipeline(Readable.from(chunks), stream);
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
