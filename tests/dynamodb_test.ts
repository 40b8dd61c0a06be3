/**
 * The DynamoDB sink against real dynalite (DynamoDB on an in-memory store),
 * started in process, through the real `@aws-sdk/client-dynamodb`.
 * dynalite never returns `UnprocessedItems` nor throttles, so those paths
 * wrap the client's `send`: the wrapper really sends part of a request to
 * dynalite and hands the rest back as unprocessed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startDynalite } from "../testing/dynalite.ts";
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { dynamoClient, publishMonth } from "../src/sinks/dynamodb.ts";
import { ConfigError, RunError } from "../src/_shared/errors.ts";

const TABLE = "kpi_daily";
const KEY = ["date", "category"];
const SPEC = { table: TABLE, key: KEY };

type Row = Record<string, string | number | boolean | null | Date>;
type Send = (command: unknown) => Promise<unknown>;

interface Local {
  client: DynamoDBClient;
  stop(): Promise<void>;
}

/** dynalite on a free port with the KPI table (date HASH, category RANGE) created and ACTIVE. */
async function startLocal(): Promise<Local> {
  const local = await startDynalite();
  try {
    await local.createTable(TABLE, ["date", "category"]);
  } catch (error) {
    await local.stop();
    throw error;
  }
  return local;
}

/** Replaces `client.send` with `fn`, which may pass commands on to the real one. */
function intercept(client: DynamoDBClient, fn: (command: unknown, real: Send) => Promise<unknown>) {
  const real = client.send.bind(client) as Send;
  (client as unknown as { send: Send }).send = (command) => fn(command, real);
}

/** A month of KPI rows: every cell type, nulls included, unique (date, category). */
function kpiRows(month: string, n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    date: `${month}-${String(1 + (i % 28)).padStart(2, "0")}`,
    category: `c${Math.floor(i / 28)}`,
    revenue: Math.round(i * 1234.567) / 100,
    orders: i * 3,
    weekend: i % 7 >= 5,
    note: i % 4 === 0 ? null : `note ${i}`,
    computed_at: new Date(Date.UTC(2021, 2, 1, 0, 0, i)),
  }));
}

/** What a row should look like read back: Dates as ISO strings, nulls absent, plus source_month. */
function expected(row: Row, month: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null) continue;
    out[k] = v instanceof Date ? v.toISOString() : v;
  }
  out.source_month = month;
  return out;
}

/** An item as plain values, failing on attribute types the sink never writes. */
function plain(item: Record<string, AttributeValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) {
    if (v.S !== undefined) out[k] = v.S;
    else if (v.N !== undefined) out[k] = Number(v.N);
    else if (v.BOOL !== undefined) out[k] = v.BOOL;
    else throw new Error(`unexpected attribute type for ${k}: ${JSON.stringify(v)}`);
  }
  return out;
}

/** Every item in the table, keyed `date|category`. */
async function scanAll(client: DynamoDBClient): Promise<Map<string, Record<string, unknown>>> {
  const items = new Map<string, Record<string, unknown>>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: TABLE, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    for (const item of page.Items ?? []) {
      const p = plain(item);
      items.set(`${p.date}|${p.category}`, p);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

function byKey(rows: Row[], month: string): Map<string, Record<string, unknown>> {
  return new Map(rows.map((r) => [`${r.date}|${r.category}`, expected(r, month)]));
}

/** Records requested delays without waiting. */
function fakeSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: (ms) => (delays.push(ms), Promise.resolve()) };
}

