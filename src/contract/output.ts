/**
 * What a pipeline writes: the target table's columns (declared, derived,
 * then the system columns the worker adds), its sort key, and the key of a
 * month's file.
 *
 * @module
 */

import type { ColumnType } from "./columns.ts";
import type { Pipeline } from "./pipeline.ts";

/** Columns the worker adds to every target table. */
export const SYSTEM_COLUMNS = ["source_month", "loaded_at", "run_id", "source_line"] as const;

/** The column the warehouse sorts on: `sort_key`, else the first timestamp column. */
export function sortKeyOf(p: Pipeline): string | undefined {
  return p.sort_key ?? p.columns.find((c) => c.type === "timestamp")?.name;
}

/** A column of a target table. */
export interface OutputColumn {
  /** Column name. */
  name: string;
  /** Value type. */
  type: ColumnType;
  /** Whether NULL is allowed. */
  nullable: boolean;
  /** Longest value in characters, when declared. */
  maxLength?: number;
}

/** Output columns of a pipeline, in table order: declared, derived, system ({@link SYSTEM_COLUMNS}). */
export function outputColumns(
  p: Pipeline,
): Array<{ name: string; type: ColumnType; nullable: boolean; maxLength?: number }> {
  return [
    ...p.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      ...(c.max_length ? { maxLength: c.max_length } : {}),
    })),
    ...p.derived.map((d) => ({ name: d.name, type: "string" as const, nullable: true })),
    { name: "source_month", type: "date" as const, nullable: false },
    { name: "loaded_at", type: "timestamp" as const, nullable: false },
    { name: "run_id", type: "string" as const, nullable: false, maxLength: 64 },
    // Lineage: the row's line in its file (header = line 1); NULL where the
    // load cannot know it (Redshift pushdown, rows loaded before it existed).
    { name: "source_line", type: "int" as const, nullable: true },
  ];
}

/** Object key of a month's file: `{yyyy}/{mm}/events.csv` -> `2021/02/events.csv`. */
export function keyFor(p: Pipeline, year: number, month: number): string {
  return p.key.replaceAll("{yyyy}", String(year)).replaceAll(
    "{mm}",
    String(month).padStart(2, "0"),
  );
}

/** Columns a predicate may read: the declared ones and the derived ones. */
export function predicateColumns(p: Pipeline): Array<{ name: string; type: ColumnType }> {
  return [
    ...p.columns.map((c) => ({ name: c.name, type: c.type })),
    ...p.derived.map((d) => ({ name: d.name, type: "string" as const })),
  ];
}
