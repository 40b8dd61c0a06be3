/**
 * PostgreSQL's binary COPY format, built from the processed Parquet's Polars
 * columns: what `COPY ... WITH (FORMAT binary)` reads, for the PostgreSQL
 * (`COPY ... FROM STDIN`) and PGlite (`COPY ... FROM '/dev/blob'`) sinks.
 *
 * The stream is a header (the 11-byte signature `PGCOPY\n\377\r\n\0`, flags
 * 0, no header extension), then one tuple per row (an int16 field count,
 * then per field an int32 byte length, -1 for NULL, and the value in the
 * type's network byte order), then the trailer (field count -1). Every
 * number is big-endian. The wire type of each column is fixed by the
 * target's type, so binary COPY is used only when every target column has
 * the type the project creates (`src/sinks/tables.ts`); otherwise the sinks
 * keep their CSV COPY, which converts text into whatever the column is.
 *
 * | contract type | Polars (processed Parquet)        | target column                 | wire value                               |
 * | ------------- | --------------------------------- | ----------------------------- | ---------------------------------------- |
 * | `int`         | Int8..Int64, UInt8..UInt32        | `bigint`                      | int8                                     |
 * | `float`       | Float64                           | `double precision`            | float8 (IEEE 754; NaN and ±Infinity too) |
 * | `bool`        | Bool                              | `boolean`                     | one byte, 0 or 1                         |
 * | `string`      | String                            | `text`, `character varying`   | the UTF-8 bytes, no terminator           |
 * | `date`        | Date                              | `date`                        | int4 days since 2000-01-01               |
 * | `timestamp`   | Datetime (naive or UTC)           | `timestamp with time zone`    | int8 microseconds since 2000-01-01 UTC   |
 *
 * {@link encodeRows} is the pure encoder (typed arrays in, bytes out);
 * {@link prepareColumns} gets those typed arrays out of a Polars frame with
 * one crossing into JavaScript per column (Polars shifts the epochs, casts,
 * builds the NULL masks and joins each text column into one NUL-separated
 * string); {@link binaryChunks} streams a Parquet a slice at a time, like
 * `csvChunks`, so memory stays bounded whatever the month's size (one slice
 * of columns is held, its tuples are yielded in small chunks, and the COPY
 * stream's back-pressure holds the next).
 *
 * @module
 */

import pl from "nodejs-polars";
import type { DataFrame as PolarsDataFrame, DataType as PolarsDataType } from "nodejs-polars";
import type { Expr } from "../_shared/polars.ts";
import type { ColumnType } from "../contract/schema.ts";
import { parquetRows, STREAM_ROWS } from "../_shared/csv_chunks.ts";
import { quoteIdent } from "../_shared/sql.ts";
import { log } from "../_shared/log.ts";
import type { SqlExecutor } from "./pg_family.ts";

/**
 * How the PostgreSQL and PGlite sinks send the rows to COPY: `binary` (CSV
 * still where {@link planBinaryCopy} says binary cannot feed the table) or
 * `csv` always.
 */
export type CopyFormat = "binary" | "csv";

/** A Polars data type (of a Parquet column). */
export type DataType = PolarsDataType;

/** An eager Polars frame (one slice of the Parquet). */
export type DataFrame = PolarsDataFrame;

/** Microseconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch). */
export const PG_EPOCH_US = 946_684_800_000_000;
/** Days from 1970-01-01 to 2000-01-01. */
export const PG_EPOCH_DAYS = 10_957;

/** `PGCOPY\n\377\r\n\0`. */
const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/** The binary COPY header: the signature, flags (int32 0), header extension length (int32 0). */
export function copyHeader(): Uint8Array {
  const out = new Uint8Array(SIGNATURE.length + 8);
  out.set(SIGNATURE);
  return out;
}

/** The binary COPY trailer: a field count of -1. */
export function copyTrailer(): Uint8Array {
  return new Uint8Array([0xff, 0xff]);
}

/**
 * One column of a slice, ready for {@link encodeRows}. `nulls[r]` non-zero
 * marks row `r` NULL (the value at `r` is then ignored); no mask: no NULLs.
 */
