/**
 * Synthetic `shop` example: a fixed `products` reference table and, per
 * month, `orders` and their `order_items`.
 *
 * The month's tables are seeded from the month, so the same month and
 * options give byte-identical CSV. A few defects are planted on purpose so
 * the sample has something to catch: exactly {@link SHOP_ORPHAN_ITEMS} item
 * rows point at orders that do not exist (`o-999999-0001`, ...) and exactly
 * {@link SHOP_UNKNOWN_PRODUCT_ITEMS} item rows name the product
 * {@link SHOP_UNKNOWN_PRODUCT}. Everything else is valid.
 *
 * @module
 */

import { daysInMonth, type Month, monthStart } from "../contract/month.ts";
import { type Random, seeded, seedOf, weighted } from "./random.ts";
import { fixed2, type GeneratedTable, utcSeconds } from "./tables.ts";

/** The three tables of one shop month. */
export interface ShopMonth {
  /** Reference table `product_id,product_name,category,price`, the same every month. */
  products: GeneratedTable;
  /** `order_id,customer_id,order_time`, one row per order placed in the month. */
  orders: GeneratedTable;
  /** `order_id,product_id,quantity,unit_price,returned`, 1 to 4 rows per order. */
  order_items: GeneratedTable;
}

/** Options of {@link generateShop}. */
export interface ShopOptions {
  /** Orders placed in the month (default {@link SHOP_DEFAULT_ORDERS}, 2 to 9999). */
  orders?: number;
}

/** Orders per month when no count is given. */
export const SHOP_DEFAULT_ORDERS = 240;
/** Number of distinct customers (`c-0001` ...). */
export const SHOP_CUSTOMERS = 150;
/** Item rows whose `order_id` is not an order of the month (`o-999999-0001` ...). */
export const SHOP_ORPHAN_ITEMS = 3;
/** Item rows whose `product_id` is {@link SHOP_UNKNOWN_PRODUCT}. */
export const SHOP_UNKNOWN_PRODUCT_ITEMS = 2;
/** The product id of the planted unknown-product rows. */
export const SHOP_UNKNOWN_PRODUCT = "p-999";

/** Product names by category; ids follow this order, `p-001` to `p-024`. */
const CATALOGUE: ReadonlyArray<readonly [category: string, names: readonly string[]]> = [
  ["books", [
    "The Quiet Orchard",
    "Field Guide to Moths",
    "Bread, Salt and Stone",
    "Learning Deno",
    "A Year of Soups",
  ]],
  ["garden", [
    "Garden Trowel",
    "Copper Watering Can",
    "Raised Bed Kit",
    "Pruning Shears",
    "Bird Feeder",
  ]],
  ["kitchen", [
    "Cast Iron Skillet",
    "Chef's Knife 20 cm",
    "Bamboo Cutting Board",
    "Pour-Over Coffee Set",
    "Spice Rack",
  ]],
  ["toys", ["Wooden Train Set", "Plush Otter", "Marble Run", 'Kite "Falcon"', "Puzzle Cube"]],
  ["electronics", [
    "Bluetooth Speaker",
    "USB-C Charger",
    "Noise-Cancelling Headphones",
    "E-Reader",
  ]],
];

/** Price range in cents per category, all within 3.00 to 250.00. */
const PRICE_CENTS: Readonly<Record<string, readonly [number, number]>> = {
  books: [300, 4_000],
  garden: [500, 12_000],
  kitchen: [400, 15_000],
  toys: [300, 8_000],
  electronics: [1_500, 25_000],
};

/** Relative weight of each UTC hour for online orders (busy evenings). */
const ORDER_HOURS = [1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 7, 6, 6, 7, 8, 9, 10, 10, 8, 5, 3];
const ITEMS_PER_ORDER: ReadonlyArray<readonly [number, number]> = [
  [1, 35],
  [2, 30],
  [3, 20],
  [4, 15],
];
const QUANTITY: ReadonlyArray<readonly [number, number]> = [
  [1, 50],
  [2, 25],
  [3, 12],
  [4, 8],
  [5, 5],
];
const RETURN_RATE = 0.08;

interface Product {
  id: string;
  name: string;
  category: string;
  price: string;
}

/** The catalogue with its prices; seeded from a constant, never from a month. */
function catalogue(): Product[] {
  const rand = seeded(seedOf("shop:products"));
  const out: Product[] = [];
  for (const [category, names] of CATALOGUE) {
    const [low, high] = PRICE_CENTS[category]!;
    for (const name of names) {
      const cents = low + Math.floor(rand() * (high - low + 1));
      out.push({ id: productId(out.length + 1), name, category, price: fixed2(cents) });
    }
  }
  return out;
}

