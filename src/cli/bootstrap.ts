/**
 * What every command does once its configuration is loaded: register the
 * secrets with the logger, configure logging, and log start-up warnings.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import { addSecrets, log, setupLogging } from "../_shared/log.ts";
import { armFaultPoints } from "../_shared/fault_points.ts";

/** Prepares logging for `config` and reports its start-up warnings once per process. */
export async function bootstrap(config: Config): Promise<void> {
  addSecrets(config.secrets);
  await setupLogging({ level: config.logLevel });
  if (config.faultPoints?.size) armFaultPoints(config.faultPoints);
  // Process-wide Polars settings, once, before any scan (config decided which).
  for (const [name, value] of Object.entries(config.polarsEnv ?? {})) Deno.env.set(name, value);
  // What this process will talk to (no secret: kinds, folders and names only).
  log("config").debug(
    "configuration: source {source}, warehouse {warehouse}, notifier {notifier}",
    {
      source: config.source.kind,
      warehouse: config.warehouse.kind,
      notifier: config.notify.kind,
      pipelines: config.pipelines.map((p) => `${p.name} -> ${p.table} (${p.key})`),
      log_level: config.logLevel,
    },
  );
  for (const warning of config.warnings ?? []) {
    if (warned.has(warning)) continue;
    warned.add(warning);
    log("config").warn("{warning}", { warning });
  }
}

const warned = new Set<string>();