export type BinaryColumn =
  | {
    /** `text`: value `r` is `bytes[starts[r] .. ends[r])` (UTF-8). */
    type: "text";
    /** NULL mask. */
    nulls?: Uint8Array;
    /** The column's UTF-8 bytes. */
    bytes: Uint8Array;
    /** Where each value starts in `bytes`. */
    starts: Int32Array;
    /** Where each value ends in `bytes` (exclusive). */
    ends: Int32Array;
  }
  | {
    /** `int8` (bigint), or `timestamptz` as microseconds since 2000-01-01 UTC. */
    type: "int8" | "timestamptz";
    /** NULL mask. */
    nulls?: Uint8Array;
    /** The values. */
    values: BigInt64Array;
  }
  | {
    /** `float8` (double precision). */
    type: "float8";
    /** NULL mask. */
    nulls?: Uint8Array;
    /** The values. */
    values: Float64Array;
  }
  | {
    /** `date` as days since 2000-01-01. */
    type: "date";
    /** NULL mask. */
    nulls?: Uint8Array;
    /** The values. */
    values: Int32Array;
  }
  | {
    /** `bool`: non-zero is true. */
    type: "bool";
    /** NULL mask. */
    nulls?: Uint8Array;
    /** The values. */
    values: Uint8Array;
  };

/** Bytes of a non-NULL value of each fixed-width wire type. */
const WIDTH = { int8: 8, timestamptz: 8, float8: 8, date: 4, bool: 1 } as const;

/** The host stores numbers little-endian (every platform Deno ships for). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Values shorter than this are copied byte by byte (cheaper than a subarray). */
const SHORT_COPY = 24;

/** Rows `from .. end` of `c` marked NULL. */
function nullCount(c: BinaryColumn, from: number, end: number): number {
  if (!c.nulls) return 0;
  let n = 0;
  for (let r = from; r < end; r++) if (c.nulls[r]) n++;
  return n;
}

/**
 * Encodes `rows` rows of `columns` (in COPY column-list order), starting at
 * row `from`, as binary COPY tuples: no header, no trailer
 * ({@link copyHeader}, {@link copyTrailer}). Pure: the output depends on the
 * arguments only.
 *
 * @throws {RangeError} when a column holds fewer than `from + rows` values
 */
export function encodeRows(
  columns: readonly BinaryColumn[],
  rows: number,
  from = 0,
): Uint8Array {
  const fields = columns.length;
  const end = from + rows;
  // The exact size, so the row loop never grows the buffer.
  let size = 2 * rows;
  for (const c of columns) {
    const length = c.type === "text" ? c.starts.length : c.values.length;
    if (length < end || (c.nulls && c.nulls.length < end)) {
      throw new RangeError(`a ${c.type} column holds ${length} values, rows up to ${end} asked`);
    }
    const nulls = nullCount(c, from, end);
    if (c.type === "text") {
      size += 4 * rows;
      for (let r = from; r < end; r++) if (!c.nulls?.[r]) size += c.ends[r]! - c.starts[r]!;
    } else {
      size += 4 * rows + WIDTH[c.type] * (rows - nulls);
    }
  }
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  // Little-endian hosts copy the int8 columns as two int32 words (no BigInt per value).
  const words = columns.map((c) =>
    LITTLE_ENDIAN && (c.type === "int8" || c.type === "timestamptz")
      ? new Int32Array(c.values.buffer, c.values.byteOffset, 2 * c.values.length)
      : undefined
  );
  let pos = 0;
  for (let r = from; r < end; r++) {
    view.setInt16(pos, fields);
    pos += 2;
    for (let f = 0; f < fields; f++) {
      const c = columns[f]!;
      if (c.nulls?.[r]) {
        view.setInt32(pos, -1);
        pos += 4;
        continue;
      }
      switch (c.type) {
        case "text": {
          const start = c.starts[r]!;
          const len = c.ends[r]! - start;
          view.setInt32(pos, len);
          pos += 4;
          if (len < SHORT_COPY) {
            const src = c.bytes;
            for (let k = 0; k < len; k++) buf[pos + k] = src[start + k]!;
          } else {
            buf.set(c.bytes.subarray(start, start + len), pos);
          }
          pos += len;
          break;
        }
        case "int8":
        case "timestamptz": {
          view.setInt32(pos, 8);
          const w = words[f];
          if (w) {
            view.setInt32(pos + 4, w[2 * r + 1]!);
            view.setInt32(pos + 8, w[2 * r]!);
          } else {
            view.setBigInt64(pos + 4, c.values[r]!);
          }
          pos += 12;
          break;
        }
        case "float8":
          view.setInt32(pos, 8);
          view.setFloat64(pos + 4, c.values[r]!);
          pos += 12;
          break;
        case "date":
          view.setInt32(pos, 4);
          view.setInt32(pos + 4, c.values[r]!);
          pos += 8;
          break;
        case "bool":
          view.setInt32(pos, 1);
          buf[pos + 4] = c.values[r] ? 1 : 0;
          pos += 5;
          break;
      }
    }
  }
  return buf;
}

