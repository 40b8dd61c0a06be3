/**
 * One extract tick of a pipeline's database inputs. For each input: adopt
 * any file a killed tick landed but never recorded; read the rows whose
 * cursor is after the watermark minus the overlap (so a transaction that
 * committed late with an older cursor value is still seen); drop those
 * already landed (same key and cursor, from the ledger's window); land the
 * rest as ONE immutable CSV under `landing/<table>/<yyyy>/<mm>/`; only then
 * advance the watermark, in the same ledger transaction that records the
 * file. A tick with no new rows writes nothing and says so.
 *
 * The file is named `<dd>T<hhmmss>Z-<run_id>.csv`, so the month's folder
 * lists its ticks in time order, and the month's input is every file in it
 * (a split month: `landing/<table>/{yyyy}/{mm}/*.csv`).
 *
 * @module
 */

import { join } from "node:path";
import pl from "nodejs-polars";
import type { InputPipeline, Pipeline } from "../../contract/schema.ts";
import { formatMonth, type Month } from "../../contract/month.ts";
import { formatCsv } from "../../_shared/csv.ts";
import { RunError } from "../../_shared/errors.ts";
import { faultPoint } from "../../_shared/fault_points.ts";
import {
  type Landing,
  readLandedRows,
  readLandings,
  readWatermark,
  recordLanding,
} from "../../ledger/landings.ts";
import type { Warehouse } from "../../sinks/warehouse.ts";
import { headerText } from "../../stage/header.ts";
import type { Source } from "../source.ts";
import type { ChangedRow, SourceDatabase } from "./postgres.ts";

/** What a tick needs. */
export interface ExtractDeps {
  /** Where files land (the data zones). */
  source: Source;
  /** Where the ledger is. */
  warehouse: Warehouse;
  /** The operational database. */
  db: SourceDatabase;
  /** Clock (names the files and months). */
  now: () => Date;
  /** Scratch folder parent. */
  tmpDir?: string;
}

/** What a tick did for one input. */
export interface ExtractResult {
  /** The input. */
  input: string;
  /** `landed` a file, found it `unchanged`, or `adopted` files a killed tick left. */
  status: "landed" | "unchanged";
  /** Rows landed. */
  rows: number;
  /** Files adopted before extracting. */
  adopted: number;
  /** The landed file. */
  url?: string;
  /** The watermark after the tick. */
  watermark?: string;
  /** The month the file belongs to. */
  month: Month;
  /** One line for people. */
  message: string;
}

/** ISO text `overlap` seconds before `iso` (microseconds kept). */
export function minusSeconds(iso: string, seconds: number): string {
  const micros = iso.match(/\.(\d{6})Z$/)?.[1] ?? "000000";
  const base = new Date(iso.replace(/\.\d+Z$/, "Z")).getTime() - seconds * 1000;
  return new Date(base).toISOString().replace(/\.\d{3}Z$/, `.${micros}Z`);
}

/** The month of a date, UTC. */
function monthOf(d: Date): Month {
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1 };
}

/** A row's key as text (JSON of the key values, in key order). */
function keyOf(row: Record<string, unknown>, key: readonly string[]): string {
  return JSON.stringify(key.map((k) => row[k] ?? null));
}

/** Runs one tick for every database input of `pipeline`. */
export async function extractTick(
  deps: ExtractDeps,
  pipeline: Pipeline,
  runId: string,
): Promise<ExtractResult[]> {
  const out: ExtractResult[] = [];
  for (const input of pipeline.inputs?.filter((i) => i.database) ?? []) {
    out.push(await extractInput(deps, pipeline, input, runId));
  }
  return out;
}