Deno.test("DynamoDB: 60 rows (three batches) are written with their types and source_month", async () => {
  const local = await startLocal();
  try {
    let batches = 0;
    intercept(local.client, (command, real) => {
      if (command instanceof BatchWriteItemCommand) {
        batches++;
        assert.ok(command.input.RequestItems![TABLE]!.length <= 25);
      }
      return real(command);
    });
    const rows = kpiRows("2021-02", 60);
    const result = await publishMonth(local.client, SPEC, "2021-02", rows);
    assert.deepEqual(result, { written: 60, deleted: 0, retries: 0 });
    assert.equal(batches, 3, "25 + 25 + 10 puts, no deletes to send");

    assert.deepEqual(await scanAll(local.client), byKey(rows, "2021-02"));

    const one = await local.client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { date: { S: rows[9]!.date as string }, category: { S: rows[9]!.category as string } },
        ConsistentRead: true,
      }),
    );
    assert.deepEqual(one.Item, {
      date: { S: "2021-02-10" },
      category: { S: "c0" },
      revenue: { N: "111.11" },
      orders: { N: "27" },
      weekend: { BOOL: false },
      note: { S: "note 9" },
      computed_at: { S: "2021-03-01T00:00:09.000Z" },
      source_month: { S: "2021-02" },
    });
    const nullNote = await local.client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { date: { S: "2021-02-01" }, category: { S: "c0" } },
      }),
    );
    assert.equal(nullNote.Item!.note, undefined, "null cells are omitted, not stored as NULL");
  } finally {
    await local.stop();
  }
});

Deno.test("DynamoDB: republishing a month overwrites changes, deletes dropped keys, leaves other months", async () => {
  const local = await startLocal();
  try {
    // Small Scan pages so the stale-key Scan really follows LastEvaluatedKey.
    let monthScans = 0;
    intercept(local.client, (command, real) => {
      if (command instanceof ScanCommand && command.input.FilterExpression) {
        monthScans++;
        command.input.Limit = 7;
      }
      return real(command);
    });
    const jan = kpiRows("2021-01", 12);
    const feb = kpiRows("2021-02", 60);
    await publishMonth(local.client, SPEC, "2021-01", jan);
    await publishMonth(local.client, SPEC, "2021-02", feb);
    monthScans = 0;

    const removed = feb[5]!;
    const changed: Row = { ...feb[7]!, revenue: 999.5, note: null };
    const next = feb.filter((r) => r !== removed).map((r) => (r === feb[7] ? changed : r));
    const result = await publishMonth(local.client, SPEC, "2021-02", next);
    assert.deepEqual(result, { written: 59, deleted: 1, retries: 0 });
    assert.ok(monthScans > 1, `the Scan was paginated (${monthScans} pages)`);

    const all = await scanAll(local.client);
    assert.deepEqual(all, new Map([...byKey(jan, "2021-01"), ...byKey(next, "2021-02")]));
    assert.equal(all.get(`${changed.date}|${changed.category}`)!.revenue, 999.5);
    assert.equal(all.get(`${changed.date}|${changed.category}`)!.note, undefined);
    const gone = await local.client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { date: { S: removed.date as string }, category: { S: removed.category as string } },
        ConsistentRead: true,
      }),
    );
    assert.equal(gone.Item, undefined);

    const again = await publishMonth(local.client, SPEC, "2021-02", next);
    assert.deepEqual(again, { written: 59, deleted: 0, retries: 0 }, "idempotent");
    assert.deepEqual(await scanAll(local.client), all);

    const emptied = await publishMonth(local.client, SPEC, "2021-01", []);
    assert.deepEqual(emptied, { written: 0, deleted: 12, retries: 0 });
    assert.deepEqual(await scanAll(local.client), byKey(next, "2021-02"));
  } finally {
    await local.stop();
  }
});

Deno.test("DynamoDB: UnprocessedItems are re-sent with backoff until all are written", async () => {
  const local = await startLocal();
  try {
    let tampered = false;
    intercept(local.client, async (command, real) => {
      if (!(command instanceof BatchWriteItemCommand) || tampered) return await real(command);
      tampered = true;
      const requests = command.input.RequestItems![TABLE]!;
      const half = Math.floor(requests.length / 2);
      const out = await real(
        new BatchWriteItemCommand({ RequestItems: { [TABLE]: requests.slice(0, half) } }),
      ) as BatchWriteItemCommandOutput;
      return { ...out, UnprocessedItems: { [TABLE]: requests.slice(half) } };
    });
    const { sleep, delays } = fakeSleep();
    const rows = kpiRows("2021-02", 60);
    const result = await publishMonth(local.client, SPEC, "2021-02", rows, { sleep });
    assert.equal(tampered, true);
    assert.equal(result.written, 60);
    assert.ok(result.retries >= 1);
    assert.deepEqual(delays, [50]);
    assert.deepEqual(await scanAll(local.client), byKey(rows, "2021-02"));
  } finally {
    await local.stop();
  }
});

