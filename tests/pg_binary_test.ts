/**
 * PostgreSQL's binary COPY format (`src/sinks/pg_binary.ts`): the encoder
 * against hand-computed bytes for every type, what Polars hands it, when the
 * sinks stay on CSV, and round trips through `loadMonth` into a throwaway
 * PostgreSQL and into PGlite that must equal the CSV COPY of the same file,
 * column by column as text.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import pl from "nodejs-polars";
import {
  binaryChunks,
  type BinaryColumn,
  binaryKind,
  binaryPlan,
  copyHeader,
  copyTrailer,
  encodeFrame,
  encodeRows,
  prepareColumns,
} from "../src/sinks/pg_binary.ts";
import { loadConfig, type ResolvedPipeline, selectPipelines } from "../src/config/load.ts";
import { type ColumnType, outputColumns } from "../src/contract/schema.ts";
import { parseMonth } from "../src/contract/month.ts";
import type { LedgerRow } from "../src/ledger/rows.ts";
import { PostgresWarehouse } from "../src/sinks/postgres.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import type { PostgresFamily } from "../src/sinks/pg_family.ts";
import { findPostgresBin, startPostgres } from "../testing/postgres.ts";
import { setupLogging } from "../src/_shared/log.ts";
import { canRun } from "./support/skip.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
/** Hex with spaces for readability. */
const h = (s: string) => s.replaceAll(" ", "");

// Hand-computed values (big-endian): int32 lengths, then the value.
const LEN8 = "00000008";
const LEN4 = "00000004";
const LEN1 = "00000001";
const NULL = "ffffffff";

Deno.test("binary COPY: header and trailer", () => {
  // "PGCOPY\n\377\r\n\0", flags int32 0, header extension length int32 0.
  assert.equal(hex(copyHeader()), h("5047434f50590aff0d0a00 00000000 00000000"));
  assert.equal(hex(copyTrailer()), "ffff");
});

Deno.test("binary COPY: each row starts with its field count; NULL is length -1", () => {
  const cols: BinaryColumn[] = [
    { type: "int8", values: new BigInt64Array([1n, 2n]), nulls: new Uint8Array([0, 1]) },
    { type: "bool", values: new Uint8Array([1, 0]) },
    { type: "date", values: new Int32Array([0, 0]), nulls: new Uint8Array([1, 1]) },
  ];
  assert.equal(
    hex(encodeRows(cols, 2)),
    h(
      `0003 ${LEN8} 0000000000000001 ${LEN1} 01 ${NULL}` +
        `0003 ${NULL} ${LEN1} 00 ${NULL}`,
    ),
  );
  assert.equal(hex(encodeRows(cols, 0)), "", "no rows, no bytes");
  assert.throws(() => encodeRows(cols, 3), RangeError);
});

Deno.test("binary COPY: int8, negative numbers and the extremes", () => {
  const values = new BigInt64Array([
    0n,
    -1n,
    -42n,
    123456789012n,
    -9223372036854775808n,
    9223372036854775807n,
  ]);
  const expected = [
    "0000000000000000",
    "ffffffffffffffff",
    "ffffffffffffffd6",
    "0000001cbe991a14",
    "8000000000000000",
    "7fffffffffffffff",
  ];
  assert.equal(
    hex(encodeRows([{ type: "int8", values }], values.length)),
    expected.map((v) => `0001${LEN8}${v}`).join(""),
  );
});

Deno.test("binary COPY: float8 incl. NaN, ±Infinity and -0", () => {
  const values = new Float64Array([1.5, -2, 0.1, NaN, Infinity, -Infinity, -0]);
  const expected = [
    "3ff8000000000000",
    "c000000000000000",
    "3fb999999999999a",
    "7ff8000000000000",
    "7ff0000000000000",
    "fff0000000000000",
    "8000000000000000",
  ];
  assert.equal(
    hex(encodeRows([{ type: "float8", values }], values.length)),
    expected.map((v) => `0001${LEN8}${v}`).join(""),
  );
});

Deno.test("binary COPY: bool", () => {
  const cols: BinaryColumn[] = [{
    type: "bool",
    values: new Uint8Array([1, 0, 7, 0]),
    nulls: new Uint8Array([0, 0, 0, 1]),
  }];
  assert.equal(
    hex(encodeRows(cols, 4)),
    h(`0001 ${LEN1} 01  0001 ${LEN1} 00  0001 ${LEN1} 01  0001 ${NULL}`),
  );
});

