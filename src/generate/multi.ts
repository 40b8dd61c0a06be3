/**
 * The multi-table generators by name (`"generator": "shop"` / `"sales"`):
 * every input's rows for a month, as CSV tables keyed by input name.
 *
 * @module
 */

import type { Month } from "../contract/month.ts";
import { UsageError } from "../_shared/errors.ts";
import { generateSales } from "./sales.ts";
import { generateShop } from "./shop.ts";
import type { GeneratedTable } from "./tables.ts";

const MULTI: Record<string, (month: Month, orders?: number) => Record<string, GeneratedTable>> = {
  shop: (month, orders) => ({ ...generateShop(month, orders ? { orders } : {}) }),
  sales: (month, orders) => ({ ...generateSales(month, orders ? { orders } : {}) }),
};

/**
 * Every input of a multi-table generator for `month`; `orders` sets the
 * month's orders (default: the generator's own).
 *
 * @throws {UsageError} when `generator` is not a multi-table generator, or `orders` is out of its range
 */
export function generateInputs(
  generator: string,
  month: Month,
  orders?: number,
): Record<string, GeneratedTable> {
  const make = MULTI[generator];
  if (!make) {
    throw new UsageError(`Cannot generate a multi-table month with generator '${generator}'`, {
      hint: `use one of: ${Object.keys(MULTI).join(", ")}`,
    });
  }
  try {
    return make(month, orders);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new UsageError(`Cannot generate ${generator} with --orders ${orders}: ${error.message}`, {
      hint: "--orders sets the month's orders: 2-9999 for shop, 1-999 for sales",
    });
  }
}
