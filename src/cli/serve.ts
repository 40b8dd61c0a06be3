/**
 * `deno task serve`: the long-running worker. Catches up on start, then on
 * every tick of `Deno.cron` (UTC, `SCHEDULE`, default `0 10 1 * *`: 10:00 on
 * the 1st, when last month's files are in), and daily when a pipeline has a
 * `due_by_day`. Serves `/` (status page), `/healthz`, `/readyz`, `/metrics`
 * and `/runs` on `PORT`, from the start: the warehouse is connected in the
 * background (degraded until then). On the embedded warehouse the folder is
 * held only while a month is planned or run. SIGTERM/SIGINT: stop taking
 * work, let a load commit or roll back, exit 0.
 *
 * @module
 */

import { holdWarehouse, openDynamo, openNotifier, openSource, openWarehouse } from "../adapters.ts";
import { extractAndLoad } from "./extract.ts";
import { readAllWatermarks } from "../ledger/landings.ts";
import type { SourceLag } from "../serve/metrics.ts";
import type { Warehouse } from "../sinks/warehouse.ts";
import type { Source } from "../sources/source.ts";
import type { Notifier } from "../notify/notifier.ts";
import { type Config, loadConfig } from "../config/load.ts";
import { ConfigError, messageOf } from "../_shared/errors.ts";
import { log, redact } from "../_shared/log.ts";
import { bootstrap } from "./bootstrap.ts";
import { Scheduler } from "../schedule/scheduler.ts";
import { createHandler } from "../serve/http.ts";
import { parseFlags } from "./args.ts";
import { WarehouseConnection } from "../serve/connection.ts";

/** Help text of `serve`. */
export const SERVE_HELP = `Usage: deno task serve [--port N] [--no-catch-up]

Runs the worker: catch-up on start, Deno.cron on SCHEDULE (UTC), HTTP on PORT
(/ status page, /healthz, /readyz, /metrics, /runs). Stops cleanly on SIGTERM or SIGINT.

Options:
  --port N          listen on port N instead of PORT (default 8080; 0 picks a free port)
  --no-catch-up     do not process the backlog on start (Deno.cron ticks still do)
  -h, --help        this text

The port opens at once; while the warehouse is unreachable /readyz answers
503 with the reason and the worker reconnects with backoff. On the embedded
warehouse the folder is held only while a month is planned or run, so the
other commands work from a second shell in between.
`;

/** Retries of Deno.cron when a tick fails to plan (warehouse or source down). */
export const CRON_BACKOFF_MS = [60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000];

/** When serve checks due dates (`due_by_day`) between the monthly ticks: daily, 00:05 UTC. */
export const DEADLINE_SCHEDULE = "5 0 * * *";

/** Options of {@link serveCommand}. */
export interface ServeOptions {
  /** Configuration; default: read from the environment. */
  config?: Config;
  /** Resolves to stop the worker (tests); signals do the same. */
  stopWhen?: Promise<unknown>;
  /** Called once listening, with the port. */
  onListen?: (port: number) => void;
  /** Called once the warehouse answers (the catch-up then starts). */
  onConnected?: () => void;
  /** Delays between warehouse connection attempts, in ms. Default 1, 2, 5, 10, 30 s. */
  reconnectDelaysMs?: readonly number[];
  /** Called after each failed warehouse connection attempt, with the reason. */
  onRetry?: (reason: string) => void;
  /** Clock of the scheduler (tests). Default: the system clock. */
  now?: () => Date;
}

