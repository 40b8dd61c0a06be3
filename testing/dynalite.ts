/**
 * dynalite (DynamoDB on an in-memory store, `npm:dynalite`) on a free
 * loopback port, with a client and a helper that creates ACTIVE tables.
 * Used by the DynamoDB tests; it runs inside Deno (see NOTES.md).
 *
 * @module
 */

import dynalite from "dynalite";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";

interface Server {
  listen(port: number, host: string, cb: () => void): void;
  once(event: string, cb: (e: unknown) => void): void;
  address(): unknown;
  close(cb: () => void): void;
  closeAllConnections?: () => void;
}

/** A running dynalite. */
export interface LocalDynamo {
  /** `http://127.0.0.1:PORT` (for AWS_ENDPOINT_URL_DYNAMODB). */
  endpoint: string;
  /** A client with dummy credentials. */
  client: DynamoDBClient;
  /** Creates a table keyed by `key` (partition, optional sort; string attributes) and waits until ACTIVE. */
  createTable(name: string, key: string[]): Promise<void>;
  /** Every item of a table, as plain values. */
  scan(name: string): Promise<Array<Record<string, unknown>>>;
  /** Stops the server and the client. */
  stop(): Promise<void>;
}

/** Starts dynalite on a free port. */
export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  return {
    endpoint,
    client,
    async createTable(name, key) {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: key.map((k) => ({ AttributeName: k, AttributeType: "S" })),
          KeySchema: key.map((k, i) => ({ AttributeName: k, KeyType: i === 0 ? "HASH" : "RANGE" })),
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
      // createTableMs: 0 still answers CREATING; it turns ACTIVE on the next timer tick.
      for (let i = 0;; i++) {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
        if (Table?.TableStatus === "ACTIVE") return;
        if (i > 200) throw new Error(`table ${name} stuck in ${Table?.TableStatus}`);
      }
    },
    async scan(name) {
      const out: Array<Record<string, unknown>> = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new ScanCommand(
            { TableName: name, ...(start ? { ExclusiveStartKey: start } : {}) } as never,
          ),
        );
        for (const item of page.Items ?? []) {
          out.push(Object.fromEntries(
            Object.entries(item).map(([k, v]) => [
              k,
              v.S ?? (v.N !== undefined ? Number(v.N) : v.BOOL ?? null),
            ]),
          ));
        }
        start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
      } while (start);
      return out;
    },
    async stop() {
      client.destroy();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      await closed;
    },
  };
}
