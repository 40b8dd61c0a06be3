/**
 * A Redshift Data API test double: an HTTP server speaking the Data API's wire protocol
 * (AWS JSON 1.1, `X-Amz-Target: RedshiftData.<Operation>`) that runs the SQL on a real
 * PostgreSQL. The production code points the real `RedshiftDataClient` at `endpoint`.
 *
 * Operations: ExecuteStatement, BatchExecuteStatement (one transaction), DescribeStatement,
 * GetStatementResult (paged), CancelStatement. Redshift-only DDL attributes are stripped,
 * and `COPY ... FROM 's3://...'` (CSV and Parquet) is emulated by reading the objects from
 * an S3-compatible server and loading them with `COPY ... FROM STDIN` on the statement's
 * own connection (so a COPY inside a batch is part of its transaction).
 *
 * @example
 * ```ts
 * const double = await startRedshiftDataApi({ databaseUrl: pg.url });
 * const client = new RedshiftDataClient({ endpoint: double.endpoint, region: "us-east-1",
 *   credentials: { accessKeyId: "x", secretAccessKey: "x" } });
 * // ... production code under test ...
 * client.destroy();
 * await double.stop();
 * ```
 *
 * @module
 */

import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import pl from "nodejs-polars";
import { Buffer } from "node:buffer";
import { gunzipSync } from "node:zlib";

// ---------------------------------------------------------------------------
// Public API

/** Statuses of the Data API's `StatusString`. */
export type StatementStatus =
  | "SUBMITTED"
  | "PICKED"
  | "STARTED"
  | "FINISHED"
  | "FAILED"
  | "ABORTED";

/** Options of {@linkcode startRedshiftDataApi}. */
export interface RedshiftDoubleOptions {
  /** PostgreSQL that runs the SQL, e.g. `PgCluster.url`. */
  databaseUrl: string;
  /** S3-compatible server that `COPY ... FROM 's3://...'` reads from. */
  s3?: {
    endpoint: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    forcePathStyle?: boolean;
  };
  /** Rows per GetStatementResult page (default 1000). */
  pageSize?: number;
  /** Time a statement spends SUBMITTED/PICKED and, at least, STARTED (default 20 ms). */
  statementDelayMs?: number;
  /** Statements running at once (each on its own connection); others wait SUBMITTED/PICKED. Default 20. */
  maxConcurrency?: number;
  /**
   * Create schema `redshift_double` with a table `stl_load_errors` (on the statements'
   * search_path) that COPY load errors are written to, like Redshift's. Default true.
   */
  stlLoadErrors?: boolean;
}

/** A statement as the double received it; updated live as it runs. */
export interface RecordedStatement {
  id: string;
  kind: "execute" | "batch";
  /** `Sql` of ExecuteStatement, or `Sqls` of BatchExecuteStatement, as sent. */
  sql: string | string[];
  status: StatementStatus;
  error?: string;
  database?: string;
  workgroupName?: string;
  clusterIdentifier?: string;
  dbUser?: string;
  secretArn?: string;
  statementName?: string;
  withEvent?: boolean;
  parameters?: { name: string; value: string }[];
  createdAt: Date;
  updatedAt: Date;
  /** Batches only: one per SQL, ids `<id>:1`, `<id>:2`, ... */
  subStatements?: { id: string; sql: string; status: StatementStatus; error?: string }[];
}

/** One row rejected by a COPY (also written to `stl_load_errors` when enabled). */
export interface LoadError {
  statementId: string;
  queryId: number;
  table: string;
  filename: string;
  lineNumber: number;
  colname: string;
  rawLine: string;
  rawFieldValue: string;
  errCode: number;
  errReason: string;
  at: Date;
}

/** A running double. */
export interface RedshiftDouble {
  /** `http://127.0.0.1:PORT`: give it to `RedshiftDataClient` as `endpoint`. */
  endpoint: string;
  /** Cancels what still runs, closes every connection and the HTTP server. Idempotent. */
  stop(): Promise<void>;
  /** Every statement received, in order. */
  statements: RecordedStatement[];
  /** Rows rejected by COPY, in order (kept in memory, like `stl_load_errors`). */
  loadErrors: LoadError[];
  /**
   * The next statement (or batch sub-statement) whose SQL matches fails with Error
   * `message` (prefixed with `ERROR: ` unless it already starts with it) instead of running.
   */
  failNext(match: RegExp, message: string): void;
  /** The next `count` API calls answer HTTP 400 `ThrottlingException`. */
  throttleNext(count: number): void;
  /** Changes `statementDelayMs` for statements submitted from now on. */
  setDelay(ms: number): void;
}

/**
 * The Data API's limit on one SQL statement. AWS, Redshift Data API Reference,
 * "ExecuteStatement" (Sql: "The SQL statement text ... maximum size of 100 KB"): the double
 * counts UTF-8 bytes and refuses anything over 100,000, the strict reading of "100 KB".
 */
export const MAX_STATEMENT_BYTES = 100_000;

/** AWS, Redshift Data API Reference, "BatchExecuteStatement": Sqls holds 1 to 40 statements. */
export const MAX_BATCH_STATEMENTS = 40;

/** AWS, Database Developer Guide, "Data conversion parameters": MAXERROR's upper limit. */
export const MAX_COPY_ERRORS = 100_000;

// ---------------------------------------------------------------------------
// Internals

interface ColumnMetadata {
  name: string;
  label: string;
  typeName: string;
  nullable: number;
  precision: number;
  scale: number;
  length: number;
  isCaseSensitive: boolean;
  isCurrency: boolean;
  isSigned: boolean;
  schemaName: string;
  tableName: string;
}

type Field =
  | { stringValue: string }
  | { longValue: number }
  | { doubleValue: number | string }
  | { booleanValue: boolean }
  | { isNull: true };

interface StoredResult {
  columns: ColumnMetadata[];
  records: Field[][];
}

interface Sub {
  pub: { id: string; sql: string; status: StatementStatus; error?: string };
  createdAt: Date;
  updatedAt: Date;
  startedAt?: number;
  durationNs: number;
  hasResultSet: boolean;
  resultRows: number;
  resultSize: number;
  result?: StoredResult;
  queryId: number;
}

interface Stmt {
  rec: RecordedStatement;
  subs: Sub[];
  params: Map<string, string>;
  abort: AbortController;
  delayMs: number;
  pid?: number;
  running?: Promise<void>;
}

/** An error that becomes the statement's `Error` text as is. */
class StatementError extends Error {}

class ApiError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400) {
    super(message);
  }
}

interface PgField {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
}

interface PgResult {
  command: string;
  rowCount: number | null;
  fields: PgField[];
  rows: (string | null)[][];
}

interface PgError extends Error {
  code?: string;
  where?: string;
  detail?: string;
  column?: string;
}

// deno-lint-ignore no-explicit-any
type PgClient = any;

const TERMINAL: ReadonlySet<StatementStatus> = new Set(["FINISHED", "FAILED", "ABORTED"]);

const TYPE_NAMES: Record<number, string> = {
  16: "bool",
  17: "bytea",
  18: "char",
  19: "name",
  20: "int8",
  21: "int2",
  23: "int4",
  25: "varchar",
  26: "oid",
  114: "json",
  700: "float4",
  701: "float8",
  1042: "bpchar",
  1043: "varchar",
  1082: "date",
  1083: "time",
  1114: "timestamp",
  1184: "timestamptz",
  1266: "timetz",
  1700: "numeric",
  2950: "uuid",
  3802: "jsonb",
};

function toField(oid: number, v: string | null): Field {
  if (v === null) return { isNull: true };
  switch (oid) {
    case 16:
      return { booleanValue: v === "t" || v === "true" };
    case 20:
    case 21:
    case 23:
    case 26:
      return { longValue: Number(v) };
    case 700:
    case 701: {
      const d = Number(v);
      return { doubleValue: Number.isFinite(d) ? d : v };
    }
    default:
      return { stringValue: v };
  }
}

function columnMetadata(f: PgField): ColumnMetadata {
  const typeName = TYPE_NAMES[f.dataTypeID] ?? `oid:${f.dataTypeID}`;
  let precision = 0;
  let scale = 0;
  let length = 0;
  if (f.dataTypeID === 1700 && f.dataTypeModifier >= 4) {
    precision = ((f.dataTypeModifier - 4) >> 16) & 0xffff;
    scale = (f.dataTypeModifier - 4) & 0xffff;
  } else if ((f.dataTypeID === 1043 || f.dataTypeID === 1042) && f.dataTypeModifier >= 4) {
    length = f.dataTypeModifier - 4;
    precision = length;
  } else if (f.dataTypeSize > 0) {
    length = f.dataTypeSize;
  }
  return {
    name: f.name,
    label: f.name,
    typeName,
    nullable: 2,
    precision,
    scale,
    length,
    isCaseSensitive: [25, 1042, 1043].includes(f.dataTypeID),
    isCurrency: false,
    isSigned: [20, 21, 23, 700, 701, 1700].includes(f.dataTypeID),
    schemaName: "",
    tableName: "",
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

class Semaphore {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((r) => this.#waiters.push(r));
  }
  release(): void {
    const w = this.#waiters.shift();
    if (w) w();
    else this.#free++;
  }
}

function epochSeconds(d: Date): number {
  return d.getTime() / 1000;
}

function errorText(message: string): string {
  return message.startsWith("ERROR:") ? message : `ERROR: ${message}`;
}

function json(status: number, body: unknown, extra?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amzn-requestid": crypto.randomUUID(),
      ...extra,
    },
  });
}

function apiErrorResponse(e: ApiError): Response {
  return json(e.status, { __type: e.type, message: e.message }, { "x-amzn-errortype": e.type });
}

function requireString(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== "string" || v.length === 0) {
    throw new ApiError("ValidationException", `${key} is required and must be a non-empty string`);
  }
  return v;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new ApiError("ValidationException", `${key} must be a string`);
  return v;
}

function checkSize(sql: string) {
  const bytes = new TextEncoder().encode(sql).length;
  if (bytes > MAX_STATEMENT_BYTES) {
    throw new ApiError(
      "ValidationException",
      `SQL statement is ${bytes} bytes: the maximum size of a statement is 100 KB (${MAX_STATEMENT_BYTES} bytes)`,
    );
  }
}