async function extractInput(
  deps: ExtractDeps,
  p: Pipeline,
  input: InputPipeline,
  runId: string,
): Promise<ExtractResult> {
  const spec = input.database!;
  const now = deps.now();
  const month = monthOf(now);
  const adopted = await adoptUnrecorded(deps, p, input, month);
  const [mark] = await deps.warehouse.query(readWatermark(p.name, input.input).sql, [
    p.name,
    input.input,
  ]);
  const watermark = mark ? String(mark.watermark) : undefined;
  const since = watermark ? minusSeconds(watermark, spec.overlap_seconds) : undefined;
  const rows = await deps.db.changedRows(spec.table, input.columns, spec.cursor, since);
  const seen = new Set(
    since === undefined ? [] : (await deps.warehouse.query(
      readLandedRows(p.name, input.input, since).sql,
      [p.name, input.input, since],
    )).map((r) => `${r.row_key}\u0000${r.cursor_value}`),
  );
  const fresh = rows.filter((r) => !seen.has(`${keyOf(r, spec.key)}\u0000${r[spec.cursor]}`));
  const base = { input: input.input, adopted, month };
  if (fresh.length === 0) {
    return {
      ...base,
      status: "unchanged",
      rows: 0,
      ...(watermark ? { watermark } : {}),
      message: `${input.input}: no changes in ${spec.table} since ${watermark ?? "the start"}${
        adopted ? ` (adopted ${adopted} file(s) an interrupted tick left)` : ""
      }; nothing landed`,
    };
  }
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const key = input.key.replace("{yyyy}", String(month.year))
    .replace("{mm}", String(month.month).padStart(2, "0"))
    .replace("*.csv", `${stamp.slice(6, 8)}T${stamp.slice(9)}-${runId}.csv`);
  const dir = await Deno.makeTempDir({ dir: deps.tmpDir, prefix: "etl-extract-" });
  try {
    const local = join(dir, "landing.csv");
    const header = input.columns.map((c) => headerText(c));
    await Deno.writeTextFile(
      local,
      formatCsv(
        fresh.map((r) => Object.fromEntries(input.columns.map((c, i) => [header[i], r[c.name]]))),
        header,
      ) + "\n",
    );
    const landed = await deps.source.land(local, key);
    // A crash here leaves a file the ledger does not know: the next tick adopts it.
    await faultPoint("after_land");
    const cursors = fresh.map((r) => String(r[spec.cursor])).sort();
    const maxCursor = cursors.at(-1)!;
    const next = watermark && watermark > maxCursor ? watermark : maxCursor;
    await deps.warehouse.ledgerTransaction(
      recordLanding(
        landingRow(p, input, key, runId, fresh.length, cursors[0]!, next, now),
        keysOf(fresh, spec.key, spec.cursor),
        minusSeconds(next, spec.overlap_seconds),
      ),
    );
    return {
      ...base,
      status: "landed",
      rows: fresh.length,
      url: landed.url,
      watermark: next,
      message: `${input.input}: landed ${fresh.length} changed row(s) of ${spec.table} for ${
        formatMonth(month)
      } at ${landed.url}; watermark ${next}`,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function landingRow(
  p: Pipeline,
  input: InputPipeline,
  fileKey: string,
  runId: string,
  rows: number,
  minCursor: string,
  maxCursor: string,
  landedAt: Date,
): Landing {
  return {
    pipeline: p.name,
    input: input.input,
    fileKey,
    runId,
    rows,
    minCursor,
    maxCursor,
    landedAt,
  };
}

function keysOf(
  rows: ReadonlyArray<Record<string, unknown>>,
  key: readonly string[],
  cursor: string,
): Array<{ key: string; cursor: string }> {
  return rows.map((r) => ({ key: keyOf(r, key), cursor: String(r[cursor]) }));
}

/**
 * Files of this and the previous month that are in the landing zone but
 * not in the ledger (a tick killed after the file was written and before
 * its ledger transaction): their rows are recorded now, as if that tick had
 * finished, so the next extract neither misses nor repeats them.
 */
async function adoptUnrecorded(
  deps: ExtractDeps,
  p: Pipeline,
  input: InputPipeline,
  month: Month,
): Promise<number> {
  const spec = input.database!;
  const recorded = new Set(
    (await deps.warehouse.query(readLandings(p.name, input.input).sql, [p.name, input.input]))
      .map((r) => String(r.file_key).split("/").at(-1)),
  );
  const previous = month.month === 1
    ? { year: month.year - 1, month: 12 }
    : { year: month.year, month: month.month - 1 };
  let adopted = 0;
  for (const m of [previous, month]) {
    const file = await deps.source.locate(input, m).catch((error) => {
      if (error instanceof RunError && error.step === "locate") return undefined;
      throw error;
    });
    for (const part of file?.parts ?? []) {
      if (recorded.has(part.name)) continue;
      const text = await readAll(await deps.source.open({ ...file!, parts: [part] }));
      const rows = pl.readCSV(text, { inferSchemaLength: 0 }).toRecords() as ChangedRow[];
      const byName = rows.map((r) =>
        Object.fromEntries(input.columns.map((c) => [c.name, r[headerText(c)] ?? null]))
      );
      if (byName.length === 0) continue;
      const cursors = byName.map((r) => String(r[spec.cursor])).sort();
      const [mark] = await deps.warehouse.query(readWatermark(p.name, input.input).sql, [
        p.name,
        input.input,
      ]);
      const old = mark ? String(mark.watermark) : undefined;
      const next = old && old > cursors.at(-1)! ? old : cursors.at(-1)!;
      const runId = part.name.replace(/^\d{2}T\d{6}Z-/, "").replace(/\.csv$/, "");
      const key = input.key.replace("{yyyy}", String(m.year))
        .replace("{mm}", String(m.month).padStart(2, "0")).replace("*.csv", part.name);
      await deps.warehouse.ledgerTransaction(
        recordLanding(
          landingRow(p, input, key, runId, byName.length, cursors[0]!, next, deps.now()),
          keysOf(byName, spec.key, spec.cursor),
          minusSeconds(next, spec.overlap_seconds),
        ),
      );
      adopted++;
    }
  }
  return adopted;
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(c);
  return new TextDecoder().decode(
    chunks.reduce((a, b) => {
      const out = new Uint8Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    }, new Uint8Array()),
  );
}