Deno.test("DynamoDB: items that stay unprocessed end in a RunError naming the table", async () => {
  const local = await startLocal();
  try {
    // Always sends only the first half (nothing once one item is left) and returns the rest.
    intercept(local.client, async (command, real) => {
      if (!(command instanceof BatchWriteItemCommand)) return await real(command);
      const requests = command.input.RequestItems![TABLE]!;
      const half = Math.floor(requests.length / 2);
      const out = half === 0 ? {} : await real(
        new BatchWriteItemCommand({ RequestItems: { [TABLE]: requests.slice(0, half) } }),
      ) as BatchWriteItemCommandOutput;
      return { ...out, UnprocessedItems: { [TABLE]: requests.slice(half) } };
    });
    const { sleep, delays } = fakeSleep();
    const error = await publishMonth(local.client, SPEC, "2021-02", kpiRows("2021-02", 30), {
      sleep,
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof RunError, String(error));
    assert.match(error.message, new RegExp(`table ${TABLE}\\b`));
    assert.match(error.message, /1 item stayed unprocessed after 8 attempts \(5 more not sent\)/);
    assert.equal(error.transient, true);
    assert.ok(error.hint);
    assert.deepEqual(delays, [50, 100, 200, 400, 800, 1600, 3200]);
    assert.equal((await scanAll(local.client)).size, 24, "what was really sent is there");
  } finally {
    await local.stop();
  }
});

Deno.test("DynamoDB: throttling errors are retried like unprocessed items", async () => {
  const local = await startLocal();
  try {
    let throttles = 2;
    intercept(local.client, async (command, real) => {
      if (command instanceof BatchWriteItemCommand && throttles > 0) {
        throttles--;
        throw new ProvisionedThroughputExceededException({
          message: "The level of configured provisioned throughput for the table was exceeded.",
          $metadata: {},
        });
      }
      return await real(command);
    });
    const { sleep, delays } = fakeSleep();
    const rows = kpiRows("2021-02", 30);
    const result = await publishMonth(local.client, SPEC, "2021-02", rows, {
      sleep,
      baseDelayMs: 10,
    });
    assert.deepEqual(result, { written: 30, deleted: 0, retries: 2 });
    assert.deepEqual(delays, [10, 20]);
    assert.deepEqual(await scanAll(local.client), byKey(rows, "2021-02"));

    throttles = Infinity;
    const error = await publishMonth(local.client, SPEC, "2021-02", rows, {
      sleep,
      maxAttempts: 3,
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof RunError);
    assert.match(
      error.message,
      /kpi_daily: 25 items stayed unprocessed after 3 attempts \(5 more not sent\); last error: The level/,
    );
  } finally {
    await local.stop();
  }
});

Deno.test("DynamoDB: a row without a key attribute and a duplicate key are refused before writing", async () => {
  const local = await startLocal();
  try {
    const missing = kpiRows("2021-02", 10);
    delete missing[3]!.category;
    const e1 = await publishMonth(local.client, SPEC, "2021-02", missing).then(() => {}, (e) => e);
    assert.ok(e1 instanceof RunError);
    assert.match(e1.message, /row 3 has no value for key attribute "category"/);
    assert.match(e1.hint!, /"date" and "category"/);

    const nullKey = kpiRows("2021-02", 10);
    nullKey[6]!.date = null;
    const e2 = await publishMonth(local.client, SPEC, "2021-02", nullKey).then(() => {}, (e) => e);
    assert.ok(e2 instanceof RunError);
    assert.match(e2.message, /row 6 has no value for key attribute "date"/);

    const dup = kpiRows("2021-02", 10);
    dup[9] = { ...dup[2]!, revenue: 1 };
    const e3 = await publishMonth(local.client, SPEC, "2021-02", dup).then(() => {}, (e) => e);
    assert.ok(e3 instanceof RunError);
    assert.match(e3.message, /rows 2 and 9 have the same key date="2021-02-03", category="c0"/);
    assert.match(e3.message, new RegExp(TABLE));

    assert.equal((await scanAll(local.client)).size, 0, "nothing was written");
  } finally {
    await local.stop();
  }
});

Deno.test("DynamoDB: a missing table is a RunError naming it", async () => {
  const local = await startLocal();
  try {
    const error = await publishMonth(
      local.client,
      { table: "no_such_table", key: KEY },
      "2021-02",
      kpiRows("2021-02", 3),
    ).then(() => {}, (e) => e);
    assert.ok(error instanceof RunError);
    assert.match(error.message, /BatchWriteItem on table no_such_table failed: ResourceNotFound/);
    assert.match(error.hint!, /create the table no_such_table/);
  } finally {
    await local.stop();
  }
});

Deno.test("DynamoDB: a key of the wrong type is a RunError naming the table and the schema", async () => {
  const local = await startLocal();
  try {
    const rows = kpiRows("2021-02", 3).map((r, i) => ({ ...r, date: 20210201 + i }));
    const error = await publishMonth(local.client, SPEC, "2021-02", rows).then(() => {}, (e) => e);
    assert.ok(error instanceof RunError);
    assert.match(error.message, /BatchWriteItem on table kpi_daily failed: ValidationException/);
    assert.match(error.hint!, /key schema/);
    assert.equal(error.transient, false);
  } finally {
    await local.stop();
  }
});

Deno.test("publishMonth() refuses specs, months and values DynamoDB cannot take, sending nothing", async () => {
  const client = {
    send: () => Promise.reject(new Error("nothing should be sent")),
  } as unknown as DynamoDBClient;
  const row: Row = { date: "2021-02-01", category: "a", v: 1 };
  const cases: Array<[DynamoPublishCase, RegExp]> = [
    [{ key: [] }, /key \[\] must be one or two distinct attribute names/],
    [{ key: ["date", "category", "v"] }, /must be one or two/],
    [{ key: ["source_month"] }, /source_month cannot be a key attribute/],
    [{ month: "2021-13" }, /month "2021-13" is not YYYY-MM/],
    [{ row: { ...row, category: true } }, /row 0 has a boolean for key attribute "category"/],
    [{ row: { ...row, date: "" } }, /row 0 has an empty string for key attribute "date"/],
    [{ row: { ...row, v: NaN } }, /row 0 has NaN in column "v"/],
    [{ row: { ...row, v: new Date(NaN) } }, /row 0 has Invalid Date in column "v"/],
    [{ row: { ...row, source_month: "2021-01" } }, /row 0 has source_month "2021-01", not 2021-02/],
  ];
  for (const [c, message] of cases) {
    const error = await publishMonth(
      client,
      { table: TABLE, key: c.key ?? KEY },
      c.month ?? "2021-02",
      [c.row ?? row],
    ).then(() => {}, (e) => e);
    assert.ok(error instanceof RunError, `${JSON.stringify(c)}: ${error}`);
    assert.match(error.message, message);
    assert.ok(error.hint);
  }
});

interface DynamoPublishCase {
  key?: string[];
  month?: string;
  row?: Row;
}

Deno.test("dynamoClient() uses the endpoint it is given (AWS_ENDPOINT_URL_DYNAMODB)", async () => {
  const local = dynamoClient({ region: "us-east-1", endpoint: "http://127.0.0.1:8000" });
  const aws = dynamoClient({ region: "eu-west-1" });
  try {
    const endpoint = await local.config.endpoint?.();
    assert.equal(endpoint?.hostname, "127.0.0.1");
    assert.equal(endpoint?.port, 8000);
    assert.equal(await local.config.region(), "us-east-1");
    assert.equal(aws.config.endpoint, undefined);
    assert.equal(await aws.config.region(), "eu-west-1");
  } finally {
    local.destroy();
    aws.destroy();
  }
  assert.throws(
    () => dynamoClient({ region: "us-east-1", endpoint: "localhost:8000" }),
    (e) => e instanceof ConfigError && /AWS_ENDPOINT_URL_DYNAMODB/.test(e.message),
  );
});