// ---------------------------------------------------------------------------
// The double

/** Starts the double on a random port of 127.0.0.1. */
export async function startRedshiftDataApi(
  options: RedshiftDoubleOptions,
): Promise<RedshiftDouble> {
  const pageSize = options.pageSize ?? 1000;
  let delayMs = options.statementDelayMs ?? 20;
  const useStl = options.stlLoadErrors ?? true;
  const sem = new Semaphore(options.maxConcurrency ?? 20);
  const statements: RecordedStatement[] = [];
  const loadErrors: LoadError[] = [];
  const byId = new Map<string, Stmt>();
  const byToken = new Map<string, string>();
  const failRules: { match: RegExp; message: string }[] = [];
  let throttle = 0;
  let queryIdSeq = 100_000;
  let stopping = false;
  let stopped: Promise<void> | undefined;
  const openClients = new Set<PgClient>();

  const s3 = options.s3
    ? new S3Client({
      endpoint: options.s3.endpoint,
      region: options.s3.region,
      credentials: {
        accessKeyId: options.s3.accessKeyId,
        secretAccessKey: options.s3.secretAccessKey,
      },
      // Path-style and no default checksums: S3 emulators (s3rver) need both.
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    })
    : undefined;

  const rawTypes = { getTypeParser: () => (v: string) => v };

  async function connect(forStatements: boolean): Promise<PgClient> {
    const client = new pg.Client({
      connectionString: options.databaseUrl,
      types: rawTypes,
      // Redshift sessions are UTC; stl_load_errors lives in schema redshift_double.
      // Redshift treats a backslash in a string literal as an escape, like PostgreSQL
      // with standard_conforming_strings off.
      options: forStatements
        ? `-c TimeZone=UTC -c DateStyle=ISO,MDY -c standard_conforming_strings=off -c escape_string_warning=off -c search_path="$user",public${
          useStl ? ",redshift_double" : ""
        }`
        : "-c TimeZone=UTC",
    });
    // An idle client whose server dies emits 'error': without a listener it would crash the test.
    client.on("error", () => {});
    openClients.add(client);
    try {
      await client.connect();
    } catch (e) {
      openClients.delete(client);
      await client.end().catch(() => {});
      throw e;
    }
    return client;
  }

  async function release(client: PgClient) {
    openClients.delete(client);
    await client.end().catch(() => {});
  }

  async function adminQuery(sql: string, values?: unknown[]) {
    const c = await connect(false);
    try {
      return await c.query(sql, values);
    } finally {
      await release(c);
    }
  }

  let stlReady: Promise<void> | undefined;
  function ensureStl(): Promise<void> {
    // AWS, "STL_LOAD_ERRORS" (provisioned clusters only: STL views are not available on
    // Redshift Serverless) and "SYS_LOAD_ERROR_DETAIL" (both kinds; keyed by query_id).
    const ddl = `CREATE SCHEMA IF NOT EXISTS redshift_double;
       CREATE TABLE IF NOT EXISTS redshift_double.stl_load_errors (
         userid int, slice int, tbl int, starttime timestamp, session int, query int,
         filename text, line_number bigint, colname text, type text, col_length text,
         position int, raw_line text, raw_field_value text, err_code int, err_reason text,
         is_partial int, start_offset bigint);
       CREATE TABLE IF NOT EXISTS redshift_double.sys_load_error_detail (
         user_id int, query_id bigint, transaction_id bigint, session_id int,
         database_name char(64), table_id int, start_time timestamp, file_name char(256),
         line_number bigint, column_name char(127), column_type char(10),
         column_length char(10), position int, error_code int, error_message char(512))`;
    // IF NOT EXISTS can still collide with a concurrent creator: one retry.
    stlReady ??= adminQuery(ddl).catch(() => adminQuery(ddl)).then(() => {}, (e) => {
      stlReady = undefined;
      throw e;
    });
    return stlReady;
  }
  if (useStl) await ensureStl();

  async function recordLoadErrors(stmt: Stmt, errs: LoadError[], tableOid: number | null) {
    loadErrors.push(...errs);
    if (!useStl || errs.length === 0) return;
    try {
      await ensureStl();
      const c = await connect(false);
      try {
        for (const e of errs) {
          await c.query(
            `INSERT INTO redshift_double.sys_load_error_detail
               (user_id, query_id, transaction_id, session_id, database_name, table_id,
                start_time, file_name, line_number, column_name, column_type, column_length,
                position, error_code, error_message)
             VALUES (100, $1, 0, $2, $3, $4, $5, $6, $7, $8, '', '', 0, $9, $10)`,
            [
              e.queryId,
              stmt.pid ?? 0,
              (stmt.rec.database ?? "").slice(0, 64),
              tableOid,
              e.at.toISOString(),
              e.filename.slice(0, 256),
              e.lineNumber,
              e.colname.slice(0, 127),
              e.errCode,
              e.errReason.slice(0, 512),
            ],
          );
          // Serverless (a WorkgroupName) has no STL views: only provisioned statements fill it.
          if (!stmt.rec.clusterIdentifier) continue;
          await c.query(
            `INSERT INTO redshift_double.stl_load_errors
               (userid, slice, tbl, starttime, session, query, filename, line_number, colname,
                type, col_length, position, raw_line, raw_field_value, err_code, err_reason,
                is_partial, start_offset)
             VALUES (100, 0, $1, $2, $3, $4, $5, $6, $7, '', '', 0, $8, $9, $10, $11, 0, 0)`,
            [
              tableOid,
              e.at.toISOString(),
              stmt.pid ?? 0,
              e.queryId,
              e.filename,
              e.lineNumber,
              e.colname,
              e.rawLine.slice(0, 1024),
              e.rawFieldValue.slice(0, 1024),
              e.errCode,
              e.errReason.slice(0, 100),
            ],
          );
        }
      } finally {
        await release(c);
      }
    } catch {
      // stl_load_errors is best effort (the database may have been dropped or be down);
      // create it again next time.
      stlReady = undefined;
    }
  }

  function setStatus(stmt: Stmt, status: StatementStatus, error?: string) {
    stmt.rec.status = status;
    stmt.rec.updatedAt = new Date();
    if (error !== undefined) stmt.rec.error = error;
  }

  function setSubStatus(sub: Sub, status: StatementStatus, error?: string) {
    sub.pub.status = status;
    sub.updatedAt = new Date();
    if (error !== undefined) sub.pub.error = error;
  }

  // -------------------------------------------------------------------------
  // Running statements

  function takeFailRule(sql: string): string | undefined {
    const idx = failRules.findIndex((r) => {
      r.match.lastIndex = 0;
      return r.match.test(sql);
    });
    if (idx < 0) return undefined;
    const [rule] = failRules.splice(idx, 1);
    return errorText(rule!.message);
  }

  async function run(stmt: Stmt): Promise<void> {
    const { signal } = stmt.abort;
    let client: PgClient | undefined;
    let acquired = false;
    let inTx = false;
    let current: Sub | undefined;
    try {
      await sleep(stmt.delayMs / 2, signal);
      if (signal.aborted) throw new StatementError("aborted");
      setStatus(stmt, "PICKED");
      await sem.acquire();
      acquired = true;
      if (signal.aborted) throw new StatementError("aborted");
      try {
        client = await connect(true);
      } catch (e) {
        throw new StatementError(
          errorText(`could not connect to the database: ${(e as Error).message}`),
        );
      }
      stmt.pid = client.processID;
      setStatus(stmt, "STARTED");
      const startedAt = performance.now();
      const batch = stmt.rec.kind === "batch";
      if (batch) {
        await client.query("BEGIN");
        inTx = true;
      }
      for (const sub of stmt.subs) {
        if (signal.aborted) throw new StatementError("aborted");
        current = sub;
        await runSub(stmt, sub, client, inTx);
        current = undefined;
      }
      if (inTx) {
        if (signal.aborted) throw new StatementError("aborted");
        await client.query("COMMIT");
        inTx = false;
      }
      // The work is committed: a cancel from now on cannot undo it, the statement FINISHED.
      const left = stmt.delayMs / 2 - (performance.now() - startedAt);
      await sleep(left, signal);
      setStatus(stmt, "FINISHED");
    } catch (e) {
      const aborted = signal.aborted;
      const message = e instanceof StatementError
        ? e.message
        : errorText((e as Error)?.message ?? String(e));
      if (inTx && client) await client.query("ROLLBACK").catch(() => {});
      if (stmt.rec.kind === "execute") {
        const sub = stmt.subs[0]!;
        if (aborted) setSubStatus(sub, "ABORTED");
        else setSubStatus(sub, "FAILED", message);
      } else {
        // Sub-statements that ran stay FINISHED (rolled back), the failing one is FAILED,
        // the ones after it never ran: ABORTED.
        for (const sub of stmt.subs) {
          if (sub === current) {
            if (aborted) setSubStatus(sub, "ABORTED");
            else setSubStatus(sub, "FAILED", message);
          } else if (!TERMINAL.has(sub.pub.status)) {
            setSubStatus(sub, "ABORTED");
          }
        }
      }
      if (aborted) setStatus(stmt, "ABORTED");
      else setStatus(stmt, "FAILED", message);
    } finally {
      if (client) await release(client);
      if (acquired) sem.release();
    }
  }

  async function runSub(stmt: Stmt, sub: Sub, client: PgClient, inTx: boolean): Promise<void> {
    setSubStatus(sub, "STARTED");
    sub.startedAt = performance.now();
    const failed = takeFailRule(sub.pub.sql);
    if (failed) throw new StatementError(failed);
    const { pieces, parts } = splitStatements(sub.pub.sql);
    if (pieces.length === 0) throw new StatementError("ERROR: empty query");
    if (pieces.length > 1 && stmt.params.size > 0) {
      throw new StatementError("ERROR: parameters can be used with a single SQL statement only");
    }
    let last: PgResult | undefined;
    let copiedRows: number | undefined;
    for (const piece of pieces) {
      const kw = firstKeyword(piece);
      const refused = redshiftRefusal(piece);
      if (refused) throw new StatementError(`ERROR: ${refused}`);
      const folded = foldIdentifiers(parts);
      if (kw === "COPY") {
        let cmd: CopyCommand | undefined;
        try {
          cmd = parseCopy(piece, folded);
        } catch (e) {
          throw new StatementError(errorText((e as Error).message));
        }
        if (!cmd) {
          throw new StatementError(
            "ERROR: the Redshift test double supports only COPY ... FROM 's3://...'",
          );
        }
        copiedRows = await runCopy(stmt, sub, client, cmd, inTx);
        last = undefined;
        continue;
      }
      if (kw === "UNLOAD") {
        throw new StatementError("ERROR: UNLOAD is not supported by the Redshift test double");
      }
      const translated = translateRedshift(piece);
      const { text, values } = bindParameters(translated, stmt.params);
      const missing = parameterNames(text);
      if (missing.length > 0 && stmt.params.size > 0) {
        throw new StatementError(`ERROR: no value for parameter(s): ${missing.join(", ")}`);
      }
      const sql = unmask(text, folded);
      last = await client.query({ text: sql, values, rowMode: "array" }) as PgResult;
      copiedRows = undefined;
    }
    sub.durationNs = Math.round((performance.now() - sub.startedAt) * 1e6);
    if (last && last.fields.length > 0) {
      const columns = last.fields.map(columnMetadata);
      const oids = last.fields.map((f) => f.dataTypeID);
      let size = 0;
      const records = last.rows.map((row) =>
        row.map((v, i) => {
          size += v === null ? 1 : v.length;
          return toField(oids[i]!, v);
        })
      );
      sub.result = { columns, records };
      sub.hasResultSet = true;
      sub.resultRows = records.length;
      sub.resultSize = size;
    } else {
      sub.hasResultSet = false;
      sub.resultRows = copiedRows ?? last?.rowCount ?? -1;
      sub.resultSize = 0;
    }
    setSubStatus(sub, "FINISHED");
  }

  // -------------------------------------------------------------------------
  // COPY from S3

  interface TargetColumn {
    name: string;
    sql: string;
    isString: boolean;
  }

  async function targetColumns(client: PgClient, cmd: CopyCommand) {
    const res = await client.query({
      text: `SELECT a.attname, t.typcategory, to_regclass($1)::oid AS reloid
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum`,
      values: [cmd.table],
      rowMode: "array",
    }) as PgResult;
    if (res.rows.length === 0) {
      throw new StatementError(`ERROR: relation "${cmd.table}" does not exist`);
    }
    const oid = Number(res.rows[0]![2]);
    const all: TargetColumn[] = res.rows.map((r) => ({
      name: r[0]!,
      sql: `"${r[0]!.replaceAll('"', '""')}"`,
      isString: r[1] === "S",
    }));
    if (!cmd.columnNames) return { oid, columns: all };
    const columns = cmd.columnNames.map((name) => {
      const c = all.find((a) => a.name === name);
      if (!c) {
        throw new StatementError(
          `ERROR: column "${name}" of relation "${cmd.table}" does not exist`,
        );
      }
      return c;
    });
    return { oid, columns };
  }

  async function listObjects(cmd: CopyCommand, signal: AbortSignal): Promise<string[]> {
    if (!s3) {
      throw new StatementError(
        "ERROR: COPY from S3 needs the double's `s3` option (no S3 endpoint configured)",
      );
    }
    const keys: string[] = [];
    let token: string | undefined;
    do {
      let out;
      try {
        out = await s3.send(
          new ListObjectsV2Command({
            Bucket: cmd.bucket,
            Prefix: cmd.prefix,
            ContinuationToken: token,
          }),
          { abortSignal: signal },
        );
      } catch (e) {
        throw new StatementError(
          errorText(`S3ServiceException: ${(e as Error).name}: ${(e as Error).message}`),
        );
      }
      for (const o of out.Contents ?? []) {
        if (o.Key && !o.Key.endsWith("/")) keys.push(o.Key);
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    if (keys.length === 0) {
      throw new StatementError(
        `ERROR: The specified S3 prefix '${cmd.prefix}' does not exist in bucket '${cmd.bucket}'`,
      );
    }
    return keys.sort();
  }

  async function getObject(bucket: string, key: string, signal: AbortSignal): Promise<Uint8Array> {
    try {
      const out = await s3!.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
        abortSignal: signal,
      });
      return await out.Body!.transformToByteArray();
    } catch (e) {
      throw new StatementError(
        errorText(
          `S3ServiceException: could not read s3://${bucket}/${key}: ${(e as Error).message}`,
        ),
      );
    }
  }

  async function copyIn(client: PgClient, sql: string, data: Uint8Array): Promise<number> {
    const stream = client.query(copyFrom(sql));
    await new Promise<void>((resolve, reject) => {
      stream.on("error", reject);
      stream.on("finish", resolve);
      stream.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
    return Number(stream.rowCount ?? 0);
  }

  async function runCopy(
    stmt: Stmt,
    sub: Sub,
    client: PgClient,
    cmd: CopyCommand,
    inTx: boolean,
  ): Promise<number> {
    const signal = stmt.abort.signal;
    if (!inTx) await client.query("BEGIN");
    try {
      const { oid, columns } = await targetColumns(client, cmd);
      const keys = await listObjects(cmd, signal);
      const colList = columns.map((c) => c.sql).join(", ");
      const copySql = `COPY ${cmd.table} (${colList}) FROM STDIN WITH (FORMAT csv)`;
      const loaded = cmd.format === "PARQUET"
        ? await copyParquet(client, cmd, keys, columns, copySql, signal)
        : await copyCsv(stmt, sub, client, cmd, keys, columns, copySql, oid, signal);
      if (!inTx) await client.query("COMMIT");
      return loaded;
    } catch (e) {
      if (!inTx) await client.query("ROLLBACK").catch(() => {});
      throw e;
    }
  }

  async function copyParquet(
    client: PgClient,
    cmd: CopyCommand,
    keys: string[],
    columns: TargetColumn[],
    copySql: string,
    signal: AbortSignal,
  ): Promise<number> {
    let total = 0;
    for (const key of keys) {
      const bytes = await getObject(cmd.bucket, key, signal);
      const file = `s3://${cmd.bucket}/${key}`;
      let df;
      try {
        df = pl.readParquet(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (e) {
        throw new StatementError(
          `ERROR: Spectrum Scan Error: File '${file}' is not a valid Parquet file: ${
            (e as Error).message
          }`,
        );
      }
      // AWS, "COPY from columnar data formats": "COPY inserts values into the target table's
      // columns in the same order as the columns occur in the columnar data files. The number of
      // columns in the target table and the number of columns in the data file must match."
      if (df.width !== columns.length) {
        throw new StatementError(
          `ERROR: Spectrum Scan Error: File '${file}' has ${df.width} columns but the COPY target ` +
            `has ${columns.length}: Parquet columns are mapped to the target columns by position`,
        );
      }
      // Stricter than Redshift, which would load misordered columns silently (or fail on a type):
      // a name that differs at a position is refused, so a misordered file cannot pass a test.
      const misplaced = df.columns.findIndex((c, i) => c.toLowerCase() !== columns[i]!.name);
      if (misplaced >= 0) {
        throw new StatementError(
          `ERROR: Spectrum Scan Error: File '${file}' column ${misplaced + 1} is ` +
            `'${df.columns[misplaced]}' but target column ${misplaced + 1} is ` +
            `'${columns[misplaced]!.name}': columnar COPY maps columns by position (test double)`,
        );
      }
      // Parquet INT64 timestamps in milliseconds or microseconds are read; nanosecond
      // timestamps are not (Redshift timestamps have microsecond precision).
      const nanos = df.columns.filter((_, i) =>
        (df!.dtypes[i] as unknown as { variant?: string; timeUnit?: string }).variant ===
          "Datetime" &&
        (df!.dtypes[i] as unknown as { timeUnit?: string }).timeUnit === "ns"
      );
      if (nanos.length > 0) {
        throw new StatementError(
          `ERROR: Spectrum Scan Error: File '${file}' has unsupported Parquet type ` +
            `TIMESTAMP(NANOS) in column(s) ${nanos.join(", ")}: write microsecond timestamps`,
        );
      }
      // Timezone-aware datetimes would be written in their own zone with a 'Z' appended.
      const tzCols = df.columns.filter((_, i) => {
        const dt = df!.dtypes[i] as unknown as { variant?: string; timeZone?: string };
        return dt.variant === "Datetime" && !!dt.timeZone && dt.timeZone !== "UTC";
      });
      if (tzCols.length > 0) {
        df = df.withColumns(...tzCols.map((c) => pl.col(c).dt.convertTimeZone("UTC")));
      }
      let csv: Uint8Array;
      try {
        csv = df.writeCSV({ includeHeader: false, datetimeFormat: "%Y-%m-%dT%H:%M:%S%.6fZ" });
      } catch (e) {
        throw new StatementError(
          `ERROR: Spectrum Scan Error: File '${file}' has a column type the test double cannot ` +
            `load: ${(e as Error).message}`,
        );
      }
      if (signal.aborted) throw new StatementError("aborted");
      try {
        total += await copyIn(client, copySql, csv);
      } catch (e) {
        const pe = e as PgError;
        throw new StatementError(
          `ERROR: Spectrum Scan Error: File '${file}' could not be loaded into ${cmd.table}: ` +
            `${pe.message}${pe.where ? ` (${pe.where.replace(/^COPY [^,]*, /, "")})` : ""}`,
        );
      }
    }
    return total;
  }

  async function copyCsv(
    stmt: Stmt,
    sub: Sub,
    client: PgClient,
    cmd: CopyCommand,
    keys: string[],
    columns: TargetColumn[],
    copySql: string,
    tableOid: number,
    signal: AbortSignal,
  ): Promise<number> {
    const rows: { csv: string; file: string; line: number; raw: string; fields: string[] }[] = [];
    const errs: LoadError[] = [];
    const loadError = (
      file: string,
      line: number,
      raw: string,
      colname: string,
      value: string,
      code: number,
      reason: string,
    ): LoadError => ({
      statementId: sub.pub.id,
      queryId: sub.queryId,
      table: cmd.table,
      filename: file,
      lineNumber: line,
      colname,
      rawLine: raw,
      rawFieldValue: value,
      errCode: code,
      errReason: reason,
      at: new Date(),
    });
    const fail = async (): Promise<never> => {
      await recordLoadErrors(stmt, errs, tableOid);
      const first = errs[errs.length - 1]!;
      throw new StatementError(
        `ERROR: Load into table '${cmd.table}' failed. Check 'stl_load_errors' system table ` +
          `for details. (test double: ${first.filename} line ${first.lineNumber}` +
          `${first.colname ? `, column ${first.colname}` : ""}: ${first.errReason})`,
      );
    };

    for (const key of keys) {
      const file = `s3://${cmd.bucket}/${key}`;
      let bytes = await getObject(cmd.bucket, key, signal);
      if (cmd.gzip) {
        try {
          bytes = gunzipSync(bytes);
        } catch (e) {
          errs.push(loadError(file, 0, "", "", "", 1203, `gzip: ${(e as Error).message}`));
          return await fail();
        }
      }
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        if (cmd.acceptInvChars === undefined) {
          errs.push(
            loadError(
              file,
              0,
              "",
              "",
              "",
              1220,
              "String contains invalid or unsupported UTF8 codepoints",
            ),
          );
          return await fail();
        }
        text = new TextDecoder("utf-8").decode(bytes).replaceAll("\uFFFD", cmd.acceptInvChars);
      }
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      let records: CsvRecord[];
      try {
        records = parseCsv(text, cmd.delimiter, cmd.quote);
      } catch (e) {
        errs.push(loadError(file, 0, "", "", "", 1214, (e as Error).message));
        return await fail();
      }
      // IGNOREHEADER skips lines of each file.
      records = records.filter((r) => r.line > cmd.ignoreHeader);
      for (const r of records) {
        // FILLRECORD: missing trailing fields load as NULL (extra fields are still errors).
        if (cmd.fillRecord && r.fields.length < columns.length) {
          r.fields = [
            ...r.fields,
            ...Array.from(
              { length: columns.length - r.fields.length },
              () => ({ v: "", quoted: false }),
            ),
          ];
        }
        if (r.fields.length !== columns.length) {
          const extra = r.fields.length > columns.length;
          errs.push(
            loadError(
              file,
              r.line,
              r.raw,
              extra ? "" : columns[r.fields.length]?.name ?? "",
              "",
              extra ? 1216 : 1214,
              extra ? "Extra column(s) found" : "Delimiter not found",
            ),
          );
          if (errs.length > cmd.maxError) return await fail();
          continue;
        }
        const values = r.fields.map((f, i) => {
          const col = columns[i]!;
          if (cmd.nullAs !== undefined && f.v === cmd.nullAs && !f.quoted) return null;
          // Redshift: empty and blank fields of non-character columns always load as NULL.
          if (f.v === "") return col.isString && !cmd.emptyAsNull ? "" : null;
          if (f.v.trim() === "" && (!col.isString || cmd.blanksAsNull)) return null;
          return f.v;
        });
        rows.push({
          csv: values.map(pgCsvValue).join(",") + "\n",
          file,
          line: r.line,
          raw: r.raw,
          fields: r.fields.map((f) => f.v),
        });
      }
    }
    if (signal.aborted) throw new StatementError("aborted");

    // PostgreSQL rejects the whole COPY on the first bad row; with MAXERROR the bad row is
    // dropped (recorded as a load error) and the COPY retried inside a savepoint.
    const enc = new TextEncoder();
    for (;;) {
      const data = enc.encode(rows.map((r) => r.csv).join(""));
      if (cmd.maxError > 0) await client.query("SAVEPOINT redshift_double_copy");
      try {
        const n = await copyIn(client, copySql, data);
        if (cmd.maxError > 0) await client.query("RELEASE SAVEPOINT redshift_double_copy");
        await recordLoadErrors(stmt, errs, tableOid);
        return n;
      } catch (e) {
        const pe = e as PgError;
        if (cmd.maxError > 0) {
          await client.query("ROLLBACK TO SAVEPOINT redshift_double_copy").catch(() => {});
        }
        if (signal.aborted) throw e;
        const where = /line (\d+)(?:, column ([^:]+))?(?:: "(.*)")?/s.exec(pe.where ?? "");
        const idx = where ? Number(where[1]) - 1 : -1;
        const row = rows[idx];
        if (!row) {
          errs.push(loadError("", 0, "", "", "", 1200, pe.message));
          return await fail();
        }
        const colname = where?.[2] ?? pe.column ?? "";
        const colIdx = columns.findIndex((c) => c.name === colname);
        errs.push(
          loadError(
            row.file,
            row.line,
            row.raw,
            colname,
            colIdx >= 0 ? row.fields[colIdx] ?? "" : where?.[3] ?? "",
            1200,
            pe.message,
          ),
        );
        if (errs.length > cmd.maxError) return await fail();
        rows.splice(idx, 1);
      }
    }
  }

  // -------------------------------------------------------------------------
  // API operations

  function newSub(id: string, sql: string, now: Date): Sub {
    return {
      pub: { id, sql, status: "SUBMITTED" },
      createdAt: now,
      updatedAt: now,
      durationNs: -1,
      hasResultSet: false,
      resultRows: -1,
      resultSize: 0,
      queryId: ++queryIdSeq,
    };
  }

  function submitCommon(body: Record<string, unknown>) {
    const database = optionalString(body, "Database");
    const workgroupName = optionalString(body, "WorkgroupName");
    const clusterIdentifier = optionalString(body, "ClusterIdentifier");
    const dbUser = optionalString(body, "DbUser");
    const secretArn = optionalString(body, "SecretArn");
    const statementName = optionalString(body, "StatementName");
    const clientToken = optionalString(body, "ClientToken");
    if (body.SessionId !== undefined || body.SessionKeepAliveSeconds !== undefined) {
      throw new ApiError(
        "ValidationException",
        "SessionId/SessionKeepAliveSeconds are not supported by the Redshift test double",
      );
    }
    if (!workgroupName && !clusterIdentifier) {
      throw new ApiError(
        "ValidationException",
        "Either WorkgroupName or ClusterIdentifier must be provided",
      );
    }
    if (workgroupName && clusterIdentifier) {
      throw new ApiError(
        "ValidationException",
        "WorkgroupName and ClusterIdentifier cannot both be provided",
      );
    }
    if (clusterIdentifier && !dbUser && !secretArn) {
      throw new ApiError(
        "ValidationException",
        "Either DbUser or SecretArn must be provided with ClusterIdentifier",
      );
    }
    if (!database && !secretArn) {
      throw new ApiError("ValidationException", "Database is required");
    }
    if (body.WithEvent !== undefined && typeof body.WithEvent !== "boolean") {
      throw new ApiError("ValidationException", "WithEvent must be a boolean");
    }
    return {
      database,
      workgroupName,
      clusterIdentifier,
      dbUser,
      secretArn,
      statementName,
      clientToken,
      withEvent: body.WithEvent as boolean | undefined,
    };
  }

  function startStatement(
    common: ReturnType<typeof submitCommon>,
    kind: "execute" | "batch",
    sqls: string[],
    params: Map<string, string>,
    rawParams?: { name: string; value: string }[],
  ): Stmt {
    const id = crypto.randomUUID();
    const now = new Date();
    const rec: RecordedStatement = {
      id,
      kind,
      sql: kind === "batch" ? [...sqls] : sqls[0]!,
      status: "SUBMITTED",
      createdAt: now,
      updatedAt: now,
    };
    for (
      const [k, v] of Object.entries({
        database: common.database,
        workgroupName: common.workgroupName,
        clusterIdentifier: common.clusterIdentifier,
        dbUser: common.dbUser,
        secretArn: common.secretArn,
        statementName: common.statementName,
        withEvent: common.withEvent,
        parameters: rawParams,
      })
    ) {
      if (v !== undefined) (rec as unknown as Record<string, unknown>)[k] = v;
    }
    const subs = kind === "batch"
      ? sqls.map((s, i) => newSub(`${id}:${i + 1}`, s, now))
      : [newSub(id, sqls[0]!, now)];
    if (kind === "batch") rec.subStatements = subs.map((s) => s.pub);
    const stmt: Stmt = { rec, subs, params, abort: new AbortController(), delayMs: delayMs };
    statements.push(rec);
    byId.set(id, stmt);
    if (common.clientToken) byToken.set(common.clientToken, id);
    stmt.running = run(stmt);
    return stmt;
  }

  function submitResponse(stmt: Stmt) {
    const r = stmt.rec;
    return {
      Id: r.id,
      CreatedAt: epochSeconds(r.createdAt),
      Database: r.database,
      DbUser: r.dbUser,
      ClusterIdentifier: r.clusterIdentifier,
      WorkgroupName: r.workgroupName,
      SecretArn: r.secretArn,
      DbGroups: [],
    };
  }

  function tokenReplay(body: Record<string, unknown>) {
    const token = body.ClientToken;
    if (typeof token === "string" && byToken.has(token)) {
      return submitResponse(byId.get(byToken.get(token)!)!);
    }
    return undefined;
  }

  function executeStatement(body: Record<string, unknown>) {
    const replay = tokenReplay(body);
    if (replay) return replay;
    const sql = requireString(body, "Sql");
    const common = submitCommon(body);
    checkSize(sql);
    const params = new Map<string, string>();
    let rawParams: { name: string; value: string }[] | undefined;
    if (body.Parameters !== undefined) {
      if (!Array.isArray(body.Parameters) || body.Parameters.length === 0) {
        throw new ApiError("ValidationException", "Parameters must be a non-empty list");
      }
      rawParams = [];
      for (const p of body.Parameters as unknown[]) {
        const { name, value } = (p ?? {}) as { name?: unknown; value?: unknown };
        if (typeof name !== "string" || !/^[0-9a-zA-Z_]+$/.test(name)) {
          throw new ApiError("ValidationException", "Parameter name must match [0-9a-zA-Z_]+");
        }
        if (typeof value !== "string") {
          throw new ApiError("ValidationException", `Parameter '${name}' needs a string value`);
        }
        params.set(name, value);
        rawParams.push({ name, value });
      }
      const { pieces } = splitStatements(sql);
      const used = new Set(pieces.flatMap(parameterNames));
      for (const name of used) {
        if (!params.has(name)) {
          throw new ApiError("ValidationException", `No value given for parameter '${name}'`);
        }
      }
    }
    return submitResponse(startStatement(common, "execute", [sql], params, rawParams));
  }

  function batchExecuteStatement(body: Record<string, unknown>) {
    const replay = tokenReplay(body);
    if (replay) return replay;
    const sqls = body.Sqls;
    if (
      !Array.isArray(sqls) || sqls.length === 0 ||
      !sqls.every((s) => typeof s === "string" && s.length > 0)
    ) {
      throw new ApiError("ValidationException", "Sqls must be a non-empty list of strings");
    }
    if (sqls.length > MAX_BATCH_STATEMENTS) {
      throw new ApiError(
        "ValidationException",
        `Sqls can hold at most ${MAX_BATCH_STATEMENTS} statements (got ${sqls.length})`,
      );
    }
    const common = submitCommon(body);
    for (const s of sqls as string[]) checkSize(s);
    return submitResponse(startStatement(common, "batch", sqls as string[], new Map()));
  }

  function lookup(idRaw: unknown): { stmt: Stmt; sub?: Sub } {
    if (typeof idRaw !== "string" || idRaw.length === 0) {
      throw new ApiError("ValidationException", "Id is required");
    }
    const m = /^(.+?)(?::(\d+))?$/.exec(idRaw)!;
    const stmt = byId.get(m[1]!);
    if (!stmt) throw new ApiError("ResourceNotFoundException", `Query does not exist: ${idRaw}`);
    if (m[2] === undefined) return { stmt };
    const sub = stmt.rec.kind === "batch" ? stmt.subs[Number(m[2]) - 1] : undefined;
    if (!sub) throw new ApiError("ResourceNotFoundException", `Query does not exist: ${idRaw}`);
    return { stmt, sub };
  }

  function subDescription(sub: Sub) {
    return {
      Id: sub.pub.id,
      Status: sub.pub.status,
      Error: sub.pub.error,
      HasResultSet: sub.hasResultSet,
      ResultRows: sub.pub.status === "FINISHED" ? sub.resultRows : -1,
      ResultSize: sub.pub.status === "FINISHED" ? sub.resultSize : -1,
      Duration: sub.pub.status === "FINISHED" ? sub.durationNs : -1,
      QueryString: sub.pub.sql,
      CreatedAt: epochSeconds(sub.createdAt),
      UpdatedAt: epochSeconds(sub.updatedAt),
      RedshiftQueryId: sub.queryId,
    };
  }

  function describeStatement(body: Record<string, unknown>) {
    const { stmt, sub } = lookup(body.Id);
    const r = stmt.rec;
    const common = {
      Database: r.database,
      DbUser: r.dbUser,
      ClusterIdentifier: r.clusterIdentifier,
      WorkgroupName: r.workgroupName,
      SecretArn: r.secretArn,
      RedshiftPid: stmt.pid ?? 0,
    };
    if (sub) return { ...subDescription(sub), ...common, IsBatchStatement: false };
    if (r.kind === "execute") {
      const done = r.status === "FINISHED";
      const sub0 = subDescription(stmt.subs[0]!);
      return {
        ...sub0,
        ResultRows: done ? sub0.ResultRows : -1,
        ResultSize: done ? sub0.ResultSize : -1,
        Duration: done ? sub0.Duration : -1,
        Status: r.status,
        Error: r.error,
        ...common,
        IsBatchStatement: false,
        QueryParameters: r.parameters,
        CreatedAt: epochSeconds(r.createdAt),
        UpdatedAt: epochSeconds(r.updatedAt),
      };
    }
    const finished = r.status === "FINISHED";
    return {
      Id: r.id,
      Status: r.status,
      Error: r.error,
      HasResultSet: stmt.subs.some((s) => s.hasResultSet),
      ResultRows: finished ? stmt.subs.reduce((n, s) => n + Math.max(0, s.resultRows), 0) : -1,
      ResultSize: finished ? stmt.subs.reduce((n, s) => n + s.resultSize, 0) : -1,
      Duration: finished ? stmt.subs.reduce((n, s) => n + Math.max(0, s.durationNs), 0) : -1,
      QueryString: (r.sql as string[]).join("; "),
      CreatedAt: epochSeconds(r.createdAt),
      UpdatedAt: epochSeconds(r.updatedAt),
      ...common,
      IsBatchStatement: true,
      SubStatements: stmt.subs.map(subDescription),
    };
  }

  function getStatementResult(body: Record<string, unknown>) {
    const { stmt, sub: subGiven } = lookup(body.Id);
    if (!subGiven && stmt.rec.kind === "batch") {
      throw new ApiError(
        "ValidationException",
        `${stmt.rec.id} is a batch: get the result of a sub-statement (${stmt.rec.id}:N)`,
      );
    }
    const sub = subGiven ?? stmt.subs[0]!;
    const status = subGiven ? sub.pub.status : stmt.rec.status;
    if (status !== "FINISHED" || !sub.result) {
      throw new ApiError(
        "ResourceNotFoundException",
        "Query does not have result. Please check query status with DescribeStatement.",
      );
    }
    let offset = 0;
    if (body.NextToken !== undefined && body.NextToken !== null) {
      let decoded = "";
      try {
        decoded = typeof body.NextToken === "string" ? atob(body.NextToken) : "";
      } catch {
        // invalid base64
      }
      const parsed = /^rsd-(\d+)-(.+)$/.exec(decoded);
      if (!parsed || parsed[2] !== sub.pub.id) {
        throw new ApiError("ValidationException", "NextToken is invalid");
      }
      offset = Number(parsed[1]);
    }
    const records = sub.result.records.slice(offset, offset + pageSize);
    const end = offset + records.length;
    return {
      Records: records,
      ColumnMetadata: sub.result.columns,
      TotalNumRows: sub.result.records.length,
      NextToken: end < sub.result.records.length ? btoa(`rsd-${end}-${sub.pub.id}`) : undefined,
    };
  }

  async function cancel(stmt: Stmt): Promise<void> {
    stmt.abort.abort();
    const pid = stmt.pid;
    if (pid && stmt.rec.status === "STARTED") {
      await adminQuery("SELECT pg_cancel_backend($1)", [pid]).catch(() => {});
    }
  }

  async function cancelStatement(body: Record<string, unknown>) {
    const { stmt, sub } = lookup(body.Id);
    if (sub) {
      throw new ApiError("ValidationException", "Cancel the batch, not one of its sub-statements");
    }
    if (TERMINAL.has(stmt.rec.status)) {
      throw new ApiError(
        "ValidationException",
        `Could not cancel a query that is already in ${stmt.rec.status} state.`,
      );
    }
    await cancel(stmt);
    return { Status: true };
  }

  async function handler(req: Request): Promise<Response> {
    try {
      if (req.method !== "POST") {
        throw new ApiError("UnknownOperationException", `${req.method} is not supported`, 404);
      }
      const target = req.headers.get("x-amz-target") ?? "";
      const text = await req.text();
      if (throttle > 0) {
        throttle--;
        throw new ApiError("ThrottlingException", "Rate exceeded");
      }
      if (stopping) {
        throw new ApiError("ServiceUnavailableException", "the double is stopping", 503);
      }
      const m = /^RedshiftData\.(\w+)$/.exec(target);
      if (!m) {
        throw new ApiError("UnknownOperationException", `unknown X-Amz-Target '${target}'`);
      }
      let body: Record<string, unknown>;
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        throw new ApiError("SerializationException", "request body is not valid JSON");
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new ApiError("SerializationException", "request body must be a JSON object");
      }
      switch (m[1]) {
        case "ExecuteStatement":
          return json(200, executeStatement(body));
        case "BatchExecuteStatement":
          return json(200, batchExecuteStatement(body));
        case "DescribeStatement":
          return json(200, describeStatement(body));
        case "GetStatementResult":
          return json(200, getStatementResult(body));
        case "CancelStatement":
          return json(200, await cancelStatement(body));
        default:
          throw new ApiError(
            "UnknownOperationException",
            `${m[1]} is not implemented by the Redshift test double`,
          );
      }
    } catch (e) {
      if (e instanceof ApiError) return apiErrorResponse(e);
      return apiErrorResponse(
        new ApiError("InternalServerException", (e as Error)?.message ?? String(e), 500),
      );
    }
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const port = server.addr.port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    statements,
    loadErrors,
    failNext(match, message) {
      failRules.push({ match, message });
    },
    throttleNext(count) {
      throttle += count;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const live = [...byId.values()].filter((s) => !TERMINAL.has(s.rec.status));
        await Promise.allSettled(live.map((s) => cancel(s)));
        await Promise.allSettled([...byId.values()].map((s) => s.running));
        await Promise.allSettled([...openClients].map((c) => c.end()));
        openClients.clear();
        await server.shutdown();
        s3?.destroy();
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------
// SQL text helpers: masking literals and comments, splitting statements, translating
// Redshift-only syntax, binding `:name` parameters, parsing COPY, reading CSV.

const MARK = "\u0001";

/** SQL with every string literal, quoted identifier and comment replaced by a placeholder. */
export interface MaskedSql {
  text: string;
  /** Original text of each placeholder `\u0001<index>\u0001`. */
  parts: string[];
}

/**
 * Masks string literals ('..', E'..', $tag$..$tag$), quoted identifiers ("..") and
 * comments (--, nested block comments), so regexes over the rest cannot match inside them.
 */
export function maskSql(sql: string): MaskedSql {
  const parts: string[] = [];
  let out = "";
  let i = 0;
  const n = sql.length;
  const push = (s: string) => {
    out += `${MARK}${parts.length}${MARK}`;
    parts.push(s);
  };
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      let j = sql.indexOf("\n", i);
      if (j < 0) j = n;
      push(sql.slice(i, j));
      i = j;
    } else if (c === "/" && next === "*") {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === "/" && sql[j + 1] === "*") {
          depth++;
          j += 2;
        } else if (sql[j] === "*" && sql[j + 1] === "/") {
          depth--;
          j += 2;
        } else j++;
      }
      push(sql.slice(i, j));
      i = j;
    } else if (
      c === "'" || ((c === "E" || c === "e") && next === "'" && !/\w/.test(sql[i - 1] ?? ""))
    ) {
      const escapes = c !== "'";
      let j = escapes ? i + 2 : i + 1;
      while (j < n) {
        if (escapes && sql[j] === "\\") j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") {
          j++;
          break;
        } else j++;
      }
      push(sql.slice(i, j));
      i = j;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '"' && sql[j + 1] === '"') j += 2;
        else if (sql[j] === '"') {
          j++;
          break;
        } else j++;
      }
      push(sql.slice(i, j));
      i = j;
    } else if (c === "$" && !/\w/.test(sql[i - 1] ?? "")) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (m) {
        const tag = m[0];
        const end = sql.indexOf(tag, i + tag.length);
        const j = end < 0 ? n : end + tag.length;
        push(sql.slice(i, j));
        i = j;
      } else {
        out += c;
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  return { text: out, parts };
}

