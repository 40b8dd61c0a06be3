/**
 * `deno task serve`: the long-running worker. Catches up on start, then on
 * every tick of `Deno.cron` (UTC, `SCHEDULE`, default `0 10 1 * *`: 10:00 on
 * the 1st, when last month's files are in). Serves `/healthz`, `/readyz`,
 * `/metrics` and `/runs` on `PORT`. SIGTERM/SIGINT: stop taking work, let a
 * load commit or roll back, exit 0.
 *
 * @module
 */

import { openNotifier, openSource, openWarehouse } from "../adapters.ts";
import { type Config, loadConfig } from "../config/load.ts";
import { ConfigError, messageOf } from "../_shared/errors.ts";
import { log, redact } from "../_shared/log.ts";
import { bootstrap } from "./bootstrap.ts";
import { retry } from "../_shared/retry.ts";
import { Scheduler } from "../schedule/scheduler.ts";
import { createHandler } from "../serve/http.ts";
import { parseFlags } from "./args.ts";

/** Help text of `serve`. */
export const SERVE_HELP = `Usage: deno task serve [--port N] [--no-catch-up]

Runs the worker: catch-up on start, Deno.cron on SCHEDULE (UTC), HTTP on PORT
(/healthz, /readyz, /metrics, /runs). Stops cleanly on SIGTERM or SIGINT.
`;

/** Retries of Deno.cron when a tick fails to plan (warehouse or source down). */
export const CRON_BACKOFF_MS = [60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000];

/** Options of {@link serveCommand}. */
export interface ServeOptions {
  /** Configuration; default: read from the environment. */
  config?: Config;
  /** Resolves to stop the worker (tests); signals do the same. */
  stopWhen?: Promise<unknown>;
  /** Called once listening, with the port. */
  onListen?: (port: number) => void;
}

/** Runs `serve`; resolves with the exit code after a clean shutdown. */
export async function serveCommand(args: string[], options: ServeOptions = {}): Promise<number> {
  const flags = parseFlags("serve", args, {
    port: { type: "string" },
    "no-catch-up": { type: "boolean" },
    help: { type: "boolean" },
  });
  if (flags.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  const config = options.config ?? await loadConfig();
  await bootstrap(config);
  const logger = log("serve");
  const port = flags.port !== undefined ? Number(flags.port) : config.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError([{
      field: "--port",
      source: "command line",
      message: `'${flags.port}' is not a port`,
    }]);
  }

  const source = await openSource(config);
  const warehouse = await retry(() => openWarehouse(config, { lockWaitMs: 60_000 }), {
    attempts: 5,
    baseDelayMs: 2000,
    onRetry: (e, attempt) =>
      logger.warn("warehouse not reachable (attempt {attempt}): {message}", {
        attempt,
        message: redact(messageOf(e)),
      }),
  });
  const scheduler = new Scheduler({
    pipelines: config.pipelines,
    source,
    warehouse,
    notifier: await openNotifier(config),
  });
  const handler = createHandler({
    warehouse,
    token: config.serveToken,
    pipelines: config.pipelines.map((p) => p.name),
    gauges: () => ({
      running: scheduler.busy,
      backlog: Object.fromEntries(
        config.pipelines.map((
          p,
        ) => [
          p.name,
          scheduler.lastTick?.plan?.runs.filter((r) => r.pipeline === p.name).length ?? 0,
        ]),
      ),
    }),
  });
  const stopped = Promise.withResolvers<string>();
  const server = Deno.serve({
    hostname: config.host,
    port,
    onListen: ({ port }) => {
      logger.info("listening on port {port}; schedule '{schedule}' (UTC)", {
        port,
        schedule: config.schedule,
      });
      console.log(`listening on http://${config.host}:${port}`);
      options.onListen?.(port);
    },
  }, handler);

  const tick = (trigger: string) =>
    scheduler.tick(trigger).then((r) => {
      if (!r.skipped) {
        logger.info("tick ({trigger}) done: {count} month(s) processed", {
          trigger,
          count: r.reports.length,
        });
      }
      return r;
    });
  try {
    Deno.cron("etl-catch-up", config.schedule, { backoffSchedule: CRON_BACKOFF_MS }, async () => {
      await tick("cron");
    });
  } catch (error) {
    await server.shutdown();
    await warehouse.close();
    throw new ConfigError([{
      field: "SCHEDULE",
      source: "environment or config/.env",
      message: `'${config.schedule}' is not a valid cron schedule: ${messageOf(error)}`,
    }]);
  }
  if (!flags["no-catch-up"]) {
    tick("start").catch((e) =>
      logger.error("catch-up on start failed: {message}; Deno.cron retries later", {
        message: redact(messageOf(e)),
      })
    );
  }

  const onSignal = (name: string) => () => stopped.resolve(name);
  const signals: Array<[Deno.Signal, () => void]> = [["SIGTERM", onSignal("SIGTERM")], [
    "SIGINT",
    onSignal("SIGINT"),
  ]];
  for (const [signal, fn] of signals) Deno.addSignalListener(signal, fn);
  options.stopWhen?.then(() => stopped.resolve("request"));

  const reason = await stopped.promise;
  logger.info("{reason}: stopping (current load commits or rolls back)", { reason });
  await scheduler.stop();
  await server.shutdown();
  await warehouse.close();
  for (const [signal, fn] of signals) Deno.removeSignalListener(signal, fn);
  logger.info("stopped");
  return 0;
}
