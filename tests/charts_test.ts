/**
 * The charts (src/insights/charts.ts) rendered to SVG, and their text labels
 * checked for overlaps. linkedom has no layout engine, so each label's box is
 * estimated from its position (x, y, dx, dy and every `transform` from the
 * root down: translate, rotate, scale), its font size (inherited; a `style`
 * beats the attribute) and `text-anchor`, with the average glyph width the
 * charts use (`GLYPH_WIDTH_EM`, 0.6 em, which errs wide) and a line box of
 * 0.8 em above the baseline and 0.2 em below it. Plot's `y="0.32em"`
 * (centred) and `y="0.71em"` (hanging) offsets are ems like any other.
 */
import assert from "node:assert/strict";
import { DOMParser } from "linkedom";
import {
  barChart,
  FONT_SIZE,
  GLYPH_WIDTH_EM,
  histogramChart,
  MAX_LABEL_CHARS,
  timeSeriesChart,
} from "../src/insights/charts.ts";
import { predicateThreshold } from "../src/insights/threshold.ts";
import type { HistogramBin } from "../src/insights/questions.ts";

/** An estimated label box, in the SVG's user units. */
interface Box {
  text: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

type Matrix = [number, number, number, number, number, number];
const IDENTITY: Matrix = [1, 0, 0, 1, 0, 0];

function multiply(m: Matrix, n: Matrix): Matrix {
  return [
    m[0] * n[0] + m[2] * n[1],
    m[1] * n[0] + m[3] * n[1],
    m[0] * n[2] + m[2] * n[3],
    m[1] * n[2] + m[3] * n[3],
    m[0] * n[4] + m[2] * n[5] + m[4],
    m[1] * n[4] + m[3] * n[5] + m[5],
  ];
}

function parseTransform(text: string | null): Matrix {
  let m = IDENTITY;
  for (const [, fn, args] of (text ?? "").matchAll(/(\w+)\s*\(([^)]*)\)/g)) {
    const a = args!.split(/[\s,]+/).filter(Boolean).map(Number);
    if (fn === "translate") m = multiply(m, [1, 0, 0, 1, a[0] ?? 0, a[1] ?? 0]);
    else if (fn === "scale") m = multiply(m, [a[0]!, 0, 0, a[1] ?? a[0]!, 0, 0]);
    else if (fn === "rotate") {
      const r = ((a[0] ?? 0) * Math.PI) / 180;
      const [cx, cy] = [a[1] ?? 0, a[2] ?? 0];
      m = multiply(m, [1, 0, 0, 1, cx, cy]);
      m = multiply(m, [Math.cos(r), Math.sin(r), -Math.sin(r), Math.cos(r), 0, 0]);
      m = multiply(m, [1, 0, 0, 1, -cx, -cy]);
    } else throw new Error(`transform ${fn}() is not modelled`);
  }
  return m;
}

type El = {
  tagName: string;
  textContent: string | null;
  parentElement: El | null;
  getAttribute(name: string): string | null;
  querySelectorAll(selector: string): Iterable<El>;
};

/** Inherited presentation value: the nearest element that sets it (its style first). */
function inherited(el: El | null, attribute: string, css: string): string | undefined {
  for (let e = el; e; e = e.parentElement) {
    const style = new RegExp(`(?:^|;)\\s*${css}\\s*:\\s*([^;]+)`).exec(
      e.getAttribute("style") ?? "",
    );
    if (style) return style[1]!.trim();
    const value = e.getAttribute(attribute);
    if (value !== null) return value;
  }
  return undefined;
}

function length(value: string | null, fontSize: number): number {
  if (!value) return 0;
  const v = value.trim();
  return v.endsWith("em") ? parseFloat(v) * fontSize : parseFloat(v.replace(/px$/, ""));
}

/** The estimated box of one line of text at (x, y) in the coordinates of matrix `m`. */
function lineBox(
  text: string,
  x: number,
  y: number,
  fontSize: number,
  anchor: string,
  m: Matrix,
): Box {
  const width = [...text].length * GLYPH_WIDTH_EM * fontSize;
  const left = anchor === "middle" ? x - width / 2 : anchor === "end" ? x - width : x;
  const corners = [
    [left, y - 0.8 * fontSize],
    [left + width, y - 0.8 * fontSize],
    [left, y + 0.2 * fontSize],
    [left + width, y + 0.2 * fontSize],
  ].map(([px, py]) => [m[0] * px! + m[2] * py! + m[4], m[1] * px! + m[3] * py! + m[5]]);
  return {
    text,
    x1: Math.min(...corners.map((c) => c[0]!)),
    y1: Math.min(...corners.map((c) => c[1]!)),
    x2: Math.max(...corners.map((c) => c[0]!)),
    y2: Math.max(...corners.map((c) => c[1]!)),
  };
}

/**
 * The estimated box of every non-empty line of every `<text>` in `svg` (see
 * the module doc). A `<tspan>` is a line of its own (Plot writes multi-line
 * tick labels such as "Jan / 2020" so): its `x` and `y` replace the
 * current position, its `dx` and `dy` add to it.
 */
