/**
 * A multi-table month's inputs: locate every input (a missing one fails the
 * month naming it; a database input with nothing landed is empty), stage
 * each with its own contract, then quarantine the orphans of the declared
 * references.
 *
 * @module
 */

import { join } from "node:path";
import pl from "nodejs-polars";
import type { ResolvedPipeline } from "../config/types.ts";
import { type InputPipeline, isMulti, keyFor } from "../contract/schema.ts";
import { formatMonth, type Month } from "../contract/month.ts";
import { RunError } from "../_shared/errors.ts";
import type { LazyFrame } from "../_shared/polars.ts";
import type { RunReport } from "../notify/report.ts";
import { type SourceFile } from "../sources/source.ts";
import { stageMonth, type StageResult } from "../stage/stage.ts";
import { REASON } from "../transform/contract_check.ts";
import { type ReferenceCheck, singular, splitOrphans } from "../transform/references.ts";
import type { PathContext, RunDeps } from "./deps.ts";
import { unlessAborted } from "./interrupt.ts";
import { headerText } from "../stage/header.ts";

/** The identity of a database input's month in which nothing landed. */
const NOTHING_LANDED = "none (no changes landed)";

/** A multi-table pipeline with its resolved inputs. */
export type Multi = ResolvedPipeline & { inputs: Array<InputPipeline & ResolvedPipeline> };

/** The inputs' files, and the month's identity made of all of them. */
export interface LocatedInputs {
  /** One file standing for the month: the first monthly input's address, every input's identity. */
  file: SourceFile;
  /** Each input's file, by input name. */
  files: Map<string, SourceFile>;
}

/**
 * Finds every input's file; a missing one fails the month naming the input.
 * The month's identity lists each input's, so a change to any reloads it.
 */