Deno.test("binary COPY: text is its UTF-8 bytes (non-ASCII, empty, long, CSV specials)", () => {
  const values = ["a", "", "é東", 'a,"b"\n', "x".repeat(40)];
  const parts = values.map((v) => new TextEncoder().encode(v));
  const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  const starts = new Int32Array(values.length + 1);
  const ends = new Int32Array(values.length + 1);
  let at = 0;
  parts.forEach((p, i) => {
    bytes.set(p, at);
    starts[i] = at;
    at += p.length;
    ends[i] = at;
  });
  // A sixth, NULL row (its offsets are never read).
  const nulls = new Uint8Array([0, 0, 0, 0, 0, 1]);
  assert.equal(
    hex(encodeRows([{ type: "text", bytes, starts, ends, nulls }], 6)),
    h(
      "0001 00000001 61" +
        "0001 00000000" +
        "0001 00000005 c3a9e69db1" +
        "0001 00000006 612c2262220a" +
        `0001 00000028 ${"78".repeat(40)}` +
        `0001 ${NULL}`,
    ),
  );
});

Deno.test("binary COPY: date is days since 2000-01-01 (before 2000 negative)", () => {
  // 2000-01-01 = 0; 2000-03-01 = 31 + 29; 1999-12-31 = -1; 1970-01-01 = -10957;
  // 1969-12-31 = -10958; 1900-01-01 = -(100 * 365 + 24) = -36524; 2021-02-01 = 7702.
  const values = new Int32Array([0, 60, -1, -10957, -10958, -36524, 7702]);
  const expected = [
    "00000000",
    "0000003c",
    "ffffffff",
    "ffffd533",
    "ffffd532",
    "ffff7154",
    "00001e16",
  ];
  assert.equal(
    hex(encodeRows([{ type: "date", values }], values.length)),
    expected.map((v) => `0001${LEN4}${v}`).join(""),
  );
});

Deno.test("binary COPY: timestamptz is microseconds since 2000-01-01 UTC", () => {
  // 1970-01-01Z = -946684800 s; 2021-02-03T04:05:06.789012Z = 665640306.789012 s;
  // 1969-07-20T20:17:40.123456Z = -960867739.876544 s.
  const values = new BigInt64Array([
    0n,
    1n,
    -1n,
    -946684800000000n,
    665640306789012n,
    -960867739876544n,
  ]);
  const expected = [
    "0000000000000000",
    "0000000000000001",
    "ffffffffffffffff",
    "fffca2fec4c82000",
    "00025d657608ca94",
    "fffc96188bb04340",
  ];
  assert.equal(
    hex(encodeRows([{ type: "timestamptz", values }], values.length)),
    expected.map((v) => `0001${LEN8}${v}`).join(""),
  );
});

const MIN64 = "-9223372036854775808";
const MAX64 = "9223372036854775807";

/** A frame of every type with the awkward values, as Polars builds them. */
function awkwardFrame(): pl.DataFrame {
  const micros = [
    0,
    1,
    -1,
    -946684800000000,
    665640306789012,
    -960867739876544,
    null,
  ].map((v) => v === null ? null : v + 946684800000000);
  return pl.DataFrame({
    s: pl.Series("s", ["a", "", "é東", 'a,"b"\n', "x".repeat(40), "z", null], pl.Utf8),
    // From text: JS numbers cannot hold int64's extremes.
    i: pl.Series("i", ["0", "-1", "-42", "123456789012", MIN64, MAX64, null]).cast(pl.Int64),
    f: pl.Series("f", [1.5, -2, 0.1, NaN, Infinity, -Infinity, null], pl.Float64),
    b: pl.Series("b", [true, false, true, false, true, false, null], pl.Bool),
    // Cast, not built as Int32: nodejs-polars builds a typed Series' NULL as 0.
    d: pl.Series("d", [10957, 10957 + 60, 10956, 0, -1, 10957 - 36524, null]).cast(pl.Int32)
      .cast(pl.Date),
    t: pl.Series("t", micros, pl.Int64).cast(pl.Datetime("us", "UTC")),
  });
}

const KINDS: ColumnType[] = ["string", "int", "float", "bool", "date", "timestamp"];

