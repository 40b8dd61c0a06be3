/**
 * An optional second sink: publishes one month's KPI rows to a DynamoDB
 * table, idempotent per month. Every row becomes an item tagged with
 * `source_month`; a republish overwrites the month's items and then deletes
 * the month's keys the new rows no longer have. Items of other months are
 * never touched.
 *
 * Writes go through `BatchWriteItem` in chunks of at most 25 requests;
 * `UnprocessedItems` and throttling errors are retried with exponential
 * backoff. The `DynamoDBClient` is passed in (see {@link dynamoClient}), so a
 * local stand-in (dynalite) or a VPC endpoint can take its place. Nothing
 * here logs: messages name tables, keys and months, never credentials.
 *
 * @module
 */

import {
  type AttributeValue,
  BatchWriteItemCommand,
  DynamoDBClient as SdkDynamoDBClient,
  ScanCommand,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { ConfigError, messageOf, RunError } from "../_shared/errors.ts";

/**
 * The AWS SDK's `DynamoDBClient` (`@aws-sdk/client-dynamodb`), named here so
 * the signatures below document; any client the SDK builds fits.
 */
export type DynamoDBClient = SdkDynamoDBClient;

/** Where and how a month's rows are published. */
export interface DynamoPublish {
  /** DynamoDB table name. */
  table: string;
  /**
   * The table's key attributes: `[partition]` or `[partition, sort]`, e.g.
   * `["date", "category"]`. Every row must have a non-null value for each.
   */
  key: string[];
}

/** What {@link publishMonth} did. */
export interface PublishResult {
  /** Items written (one per row). */
  written: number;
  /** Items of the month deleted because the rows no longer have their key. */
  deleted: number;
  /** Requests re-sent after `UnprocessedItems` or throttling. */
  retries: number;
}

/** Options of {@link publishMonth}. */
export interface PublishOptions {
  /** Attempts per batch in all, including the first. Default 8. */
  maxAttempts?: number;
  /** Delay before the second attempt, in ms; doubles each time. Default 50. */
  baseDelayMs?: number;
  /** Sleeps; replaceable in tests. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A value of one column of a KPI row: a string is stored as S, a number as N,
 * a boolean as BOOL, a Date as its ISO string (S); null leaves the attribute out.
 */
export type Cell = string | number | boolean | null | Date;

/** Attribute every published item carries: the month it came from. */
const MONTH_ATTRIBUTE = "source_month";

/**
 * Most requests one `BatchWriteItem` call may carry. Amazon DynamoDB API
 * Reference, "BatchWriteItem": "A single call to BatchWriteItem can transmit
 * up to 16MB of data over the network, consisting of up to 25 item put or
 * delete operations"; more is a ValidationException. It also refuses two
 * requests for the same key in one call.
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
 */
const MAX_BATCH = 25;

/** Error names DynamoDB uses for throttling; retried like `UnprocessedItems`. */
const THROTTLING = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
]);

/**
 * Builds the DynamoDB client for the worker. `endpoint` is the value of
 * `AWS_ENDPOINT_URL_DYNAMODB` when set (the caller reads the environment);
 * credentials come from the SDK's default chain and are never logged.
 */