function textBoxes(svg: string): Box[] {
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml") as unknown as El;
  const boxes: Box[] = [];
  for (const el of doc.querySelectorAll("text")) {
    const fontSize = length(inherited(el, "font-size", "font-size") ?? "16", 16);
    const anchor = inherited(el, "text-anchor", "text-anchor") ?? "start";
    let m = IDENTITY;
    const chain: El[] = [];
    for (let e: El | null = el; e; e = e.parentElement) chain.unshift(e);
    for (const e of chain) m = multiply(m, parseTransform(e.getAttribute("transform")));
    let x = length(el.getAttribute("x"), fontSize) + length(el.getAttribute("dx"), fontSize);
    let y = length(el.getAttribute("y"), fontSize) + length(el.getAttribute("dy"), fontSize);
    const spans = [...el.querySelectorAll("tspan")];
    if (spans.length === 0) {
      const text = (el.textContent ?? "").trim();
      if (text) boxes.push(lineBox(text, x, y, fontSize, anchor, m));
      continue;
    }
    for (const span of spans) {
      if (span.getAttribute("x") !== null) x = length(span.getAttribute("x"), fontSize);
      if (span.getAttribute("y") !== null) y = length(span.getAttribute("y"), fontSize);
      x += length(span.getAttribute("dx"), fontSize);
      y += length(span.getAttribute("dy"), fontSize);
      const text = (span.textContent ?? "").trim();
      if (text) boxes.push(lineBox(text, x, y, fontSize, anchor, m));
    }
  }
  return boxes;
}

/** Pairs of labels whose boxes overlap by more than `tolerance` pixels both ways. */
function overlaps(boxes: readonly Box[], tolerance = 0.5): string[] {
  const found: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
      const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
      if (w > tolerance && h > tolerance) {
        found.push(`'${a.text}' and '${b.text}' overlap by ${w.toFixed(1)} x ${h.toFixed(1)} px`);
      }
    }
  }
  return found;
}

/** Boxes reaching outside the SVG's viewBox. */
function outside(svg: string, boxes: readonly Box[]): string[] {
  const [, , width, height] = /viewBox="([^"]+)"/.exec(svg)![1]!.split(/\s+/).map(Number);
  return boxes.filter((b) =>
    b.x1 < -0.5 || b.y1 < -0.5 || b.x2 > width! + 0.5 || b.y2 > height! + 0.5
  )
    .map((b) => `'${b.text}' reaches outside the ${width}x${height} chart`);
}

function assertLegible(svg: string, name: string): Box[] {
  const boxes = textBoxes(svg);
  assert.ok(boxes.length > 3, `${name}: only ${boxes.length} labels found`);
  assert.deepEqual(overlaps(boxes), [], `${name}: labels overlap`);
  assert.deepEqual(outside(svg, boxes), [], `${name}: labels cut off`);
  return boxes;
}

// Inputs shaped like the notebooks' answers, including the awkward cases: one or two bars
// (the rotated axis title used to overlap their labels), long labels, big and negative values.
const months = [{ month: "2021-01", events: 380 }, { month: "2021-02", events: 397 }];
const domains = [
  { email_domain: "acme.com", users: 29 },
  { email_domain: "stark.industries", users: 12 },
  { email_domain: "a-very-long-subsidiary-name.example-holdings.com", users: 3 },
];
const days = Array.from({ length: 28 }, (_, i) => ({
  day: `2021-02-${String(i + 1).padStart(2, "0")}`,
  events: 300 + ((i * 37) % 120) * (i % 7 >= 5 ? 0.5 : 1) * 1000,
}));
const bins: HistogramBin[] = Array.from({ length: 30 }, (_, i) => ({
  bin_start: i * 100,
  bin_end: (i + 1) * 100,
  events: Math.round(5000 / (1 + i)),
}));

const CHARTS: Record<string, () => string> = {
  "events per month (two bars)": () =>
    barChart(months, "month", "events", {
      title: "Events per month",
      xLabel: "events",
      yLabel: "month",
      sortByValue: false,
    }),
  "one bar": () =>
    barChart(months.slice(0, 1), "month", "events", {
      title: "Events per month",
      xLabel: "events",
      yLabel: "month",
    }),
  "companies with a long name": () =>
    barChart(domains, "email_domain", "users", {
      title: "Most represented companies",
      xLabel: "distinct users",
      yLabel: "e-mail domain",
    }),
  "millions and a negative change": () =>
    barChart(
      [{ month: "2021-02", change: -1_234_567 }, { month: "2021-03", change: 9_876_543 }],
      "month",
      "change",
      { title: "Change", xLabel: "change in events", yLabel: "month", sortByValue: false },
    ),
  "predicate outcome (no axis title)": () =>
    barChart(
      [
        { outcome: "kept (loaded)", rows: 397 },
        { outcome: "dropped by the predicate", rows: 9_600 },
        { outcome: "quarantined by the contract", rows: 3 },
      ],
      "outcome",
      "rows",
      { title: "Predicate: amount > 500", xLabel: "rows", yLabel: "", sortByValue: false },
    ),
  "events per day": () =>
    timeSeriesChart(days, "day", "events", {
      title: "Events per day",
      xLabel: "day (UTC)",
      yLabel: "events",
    }),
  "events per day over two years of months": () =>
    timeSeriesChart(
      Array.from({ length: 24 }, (_, i) => ({
        month: `${2020 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, "0")}`,
        events: 1000 + i * 50,
      })),
      "month",
      "events",
      { title: "Events per month", xLabel: "month", yLabel: "events" },
    ),
  "histogram with the threshold rule": () =>
    histogramChart(bins, {
      title: "Distribution of amounts",
      xLabel: "amount",
      yLabel: "events",
      rule: predicateThreshold(`"amount" > 500`, "amount"),
    }),
  "histogram with the rule beyond the bins": () =>
    histogramChart(bins.slice(0, 4), {
      title: "Distribution of amounts",
      xLabel: "amount",
      yLabel: "events",
      rule: predicateThreshold(`"amount" > 500`, "amount"),
    }),
  "histogram with the rule near the left": () =>
    histogramChart(bins, {
      title: "Distribution of amounts",
      xLabel: "amount",
      yLabel: "events",
      rule: { value: 0, label: "amount > 0" },
    }),
};