const PLACEHOLDER = new RegExp(`${MARK}(\\d+)${MARK}`, "g");

/** Puts the masked parts back. */
export function unmask(text: string, parts: string[]): string {
  return text.replace(PLACEHOLDER, (_, i) => parts[Number(i)] ?? "");
}

function isCommentPart(part: string): boolean {
  return part.startsWith("--") || part.startsWith("/*");
}

/** Masked text with comment placeholders turned into spaces (literals stay masked). */
function dropComments(m: MaskedSql): string {
  return m.text.replace(PLACEHOLDER, (p, i) => isCommentPart(m.parts[Number(i)] ?? "") ? " " : p);
}

/**
 * Splits SQL into statements on top-level semicolons (not inside literals, quoted
 * identifiers, comments or dollar quotes). Empty statements and comment-only ones are dropped.
 * Each piece is returned still masked, sharing `parts` with the whole.
 */
export function splitStatements(sql: string): { pieces: string[]; parts: string[] } {
  const m = maskSql(sql);
  const text = dropComments(m);
  const pieces = text.split(";").map((s) => s.trim()).filter((s) => s.length > 0);
  return { pieces, parts: m.parts };
}

/**
 * Rewrites Redshift-only syntax of one masked statement into PostgreSQL:
 * table and column attributes DISTSTYLE, DISTKEY, [COMPOUND|INTERLEAVED] SORTKEY,
 * ENCODE, BACKUP are removed; GETDATE() / SYSDATE / NVL( / VARCHAR(MAX) / IDENTITY(s, i)
 * are replaced.
 */
