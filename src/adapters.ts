/**
 * The one place that turns configuration into adapters: which source, which
 * warehouse, which notifier. Everything else talks to the interfaces.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { ConsoleNotifier } from "./notify/console.ts";
import type { Notifier } from "./notify/notifier.ts";
import { PgliteWarehouse } from "./sinks/pglite.ts";
import type { Warehouse } from "./sinks/warehouse.ts";
import { LocalSource } from "./sources/local.ts";
import type { Source } from "./sources/source.ts";

/** The source the configuration selects. */
export function openSource(config: Config): Source {
  switch (config.source.kind) {
    case "local":
      return new LocalSource(config.source.dataDir);
    case "s3":
      throw new Error("S3 source: not built yet");
  }
}

/** Options of {@link openWarehouse}. */
export interface OpenWarehouseOptions {
  /** How long to wait for an embedded warehouse held by another process, in ms. */
  lockWaitMs?: number;
}

/** The warehouse the configuration selects, connected. */
export async function openWarehouse(
  config: Config,
  options: OpenWarehouseOptions = {},
): Promise<Warehouse> {
  switch (config.warehouse.kind) {
    case "pglite":
      return await PgliteWarehouse.open(config.warehouse.dir, options);
    case "postgres":
    case "redshift":
      throw new Error(`${config.warehouse.kind} warehouse: not built yet`);
  }
}

/** The notifier the configuration selects. */
export function openNotifier(config: Config): Notifier {
  switch (config.notify.kind) {
    case "console":
      return new ConsoleNotifier();
    case "sns":
      throw new Error("SNS notifier: not built yet");
  }
}