/**
 * The contract type a Polars column is sent as in binary, or `undefined`
 * when it has no exact binary form here, one that gives what the CSV text
 * gives: UInt64 and Float32 would change value or text; a zoned non-UTC
 * Datetime prints local time; Decimal, Categorical, Null... Such a file
 * stays on CSV COPY. (A Datetime in ns is floored to µs, as the CSV writer's
 * `%.6f` floors it, before 1970 too.)
 */
export function binaryKind(dtype: DataType): ColumnType | undefined {
  switch (dtype.variant) {
    case "Int8":
    case "Int16":
    case "Int32":
    case "Int64":
    case "UInt8":
    case "UInt16":
    case "UInt32":
      return "int";
    case "Float64":
      return "float";
    case "Bool":
      return "bool";
    case "String":
    case "Utf8":
      return "string";
    case "Date":
      return "date";
    case "Datetime": {
      // `inner` is [time unit, time zone]; a naive column's zone is "" (its text is written as UTC).
      const zone = (dtype as unknown as { inner: unknown[] }).inner[1];
      return !zone || zone === "UTC" ? "timestamp" : undefined;
    }
    default:
      return undefined;
  }
}

/** The target column types (`format_type`) each contract type is sent to in binary. */
export const BINARY_TARGET_TYPES: Readonly<Record<ColumnType, readonly string[]>> = {
  int: ["bigint"],
  float: ["double precision"],
  bool: ["boolean"],
  string: ["text", "character varying"],
  date: ["date"],
  timestamp: ["timestamp with time zone"],
};

/**
 * The binary plan of a COPY of a Parquet into `columns` of a table: each
 * column's contract type, or `undefined` (stay on CSV) unless the file's
 * columns are exactly `columns` in order (as the CSV COPY needs too), each
 * has a binary form ({@link binaryKind}) and the target column has the type
 * it is sent as ({@link BINARY_TARGET_TYPES}; `targetTypes` maps column name
 * to `format_type`).
 */
export function binaryPlan(
  columns: readonly string[],
  fileSchema: ReadonlyArray<readonly [string, DataType]>,
  targetTypes: ReadonlyMap<string, string>,
): ColumnType[] | undefined {
  if (fileSchema.length !== columns.length) return undefined;
  const kinds: ColumnType[] = [];
  for (const [i, name] of columns.entries()) {
    const [fileName, dtype] = fileSchema[i]!;
    if (fileName !== name) return undefined;
    const kind = binaryKind(dtype);
    const target = targetTypes.get(name);
    if (!kind || target === undefined || !BINARY_TARGET_TYPES[kind].includes(target)) {
      return undefined;
    }
    kinds.push(kind);
  }
  return kinds;
}

/** `COPY table (cols) FROM ... WITH (FORMAT binary)`. */
export function binaryCopySql(table: string, columns: readonly string[], from: string): string {
  return `COPY ${quoteIdent(table)} (${
    columns.map(quoteIdent).join(", ")
  }) FROM ${from} WITH (FORMAT binary)`;
}

/** The Parquet's columns and their Polars types, in file order (from its metadata). */
export async function parquetSchema(path: string): Promise<Array<[string, DataType]>> {
  const df = await pl.scanParquet(path).head(0).collect();
  return df.columns.map((name) => [name, df.getColumn(name).dtype]);
}