export async function locateInputs(
  deps: RunDeps,
  pipeline: ResolvedPipeline,
  month: Month,
): Promise<LocatedInputs> {
  if (!isMulti(pipeline)) throw new Error(`${pipeline.name} is not a multi-table pipeline`);
  const files = new Map<string, SourceFile>();
  for (const input of pipeline.inputs) {
    try {
      files.set(input.input, await deps.source.locate(input, month));
    } catch (error) {
      if (!(error instanceof RunError)) throw error;
      // A database input with nothing landed this month had no changes: an empty input.
      if (input.database && error.step === "locate") {
        files.set(input.input, {
          url: `${keyFor(input, month.year, month.month)} (no changes landed)`,
          scanPath: "",
          identity: NOTHING_LANDED,
          size: 0,
        });
        continue;
      }
      const hint = error.hint?.replace(`--pipeline ${input.name}`, `--pipeline ${pipeline.name}`);
      const message = input.monthly
        ? error.message
        : error.message.replace(/^No file for \d{4}-\d{2} at/, "No reference file at");
      throw new RunError(error.step, `${pipeline.name} input '${input.input}': ${message}`, {
        ...(hint ? { hint } : {}),
        cause: error,
        transient: error.transient,
      });
    }
  }
  const first = files.get(pipeline.inputs.find((i) => i.monthly)!.input)!;
  const identity = [...files].map(([name, f]) => `${name}=${f.identity}`).join("|");
  return {
    file: {
      url: first.url,
      scanPath: first.scanPath,
      identity: identity.length <= 1000 ? identity : `sha256:${await sha256(identity)}`,
      size: [...files.values()].reduce((n, f) => n + f.size, 0),
    },
    files,
  };
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What one input's stage and reference checks left. */
export interface StagedInput {
  /** The input. */
  input: InputPipeline & ResolvedPipeline;
  /** Its file. */
  file: SourceFile;
  /** What its stage (and the reference checks) left. */
  staged: StageResult;
}

/** Stages every input of the month with its own contract (each in its own scratch folder). */
export async function stageInputs(
  deps: RunDeps,
  multi: Multi,
  located: LocatedInputs,
  report: RunReport,
  ctx: PathContext,
  stamp: { month: Month; loadedAt: Date; runId: string },
): Promise<StagedInput[]> {
  const inputs: StagedInput[] = [];
  for (const input of multi.inputs) {
    let file = located.files.get(input.input)!;
    const dir = join(ctx.scratch, `input-${input.input}`);
    await Deno.mkdir(dir, { recursive: true });
    if (file.identity === NOTHING_LANDED) {
      const empty = join(dir, "nothing-landed.csv");
      await Deno.writeTextFile(empty, input.columns.map((c) => headerText(c)).join(",") + "\n");
      file = { ...file, scanPath: empty };
    }
    const opened = file;
    const staged = await unlessAborted(
      stageMonth(file, input, stamp, {
        dir,
        open: async () =>
          opened.identity === NOTHING_LANDED
            ? (await Deno.open(opened.scanPath, { read: true })).readable
            : deps.source.open(opened),
        explain: (at, error) => deps.source.explain(at, opened, error),
      }),
      ctx.signal,
      "read",
    );
    report.warnings.push(...staged.warnings.map((w) => `${input.input}: ${w}`));
    inputs.push({ input, file, staged });
  }
  return inputs;
}

/**
 * Quarantines the orphans of every declared reference, input by input in
 * an order where a referenced input is final before the inputs that
 * reference it; rewrites each input's processed file and quarantine.
 */
export async function checkReferences(inputs: StagedInput[], month: Month): Promise<void> {
  const byName = new Map(inputs.map((i) => [i.input.input, i]));
  const done = new Set<string>();
  const visit = async (i: StagedInput, path: string[]): Promise<void> => {
    if (done.has(i.input.input) || path.includes(i.input.input)) return;
    for (const r of i.input.references) {
      const target = byName.get(r.input);
      if (target && target !== i) await visit(target, [...path, i.input.input]);
    }
    done.add(i.input.input);
    if (i.input.references.length) await quarantineOrphans(i, byName, month);
  };
  for (const i of inputs) await visit(i, []);
}

async function quarantineOrphans(
  i: StagedInput,
  byName: Map<string, StagedInput>,
  month: Month,
): Promise<void> {
  const checks: ReferenceCheck[] = i.input.references.map((r) => {
    const target = byName.get(r.input)!;
    return {
      column: r.column,
      values: pl.scanParquet(target.staged.processedPath).select(pl.col(r.to).alias(r.column)),
      what: {
        singular: singular(r.input),
        where: target.input.monthly ? `${formatMonth(month)} ${r.input}` : r.input,
      },
    };
  });
  const processed = i.staged.processedPath;
  const { good, orphans } = splitOrphans(pl.scanParquet(processed), checks);
  const found = await orphans.collect();
  if (found.height === 0) return;
  const kept = processed.replace(/\.parquet$/, ".refs.parquet");
  await good.sinkParquet(kept).collect();
  await Deno.rename(kept, processed);
  const counted = await found.lazy().groupBy(`${REASON}_count`).agg(pl.len().alias("rows"))
    .collect();
  const reasons = [...i.staged.reasons];
  for (const r of counted.toRecords()) {
    reasons.push({ reason: String(r[`${REASON}_count`]), rows: Number(r.rows) });
  }
  const quarantine = i.staged.quarantinePath ?? join(processed, "..", "quarantine.csv");
  await appendQuarantine(i.input, found.lazy(), quarantine, i.staged.quarantinePath !== undefined);
  i.staged = {
    ...i.staged,
    rowsRejected: i.staged.rowsRejected + found.height,
    rowsMatched: i.staged.rowsMatched - found.height,
    reasons: reasons.sort((a, b) => b.rows - a.rows),
    quarantinePath: quarantine,
  };
}

/** Adds orphan rows (typed values as text) to an input's quarantine CSV, in line order. */
async function appendQuarantine(
  input: InputPipeline,
  orphans: LazyFrame,
  path: string,
  exists: boolean,
): Promise<void> {
  const text = (name: string) => pl.col(name).cast(pl.Utf8);
  const rows = orphans.select(
    pl.col("source_line").cast(pl.Utf8).alias("line"),
    pl.col(REASON).alias("reason"),
    ...input.columns.map((c) => text(c.name).alias(c.name)),
    pl.lit(null).cast(pl.Utf8).alias("raw_line"),
  );
  const all = exists
    ? pl.concat([
      pl.scanCSV(path, { inferSchemaLength: 0, hasHeader: true }),
      rows,
    ], { how: "vertical" })
    : rows;
  const out = `${path}.new`;
  await all.sort(pl.col("line").cast(pl.Int64)).sinkCSV(out).collect();
  await Deno.rename(out, path);
}