export function translateRedshift(masked: string): string {
  return dropConstraints(masked)
    .replace(/\b(?:COMPOUND\s+|INTERLEAVED\s+)?SORTKEY\s*\([^)]*\)/gi, " ")
    .replace(/\bSORTKEY\s+AUTO\b/gi, " ")
    .replace(/\bDISTKEY\s*\([^)]*\)/gi, " ")
    .replace(/\bDISTSTYLE\s+(?:AUTO|EVEN|KEY|ALL)\b/gi, " ")
    .replace(/\bENCODE\s+[A-Za-z0-9_]+/gi, " ")
    .replace(/\bBACKUP\s+(?:YES|NO)\b/gi, " ")
    .replace(/\b(?:DISTKEY|SORTKEY)\b/gi, " ")
    // GETDATE(): the start of the current statement, without fractional seconds (AWS, "GETDATE
    // function"); SYSDATE: the start of the current transaction ("SYSDATE function").
    .replace(
      /\bGETDATE\s*\(\s*\)/gi,
      "date_trunc('second', statement_timestamp() AT TIME ZONE 'UTC')",
    )
    .replace(/\bSYSDATE\b/gi, "(transaction_timestamp() AT TIME ZONE 'UTC')")
    .replace(/\bNVL\s*\(/gi, "COALESCE(")
    .replace(/\b((?:VARCHAR|CHARACTER\s+VARYING|NVARCHAR))\s*\(\s*MAX\s*\)/gi, "$1(65535)")
    .replace(
      /\bIDENTITY\s*\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)/gi,
      "GENERATED BY DEFAULT AS IDENTITY (START WITH $1 INCREMENT BY $2)",
    );
}

