/**
 * A multi-table pipeline's SQL models, read and checked at start-up:
 * `config/models/<pipeline>/<name>.sql`, one SELECT each, over the inputs,
 * the month's `calendar` and earlier models. Each file is checked for being
 * one SELECT, its tables are found in the SQL (FROM / JOIN), the models are
 * put in dependency order (a cycle is refused), and each is run once by
 * Polars on empty frames of the inputs' types: an unknown column fails
 * here, not mid-run, and the output columns become the table's contract.
 *
 * @module
 */

import { join } from "node:path";
import pl from "nodejs-polars";
import {
  CALENDAR,
  type Column,
  type ColumnType,
  type InputPipeline,
  type Model,
  modelPipeline,
  type Pipeline,
  predicateColumns,
  writeProblems,
} from "../contract/schema.ts";
import type { LazyFrame } from "../_shared/polars.ts";
import { executeSql } from "../_shared/polars_private.ts";
import { calendarFrame } from "../transform/models.ts";
import { lineAt, maskSql, tablesRead } from "../contract/model_sql.ts";

/** A problem with one model file. */
export interface ModelProblem {
  /** The file (or the pipelines file, for options without a model). */
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** What is wrong and the fix. */
  message: string;
}

/** Polars dtype of a contract type, for the empty frames. */
function dtypeOf(type: ColumnType) {
  switch (type) {
    case "string":
      return pl.Utf8;
    case "int":
      return pl.Int64;
    case "float":
      return pl.Float64;
    case "bool":
      return pl.Bool;
    case "timestamp":
      return pl.Datetime("us", "UTC");
    case "date":
      return pl.Date;
  }
}

/** Contract type of a Polars dtype, or undefined for a type no warehouse column holds. */
export function columnTypeOf(dtype: unknown): ColumnType | undefined {
  const d = String(dtype);
  if (/^DataType\((Utf8|String|Categorical)/.test(d)) return "string";
  if (/^DataType\(U?Int(8|16|32|64)\)/.test(d)) return "int";
  if (/^DataType\(Float(32|64)\)/.test(d)) return "float";
  if (d === "DataType(Bool)" || d === "DataType(Boolean)") return "bool";
  if (d.startsWith("DataType(Datetime")) return "timestamp";
  if (d === "DataType(Date)") return "date";
  return undefined;
}

/** An empty frame with an input's declared and derived columns. */
export function emptyInput(p: Pipeline): LazyFrame {
  return pl.DataFrame(
    predicateColumns(p).map((c) => pl.Series(c.name, [], dtypeOf(c.type))),
  ).lazy();
}

const WRITES =
  /\b(INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|TRUNCATE|COPY|GRANT|REVOKE|INTO)\b/i;

/** Problems of one file's text: one statement, a SELECT, no writes. */
function shapeProblems(file: string, sql: string): ModelProblem[] {
  const text = maskSql(sql);
  const body = text.trim().replace(/;\s*$/, "");
  if (body === "") return [{ file, message: "is empty: write one SELECT" }];
  const semi = body.indexOf(";");
  if (semi >= 0) {
    return [{
      file,
      line: lineAt(text, text.indexOf(";")),
      message: "holds more than one statement: a model is one SELECT",
    }];
  }
  if (!/^(SELECT|WITH)\b/i.test(body)) {
    return [{
      file,
      line: lineAt(text, text.search(/\S/)),
      message: `starts with '${body.split(/\s/)[0]}': a model is one SELECT (or WITH ... SELECT)`,
    }];
  }
  const write = WRITES.exec(text);
  if (write) {
    return [{
      file,
      line: lineAt(text, write.index),
      message: `uses ${write[1]!.toUpperCase()}: a model only reads (one SELECT)`,
    }];
  }
  return [];
}

/** The models in an order where each comes after the models it reads; a cycle is reported. */
function ordered(
  found: Array<{ name: string; file: string; reads: string[] }>,
): { order: string[]; cycle?: string[] } {
  const byName = new Map(found.map((f) => [f.name, f]));
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "visiting") return [...path.slice(path.indexOf(name)), name];
    state.set(name, "visiting");
    for (const dep of byName.get(name)!.reads.filter((r) => byName.has(r))) {
      const cycle = visit(dep, [...path, name]);
      if (cycle) return cycle;
    }
    state.set(name, "done");
    order.push(name);
    return undefined;
  };
  for (const f of found) {
    const cycle = visit(f.name, []);
    if (cycle) return { order, cycle };
  }
  return { order };
}