function productId(n: number): string {
  return `p-${String(n).padStart(3, "0")}`;
}

function pad4(n: number): string {
  return String(n).padStart(4, "0");
}

function orderCount(options: ShopOptions | undefined): number {
  const n = options?.orders ?? SHOP_DEFAULT_ORDERS;
  if (!Number.isInteger(n) || n < 2 || n > 9999) {
    throw new RangeError(
      `Cannot generate ${n} shop orders: expected a whole number from 2 to 9999`,
    );
  }
  return n;
}

/** Order times: day `floor(i * days / n)` for order `i`, so with `n >= days` every day has one. */
function orderTimes(month: Month, n: number, rand: Random): number[] {
  const days = daysInMonth(month);
  const start = monthStart(month).getTime();
  const pickHour = weighted(ORDER_HOURS.map((w, h) => [h, w] as const));
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const day = Math.floor((i * days) / n);
    const second = pickHour(rand()) * 3600 + Math.floor(rand() * 3600);
    times.push(start + day * 86_400_000 + second * 1000);
  }
  return times.sort((a, b) => a - b);
}

/**
 * Generates one month of the shop example: the fixed products, `orders`
 * orders (default 240) spread over the month, and their items with the
 * planted defects described in the module documentation. Every day of the
 * month has at least one order when `orders` is at least its number of days.
 *
 * @param month the month the orders are placed in
 * @param options `orders`: how many orders to generate (2 to 9999)
 * @throws {RangeError} when `orders` is not a whole number from 2 to 9999
 *
 * @example
 * ```ts
 * const shop = generateShop({ year: 2021, month: 1 });
 * shop.orders.rows[0]![0]; // "o-202101-0001"
 * ```
 */
export function generateShop(month: Month, options?: ShopOptions): ShopMonth {
  const n = orderCount(options);
  const products = catalogue();
  const key = `${month.year}-${month.month}`;
  const prefix = `o-${month.year}${String(month.month).padStart(2, "0")}-`;

  const orderRand = seeded(seedOf(`shop:orders:${key}`));
  const orders: string[][] = orderTimes(month, n, orderRand).map((ms, i) => {
    const customer = Math.floor(Math.pow(orderRand(), 1.7) * SHOP_CUSTOMERS) + 1;
    return [prefix + pad4(i + 1), `c-${pad4(customer)}`, utcSeconds(ms)];
  });

  const rand = seeded(seedOf(`shop:order_items:${key}`));
  const pickCount = weighted(ITEMS_PER_ORDER);
  const pickQuantity = weighted(QUANTITY);
  const randomItem = (orderId: string): string[] => {
    const product = products[Math.floor(rand() * products.length)]!;
    return itemRow(orderId, product, pickQuantity(rand()), rand() < RETURN_RATE);
  };
  const items: string[][] = [];
  for (const [orderId] of orders) {
    const shuffled = products.slice();
    const count = pickCount(rand());
    for (let k = 0; k < count; k++) {
      const j = k + Math.floor(rand() * (shuffled.length - k));
      [shuffled[k], shuffled[j]] = [shuffled[j]!, shuffled[k]!];
      items.push(itemRow(orderId!, shuffled[k]!, pickQuantity(rand()), rand() < RETURN_RATE));
    }
  }

  // Defects: unknown products on distinct valid rows, then orphan rows spliced in.
  const unknown = new Set<number>();
  while (unknown.size < SHOP_UNKNOWN_PRODUCT_ITEMS) unknown.add(Math.floor(rand() * items.length));
  for (const index of unknown) items[index]![1] = SHOP_UNKNOWN_PRODUCT;
  for (let k = 1; k <= SHOP_ORPHAN_ITEMS; k++) {
    const at = Math.floor(rand() * (items.length + 1));
    items.splice(at, 0, randomItem(`o-999999-${pad4(k)}`));
  }

  return {
    products: {
      header: ["product_id", "product_name", "category", "price"],
      rows: products.map((p) => [p.id, p.name, p.category, p.price]),
    },
    orders: { header: ["order_id", "customer_id", "order_time"], rows: orders },
    order_items: {
      header: ["order_id", "product_id", "quantity", "unit_price", "returned"],
      rows: items,
    },
  };
}

function itemRow(orderId: string, product: Product, quantity: number, returned: boolean): string[] {
  return [orderId, product.id, String(quantity), product.price, String(returned)];
}