Deno.test("every chart renders with no two text labels overlapping", async (t) => {
  for (const [name, draw] of Object.entries(CHARTS)) {
    await t.step(name, () => {
      assertLegible(draw(), name);
    });
  }
});

Deno.test("the overlap check catches the rotated axis title running into short bar labels", () => {
  // What barChart drew before the fix for two months: the margin was sized for the bar labels
  // only, so the rotated "month" title (3 px from the edge) ran into "2021-01" and "2021-02".
  const before =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 720 160" style="font-size:12px"
    font-size="10" text-anchor="middle">
    <g transform="translate(-9,14.5)" text-anchor="end">
      <text transform="translate(68.5,52)" y="0.32em">2021-01</text>
      <text transform="translate(68.5,84)" y="0.32em">2021-02</text>
    </g>
    <g transform="translate(-65.5,0)"><text transform="translate(68.5,82) rotate(-90)" y="0.71em">month</text></g>
    <g transform="translate(0,-34)" font-size="15"><text transform="translate(362.25,48)" y="0.71em">Events per month</text></g>
  </svg>`;
  const boxes = textBoxes(before);
  assert.deepEqual(boxes.map((b) => b.text), ["2021-01", "2021-02", "month", "Events per month"]);
  const found = overlaps(boxes);
  assert.equal(found.length, 2, found.join("\n"));
  assert.match(found[0]!, /^'2021-01' and 'month' overlap/);
  assert.match(found[1]!, /^'2021-02' and 'month' overlap/);
  // The model itself: a 12 px "month" rotated -90 degrees is 12 px wide and 36 px tall.
  const month = boxes[2]!;
  assert.ok(Math.abs(month.x2 - month.x1 - FONT_SIZE) < 1e-9);
  assert.ok(Math.abs(month.y2 - month.y1 - 5 * GLYPH_WIDTH_EM * FONT_SIZE) < 1e-9);
  // The title's own font size (15) wins over the inherited 12.
  const title = boxes[3]!;
  assert.ok(Math.abs(title.x2 - title.x1 - 16 * GLYPH_WIDTH_EM * 15) < 1e-9);
});

Deno.test("bar labels longer than the limit are shortened with an ellipsis", () => {
  const svg = CHARTS["companies with a long name"]!();
  const labels = textBoxes(svg).map((b) => b.text);
  assert.ok(labels.includes("acme.com"));
  const cut = labels.find((l) => l.startsWith("a-very-long"))!;
  assert.equal([...cut].length, MAX_LABEL_CHARS);
  assert.ok(cut.endsWith("…"));
});

Deno.test("the histogram draws a rule at the predicate's threshold, and none without one", () => {
  const withRule = CHARTS["histogram with the threshold rule"]!();
  assert.ok(textBoxes(withRule).some((b) => b.text === "amount > 500"));
  assert.match(withRule, /stroke-dasharray="4,3"/);
  const without = histogramChart(bins, { title: "Amounts", xLabel: "amount", yLabel: "events" });
  assert.doesNotMatch(without, /stroke-dasharray/);
});

Deno.test("predicateThreshold() finds a simple comparison of the amount, and nothing else", () => {
  assert.deepEqual(predicateThreshold(`"amount" > 500`, "amount"), {
    value: 500,
    label: "amount > 500",
  });
  assert.deepEqual(predicateThreshold(`("amount" >= 1e3)`, "amount"), {
    value: 1000,
    label: "amount >= 1,000",
  });
  assert.deepEqual(predicateThreshold(`500.5 < "amount"`, "amount"), {
    value: 500.5,
    label: "amount > 500.5",
  });
  assert.equal(predicateThreshold(`"amount" > 500 AND "country" = 'FR'`, "amount"), undefined);
  assert.equal(predicateThreshold(`"fare" > 500`, "amount"), undefined);
  assert.equal(predicateThreshold(`"amount" = 500`, "amount"), undefined);
  assert.equal(predicateThreshold(`("amount" > 1) OR ("amount" < 0)`, "amount"), undefined);
});