/** COPY parameters accepted with FORMAT AS PARQUET (AWS, "COPY from columnar data formats"). */
const COLUMNAR_COPY_OPTIONS: ReadonlySet<string> = new Set([
  "FORMAT",
  "PARQUET",
  "ACCEPTINVCHARS",
  "FILLRECORD",
  "IAM_ROLE",
  "CREDENTIALS",
  "STATUPDATE",
  "MANIFEST",
  "EXPLICIT_IDS",
]);

/**
 * PostgreSQL syntax Redshift does not accept, each refused with Redshift-like text. Sources:
 * AWS, Database Developer Guide, "Unsupported PostgreSQL features" (ON CONFLICT upserts,
 * RETURNING, indexes, SERIAL, JSONB, DISTINCT ON, aggregate FILTER, string_agg, advisory lock
 * functions), "LOCK" (syntax `LOCK [ TABLE ] table_name [, ...]`, no lock mode), "TRUNCATE"
 * ("commits the current transaction": refused here because the worker only sends it inside
 * batches), and "COPY" (no FROM STDIN: data comes from S3, EMR, DynamoDB or SSH).
 */
const REFUSED_SYNTAX: ReadonlyArray<{ pattern: RegExp; message: string }> = [
  {
    pattern: /\bON\s+CONFLICT\b/i,
    message: 'syntax error at or near "ON CONFLICT": not supported',
  },
  { pattern: /\bRETURNING\b/i, message: 'syntax error at or near "RETURNING": not supported' },
  {
    pattern: /\bpg_(try_)?advisory_(xact_)?(un)?lock(_shared)?\s*\(/i,
    message: "function pg_advisory_lock does not exist (advisory locks are not supported)",
  },
  {
    pattern: /^\s*LOCK\b[^;]*\bIN\b[^;]*\bMODE\b/i,
    message: 'syntax error at or near "IN": LOCK takes no lock mode',
  },
  { pattern: /\bCREATE\s+(UNIQUE\s+)?INDEX\b/i, message: "CREATE INDEX is not supported" },
  { pattern: /\b(BIG|SMALL)?SERIAL\b/i, message: 'type "serial" does not exist' },
  { pattern: /\bJSONB\b/i, message: 'type "jsonb" does not exist' },
  { pattern: /\bDISTINCT\s+ON\s*\(/i, message: "SELECT DISTINCT ON is not supported" },
  { pattern: /\bFILTER\s*\(\s*WHERE\b/i, message: 'syntax error at or near "FILTER"' },
  { pattern: /\bstring_agg\s*\(/i, message: "function string_agg does not exist" },
  {
    pattern: /^\s*TRUNCATE\b/i,
    message: "TRUNCATE commits the open transaction in Redshift: refused by the test double",
  },
  { pattern: /\bFROM\s+STDIN\b/i, message: "COPY FROM STDIN is not supported" },
];

/** Redshift's refusal of a masked statement, or undefined when Redshift would accept its syntax. */
export function redshiftRefusal(masked: string): string | undefined {
  return REFUSED_SYNTAX.find((r) => r.pattern.test(masked))?.message ?? windowRefusal(masked) ??
    reservedWordRefusal(masked);
}

/**
 * Redshift's reserved words (AWS, Database Developer Guide, "Reserved words"):
 * "You can use the reserved words with delimited identifiers (double quotation
 * marks)", so unquoted they are refused as names. PostgreSQL accepts many of
 * them (e.g. `x AS open`, `t.tag`, `AS timestamp`), which is why the double checks.
 */
export const REDSHIFT_RESERVED: ReadonlySet<string> = new Set(
  (
    "AES128 AES256 ALL ALLOWOVERWRITE ANALYSE ANALYZE AND ANY ARRAY AS ASC AUTHORIZATION AZ64 " +
    "BACKUP BETWEEN BINARY BLANKSASNULL BOTH BYTEDICT BZIP2 CASE CAST CHECK COLLATE COLUMN " +
    "CONSTRAINT CREATE CREDENTIALS CROSS CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP " +
    "CURRENT_USER CURRENT_USER_ID DEFAULT DEFERRABLE DEFLATE DEFRAG DELTA DELTA32K DESC " +
    "DISABLE DISTINCT DO ELSE EMPTYASNULL ENABLE ENCODE ENCRYPT ENCRYPTION END EXCEPT " +
    "EXPLICIT FALSE FOR FOREIGN FREEZE FROM FULL GLOBALDICT256 GLOBALDICT64K GRANT GROUP GZIP " +
    "HAVING IDENTITY IGNORE ILIKE IN INITIALLY INNER INTERSECT INTERVAL INTO IS ISNULL JOIN " +
    "LEADING LEFT LIKE LIMIT LOCALTIME LOCALTIMESTAMP LUN LUNS LZO LZOP MINUS MOSTLY16 " +
    "MOSTLY32 MOSTLY8 NATURAL NEW NOT NOTNULL NULL NULLS OFF OFFLINE OFFSET OID OLD ON ONLY " +
    "OPEN OR ORDER OUTER OVERLAPS PARALLEL PARTITION PERCENT PERMISSIONS PIVOT PLACING " +
    "PRIMARY RAW READRATIO RECOVER REFERENCES REJECTLOG RESORT RESPECT RESTORE RIGHT SELECT " +
    "SESSION_USER SIMILAR SNAPSHOT SOME SYSDATE SYSTEM TABLE TAG TDES TEXT255 TEXT32K THEN " +
    "TIMESTAMP TO TOP TRAILING TRUE TRUNCATECOLUMNS UNION UNIQUE UNNEST UNPIVOT USER USING " +
    "VERBOSE WALLET WHEN WHERE WITH WITHOUT"
  ).split(" "),
);

/** What may follow `AS` without being a name: a query (CTAS, views) or a CAST's type. */
const AFTER_AS = new Set(["SELECT", "WITH"]);

/**
 * An unquoted reserved word where a name goes, in the two places the SQL a
 * user or the worker writes puts names after a keyword: an alias (`AS word`,
 * outside a `CAST(... AS type)`) and a qualified name (`t.word`). A bare
 * column reference (`SELECT open FROM t`) is not recognised: PostgreSQL
 * itself refuses most of those words there.
 */
function reservedWordRefusal(masked: string): string | undefined {
  const qualified = /\.\s*([A-Za-z_][A-Za-z0-9_$]*)/g;
  for (let m = qualified.exec(masked); m; m = qualified.exec(masked)) {
    if (/\d$/.test(masked.slice(0, m.index))) continue; // a number such as 1.5
    if (REDSHIFT_RESERVED.has(m[1]!.toUpperCase())) return nearReserved(m[1]!);
  }
  const alias = /\bAS\s+([A-Za-z_][A-Za-z0-9_$]*)/gi;
  for (let m = alias.exec(masked); m; m = alias.exec(masked)) {
    const word = m[1]!.toUpperCase();
    if (!REDSHIFT_RESERVED.has(word) || AFTER_AS.has(word)) continue;
    if (insideCast(masked, m.index)) continue;
    return nearReserved(m[1]!);
  }
  return undefined;
}

function nearReserved(word: string): string {
  return `syntax error at or near "${word.toLowerCase()}": ${word.toUpperCase()} is a reserved ` +
    `word; quote it ("${word.toLowerCase()}") to use it as a name`;
}

/** True when the innermost parenthesis open at `at` is a `CAST(`'s. */
function insideCast(masked: string, at: number): boolean {
  let depth = 0;
  for (let i = at - 1; i >= 0; i--) {
    if (masked[i] === ")") depth++;
    else if (masked[i] === "(") {
      if (depth === 0) return /\bCAST\s*$/i.test(masked.slice(0, i));
      depth--;
    }
  }
  return false;
}

/** The text between the parenthesis at `open` and its match (exclusive), and the index after. */
function parenthesised(text: string, open: number): { inner: string; end: number } | undefined {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) {
      return { inner: text.slice(open + 1, i), end: i + 1 };
    }
  }
  return undefined;
}

/**
 * Window functions the worker's write modes use, as Redshift defines them.
 * AWS, Database Developer Guide, "LAG window function" and "LEAD window
 * function": `OVER ( [ PARTITION BY ... ] ORDER BY window_ordering )`, the
 * ORDER BY is required and "the OVER clause cannot contain a window frame
 * specification"; "ROW_NUMBER window function": `OVER ( [ PARTITION BY ... ]
 * [ ORDER BY ... ] )`, no frame either. PostgreSQL accepts both omissions.
 * Also "Window functions": Redshift has no `WINDOW` clause, so every OVER
 * spells its window out (an `OVER name` is refused).
 */
function windowRefusal(masked: string): string | undefined {
  const call = /\b(LAG|LEAD|ROW_NUMBER)\s*\(/gi;
  for (let m = call.exec(masked); m; m = call.exec(masked)) {
    const fn = m[1]!.toUpperCase();
    const args = parenthesised(masked, m.index + m[0].length - 1);
    if (!args) return undefined;
    const over = /^\s*(?:(?:IGNORE|RESPECT)\s+NULLS\s*)?OVER\s*(\(|[A-Za-z_])/i.exec(
      masked.slice(args.end),
    );
    if (!over) return `${fn} requires an OVER clause`;
    if (over[1] !== "(") return `syntax error at or near "OVER": a named window is not supported`;
    const window = parenthesised(masked, args.end + over[0].length - 1)!.inner;
    if (fn !== "ROW_NUMBER" && !/\bORDER\s+BY\b/i.test(window)) {
      return `window function ${fn} requires an ORDER BY clause`;
    }
    if (/\b(ROWS|RANGE)\s+(BETWEEN|UNBOUNDED|CURRENT|\d)/i.test(window)) {
      return `a frame clause is not supported for window function ${fn}`;
    }
  }
  return undefined;
}

/**
 * Folds quoted identifiers to lower case. AWS, "Names and identifiers": delimited identifiers
 * are case-insensitive and folded to lower case unless enable_case_sensitive_identifier is on
 * (it is off by default, and the double plays the default).
 */
export function foldIdentifiers(parts: string[]): string[] {
  return parts.map((p) => (p.startsWith('"') ? p.toLowerCase() : p));
}

/**
 * Removes PRIMARY KEY, UNIQUE and FOREIGN KEY / REFERENCES constraints from DDL. AWS,
 * "Defining table constraints": "Uniqueness, primary key, and foreign key constraints are
 * informational only; they are not enforced by Amazon Redshift". Enforcing them on PostgreSQL
 * would let a test pass on a uniqueness error Redshift never raises. NOT NULL stays: Redshift
 * enforces it.
 */
export function dropConstraints(masked: string): string {
  if (!/^\s*(CREATE|ALTER)\s+/i.test(masked)) return masked;
  const name = `(?:[A-Za-z_][A-Za-z0-9_$]*|${MARK}\\d+${MARK})`;
  const list = `\\([^)]*\\)`;
  return masked
    .replace(new RegExp(`,\\s*(?:CONSTRAINT\\s+${name}\\s+)?PRIMARY\\s+KEY\\s*${list}`, "gi"), "")
    .replace(new RegExp(`,\\s*(?:CONSTRAINT\\s+${name}\\s+)?UNIQUE\\s*${list}`, "gi"), "")
    .replace(
      new RegExp(
        `,\\s*(?:CONSTRAINT\\s+${name}\\s+)?FOREIGN\\s+KEY\\s*${list}\\s*REFERENCES\\s+${name}(?:\\.${name})?\\s*(?:${list})?`,
        "gi",
      ),
      "",
    )
    .replace(new RegExp(`\\bCONSTRAINT\\s+${name}\\s+(?=PRIMARY|UNIQUE|REFERENCES)`, "gi"), "")
    .replace(/\bPRIMARY\s+KEY\b/gi, " ")
    .replace(/\bUNIQUE\b(?!\s*\()/gi, " ")
    .replace(
      new RegExp(`\\bREFERENCES\\s+${name}(?:\\.${name})?\\s*(?:${list})?`, "gi"),
      " ",
    );
}

/** Names of the `:name` placeholders of a masked statement (not `::casts`). */
export function parameterNames(masked: string): string[] {
  const names = new Set<string>();
  for (const m of masked.matchAll(/(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)/g)) {
    names.add(m[1]!);
  }
  return [...names];
}

/** Replaces `:name` with `$n` in a masked statement; returns the values in `$n` order. */
export function bindParameters(
  masked: string,
  params: Map<string, string>,
): { text: string; values: string[] } {
  const order: string[] = [];
  const text = masked.replace(/(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)/g, (whole, name: string) => {
    if (!params.has(name)) return whole;
    let idx = order.indexOf(name);
    if (idx < 0) {
      order.push(name);
      idx = order.length - 1;
    }
    return `$${idx + 1}`;
  });
  return { text, values: order.map((n) => params.get(n)!) };
}

/** First keyword of a masked statement, upper-cased. */
export function firstKeyword(masked: string): string {
  return (/^\s*\(*\s*([A-Za-z_]+)/.exec(masked)?.[1] ?? "").toUpperCase();
}

// ---------------------------------------------------------------------------
// COPY ... FROM 's3://...'

type Token =
  | { t: "word"; v: string }
  | { t: "str"; v: string }
  | { t: "ident"; v: string }
  | { t: "num"; v: string }
  | { t: "punct"; v: string };

function literalValue(part: string): string {
  if (part.startsWith("'")) return part.slice(1, -1).replaceAll("''", "'");
  if (part.startsWith("E'") || part.startsWith("e'")) {
    return part.slice(2, -1).replaceAll("''", "'").replace(/\\(.)/g, (_, ch: string) => {
      const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f" };
      return map[ch] ?? ch;
    });
  }
  if (part.startsWith("$")) {
    const tag = /^\$[^$]*\$/.exec(part)![0];
    return part.slice(tag.length, part.length - tag.length);
  }
  return part;
}

function tokenize(masked: string, parts: string[]): Token[] {
  const tokens: Token[] = [];
  const re = new RegExp(
    `\\s+|${MARK}(\\d+)${MARK}|([A-Za-z_][A-Za-z0-9_$]*)|(\\d+(?:\\.\\d+)?)|(.)`,
    "gy",
  );
  let m: RegExpExecArray | null;
  while ((m = re.exec(masked)) !== null) {
    if (m[1] !== undefined) {
      const part = parts[Number(m[1])] ?? "";
      if (isCommentPart(part)) continue;
      if (part.startsWith('"')) {
        tokens.push({ t: "ident", v: part.slice(1, -1).replaceAll('""', '"') });
      } else tokens.push({ t: "str", v: literalValue(part) });
    } else if (m[2] !== undefined) tokens.push({ t: "word", v: m[2] });
    else if (m[3] !== undefined) tokens.push({ t: "num", v: m[3] });
    else if (m[4] !== undefined) tokens.push({ t: "punct", v: m[4] });
  }
  return tokens;
}

/** A parsed `COPY ... FROM 's3://...'`. Identifiers are kept as SQL text (quoted or not). */
export interface CopyCommand {
  /** Table reference as SQL text, e.g. `public.events` or `"Odd"."Name"`. */
  table: string;
  /** Target columns as SQL identifiers, or undefined for all columns. */
  columns?: string[];
  /** Column names as PostgreSQL stores them (unquoted ones folded to lower case). */
  columnNames?: string[];
  bucket: string;
  prefix: string;
  format: "CSV" | "PARQUET";
  region?: string;
  ignoreHeader: number;
  delimiter: string;
  quote: string;
  emptyAsNull: boolean;
  /** FILLRECORD: rows with missing trailing fields load them as NULL. */
  fillRecord?: boolean;
  blanksAsNull: boolean;
  nullAs?: string;
  acceptInvChars?: string;
  maxError: number;
  gzip: boolean;
  dateFormat?: string;
  timeFormat?: string;
  /** Options given, upper-cased, in order (for diagnostics). */
  options: string[];
}

/** Thrown for COPY text the double does not understand or does not support. */
export class CopySyntaxError extends Error {}

function identSql(tok: Token): string {
  if (tok.t === "ident") return `"${tok.v.replaceAll('"', '""')}"`;
  return tok.v;
}

function identName(tok: Token): string {
  return tok.t === "ident" ? tok.v : tok.v.toLowerCase();
}

/**
 * Parses a masked `COPY` statement. Returns undefined when it is not a COPY FROM S3
 * (the caller decides what to do with other COPY forms).
 */
export function parseCopy(masked: string, parts: string[]): CopyCommand | undefined {
  const toks = tokenize(masked, parts);
  let i = 0;
  const peek = () => toks[i];
  const word = (tok: Token | undefined) => tok?.t === "word" ? tok.v.toUpperCase() : undefined;
  const take = () => toks[i++];
  if (word(take()) !== "COPY") return undefined;

  const nameToks: Token[] = [];
  for (;;) {
    const t = take();
    if (!t || (t.t !== "word" && t.t !== "ident")) {
      throw new CopySyntaxError("COPY: table name expected");
    }
    nameToks.push(t);
    if (peek()?.t === "punct" && peek()!.v === ".") {
      i++;
      continue;
    }
    break;
  }
  const table = nameToks.map(identSql).join(".");
  let columns: string[] | undefined;
  let columnNames: string[] | undefined;
  if (peek()?.t === "punct" && peek()!.v === "(") {
    i++;
    columns = [];
    columnNames = [];
    for (;;) {
      const t = take();
      if (!t || (t.t !== "word" && t.t !== "ident")) {
        throw new CopySyntaxError("COPY: column name expected");
      }
      columns.push(identSql(t));
      columnNames.push(identName(t));
      const sep = take();
      if (sep?.t === "punct" && sep.v === ",") continue;
      if (sep?.t === "punct" && sep.v === ")") break;
      throw new CopySyntaxError("COPY: malformed column list");
    }
  }
  if (word(take()) !== "FROM") return undefined;
  const src = take();
  if (src?.t !== "str" || !src.v.startsWith("s3://")) return undefined;
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(src.v);
  if (!m) throw new CopySyntaxError(`COPY: invalid S3 path '${src.v}'`);

  const cmd: CopyCommand = {
    table,
    columns,
    columnNames,
    bucket: m[1]!,
    prefix: m[2]!,
    format: undefined as unknown as "CSV",
    ignoreHeader: 0,
    delimiter: ",",
    quote: '"',
    emptyAsNull: false,
    blanksAsNull: false,
    maxError: 0,
    gzip: false,
    options: [],
  };
  let hasAuth = false;
  let quoteGiven = false;
  let delimiterGiven = false;

  const optAs = () => {
    if (word(peek()) === "AS") i++;
  };
  const str = (opt: string): string => {
    optAs();
    const t = take();
    if (t?.t !== "str") throw new CopySyntaxError(`COPY: ${opt} needs a quoted value`);
    return t.v;
  };
  const num = (opt: string): number => {
    optAs();
    const t = take();
    if (t?.t !== "num") throw new CopySyntaxError(`COPY: ${opt} needs a number`);
    return Number(t.v);
  };

  while (i < toks.length) {
    const t = take()!;
    if (t.t === "punct" && t.v === ";") continue;
    const opt = word(t);
    if (!opt) throw new CopySyntaxError(`COPY: unexpected '${t.v}'`);
    cmd.options.push(opt);
    switch (opt) {
      case "IAM_ROLE": {
        const v = take();
        if (!v || (v.t !== "str" && word(v) !== "DEFAULT")) {
          throw new CopySyntaxError("COPY: IAM_ROLE needs 'arn:aws:iam::...' or DEFAULT");
        }
        hasAuth = true;
        break;
      }
      case "CREDENTIALS":
      case "ACCESS_KEY_ID":
      case "SECRET_ACCESS_KEY":
      case "SESSION_TOKEN":
        str(opt);
        hasAuth = true;
        break;
      case "REGION":
        cmd.region = str(opt);
        break;
      case "FORMAT": {
        optAs();
        const f = word(take());
        if (f === "CSV") cmd.format = "CSV";
        else if (f === "PARQUET") cmd.format = "PARQUET";
        else {throw new CopySyntaxError(
            `COPY: FORMAT AS ${f ?? "?"} is not supported by the test double (CSV and PARQUET are)`,
          );}
        break;
      }
      case "CSV":
        cmd.format = "CSV";
        break;
      case "PARQUET":
        cmd.format = "PARQUET";
        break;
      case "QUOTE":
        cmd.quote = str(opt);
        quoteGiven = true;
        break;
      case "IGNOREHEADER":
        cmd.ignoreHeader = num(opt);
        break;
      case "DELIMITER":
        cmd.delimiter = str(opt);
        delimiterGiven = true;
        break;
      case "EMPTYASNULL":
        cmd.emptyAsNull = true;
        break;
      case "FILLRECORD":
        cmd.fillRecord = true;
        break;
      case "BLANKSASNULL":
        cmd.blanksAsNull = true;
        break;
      case "NULL":
        cmd.nullAs = str(opt);
        break;
      case "ACCEPTINVCHARS":
        cmd.acceptInvChars = "?";
        if (word(peek()) === "AS" || peek()?.t === "str") cmd.acceptInvChars = str(opt);
        break;
      case "MAXERROR":
        cmd.maxError = num(opt);
        break;
      case "GZIP":
        cmd.gzip = true;
        break;
      case "DATEFORMAT": {
        const v = str(opt);
        if (!/^(auto|YYYY-MM-DD)$/i.test(v)) {
          throw new CopySyntaxError(
            `COPY: DATEFORMAT '${v}' is not supported by the test double (only 'auto' and 'YYYY-MM-DD')`,
          );
        }
        cmd.dateFormat = v;
        break;
      }
      case "TIMEFORMAT": {
        const v = str(opt);
        if (!/^(auto|YYYY-MM-DD HH:MI:SS)$/i.test(v)) {
          throw new CopySyntaxError(
            `COPY: TIMEFORMAT '${v}' is not supported by the test double (only 'auto' and 'YYYY-MM-DD HH:MI:SS')`,
          );
        }
        cmd.timeFormat = v;
        break;
      }
      case "EXPLICIT_IDS":
      case "ACCEPTANYDATE":
        break;
      case "COMPUPDATE":
      case "STATUPDATE": {
        const v = word(peek());
        if (v && ["ON", "OFF", "TRUE", "FALSE", "PRESET"].includes(v)) i++;
        break;
      }
      default:
        throw new CopySyntaxError(
          `COPY option ${opt} is not supported by the Redshift test double`,
        );
    }
  }
  if (!hasAuth) {
    throw new CopySyntaxError("COPY from S3 needs IAM_ROLE (or CREDENTIALS): none given");
  }
  if (!cmd.format) {
    throw new CopySyntaxError(
      "COPY without FORMAT AS CSV or FORMAT AS PARQUET (Redshift's pipe-delimited text default) is not supported by the test double",
    );
  }
  if (cmd.format === "PARQUET") {
    // AWS, "COPY from columnar data formats": "Only the following COPY parameters are
    // supported: ACCEPTINVCHARS, FILLRECORD, FROM, IAM_ROLE, CREDENTIALS, STATUPDATE, MANIFEST,
    // EXPLICIT_IDS"; "ACCEPTANYDATE and MAXERROR aren't supported"; "COPY from columnar data
    // formats doesn't support the REGION parameter. Even if your Amazon S3 bucket and database
    // are in the same AWS Region, you may encounter an error, such as REGION argument is not
    // supported for PARQUET based COPY."
    const bad = cmd.options.find((o) => !COLUMNAR_COPY_OPTIONS.has(o));
    if (bad) throw new CopySyntaxError(`${bad} argument is not supported for PARQUET based COPY`);
    // Columns map by position, their number must match the target's (same page): the double
    // refuses a column list, so the worker can never depend on one for a columnar COPY.
    if (cmd.columns) {
      throw new CopySyntaxError(
        "a column list is not supported by the test double for PARQUET based COPY: columnar " +
          "COPY maps the file's columns to all of the target's columns by position",
      );
    }
  }
  // AWS, "Data conversion parameters": MAXERROR's upper limit is 100,000.
  if (cmd.maxError > MAX_COPY_ERRORS) {
    throw new CopySyntaxError(
      `MAXERROR ${cmd.maxError} is above the maximum of ${MAX_COPY_ERRORS}`,
    );
  }
  if (delimiterGiven && cmd.delimiter.length !== 1) {
    throw new CopySyntaxError("COPY: DELIMITER must be a single character in the test double");
  }
  if (quoteGiven && cmd.quote.length !== 1) {
    throw new CopySyntaxError("COPY: QUOTE must be a single character");
  }
  return cmd;
}

// ---------------------------------------------------------------------------
// CSV

/** One CSV record: its fields, the 1-based line where it starts, and its raw text. */
export interface CsvRecord {
  fields: { v: string; quoted: boolean }[];
  line: number;
  raw: string;
}

/** Reads CSV text (RFC 4180 style: doubled quotes inside quoted fields, CRLF or LF). */
export function parseCsv(text: string, delimiter: string, quote: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = i;
    const startLine = line;
    const fields: { v: string; quoted: boolean }[] = [];
    let field = "";
    let quoted = false;
    let atFieldStart = true;
    while (i < n) {
      const c = text[i]!;
      if (atFieldStart && c === quote) {
        quoted = true;
        atFieldStart = false;
        i++;
        // quoted section
        let closed = false;
        while (i < n) {
          const d = text[i]!;
          if (d === quote) {
            if (text[i + 1] === quote) {
              field += quote;
              i += 2;
            } else {
              i++;
              closed = true;
              break;
            }
          } else {
            if (d === "\n") line++;
            field += d;
            i++;
          }
        }
        if (!closed) throw new Error(`unterminated quoted field starting at line ${startLine}`);
        continue;
      }
      atFieldStart = false;
      if (c === delimiter) {
        fields.push({ v: field, quoted });
        field = "";
        quoted = false;
        atFieldStart = true;
        i++;
      } else if (c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
        i += c === "\r" ? 2 : 1;
        line++;
        break;
      } else {
        field += c;
        i++;
      }
    }
    fields.push({ v: field, quoted });
    const raw = text.slice(start, i).replace(/\r?\n$/, "");
    if (fields.length === 1 && !fields[0]!.quoted && fields[0]!.v === "") continue; // blank line
    records.push({ fields, line: startLine, raw });
  }
  return records;
}

/** Quotes one value for PostgreSQL `COPY ... (FORMAT csv)`; null becomes an unquoted empty field. */
export function pgCsvValue(v: string | null): string {
  if (v === null) return "";
  return `"${v.replaceAll('"', '""')}"`;
}