Deno.test("binary COPY: what Polars gives for every type, NULLs in each", () => {
  const df = awkwardFrame();
  assert.deepEqual(df.columns.map((c) => binaryKind(df.getColumn(c).dtype)), KINDS);
  const rows = encodeFrame(df, df.columns, KINDS);
  const row = (s: string, i: string, f: string, b: string, d: string, t: string) =>
    `0006${s}${LEN8}${i}${LEN8}${f}${LEN1}${b}${LEN4}${d}${LEN8}${t}`;
  assert.equal(
    hex(rows),
    [
      row("0000000161", "0000000000000000", "3ff8000000000000", "01", "00000000", "0".repeat(16)),
      row(
        "00000000",
        "ffffffffffffffff",
        "c000000000000000",
        "00",
        "0000003c",
        "0000000000000001",
      ),
      row(
        "00000005c3a9e69db1",
        "ffffffffffffffd6",
        "3fb999999999999a",
        "01",
        "ffffffff",
        "ffffffffffffffff",
      ),
      row(
        "00000006612c2262220a",
        "0000001cbe991a14",
        "7ff8000000000000", // Polars keeps NaN; float8 NaN
        "00",
        "ffffd533",
        "fffca2fec4c82000",
      ),
      row(
        `00000028${"78".repeat(40)}`,
        "8000000000000000",
        "7ff0000000000000",
        "01",
        "ffffd532",
        "00025d657608ca94",
      ),
      row(
        "000000017a",
        "7fffffffffffffff",
        "fff0000000000000",
        "00",
        "ffff7154",
        "fffc96188bb04340",
      ),
      `0006${NULL.repeat(6)}`,
    ].join(""),
  );
  // No NULL in a column: no mask at all.
  const noNulls = prepareColumns(df.head(6), df.columns, KINDS);
  assert.ok(noNulls.every((c) => c.nulls === undefined));
});

Deno.test("binary COPY: other Polars types are cast to the wire type", () => {
  const df = pl.DataFrame({
    i32: pl.Series("i32", [-5, null]).cast(pl.Int32),
    u8: pl.Series("u8", [255, 1], pl.UInt8),
    // Milliseconds, naive: the physical value is UTC, as the CSV writer's "...Z" says.
    tms: pl.Series("tms", [1, null], pl.Int64).cast(pl.Datetime("ms")),
    // Nanoseconds floor to microseconds, as the CSV writer's %.6f does (-1500 ns: .999998).
    tns: pl.Series("tns", [-1500, 0], pl.Int64).cast(pl.Datetime("ns", "UTC")),
  });
  const kinds = df.columns.map((c) => binaryKind(df.getColumn(c).dtype)!);
  assert.deepEqual(kinds, ["int", "int", "timestamp", "timestamp"]);
  const epoch = "fffca2fec4c82000"; // 1970-01-01 in microseconds since 2000
  assert.equal(
    hex(encodeFrame(df, df.columns, kinds)),
    h(
      `0004 ${LEN8} fffffffffffffffb ${LEN8} 00000000000000ff ${LEN8} fffca2fec4c823e8 ` +
        `${LEN8} fffca2fec4c81ffe` + // 1970-01-01 + 1 ms; 1970-01-01 - 2 µs
        `0004 ${NULL} ${LEN8} 0000000000000001 ${NULL} ${LEN8} ${epoch}`,
    ),
  );
});

Deno.test("binary COPY: a row range encodes those rows only", () => {
  const cols = prepareColumns(awkwardFrame(), awkwardFrame().columns, KINDS);
  const all = encodeRows(cols, 7);
  const parts = [encodeRows(cols, 2, 0), encodeRows(cols, 4, 2), encodeRows(cols, 1, 6)];
  assert.equal(parts.map(hex).join(""), hex(all));
  assert.throws(() => encodeRows(cols, 2, 6), RangeError);
});