/** Where Polars' message names an identifier, the first line of the SQL holding it. */
function lineOfError(sql: string, message: string): number | undefined {
  const name = /(?:column|relation|table|field) ["'`]?([A-Za-z_][A-Za-z0-9_]*)["'`]?/i.exec(
    message,
  )?.[1] ?? /["'`]([A-Za-z_][A-Za-z0-9_]*)["'`]/.exec(message)?.[1];
  if (!name) return undefined;
  const at = maskSql(sql).search(new RegExp(`\\b${name}\\b`, "i"));
  return at >= 0 ? lineAt(sql, at) : undefined;
}

/**
 * Reads and checks the models of a multi-table pipeline from
 * `modelsDir/<pipeline>/`; returns them in dependency order with their
 * output columns, or the problems found (each naming its file and line).
 */
export async function resolveModels(
  p: Pipeline & { inputs: InputPipeline[] },
  modelsDir: string,
  pipelinesFile: string,
): Promise<{ models: Model[]; problems: ModelProblem[] }> {
  const dir = join(modelsDir, p.models_from ?? p.name);
  const files: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".sql")) files.push(e.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  files.sort();
  const problems: ModelProblem[] = [];
  const inputs = new Set(p.inputs.map((i) => i.input.toLowerCase()));
  const names = files.map((f) => f.slice(0, -4));
  for (const name of Object.keys(p.model_options ?? {})) {
    if (!names.includes(name)) {
      problems.push({
        file: pipelinesFile,
        message: `pipeline '${p.name}' has options for model '${name}' but there is no ${
          join(dir, `${name}.sql`)
        }`,
      });
    }
  }
  const found: Array<{ name: string; file: string; sql: string; reads: string[] }> = [];
  for (const [i, f] of files.entries()) {
    const file = join(dir, f);
    const name = names[i]!;
    const sql = await Deno.readTextFile(file);
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) {
      problems.push({ file, message: `'${name}' is not a valid table name: rename the file` });
      continue;
    }
    if (inputs.has(name.toLowerCase()) || name.toLowerCase() === CALENDAR) {
      problems.push({ file, message: `'${name}' is already an input's name: rename the file` });
      continue;
    }
    const shape = shapeProblems(file, sql);
    if (shape.length) {
      problems.push(...shape);
      continue;
    }
    const reads = tablesRead(sql);
    for (const r of reads) {
      if (!inputs.has(r.name) && !names.includes(r.name) && r.name !== CALENDAR) {
        problems.push({
          file,
          line: r.line,
          message: `reads '${r.name}', which is neither an input (${
            [...inputs].join(", ")
          }), the month's ${CALENDAR}, nor a model`,
        });
      }
    }
    found.push({ name, file, sql, reads: reads.map((r) => r.name) });
  }
  if (problems.length) return { models: [], problems };
  const { order, cycle } = ordered(found);
  if (cycle) {
    const first = found.find((f) => f.name === cycle[0])!;
    return {
      models: [],
      problems: [{
        file: first.file,
        message: `models read each other in a cycle: ${cycle.join(" -> ")}; break it`,
      }],
    };
  }
  return typed(p, order.map((n) => found.find((f) => f.name === n)!));
}

/** Runs each model on empty inputs (in order) for its output columns. */
function typed(
  p: Pipeline & { inputs: InputPipeline[] },
  found: Array<{ name: string; file: string; sql: string }>,
): { models: Model[]; problems: ModelProblem[] } {
  const ctx = pl.SQLContext({});
  for (const input of p.inputs) ctx.register(input.input, emptyInput(input));
  ctx.register(CALENDAR, calendarFrame({ year: 2021, month: 1 }).limit(0));
  const models: Model[] = [];
  const problems: ModelProblem[] = [];
  for (const f of found) {
    try {
      const out = executeSql(ctx, f.sql);
      const schema = out.collectSync().schema as unknown as Record<string, unknown>;
      const columns: Column[] = [];
      for (const [name, dtype] of Object.entries(schema)) {
        const type = columnTypeOf(dtype);
        if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) {
          problems.push({
            file: f.file,
            message:
              `output column '${name}' is not a valid column name: give it an alias (AS name)`,
          });
        } else if (!type) {
          problems.push({
            file: f.file,
            message: `output column '${name}' is ${
              String(dtype)
            }, which no warehouse column holds: CAST it`,
          });
        } else columns.push({ name, type, nullable: true });
      }
      ctx.register(f.name, out);
      const options = p.model_options?.[f.name];
      const write = options?.write ?? { mode: "replace_month" as const, snapshot: false };
      // A key column (and a history's valid_from) of a model must always have a value.
      for (const c of columns) {
        if (write.key?.includes(c.name) || write.valid_from === c.name) c.nullable = false;
      }
      const model: Model = {
        name: f.name,
        file: f.file,
        sql: f.sql,
        columns,
        write,
        ...(options?.publish ? { publish: options.publish } : {}),
      };
      for (const w of writeProblems(modelPipeline(p, model))) {
        problems.push({ file: f.file, message: `write.${w.path.join(".")}: ${w.message}` });
      }
      for (const k of options?.publish?.dynamodb?.key ?? []) {
        if (!columns.some((c) => c.name === k)) {
          problems.push({
            file: f.file,
            message: `publish.dynamodb.key '${k}' is not an output column (${
              columns.map((c) => c.name).join(", ")
            })`,
          });
        }
      }
      models.push(model);
    } catch (error) {
      const message = String((error as Error).message ?? error).split("\n")[0]!;
      const line = lineOfError(f.sql, message);
      problems.push({ file: f.file, ...(line ? { line } : {}), message });
    }
  }
  return { models, problems };
}
