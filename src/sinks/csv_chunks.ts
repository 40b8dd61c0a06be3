/**
 * Streams a Parquet file as CSV chunks for `COPY ... FROM STDIN` (or a
 * PGlite blob), a slice of rows at a time so memory stays bounded.
 *
 * @module
 */

import pl from "nodejs-polars";

/** Rows per chunk: large enough to amortise COPY overhead, small enough for memory. */
export const CHUNK_ROWS = 250_000;

/** Number of rows in a Parquet file (from its metadata). */
export async function parquetRows(path: string): Promise<number> {
  const df = await pl.scanParquet(path).select(pl.len().alias("n")).collect();
  return Number(df.getColumn("n").get(0));
}

/**
 * Yields the file as header-less CSV chunks: NULL is an empty field, an empty
 * string is `""`, timestamps are ISO-8601 UTC with microseconds.
 */
export async function* csvChunks(path: string, chunkRows = CHUNK_ROWS): AsyncGenerator<Uint8Array> {
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