Deno.test("binary COPY: the stream of a Parquet is the header, its rows in slices and pieces, the trailer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pg-binary-" });
  try {
    const df = pl.concat([awkwardFrame(), awkwardFrame(), awkwardFrame()]);
    const path = join(dir, "a.parquet");
    df.writeParquet(path);
    const whole = hex(copyHeader()) + hex(encodeFrame(df, df.columns, KINDS)) +
      hex(copyTrailer());
    for (const [slice, piece] of [[5, 2], [7, 7], [50_000, 8192], [4, 100]] as const) {
      const chunks: string[] = [];
      for await (const c of binaryChunks(path, df.columns, KINDS, slice, piece)) {
        chunks.push(hex(c));
      }
      assert.equal(chunks.join(""), whole, `slices of ${slice}, pieces of ${piece}`);
      assert.equal(chunks.length, 2 + countPieces(21, slice, piece));
    }
    // An empty file: the header and the trailer only.
    const empty = join(dir, "empty.parquet");
    df.head(0).writeParquet(empty);
    const chunks: string[] = [];
    for await (const c of binaryChunks(empty, df.columns, KINDS)) chunks.push(hex(c));
    assert.equal(chunks.join(""), hex(copyHeader()) + hex(copyTrailer()));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function countPieces(rows: number, slice: number, piece: number): number {
  let n = 0;
  for (let at = 0; at < rows; at += slice) n += Math.ceil(Math.min(slice, rows - at) / piece);
  return n;
}

Deno.test("binary COPY: a text value holding NUL is sent as it is (the server rejects it, as in CSV)", () => {
  const df = pl.DataFrame({ s: ["a\u0000b", "c"] });
  const [col] = prepareColumns(df, ["s"], ["string"]);
  assert.equal(hex(encodeRows([col!], 2)), h(`0001 00000003 610062  0001 00000001 63`));
});

Deno.test("binary COPY: types without an exact binary form stay on CSV", () => {
  const kind = (s: pl.Series) => binaryKind(s.dtype);
  assert.equal(kind(pl.Series("x", [1], pl.UInt64)), undefined);
  assert.equal(kind(pl.Series("x", [0.1], pl.Float32)), undefined, "f32 -> f64 changes the text");
  assert.equal(
    kind(pl.Series("x", [0], pl.Int64).cast(pl.Datetime("us", "Europe/Paris"))),
    undefined,
  );
  assert.equal(kind(pl.Series("x", ["a"]).cast(pl.Categorical)), undefined);
  const nulls = pl.DataFrame({ x: [1] }).select(pl.lit(null).alias("n")).getColumn("n");
  assert.equal(kind(nulls), undefined, "an all-NULL column of type Null");

  const schema: Array<[string, pl.DataType]> = [["a", pl.Int64], ["b", pl.Utf8]];
  const types = new Map([["a", "bigint"], ["b", "text"]]);
  assert.deepEqual(binaryPlan(["a", "b"], schema, types), ["int", "string"]);
  assert.deepEqual(
    binaryPlan(["a", "b"], schema, new Map([["a", "bigint"], ["b", "character varying"]])),
    ["int", "string"],
  );
  // A hand-made INTEGER column: CSV converts the text, binary int8 would be refused.
  assert.equal(
    binaryPlan(["a", "b"], schema, new Map([["a", "integer"], ["b", "text"]])),
    undefined,
  );
  assert.equal(binaryPlan(["a", "b"], schema, new Map([["a", "bigint"]])), undefined, "missing");
  assert.equal(binaryPlan(["b", "a"], schema, types), undefined, "file order differs");
  assert.equal(binaryPlan(["a"], schema, types), undefined, "extra file column");
});

// --- round trips: binary COPY through loadMonth equals CSV COPY, as text ---

const PIPELINES = {
  pipelines: [{
    name: "types",
    key: "{yyyy}/{mm}/types.csv",
    table: "types_binary",
    predicate: "id >= 0",
    columns: [
      { name: "id", type: "int" },
      { name: "s", type: "string", nullable: true },
      { name: "i", type: "int", nullable: true },
      { name: "f", type: "float", nullable: true },
      { name: "b", type: "bool", nullable: true },
      { name: "d", type: "date", nullable: true },
      { name: "t", type: "timestamp", nullable: true },
    ],
  }],
};
const FEB = parseMonth("2021-02");

/**
 * A processed-shaped Parquet of `filler + 7` rows: the awkward values, a row
 * of NULLs, then generated rows (enough for several COPY slices).
 */
function typesParquet(dir: string, pipeline: ResolvedPipeline, filler: number) {
  const awkward = awkwardFrame().withColumns(pl.Series("id", [1, 2, 3, 4, 5, 6, 7], pl.Int64));
  const n = pl.col("id");
  const generated = pl.DataFrame({ id: pl.Series("id", [...Array(filler).keys()], pl.Int64) })
    .lazy().select(
      n.add(8).cast(pl.Int64).alias("id"),
      pl.when(n.modulo(11).eq(0)).then(pl.lit(null)).otherwise(
        pl.concatString([pl.lit("ü-"), n.cast(pl.Utf8), pl.lit(' "q",\n')], ""),
      ).cast(pl.Utf8).alias("s"),
      pl.when(n.modulo(13).eq(0)).then(pl.lit(null)).otherwise(n.mul(-7919)).cast(pl.Int64)
        .alias("i"),
      pl.when(n.modulo(17).eq(0)).then(pl.lit(null)).otherwise(n.mul(0.37).sub(1e4))
        .cast(pl.Float64).alias("f"),
      pl.when(n.modulo(19).eq(0)).then(pl.lit(null)).otherwise(n.modulo(2).eq(0)).alias("b"),
      pl.when(n.modulo(23).eq(0)).then(pl.lit(null)).otherwise(n.modulo(40000).sub(20000))
        .cast(pl.Int32).cast(pl.Date).alias("d"),
      pl.when(n.modulo(29).eq(0)).then(pl.lit(null)).otherwise(
        n.mul(1_000_003_777).sub(2_000_000_000_000_000),
      ).cast(pl.Int64).cast(pl.Datetime("us", "UTC")).alias("t"),
    ).collectSync();
  const system = (df: pl.DataFrame) =>
    df.lazy().withColumns(
      pl.lit("2021-02-01").cast(pl.Date).alias("source_month"),
      pl.lit(new Date("2021-03-01T01:02:03.456Z")).cast(pl.Datetime("us", "UTC")).alias(
        "loaded_at",
      ),
      pl.lit("binary-test").alias("run_id"),
      n.add(1).cast(pl.Int64).alias("source_line"),
    ).select(...outputColumns(pipeline).map((c) => c.name)).collectSync();
  const path = join(dir, "types.parquet");
  pl.concat([system(awkward), system(generated)]).writeParquet(path);
  return { path, rows: 7 + filler };
}

async function typesPipeline(dir: string): Promise<ResolvedPipeline> {
  const file = join(dir, "pipelines.json");
  await Deno.writeTextFile(file, JSON.stringify(PIPELINES));
  return selectPipelines(await loadConfig({ env: { PIPELINES_FILE: file } }), "types")[0]!;
}

function ledgerRow(pipeline: ResolvedPipeline, rows: number, path: string): LedgerRow {
  const now = new Date();
  return {
    run_id: `binary-test-${pipeline.table}`,
    pipeline: pipeline.name,
    month: "2021-02",
    status: "succeeded",
    source_url: path,
    source_identity: "test",
    rows_read: rows,
    rows_rejected: 0,
    rows_matched: rows,
    rows_loaded: rows,
    target_table: pipeline.table,
    strategy: "copy",
    processed_url: path,
    quarantine_url: null,
    step: null,
    error: null,
    notification: null,
    started_at: now,
    finished_at: now,
    heartbeat_at: null,
  };
}

async function load(
  warehouse: PostgresFamily,
  pipeline: ResolvedPipeline,
  file: { path: string; rows: number },
) {
  await warehouse.prepare(pipeline);
  return await warehouse.loadMonth({
    pipeline,
    month: FEB,
    processedPath: file.path,
    processedUrl: file.path,
    expectedRows: file.rows,
    ledger: ledgerRow(pipeline, file.rows, file.path),
  });
}

/** Every column as text, in id order. */
function asText(pipeline: ResolvedPipeline, table: string) {
  const cols = outputColumns(pipeline).map((c) => `"${c.name}"::text AS "${c.name}"`);
  return `SELECT ${cols.join(", ")} FROM "${table}" AS x ORDER BY x.id`;
}

const hasPostgres = !!(await findPostgresBin());

/** Which format each table's COPY used, from the sinks' debug log. */
async function recordCopyFormats(): Promise<Map<string, string>> {
  const formats = new Map<string, string>();
  await setupLogging({
    level: "debug",
    sink: (record) => {
      const p = record.properties as { table?: unknown; format?: unknown };
      if (typeof p.table === "string" && typeof p.format === "string") {
        formats.set(p.table, p.format);
      }
    },
  });
  return formats;
}

Deno.test({
  name: "PostgreSQL: binary COPY through loadMonth loads what CSV COPY loads, row for row",
  ignore: !canRun(hasPostgres, "PostgreSQL server binaries not found"),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "pg-binary-" });
    const cluster = await startPostgres();
    const binary = await PostgresWarehouse.open(cluster.url);
    const csv = await PostgresWarehouse.open(cluster.url, { copyFormat: "csv" });
    const client = new pg.Client({ connectionString: cluster.url });
    try {
      await client.connect();
      const formats = await recordCopyFormats();
      const pipeline = await typesPipeline(dir);
      // 120,000 generated rows: three 50,000-row slices, the last one short.
      const file = typesParquet(dir, pipeline, 120_000);
      const csvPipeline = { ...pipeline, table: "types_csv" };
      assert.equal(await load(binary, pipeline, file), file.rows);
      assert.equal(await load(csv, csvPipeline, file), file.rows);

      const b = (await client.query(asText(pipeline, "types_binary"))).rows;
      const c = (await client.query(asText(pipeline, "types_csv"))).rows;
      assert.equal(b.length, file.rows);
      for (let r = 0; r < c.length; r++) assert.deepEqual(b[r], c[r], `row ${r + 1}`);
      // The awkward values arrived as PostgreSQL spells them.
      const [, , third, fourth, fifth, sixth, seventh] = b;
      assert.deepEqual(
        [third.s, third.d, third.t],
        ["é東", "1999-12-31", "1999-12-31 23:59:59.999999+00"],
      );
      assert.deepEqual([fourth.f, fifth.f, sixth.f], ["NaN", "Infinity", "-Infinity"]);
      assert.deepEqual([fifth.i, sixth.i], ["-9223372036854775808", "9223372036854775807"]);
      assert.equal(sixth.t, "1969-07-20 20:17:40.123456+00");
      assert.deepEqual(
        [seventh.s, seventh.i, seventh.f, seventh.b, seventh.d, seventh.t],
        [null, null, null, null, null, null],
      );
      assert.deepEqual(formats, new Map([["types_binary", "binary"], ["types_csv", "csv"]]));

      // A hand-made table with an INTEGER column still loads (CSV, as before).
      const narrow = { ...pipeline, table: "types_narrow" };
      await client.query(
        `CREATE TABLE types_narrow (LIKE types_binary); ALTER TABLE types_narrow ALTER COLUMN source_line TYPE integer`,
      );
      assert.equal(await load(binary, narrow, file), file.rows);
      assert.equal(formats.get("types_narrow"), "csv");
      const n = (await client.query(asText(pipeline, "types_narrow"))).rows;
      assert.deepEqual(n, c);

      // A text value holding NUL: the server refuses it in binary as in CSV, and nothing changes.
      const nul = { path: join(dir, "nul.parquet"), rows: 3 };
      pl.readParquet(file.path).head(3).withColumns(pl.lit("a\u0000b").alias("s"))
        .writeParquet(nul.path);
      await assert.rejects(load(binary, pipeline, nul), /invalid byte sequence .*0x00/);
      await assert.rejects(load(csv, csvPipeline, nul), /invalid byte sequence .*0x00/);
      const kept = await client.query("SELECT count(*)::int AS n FROM types_binary");
      assert.equal(kept.rows[0].n, file.rows);

      // Loading the month again replaces it (the count check holds on a second binary load).
      assert.equal(await load(binary, pipeline, file), file.rows);
      const again = await client.query("SELECT count(*)::int AS n FROM types_binary");
      assert.equal(again.rows[0].n, file.rows);
    } finally {
      await client.end().catch(() => {});
      await binary.close();
      await csv.close();
      await cluster.stop();
      await Deno.remove(dir, { recursive: true });
      await setupLogging({ level: "error" });
    }
  },
});

Deno.test("PGlite: binary COPY through loadMonth loads what CSV COPY loads, row for row", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite-binary-" });
  const formats = await recordCopyFormats();
  try {
    const pipeline = await typesPipeline(dir);
    // 260,000 generated rows: two 250,000-row blobs.
    const file = typesParquet(dir, pipeline, 260_000);
    const read = async (copyFormat: "binary" | "csv") => {
      const w = await PgliteWarehouse.open(join(dir, copyFormat), { copyFormat });
      try {
        assert.equal(await load(w, pipeline, file), file.rows);
        assert.equal(formats.get("types_binary"), copyFormat);
        return await w.query(asText(pipeline, "types_binary"));
      } finally {
        await w.close();
      }
    };
    const b = await read("binary");
    const c = await read("csv");
    assert.equal(b.length, file.rows);
    for (let r = 0; r < c.length; r++) assert.deepEqual(b[r], c[r], `row ${r + 1}`);
    assert.deepEqual([b[3]!.f, b[4]!.f, b[5]!.f], ["NaN", "Infinity", "-Infinity"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await setupLogging({ level: "error" });
  }
});
