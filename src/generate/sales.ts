/**
 * Synthetic `sales` example, shaped like an operational sales database:
 * five fixed reference tables (`staff`, `address`, `design`, `currency`,
 * `counterparty`) and a monthly `sales_order` extract.
 *
 * Each month's extract holds the orders created in the month and, for
 * months after {@link SALES_FIRST_MONTH}, {@link SALES_UPDATES} orders of the
 * previous month that changed: same `sales_order_id` and `created_at`, a new
 * `units_sold` and a `last_updated` inside this month. The previous month's
 * orders are regenerated from its own seed, so every month stands alone yet
 * agrees with the one before. All foreign keys are valid.
 *
 * @module
 */

import {
  compareMonths,
  daysInMonth,
  type Month,
  monthStart,
  previousMonth,
} from "../contract/month.ts";
import { type Random, seeded, seedOf, weighted } from "./random.ts";
import { fixed2, type GeneratedTable, utcSeconds } from "./tables.ts";

/** The tables of one sales month. */
export interface SalesMonth {
  /** Reference `staff_id,first_name,last_name,department_name,location,email_address`. */
  staff: GeneratedTable;
  /** Reference `address_id,address_line_1,address_line_2,district,city,postal_code,country,phone`. */
  address: GeneratedTable;
  /** Reference `design_id,design_name,file_location,file_name`. */
  design: GeneratedTable;
  /** Reference `currency_id,currency_code`. */
  currency: GeneratedTable;
  /** Reference `counterparty_id,counterparty_legal_name,legal_address_id`. */
  counterparty: GeneratedTable;
  /** The month's new and updated orders, oldest `last_updated` first. */
  sales_order: GeneratedTable;
}

/** Options of {@link generateSales}. */
export interface SalesOptions {
  /** Orders created in the month (default {@link SALES_DEFAULT_ORDERS}, 1 to 999). */
  orders?: number;
}

/** New orders per month when no count is given. */
export const SALES_DEFAULT_ORDERS = 150;
/** Orders of the previous month that reappear, changed, in each later month. */
export const SALES_UPDATES = 10;
/** The first month of the example: it has no previous month to update. */
export const SALES_FIRST_MONTH: Month = { year: 2021, month: 1 };

/** Header of `sales_order`, in file order. */
export const SALES_ORDER_HEADER: readonly string[] = [
  "sales_order_id",
  "created_at",
  "last_updated",
  "design_id",
  "staff_id",
  "counterparty_id",
  "units_sold",
  "unit_price",
  "currency_id",
  "agreed_delivery_date",
  "agreed_payment_date",
  "agreed_delivery_location_id",
];

const STAFF: ReadonlyArray<readonly [string, string, string, string]> = [
  ["Amelia", "Hartley", "Sales", "Manchester"],
  ["Tom", "Okafor", "Sales", "Leeds"],
  ["Priya", "Raman", "Purchasing", "Manchester"],
  ["Lewis", "Carver", "Production", "Leeds"],
  ["Sofia", "Brennan", "Production", "Manchester"],
  ["Marcus", "Ekwueme", "Dispatch", "Leeds"],
  ["Hannah", "Doyle", "Finance", "Manchester"],
  ["Rhys", "Pennington", "Finance", "Leeds"],
  ["Grace", "Whitlock", "Facilities", "Manchester"],
  ["Daniel", "Achterberg", "Communications", "Leeds"],
  ["Chloe", "Ng", "HR", "Manchester"],
  ["Owen", "McAllister", "Sales", "Leeds"],
];

/** `address_line_1, address_line_2, district, city, postal_code, country, phone`. */
const ADDRESSES: ReadonlyArray<readonly string[]> = [
  [
    "14 Canal Street",
    "",
    "Greater Manchester",
    "Manchester",
    "M1 3HU",
    "United Kingdom",
    "0161 496 0123",
  ],
  [
    "220 Kirkstall Road",
    "Unit 4",
    "West Yorkshire",
    "Leeds",
    "LS4 2AZ",
    "United Kingdom",
    "0113 496 0456",
  ],
  ["9 Harbour View", "Suite 12", "", "Dublin", "D02 X285", "Ireland", "+353 1 555 0142"],
  [
    "1780 Larkin Avenue",
    "Floor 3",
    "Brooklyn",
    "New York",
    "11201",
    "United States",
    "+1 212 555 0187",
  ],
  ["Kastanienallee 61", "", "Prenzlauer Berg", "Berlin", "10119", "Germany", "+49 30 5550 1234"],
  ["27 Rue des Martyrs", "Batiment B", "", "Paris", "75009", "France", "+33 1 55 50 12 34"],
  ["Prinsengracht 263", "", "Centrum", "Amsterdam", "1016 GV", "Netherlands", "+31 20 555 0199"],
  ["45 George Street", "", "", "Edinburgh", "EH2 2HT", "United Kingdom", "0131 496 0789"],
  [
    "800 Market Street",
    "Suite 450",
    "SoMa",
    "San Francisco",
    "94102",
    "United States",
    "+1 415 555 0133",
  ],
  [
    "3 Quay Side",
    "",
    "Tyne and Wear",
    "Newcastle upon Tyne",
    "NE1 3DX",
    "United Kingdom",
    "0191 498 0321",
  ],
  ["Calle de Alcala 120", "Piso 2", "Salamanca", "Madrid", "28009", "Spain", "+34 91 555 0166"],
  [
    "58 Corporation Street",
    "",
    "West Midlands",
    "Birmingham",
    "B2 4RN",
    "United Kingdom",
    "0121 496 0654",
  ],
  ["Via Tortona 31", "", "Navigli", "Milan", "20144", "Italy", "+39 02 5550 1122"],
  ["12 Wharf Road", "Block C", "", "Bristol", "BS1 4RN", "United Kingdom", "0117 496 0987"],
  [
    "400 King Street West",
    "Unit 210",
    "Entertainment District",
    "Toronto",
    "M5V 1K4",
    "Canada",
    "+1 416 555 0171",
  ],
];