/** The types (`format_type`) of a table's columns, by name, as the server reports them. */
export async function targetTypes(db: SqlExecutor, table: string): Promise<Map<string, string>> {
  const r = await db.query(
    `SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type FROM pg_attribute a
     WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [quoteIdent(table)],
  );
  return new Map(r.rows.map((row) => [String(row.name), String(row.type)]));
}

/**
 * The binary plan of COPYing `path` into `table (columns)`: see
 * {@link binaryPlan}; `undefined` means keep CSV.
 */
export async function planBinaryCopy(
  db: SqlExecutor,
  table: string,
  columns: readonly string[],
  path: string,
): Promise<ColumnType[] | undefined> {
  const [schema, types] = await Promise.all([parquetSchema(path), targetTypes(db, table)]);
  return binaryPlan(columns, schema, types);
}

/**
 * The format a COPY uses: the binary plan when `format` is `binary` and the
 * file and table allow it (see {@link planBinaryCopy}), else `undefined`
 * (CSV); logged at debug level either way.
 */
export async function chooseCopyFormat(
  format: "binary" | "csv",
  db: SqlExecutor,
  table: string,
  columns: readonly string[],
  path: string,
): Promise<ColumnType[] | undefined> {
  const kinds = format === "binary" ? await planBinaryCopy(db, table, columns, path) : undefined;
  log("warehouse").debug("COPY into {table} as {format}", {
    table,
    format: kinds ? "binary" : "csv",
  });
  return kinds;
}

const utf8 = new TextEncoder();

/**
 * Where each of `n` NUL-separated values of `bytes` starts and ends;
 * undefined unless there are exactly `n - 1` NULs (a value holding one
 * itself). One pass over the bytes (twice as fast as `indexOf` per value).
 */
function splitNul(
  bytes: Uint8Array,
  n: number,
): { starts: Int32Array; ends: Int32Array } | undefined {
  const starts = new Int32Array(n);
  const ends = new Int32Array(n);
  const len = bytes.length;
  let i = 0;
  for (let k = 0; k < len; k++) {
    if (bytes[k] !== 0) continue;
    if (i === n - 1) return undefined;
    ends[i++] = k;
    starts[i] = k + 1;
  }
  if (i !== n - 1) return undefined;
  ends[i] = len;
  return { starts, ends };
}

/** A text column value by value (the rare column whose values hold NUL bytes themselves). */
function textByValue(
  values: unknown[],
): { bytes: Uint8Array; starts: Int32Array; ends: Int32Array } {
  const parts = values.map((v) => utf8.encode(typeof v === "string" ? v : ""));
  const starts = new Int32Array(parts.length);
  const ends = new Int32Array(parts.length);
  let total = 0;
  parts.forEach((p, i) => {
    starts[i] = total;
    total += p.length;
    ends[i] = total;
  });
  const bytes = new Uint8Array(total);
  parts.forEach((p, i) => bytes.set(p, starts[i]!));
  return { bytes, starts, ends };
}

/** The name of a column's NULL mask in a prepared frame (a NUL cannot be in a column name). */
const maskOf = (name: string) => `${name}\u0000null`;

/**
 * The Polars expressions that turn columns `names` (sent as the contract
 * types `kinds`) into what {@link preparedColumns} reads: for each, its NULL
 * mask (UInt8) and its wire value (epochs shifted to 2000-01-01, NULLs
 * filled, each text column joined into one string with NUL separators, a
 * byte PostgreSQL text cannot hold).
 */
function preparedExprs(names: readonly string[], kinds: readonly ColumnType[]): Expr[] {
  // NULLs become a zero of the column's own type: a bare JS number is a Float64 literal in
  // Polars, and filling an Int64 with it would pass the values through doubles (losing
  // precision above 2^53, turning int64's maximum into NULL).
  const zero = (t: DataType) => pl.lit(0).cast(t);
  return names.flatMap((name, i) => {
    const c = pl.col(name);
    const mask = c.isNull().cast(pl.UInt8).alias(maskOf(name));
    switch (kinds[i]!) {
      case "string":
        return [mask, c.cast(pl.Utf8).fillNull(pl.lit("")).str.concat("\u0000").alias(name)];
      case "int":
        return [mask, c.cast(pl.Int64).fillNull(zero(pl.Int64)).alias(name)];
      case "float":
        return [mask, c.cast(pl.Float64).fillNull(zero(pl.Float64)).alias(name)];
      case "bool":
        return [mask, c.cast(pl.UInt8).fillNull(zero(pl.UInt8)).alias(name)];
      case "date":
        return [
          mask,
          c.cast(pl.Int32).sub(pl.lit(PG_EPOCH_DAYS).cast(pl.Int32)).fillNull(zero(pl.Int32))
            .alias(name),
        ];
      case "timestamp":
        // Microseconds whatever the file's unit; the physical value is UTC (naive or UTC).
        return [
          mask,
          c.cast(pl.Datetime("us")).cast(pl.Int64).sub(pl.lit(PG_EPOCH_US).cast(pl.Int64))
            .fillNull(zero(pl.Int64)).alias(name),
        ];
    }
  });
}

/**
 * Reads a frame of {@link preparedExprs} into {@link BinaryColumn}s (one
 * crossing into JavaScript per column, not per value). `textOf(name)` gives a
 * text column's values one by one, for the rare column whose values hold NUL
 * bytes themselves: those are sent as they are, so the server rejects them
 * as it does in CSV.
 */
function preparedColumns(
  prepared: DataFrame,
  names: readonly string[],
  kinds: readonly ColumnType[],
  textOf: (name: string) => unknown[],
): BinaryColumn[] {
  const n = prepared.height;
  // Copied (.slice()): typed arrays may borrow Polars' memory, which does not outlive the frame.
  return names.map((name, i): BinaryColumn => {
    const maskSeries = prepared.getColumn(maskOf(name));
    const mask = maskSeries.sum() > 0
      ? { nulls: (maskSeries.toTypedArray() as Uint8Array).slice() }
      : {};
    const s = prepared.getColumn(name);
    switch (kinds[i]!) {
      case "string": {
        const bytes = utf8.encode(n > 0 ? String(s.get(0) ?? "") : "");
        const split = splitNul(bytes, n);
        return {
          type: "text",
          ...mask,
          ...(split ? { bytes, ...split } : textByValue(textOf(name))),
        };
      }
      case "int":
        return { type: "int8", ...mask, values: (s.toTypedArray() as BigInt64Array).slice() };
      case "timestamp":
        return {
          type: "timestamptz",
          ...mask,
          values: (s.toTypedArray() as BigInt64Array).slice(),
        };
      case "float":
        return { type: "float8", ...mask, values: (s.toTypedArray() as Float64Array).slice() };
      case "date":
        return { type: "date", ...mask, values: (s.toTypedArray() as Int32Array).slice() };
      case "bool":
        return { type: "bool", ...mask, values: (s.toTypedArray() as Uint8Array).slice() };
    }
  });
}

/**
 * The columns `names` of `df` (sent as the contract types `kinds`) as
 * {@link BinaryColumn}s. Polars does the column work: epoch shifts to
 * 2000-01-01, casts, NULL masks (kept only for columns that have NULLs), and
 * each text column joined into one string with NUL separators (a byte
 * PostgreSQL text cannot hold; a column whose values hold one anyway is read
 * value by value, so the server rejects it as it rejects it in CSV).
 */
export function prepareColumns(
  df: DataFrame,
  names: readonly string[],
  kinds: readonly ColumnType[],
): BinaryColumn[] {
  const prepared = df.lazy().select(...preparedExprs(names, kinds)).collectSync();
  return preparedColumns(
    prepared,
    names,
    kinds,
    (name) => df.getColumn(name).cast(pl.Utf8).toArray() as unknown[],
  );
}

/** The rows of `df` as binary COPY tuples (no header, no trailer). */
export function encodeFrame(
  df: DataFrame,
  names: readonly string[],
  kinds: readonly ColumnType[],
): Uint8Array {
  return encodeRows(prepareColumns(df, names, kinds), df.height);
}

/**
 * Rows per chunk of the `COPY ... FROM STDIN` stream (about 1.6 MB of the
 * `events` rows): small chunks, so the server parses one while the next is
 * encoded (the encoder holds the event loop while it runs).
 */
export const PIECE_ROWS = 8192;

/**
 * Yields the Parquet's rows as binary COPY tuples (no header, no trailer:
 * PGlite wraps each chunk into a COPY of its own). The file is read
 * `sliceRows` rows at a time (Polars prepares each slice's columns once);
 * each chunk holds `pieceRows` rows of a slice (default: the whole slice).
 * Columns `names`, sent as `kinds` (see {@link planBinaryCopy}).
 */
export async function* binarySlices(
  path: string,
  names: readonly string[],
  kinds: readonly ColumnType[],
  sliceRows: number = STREAM_ROWS,
  pieceRows: number = sliceRows,
): AsyncGenerator<Uint8Array> {
  const total = await parquetRows(path);
  for (let offset = 0; offset < total; offset += sliceRows) {
    // The slice is prepared inside the scan: one frame per slice on Polars' side, not two.
    const slice = () => pl.scanParquet(path).slice(offset, sliceRows);
    const prepared = await slice().select(...preparedExprs(names, kinds)).collect();
    const columns = preparedColumns(
      prepared,
      names,
      kinds,
      (name) => slice().select(pl.col(name).cast(pl.Utf8)).collectSync().getColumn(name).toArray(),
    );
    const rows = prepared.height;
    for (let from = 0; from < rows; from += pieceRows) {
      yield encodeRows(columns, Math.min(pieceRows, rows - from), from);
    }
  }
}

/**
 * Yields the Parquet as one binary COPY stream for `COPY ... FROM STDIN`:
 * the header, chunks of `pieceRows` rows read `sliceRows` at a time, the
 * trailer.
 */
export async function* binaryChunks(
  path: string,
  names: readonly string[],
  kinds: readonly ColumnType[],
  sliceRows: number = STREAM_ROWS,
  pieceRows: number = PIECE_ROWS,
): AsyncGenerator<Uint8Array> {
  yield copyHeader();
  yield* binarySlices(path, names, kinds, sliceRows, pieceRows);
  yield copyTrailer();
}