export function dynamoClient(env: { region: string; endpoint?: string }): DynamoDBClient {
  const endpoint = env.endpoint?.trim();
  if (endpoint && (!/^https?:\/\//i.test(endpoint) || !URL.canParse(endpoint))) {
    throw new ConfigError([{
      field: "AWS_ENDPOINT_URL_DYNAMODB",
      source: "environment or config/.env",
      message: `${JSON.stringify(endpoint)} is not an http(s) URL`,
    }], { hint: "set it to a URL such as http://127.0.0.1:8000, or unset it to use AWS" });
  }
  return new SdkDynamoDBClient({ region: env.region, ...(endpoint ? { endpoint } : {}) });
}

/**
 * Publishes `rows` as the items of `month` (`YYYY-MM`) in `spec.table`:
 * writes every row (overwriting items with the same key), then deletes the
 * items tagged with `month` whose key is not among the rows. Running it again
 * with the same rows changes nothing. An item of another month with the same
 * key as a row is overwritten and becomes this month's: include the month in
 * the key when months share keys.
 *
 * Throws a {@link RunError} when a row lacks a key attribute, two rows share
 * a key, a batch stays unprocessed after `maxAttempts`, or DynamoDB refuses
 * a request.
 */
export async function publishMonth(
  client: DynamoDBClient,
  spec: DynamoPublish,
  month: string,
  rows: Array<Record<string, Cell>>,
  options: PublishOptions = {},
): Promise<PublishResult> {
  checkSpec(spec, month);
  const items: Record<string, AttributeValue>[] = [];
  const written = new Set<string>();
  const firstRow = new Map<string, number>();
  rows.forEach((row, index) => {
    const item = toItem(row, index, spec, month);
    const id = keyId(item, spec.key);
    const earlier = firstRow.get(id);
    if (earlier !== undefined) {
      throw new RunError(
        "load",
        `Cannot publish ${month} to DynamoDB table ${spec.table}: rows ${earlier} and ${index} have the same key ${
          describeKey(item, spec.key)
        }`,
        { hint: `make (${spec.key.join(", ")}) unique per row; one item is kept per key` },
      );
    }
    firstRow.set(id, index);
    written.add(id);
    items.push(item);
  });

  const state = { retries: 0 };
  const writer = new BatchWriter(client, spec.table, options, state);
  await writer.writeAll(items.map((Item) => ({ PutRequest: { Item } })));

  // Keys of the month that the new rows no longer have. Scan (not Query)
  // because items carry source_month as a plain attribute: finding them by
  // month without a GSI means reading the whole table, which is fine for a
  // small KPI table and needs no index to be created and paid for. Deleting
  // after writing means readers never see the month empty.
  const stale: Record<string, AttributeValue>[] = [];
  for await (const key of monthKeys(client, spec, month)) {
    if (!written.has(keyId(key, spec.key))) stale.push(key);
  }
  await writer.writeAll(stale.map((Key) => ({ DeleteRequest: { Key } })));

  return { written: items.length, deleted: stale.length, retries: state.retries };
}

/** Refuses a spec or month the publish cannot work with. */
function checkSpec(spec: DynamoPublish, month: string): void {
  if (spec.key.length < 1 || spec.key.length > 2 || new Set(spec.key).size !== spec.key.length) {
    throw new RunError(
      "load",
      `Cannot publish to DynamoDB table ${spec.table}: key ${
        JSON.stringify(spec.key)
      } must be one or two distinct attribute names`,
      { hint: "list the table's partition key and, if it has one, its sort key" },
    );
  }
  if (spec.key.includes(MONTH_ATTRIBUTE)) {
    throw new RunError(
      "load",
      `Cannot publish to DynamoDB table ${spec.table}: ${MONTH_ATTRIBUTE} cannot be a key attribute`,
      {
        hint: `${MONTH_ATTRIBUTE} is set by the publisher; key the table on the rows' own columns`,
      },
    );
  }
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) {
    throw new RunError(
      "load",
      `Cannot publish to DynamoDB table ${spec.table}: month ${
        JSON.stringify(month)
      } is not YYYY-MM`,
      { hint: "pass the month as e.g. 2021-02" },
    );
  }
}

/** Converts one row to an item, checking its key attributes. */
function toItem(
  row: Record<string, Cell>,
  index: number,
  spec: DynamoPublish,
  month: string,
): Record<string, AttributeValue> {
  const where = `Cannot publish ${month} to DynamoDB table ${spec.table}: row ${index}`;
  for (const name of spec.key) {
    const value = row[name];
    if (value === undefined || value === null) {
      throw new RunError(
        "load",
        `${where} has no value for key attribute "${name}"`,
        { hint: `every row needs non-null ${spec.key.map((k) => `"${k}"`).join(" and ")}` },
      );
    }
    if (typeof value === "boolean" || value === "") {
      throw new RunError(
        "load",
        `${where} has ${
          value === "" ? "an empty string" : "a boolean"
        } for key attribute "${name}", which DynamoDB does not accept as a key`,
        { hint: "key attributes must be non-empty strings, numbers or dates" },
      );
    }
  }
  const item: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(row)) {
    if (name === MONTH_ATTRIBUTE) {
      if (value === month || value === null) continue;
      throw new RunError(
        "load",
        `${where} has ${MONTH_ATTRIBUTE} ${JSON.stringify(value)}, not ${month}`,
        { hint: `drop the ${MONTH_ATTRIBUTE} column; the publisher sets it` },
      );
    }
    const attribute = toAttribute(value);
    if (attribute === "invalid") {
      throw new RunError(
        "load",
        `${where} has ${String(value)} in column "${name}", which DynamoDB cannot store`,
        { hint: "numbers must be finite and dates valid; use null for a missing value" },
      );
    }
    if (attribute) item[name] = attribute;
  }
  item[MONTH_ATTRIBUTE] = { S: month };
  return item;
}

/** One cell as an attribute: `undefined` to omit it, `"invalid"` when unrepresentable. */
function toAttribute(value: Cell | undefined): AttributeValue | undefined | "invalid" {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return { S: value };
  if (typeof value === "boolean") return { BOOL: value };
  if (typeof value === "number") return Number.isFinite(value) ? { N: String(value) } : "invalid";
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? "invalid" : { S: value.toISOString() };
  }
  return "invalid";
}