const DESIGNS = [
  "Wooden",
  "Steel",
  "Granite",
  "Bronze",
  "Cotton",
  "Rubber",
  "Plastic",
  "Frozen",
  "Soft",
  "Fresh",
  "Concrete",
  "Metal",
  "Bespoke",
  "Gorgeous",
  "Awesome",
  "Tasty",
  "Practical",
  "Handcrafted",
  "Recycled",
  "Sleek",
];
const DESIGN_FOLDERS = ["/usr/share", "/private", "/System", "/opt/designs", "/home/usr"];

const CURRENCIES = ["GBP", "USD", "EUR"];

/** `counterparty_legal_name, legal_address_id`. */
const COUNTERPARTIES: ReadonlyArray<readonly [string, number]> = [
  ["Hartwell Outfitters Ltd", 3],
  ["Brightwater & Co", 7],
  ["Moorland Goods", 1],
  ["Kessler Trading GmbH", 5],
  ["Atelier Lune SARL", 6],
  ["Northgate Supplies", 10],
  ["Quayside Retail", 14],
  ["Pemberton, Shaw and Lowe", 12],
  ["Riverbend Market Inc", 9],
  ["Orchard Lane Stores", 15],
];

/** Relative weight of each UTC hour for orders keyed in by the sales team. */
const OFFICE_HOURS = [0, 0, 0, 0, 0, 0, 1, 2, 6, 10, 12, 11, 8, 10, 12, 11, 9, 6, 3, 2, 1, 1, 0, 0];
/** Currency mix (ids 1 GBP, 2 USD, 3 EUR). */
const CURRENCY_MIX: ReadonlyArray<readonly [number, number]> = [[1, 5], [2, 3], [3, 2]];

const DAY_MS = 86_400_000;

/** The reference tables: constant content, never seeded from a month. */
function referenceTables(): Omit<SalesMonth, "sales_order"> {
  const rand = seeded(seedOf("sales:reference"));
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const design = DESIGNS.map((name, i) => {
    const day = Date.UTC(2020, 0, 1) + Math.floor(rand() * 366) * DAY_MS;
    const stamp = new Date(day).toISOString().slice(0, 10).replaceAll("-", "");
    let tag = "";
    for (let k = 0; k < 4; k++) tag += letters[Math.floor(rand() * letters.length)];
    const folder = DESIGN_FOLDERS[Math.floor(rand() * DESIGN_FOLDERS.length)]!;
    return [String(i + 1), name, folder, `${name.toLowerCase()}-${stamp}-${tag}.json`];
  });
  return {
    staff: {
      header: [
        "staff_id",
        "first_name",
        "last_name",
        "department_name",
        "location",
        "email_address",
      ],
      rows: STAFF.map(([first, last, department, location], i) => [
        String(i + 1),
        first,
        last,
        department,
        location,
        `${first.toLowerCase()}.${last.toLowerCase()}@terrifictotes.com`,
      ]),
    },
    address: {
      header: [
        "address_id",
        "address_line_1",
        "address_line_2",
        "district",
        "city",
        "postal_code",
        "country",
        "phone",
      ],
      rows: ADDRESSES.map((fields, i) => [String(i + 1), ...fields]),
    },
    design: { header: ["design_id", "design_name", "file_location", "file_name"], rows: design },
    currency: {
      header: ["currency_id", "currency_code"],
      rows: CURRENCIES.map((code, i) => [String(i + 1), code]),
    },
    counterparty: {
      header: ["counterparty_id", "counterparty_legal_name", "legal_address_id"],
      rows: COUNTERPARTIES.map(([name, address], i) => [String(i + 1), name, String(address)]),
    },
  };
}

/** One `sales_order` row before formatting. */
interface SalesOrder {
  id: number;
  createdAt: number;
  lastUpdated: number;
  design: number;
  staff: number;
  counterparty: number;
  units: number;
  priceCents: number;
  currency: number;
  deliveryDate: number;
  paymentDate: number;
  location: number;
}

