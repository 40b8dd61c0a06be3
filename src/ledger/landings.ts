/**
 * The ledger of database extracts: per input, the watermark (the newest
 * cursor value landed), each landed file, and the keys and cursors landed
 * within the overlap window (so rows seen again are not landed twice).
 * Written in one transaction after the landed file is durable.
 *
 * @module
 */

import type { Dialect, Statement } from "../_shared/sql.ts";

/** Watermarks, one per pipeline input. */
export const WATERMARKS_TABLE = "etl_watermarks";
/** Landed files. */
export const LANDINGS_TABLE = "etl_landings";
/** Keys and cursors landed inside the overlap window. */
export const LANDED_ROWS_TABLE = "etl_landed_rows";

/** One landed file. */
export interface Landing {
  /** Pipeline. */
  pipeline: string;
  /** Input. */
  input: string;
  /** The file's key under the landing zone. */
  fileKey: string;
  /** The extract's run id. */
  runId: string;
  /** Rows in the file. */
  rows: number;
  /** Oldest and newest cursor in the file (ISO 8601, microseconds, `Z`). */
  minCursor: string;
  /** Newest cursor: the input's watermark once the landing is recorded. */
  maxCursor: string;
  /** When it landed. */
  landedAt: Date;
}

/** DDL of the three tables. */
export function createLandingTables(dialect: Dialect): string[] {
  const text = dialect === "redshift" ? "VARCHAR(1024)" : "TEXT";
  return [
    `CREATE TABLE IF NOT EXISTS ${WATERMARKS_TABLE} (pipeline VARCHAR(64) NOT NULL, input VARCHAR(64) NOT NULL, watermark VARCHAR(32) NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${LANDINGS_TABLE} (pipeline VARCHAR(64) NOT NULL, input VARCHAR(64) NOT NULL, file_key ${text} NOT NULL, run_id VARCHAR(64) NOT NULL, rows BIGINT NOT NULL, min_cursor VARCHAR(32) NOT NULL, max_cursor VARCHAR(32) NOT NULL, landed_at TIMESTAMPTZ NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${LANDED_ROWS_TABLE} (pipeline VARCHAR(64) NOT NULL, input VARCHAR(64) NOT NULL, row_key ${text} NOT NULL, cursor_value VARCHAR(32) NOT NULL)`,
  ];
}

/** The input's watermark (`watermark` column), if any. */
export function readWatermark(pipeline: string, input: string): Statement {
  return {
    sql: `SELECT watermark FROM ${WATERMARKS_TABLE} WHERE pipeline = $1 AND input = $2`,
    params: [pipeline, input],
  };
}

/** The keys and cursors landed at or after `since` (`row_key`, `cursor_value`). */
export function readLandedRows(pipeline: string, input: string, since: string): Statement {
  return {
    sql:
      `SELECT row_key, cursor_value FROM ${LANDED_ROWS_TABLE} WHERE pipeline = $1 AND input = $2 AND cursor_value >= $3`,
    params: [pipeline, input, since],
  };
}

/** The files recorded for an input (`file_key`). */
export function readLandings(pipeline: string, input: string): Statement {
  return {
    sql: `SELECT file_key FROM ${LANDINGS_TABLE} WHERE pipeline = $1 AND input = $2`,
    params: [pipeline, input],
  };
}

/** Every input's watermark (for the lag metric). */
export function readAllWatermarks(): Statement {
  return { sql: `SELECT pipeline, input, watermark FROM ${WATERMARKS_TABLE}`, params: [] };
}

/**
 * Records a landed file: the file, the new watermark, the window's rows
 * (older ones pruned, below `keepSince`). One transaction.
 */
export function recordLanding(
  landing: Landing,
  rows: ReadonlyArray<{ key: string; cursor: string }>,
  keepSince: string,
): Statement[] {
  const { pipeline, input } = landing;
  const out: Statement[] = [
    {
      sql: `DELETE FROM ${WATERMARKS_TABLE} WHERE pipeline = $1 AND input = $2`,
      params: [pipeline, input],
    },
    {
      sql:
        `INSERT INTO ${WATERMARKS_TABLE} (pipeline, input, watermark, updated_at) VALUES ($1, $2, $3, $4)`,
      params: [pipeline, input, landing.maxCursor, landing.landedAt.toISOString()],
    },
    {
      sql:
        `INSERT INTO ${LANDINGS_TABLE} (pipeline, input, file_key, run_id, rows, min_cursor, max_cursor, landed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      params: [
        pipeline,
        input,
        landing.fileKey,
        landing.runId,
        landing.rows,
        landing.minCursor,
        landing.maxCursor,
        landing.landedAt.toISOString(),
      ],
    },
    {
      sql:
        `DELETE FROM ${LANDED_ROWS_TABLE} WHERE pipeline = $1 AND input = $2 AND cursor_value < $3`,
      params: [pipeline, input, keepSince],
    },
  ];
  const kept = rows.filter((r) => r.cursor >= keepSince);
  for (let i = 0; i < kept.length; i += 200) {
    const slice = kept.slice(i, i + 200);
    const params: string[] = [];
    const values = slice.map((r) => {
      params.push(pipeline, input, r.key, r.cursor);
      const n = params.length;
      return `($${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
    });
    out.push({
      sql: `INSERT INTO ${LANDED_ROWS_TABLE} (pipeline, input, row_key, cursor_value) VALUES ${
        values.join(", ")
      }`,
      params,
    });
  }
  return out;
}