/** A comparable identity of an item's key (numbers compared by value, as DynamoDB does). */
function keyId(item: Record<string, AttributeValue>, key: string[]): string {
  return JSON.stringify(key.map((name) => {
    const v = item[name];
    if (v?.S !== undefined) return ["S", v.S];
    if (v?.N !== undefined) return ["N", String(Number(v.N))];
    if (v?.B !== undefined) return ["B", Array.from(v.B)];
    return ["?", null];
  }));
}

/** The key values for a message, e.g. `date="2021-02-01", category="a"`. */
function describeKey(item: Record<string, AttributeValue>, key: string[]): string {
  return key.map((name) => {
    const v = item[name];
    return `${name}=${v?.S !== undefined ? JSON.stringify(v.S) : v?.N ?? "?"}`;
  }).join(", ");
}

/** The keys of every item tagged with `month`, page by page. */
async function* monthKeys(
  client: DynamoDBClient,
  spec: DynamoPublish,
  month: string,
): AsyncGenerator<Record<string, AttributeValue>> {
  const names: Record<string, string> = { "#m": MONTH_ATTRIBUTE };
  spec.key.forEach((name, i) => (names[`#k${i}`] = name));
  let start: Record<string, AttributeValue> | undefined;
  do {
    let page;
    try {
      page = await client.send(
        new ScanCommand({
          TableName: spec.table,
          FilterExpression: "#m = :m",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ":m": { S: month } },
          ProjectionExpression: spec.key.map((_, i) => `#k${i}`).join(", "),
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
    } catch (error) {
      throw requestFailed(error, spec.table, "Scan");
    }
    yield* page.Items ?? [];
    start = page.LastEvaluatedKey;
  } while (start && Object.keys(start).length > 0);
}

/** Sends write requests in chunks of {@link MAX_BATCH}, retrying what DynamoDB left. */
class BatchWriter {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  /** Writes to `table` through `client`, counting re-sends in `state`. */
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    options: PublishOptions,
    private readonly state: { retries: number },
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 8);
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  }

  /** Writes every request, chunk by chunk. */
  async writeAll(requests: WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += MAX_BATCH) {
      const chunk = requests.slice(i, i + MAX_BATCH);
      await this.writeChunk(chunk, requests.length - i - chunk.length);
    }
  }

  /** Sends one chunk until nothing is left unprocessed or attempts run out; `unsent` follow it. */
  private async writeChunk(chunk: WriteRequest[], unsent: number): Promise<void> {
    let pending = chunk;
    let throttled: unknown;
    for (let attempt = 1;; attempt++) {
      try {
        const out = await this.client.send(
          new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }),
        );
        pending = out.UnprocessedItems?.[this.table] ?? [];
        throttled = undefined;
      } catch (error) {
        if (!THROTTLING.has((error as { name?: string })?.name ?? "")) {
          throw requestFailed(error, this.table, "BatchWriteItem");
        }
        throttled = error;
      }
      if (pending.length === 0) return;
      if (attempt >= this.maxAttempts) {
        const n = pending.length;
        throw new RunError(
          "load",
          `DynamoDB table ${this.table}: ${n} item${
            n === 1 ? "" : "s"
          } stayed unprocessed after ${attempt} attempts${
            unsent > 0 ? ` (${unsent} more not sent)` : ""
          }${throttled ? `; last error: ${messageOf(throttled)}` : ""}`,
          {
            hint:
              "the table is throttling writes: raise its write capacity (or use on-demand) and publish the month again; publishing is idempotent",
            transient: true,
            ...(throttled ? { cause: throttled } : {}),
          },
        );
      }
      this.state.retries++;
      await this.sleep(this.baseDelayMs * 2 ** (attempt - 1));
    }
  }
}

/** Wraps a refused request in a RunError naming the table. */
function requestFailed(error: unknown, table: string, operation: string): RunError {
  const name = (error as { name?: string })?.name ?? "Error";
  const hint = name === "ResourceNotFoundException"
    ? `create the table ${table} or check AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB`
    : name === "ValidationException"
    ? "check that the key attributes and their types match the table's key schema"
    : "check the table, the credentials' permissions and the network; publishing is idempotent, so run it again";
  return new RunError(
    "load",
    `DynamoDB ${operation} on table ${table} failed: ${name}: ${messageOf(error)}`,
    { hint, cause: error, transient: !/Validation|ResourceNotFound|AccessDenied/.test(name) },
  );
}