function orderCount(options: SalesOptions | undefined): number {
  const n = options?.orders ?? SALES_DEFAULT_ORDERS;
  if (!Number.isInteger(n) || n < 1 || n > 999) {
    throw new RangeError(
      `Cannot generate ${n} sales orders: expected a whole number from 1 to 999`,
    );
  }
  return n;
}

/** A moment in `month`, at a weekday-heavy office hour. */
function officeTime(month: Month, rand: Random, pickHour: (u: number) => number): number {
  const start = monthStart(month).getTime();
  const days = daysInMonth(month);
  let day = Math.floor(rand() * days);
  const weekday = new Date(start + day * DAY_MS).getUTCDay();
  if ((weekday === 0 || weekday === 6) && rand() < 0.7) day = Math.floor(rand() * days);
  const second = pickHour(rand()) * 3600 + Math.floor(rand() * 3600);
  return start + day * DAY_MS + second * 1000;
}

function officeHours(): (u: number) => number {
  return weighted(OFFICE_HOURS.map((w, h) => [h, w] as const));
}

/** The orders created in `month` (without updates), ids in creation order. */
function newOrders(month: Month, count: number): SalesOrder[] {
  const rand = seeded(seedOf(`sales:sales_order:${month.year}-${month.month}`));
  const pickHour = officeHours();
  const pickCurrency = weighted(CURRENCY_MIX);
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(officeTime(month, rand, pickHour));
  times.sort((a, b) => a - b);
  const base = (month.year * 100 + month.month) * 1000;
  return times.map((createdAt, i) => {
    const created = Math.floor(createdAt / DAY_MS) * DAY_MS;
    return {
      id: base + i + 1,
      createdAt,
      lastUpdated: createdAt,
      design: 1 + Math.floor(rand() * DESIGNS.length),
      staff: 1 + Math.floor(rand() * STAFF.length),
      counterparty: 1 + Math.floor(rand() * COUNTERPARTIES.length),
      units: 100 + Math.floor(rand() * (50_000 - 100 + 1)),
      priceCents: 200 + Math.floor(rand() * (400 - 200 + 1)),
      currency: pickCurrency(rand()),
      deliveryDate: created + (2 + Math.floor(rand() * 59)) * DAY_MS,
      paymentDate: created + (1 + Math.floor(rand() * 60)) * DAY_MS,
      location: 1 + Math.floor(rand() * ADDRESSES.length),
    };
  });
}

/** {@link SALES_UPDATES} orders of the previous month with a new `units_sold`. */
function updatedOrders(month: Month, count: number): SalesOrder[] {
  if (compareMonths(month, SALES_FIRST_MONTH) <= 0) return [];
  const previous = newOrders(previousMonth(month), count);
  const rand = seeded(seedOf(`sales:updates:${month.year}-${month.month}`));
  const pickHour = officeHours();
  const picked = new Set<number>();
  while (picked.size < Math.min(SALES_UPDATES, previous.length)) {
    picked.add(Math.floor(rand() * previous.length));
  }
  return [...picked].sort((a, b) => a - b).map((index) => {
    const order = previous[index]!;
    let units = order.units;
    while (units === order.units) {
      const factor = 0.5 + rand();
      units = Math.min(50_000, Math.max(100, Math.round(order.units * factor)));
    }
    return { ...order, units, lastUpdated: officeTime(month, rand, pickHour) };
  });
}

function orderRow(o: SalesOrder): string[] {
  return [
    String(o.id),
    utcSeconds(o.createdAt),
    utcSeconds(o.lastUpdated),
    String(o.design),
    String(o.staff),
    String(o.counterparty),
    String(o.units),
    fixed2(o.priceCents),
    String(o.currency),
    new Date(o.deliveryDate).toISOString().slice(0, 10),
    new Date(o.paymentDate).toISOString().slice(0, 10),
    String(o.location),
  ];
}

/**
 * Generates one month of the sales example: the fixed reference tables and
 * the month's `sales_order` extract (new orders plus, after 2021-01, the
 * changed orders of the previous month), sorted by `last_updated`.
 *
 * Order ids are `(year * 100 + month) * 1000 + n`, e.g. `202101001`, so they
 * never collide across months and fit a 32-bit integer.
 *
 * @param month the month of the extract
 * @param options `orders`: how many orders are created in the month (1 to 999);
 *   the previous month is regenerated with the same count
 * @throws {RangeError} when `orders` is not a whole number from 1 to 999
 *
 * @example
 * ```ts
 * const sales = generateSales({ year: 2021, month: 2 });
 * sales.sales_order.rows.length; // 160: 150 new orders and 10 updates
 * ```
 */
export function generateSales(month: Month, options?: SalesOptions): SalesMonth {
  const count = orderCount(options);
  const orders = [...newOrders(month, count), ...updatedOrders(month, count)];
  orders.sort((a, b) => a.lastUpdated - b.lastUpdated || a.id - b.id);
  return {
    ...referenceTables(),
    sales_order: { header: [...SALES_ORDER_HEADER], rows: orders.map(orderRow) },
  };
}