/** The flags of `serve`, checked. */
function serveFlags(args: string[], config: Config | undefined) {
  const flags = parseFlags("serve", args, {
    port: { type: "string" },
    "no-catch-up": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  const port = flags.port !== undefined ? Number(flags.port) : config?.port;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new ConfigError([{
      field: "--port",
      source: "command line",
      message: `'${flags.port}' is not a port`,
    }]);
  }
  return { help: flags.help, port, catchUp: !flags["no-catch-up"] };
}

/** Connects the warehouse in the background, logging each failed attempt. */
function connectWarehouse(config: Config, options: ServeOptions): WarehouseConnection {
  const logger = log("serve");
  const connection = new WarehouseConnection(
    async () => {
      const w = await openWarehouse(config, { shared: true, holder: "deno task serve" });
      // Check it answers, and create the ledger and tables /metrics and /runs read.
      try {
        await holdWarehouse(w, "start-up", async () => {
          for (const p of config.pipelines) await w.prepare(p);
        });
      } catch (error) {
        await w.close().catch(() => {});
        throw error;
      }
      return w;
    },
    {
      ...(options.reconnectDelaysMs ? { delaysMs: options.reconnectDelaysMs } : {}),
      onRetry: (reason, attempt, delayMs) => {
        logger.warn(
          "warehouse not reachable (attempt {attempt}), retrying in {delay_s} s: {reason}",
          { attempt, delay_s: delayMs / 1000, reason },
        );
        options.onRetry?.(reason);
      },
    },
  );
  connection.start();
  return connection;
}

/** The HTTP server on `port`, answering while the warehouse is still connecting. */
function listen(
  config: Config,
  port: number,
  deps: { connection: WarehouseConnection; scheduler: () => Scheduler | undefined },
  onListen?: (port: number) => void,
): Deno.HttpServer {
  const handler = createHandler({
    warehouse: () => deps.connection.get(),
    token: config.serveToken,
    pipelines: config.pipelines.map((p) => p.name),
    waiting: () => deps.scheduler()?.lastTick?.plan?.waiting ?? [],
    ...(config.pipelines.some((p) => p.inputs?.some((i) => i.database))
      ? { sourceLag: () => sourceLag(deps.connection.get()) }
      : {}),
    gauges: () => {
      const scheduler = deps.scheduler();
      const plan = scheduler?.lastTick?.plan;
      return {
        running: scheduler?.busy ?? false,
        backlog: Object.fromEntries(
          config.pipelines.map((p) => [
            p.name,
            plan?.runs.filter((r) => r.pipeline === p.name).length ?? 0,
          ]),
        ),
      };
    },
  });
  return Deno.serve({
    hostname: config.host,
    port,
    onListen: ({ port }) => {
      log("serve").info("listening on port {port}; schedule '{schedule}' (UTC)", {
        port,
        schedule: config.schedule,
      });
      console.log(`listening on http://${config.host}:${port}`);
      onListen?.(port);
    },
  }, handler);
}

/** Registers the cron tick; a bad SCHEDULE is a configuration error. */
function registerCron(config: Config, tick: (trigger: string) => Promise<unknown>): void {
  try {
    Deno.cron("etl-catch-up", config.schedule, { backoffSchedule: CRON_BACKOFF_MS }, async () => {
      await tick("cron");
    });
  } catch (error) {
    throw new ConfigError([{
      field: "SCHEDULE",
      source: "environment or config/.env",
      message: `'${config.schedule}' is not a valid cron schedule: ${messageOf(error)}`,
    }]);
  }
}

/** Resolves with the reason to stop: SIGTERM, SIGINT or the test's request. */
async function untilStopped(stopWhen?: Promise<unknown>): Promise<string> {
  const stopped = Promise.withResolvers<string>();
  const signals: Array<[Deno.Signal, () => void]> = (["SIGTERM", "SIGINT"] as const).map((
    name,
  ) => [name, () => stopped.resolve(name)]);
  for (const [signal, fn] of signals) Deno.addSignalListener(signal, fn);
  stopWhen?.then(() => stopped.resolve("request"));
  try {
    return await stopped.promise;
  } finally {
    for (const [signal, fn] of signals) Deno.removeSignalListener(signal, fn);
  }
}

/** Runs `serve`; resolves with the exit code after a clean shutdown. */
export async function serveCommand(args: string[], options: ServeOptions = {}): Promise<number> {
  if (serveFlags(args, undefined).help) {
    console.log(SERVE_HELP);
    return 0;
  }
  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  const logger = log("serve");
  const flags = serveFlags(args, config);
  const source = await openSource(config);
  const notifier = await openNotifier(config);
  const connection = connectWarehouse(config, options);
  let scheduler: Scheduler | undefined;
  const tick = async (trigger: string) => {
    // A cron tick while the warehouse is down throws, so Deno.cron's backoff retries it.
    const warehouse = connection.get();
    scheduler ??= new Scheduler({
      pipelines: config.pipelines,
      source,
      warehouse,
      notifier,
      dynamo: await openDynamo(config),
      ...(options.now ? { now: options.now } : {}),
    });
    const r = await scheduler.tick(trigger);
    if (!r.skipped) {
      logger.info("tick ({trigger}) done: {count} month(s) processed", {
        trigger,
        count: r.reports.length,
      });
    }
    return r;
  };
  registerCron(config, tick);
  if (config.pipelines.some((p) => p.due_by_day)) {
    // A month's deadline passes between monthly ticks: look once a day, just after midnight UTC.
    Deno.cron("etl-deadlines", DEADLINE_SCHEDULE, async () => {
      await tick("deadline check").catch((e) =>
        logger.warn("deadline check failed: {reason}", { reason: redact(messageOf(e)) })
      );
    });
  }
  registerExtracts(config, connection, { source, notifier, logger });
  const server = listen(config, flags.port!, { connection, scheduler: () => scheduler }, (port) => {
    options.onListen?.(port);
  });
  connection.ready.then(() => {
    logger.info("warehouse connected: {warehouse}", {
      warehouse: connection.warehouse?.description,
    });
    options.onConnected?.();
    if (!flags.catchUp) return;
    tick("start").catch((e) =>
      logger.error("catch-up on start failed: {reason}; Deno.cron retries later", {
        reason: redact(messageOf(e)),
      })
    );
  });

  const reason = await untilStopped(options.stopWhen);
  logger.info("{reason}: stopping (current load commits or rolls back)", { reason });
  await scheduler?.stop();
  await server.shutdown();
  await connection.stop();
  logger.info("stopped");
  return 0;
}

/**
 * The database inputs' extract ticks: each pipeline with an
 * `extract_schedule` lands its changes and loads the month on that
 * schedule (e.g. every 10 minutes, so data is visible within the
 * schedule's period plus one load). Ticks of one pipeline never overlap.
 */
function registerExtracts(
  config: Config,
  connection: { get(): Warehouse },
  deps: { source: Source; notifier: Notifier; logger: ReturnType<typeof log> },
): void {
  for (const pipeline of config.pipelines) {
    if (!pipeline.extract_schedule || !pipeline.inputs?.some((i) => i.database)) continue;
    if (!config.sourceDatabaseUrl) {
      deps.logger.warn(
        "{pipeline}: extract_schedule is set but SOURCE_DATABASE_URL is not: no extracts",
        {
          pipeline: pipeline.name,
        },
      );
      continue;
    }
    let running = false;
    const dynamo = openDynamo(config);
    Deno.cron(`etl-extract-${pipeline.name}`, pipeline.extract_schedule, async () => {
      if (running) return;
      running = true;
      try {
        const tick = await extractAndLoad({
          source: deps.source,
          warehouse: connection.get(),
          notifier: deps.notifier,
          databaseUrl: config.sourceDatabaseUrl!,
          dynamo: await dynamo,
        }, pipeline);
        for (const line of tick.lines) deps.logger.info("{line}", { line });
      } catch (error) {
        deps.logger.error("{pipeline} extract failed: {reason}", {
          pipeline: pipeline.name,
          reason: redact(messageOf(error)),
        });
      } finally {
        running = false;
      }
    });
  }
}

/** Each database input's lag, from the landing ledger's watermarks. */
async function sourceLag(warehouse: Warehouse): Promise<SourceLag[]> {
  const st = readAllWatermarks();
  const now = Date.now();
  return (await warehouse.query(st.sql, st.params)).map((r) => ({
    pipeline: String(r.pipeline),
    input: String(r.input),
    seconds: Math.max(0, (now - new Date(String(r.watermark)).getTime()) / 1000),
  }));
}
