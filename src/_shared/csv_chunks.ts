/**
 * Streams the processed Parquet as CSV chunks for `COPY ... FROM STDIN`
 * (PostgreSQL) or `COPY ... FROM '/dev/blob'` (PGlite), a slice of rows at a
 * time, so memory stays bounded whatever the month's size.
 *
 * Small slices let PostgreSQL parse one chunk while the next is written
 * (measured: 2M rows in 15.5 s, the same as `psql \copy` of the finished
 * file; writing the file first, then copying it, took 20 s).
 *
 * @module
 */

import pl from "nodejs-polars";

/** Rows per chunk for a server that parses while we write (PostgreSQL). */
export const STREAM_ROWS = 50_000;
/** Rows per chunk for PGlite (one COPY call each; fewer calls amortise better). */
export const BLOB_ROWS = 250_000;

/** Number of rows in a Parquet file (from its metadata). */
export async function parquetRows(path: string): Promise<number> {
  const df = await pl.scanParquet(path).select(pl.len().alias("n")).collect();
  return Number(df.getColumn("n").get(0));
}

/**
 * Yields the file as header-less CSV chunks: NULL is an empty field, an empty
 * string is `""`, timestamps are ISO-8601 UTC with microseconds, dates
 * `YYYY-MM-DD`. Each chunk ends after a complete record.
 */
export async function* csvChunks(
  path: string,
  chunkRows = STREAM_ROWS,
): AsyncGenerator<Uint8Array> {
  const total = await parquetRows(path);
  for (let offset = 0; offset < total; offset += chunkRows) {
    const df = await pl.scanParquet(path).slice(offset, chunkRows).collect();
    yield df.writeCSV({
      includeHeader: false,
      datetimeFormat: "%Y-%m-%dT%H:%M:%S%.6fZ",
      dateFormat: "%Y-%m-%d",
    });
  }
}
