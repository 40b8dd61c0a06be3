/**
 * Charts of the insights as standalone SVG: Observable Plot rendered
 * headless on linkedom's DOM (no browser). Each function returns the SVG
 * text, which a notebook both displays and saves with {@link saveChart}.
 *
 * `linkedom` is pinned to 0.18.12: 0.18.15 does not install here.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";
import { join } from "node:path";
import type { HistogramBin } from "./questions.ts";

/** Options shared by the charts. */
export interface ChartOptions {
  /** Title drawn above the plot. */
  title: string;
  /** Title of the horizontal axis. */
  xLabel: string;
  /** Title of the vertical axis. */
  yLabel: string;
  /** Width in pixels. Default 720. */
  width?: number;
  /** Height in pixels. Default 360 (bar charts: grows with the number of bars). */
  height?: number;
}

/** A vertical marker on the histogram, e.g. the predicate's threshold. */
export interface ChartRule {
  /** Where, on the x axis. */
  value: number;
  /** Drawn beside the rule, e.g. `amount > 500`. */
  label: string;
}

/** Options of {@link histogramChart}. */
export interface HistogramOptions extends ChartOptions {
  /** A rule to draw (see `predicateThreshold`). Default none. */
  rule?: ChartRule | undefined;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const numbers = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** Font size of the labels, in pixels (the charts' `style`). */
export const FONT_SIZE = 12;

/**
 * Average advance of one character, in ems. There is no layout engine
 * headless, so widths are estimated: 0.6 em is a little above the average of
 * Latin letters and digits in the usual sans-serif faces (DejaVu Sans
 * digits are 0.64 em, lower-case letters ~0.55 em), so estimates err wide.
 * The charts size their margins with it and `tests/charts_test.ts` checks
 * that no two labels overlap with the same model.
 */
export const GLYPH_WIDTH_EM = 0.6;

/** Estimated width in pixels of `text` at `fontSize` (see {@link GLYPH_WIDTH_EM}). */
export function textWidth(text: string, fontSize: number = FONT_SIZE): number {
  return [...text].length * GLYPH_WIDTH_EM * fontSize;
}

/** Longest bar label shown; longer ones are cut with an ellipsis. */
export const MAX_LABEL_CHARS = 32;

function shorten(label: string): string {
  const chars = [...label];
  return chars.length <= MAX_LABEL_CHARS
    ? label
    : `${chars.slice(0, MAX_LABEL_CHARS - 1).join("")}…`;
}

function render(options: ChartOptions, plot: Record<string, unknown>): string {
  // A fresh document per chart: Plot appends its nodes to it.
  const dom = parseHTML("<!DOCTYPE html><html><body></body></html>");
  const marginTop = 48;
  const svg = Plot.plot({
    document: (dom as unknown as { document: Plot.PlotOptions["document"] }).document,
    width: options.width ?? 720,
    height: options.height ?? 360,
    marginTop,
    style: { fontSize: `${FONT_SIZE}px`, background: "white" },
    ...plot,
    marks: [
      ...(plot.marks as Plot.Markish[]),
      Plot.text([options.title], {
        frameAnchor: "top",
        dy: -marginTop + 14,
        fontSize: 15,
        fontWeight: "bold",
      }),
    ],
  }) as unknown as { outerHTML: string; setAttribute(k: string, v: string): void };
  svg.setAttribute("xmlns", SVG_NS);
  return svg.outerHTML;
}

/**
 * A time series: one point per day (`YYYY-MM-DD`) or month (`YYYY-MM`),
 * joined by a line, on a UTC time axis.
 */
export function timeSeriesChart<T extends object>(
  rows: readonly T[],
  x: keyof T & string,
  y: keyof T & string,
  options: ChartOptions,
): string {
  const points = rows.map((r) => {
    const v = r as Record<string, unknown>;
    return {
      t: new Date(`${String(v[x])}${String(v[x]).length === 7 ? "-01" : ""}T00:00:00Z`),
      v: Number(v[y]),
    };
  });
  return render(options, {
    x: { type: "utc", label: options.xLabel, labelAnchor: "center", labelArrow: "none" },
    y: {
      label: options.yLabel,
      grid: true,
      zero: true,
      tickFormat: (d: number) => numbers.format(d),
      labelArrow: "none",
    },
    marginLeft: 64,
    // Ticks can take two lines ("Jan" over "2021"): room for them and the axis title.
    marginBottom: 56,
    marks: [
      Plot.ruleY([0]),
      Plot.lineY(points, { x: "t", y: "v", stroke: "steelblue", strokeWidth: 2 }),
      Plot.dot(points, { x: "t", y: "v", fill: "steelblue", r: 3 }),
    ],
  });
}

/** Options of {@link barChart}. */
export interface BarChartOptions extends ChartOptions {
  /** Order bars by value, largest first (true, the default) or keep the rows' order. */
  sortByValue?: boolean;
}

/**
 * Horizontal bars for a top-N table, largest first, each labelled with its
 * value (a negative value is written right of the zero line, so it never
 * runs into the bar labels). Labels longer than {@link MAX_LABEL_CHARS} are
 * shortened.
 */
export function barChart<T extends object>(
  rows: readonly T[],
  label: keyof T & string,
  value: keyof T & string,
  options: BarChartOptions,
): string {
  const bars = rows.map((r) => {
    const v = r as Record<string, unknown>;
    return { label: shorten(String(v[label])), value: Number(v[value]) };
  });
  const widest = Math.max(0, ...bars.map((b) => textWidth(b.label)));
  const widestValue = Math.max(0, ...bars.map((b) => textWidth(numbers.format(b.value))));
  // Plot draws the bar labels 9 px left of the frame and the rotated axis title from 3 px to
  // ~1 em + 3 px: the margin leaves both, and a gap, room (the title overlapped short labels).
  const titleRoom = options.yLabel ? FONT_SIZE + 10 : 0;
  return render(options, {
    height: options.height ?? Math.max(160, 48 + 44 + bars.length * 26),
    marginLeft: Math.ceil(16 + widest + titleRoom),
    marginRight: Math.ceil(Math.max(24, widestValue + 12)),
    marginBottom: 44,
    x: {
      label: options.xLabel,
      grid: true,
      tickFormat: (d: number) => numbers.format(d),
      labelAnchor: "center",
      labelArrow: "none",
    },
    y: {
      // Ids and months are labels here, even when they look like numbers.
      type: "band",
      label: options.yLabel,
      labelArrow: "none",
      ...(options.sortByValue === false ? { domain: bars.map((b) => b.label) } : {}),
    },
    marks: [
      Plot.barX(bars, {
        x: "value",
        y: "label",
        fill: "steelblue",
        ...(options.sortByValue === false ? {} : { sort: { y: "-x" } }),
      }),
      Plot.text(bars, {
        x: (b: { value: number }) => Math.max(0, b.value),
        y: "label",
        text: (b: { value: number }) => numbers.format(b.value),
        textAnchor: "start",
        dx: 4,
      }),
      Plot.ruleX([0]),
    ],
  });
}

/**
 * A histogram of amounts from {@link HistogramBin}s, with an optional rule
 * (the predicate's threshold); the axis stretches to show the rule.
 */
export function histogramChart(bins: readonly HistogramBin[], options: HistogramOptions): string {
  const rule = options.rule;
  const low = Math.min(...bins.map((b) => b.bin_start), rule?.value ?? Infinity);
  const high = Math.max(...bins.map((b) => b.bin_end), rule?.value ?? -Infinity);
  const domain = Number.isFinite(low) && Number.isFinite(high) && high > low
    ? [low, rule && rule.value >= high ? high + (high - low) * 0.05 : high]
    : undefined;
  // A rule in the right quarter gets its label on its left, inside the frame.
  const labelLeft = rule && domain
    ? rule.value > domain[0]! + 0.75 * (domain[1]! - domain[0]!)
    : false;
  return render(options, {
    marginLeft: 64,
    marginBottom: 44,
    x: {
      ...(domain ? { domain } : {}),
      label: options.xLabel,
      tickFormat: (d: number) => numbers.format(d),
      labelAnchor: "center",
      labelArrow: "none",
    },
    y: {
      label: options.yLabel,
      grid: true,
      tickFormat: (d: number) => numbers.format(d),
      labelArrow: "none",
    },
    marks: [
      Plot.rectY(bins, {
        x1: "bin_start",
        x2: "bin_end",
        y: "events",
        fill: "steelblue",
        inset: 0.5,
      }),
      Plot.ruleY([0]),
      ...(rule
        ? [
          Plot.ruleX([rule.value], { stroke: "crimson", strokeWidth: 1.5, strokeDasharray: "4,3" }),
          Plot.text([rule.value], {
            x: (v: number) => v,
            frameAnchor: "top",
            lineAnchor: "top",
            dy: 4,
            dx: labelLeft ? -4 : 4,
            textAnchor: labelLeft ? "end" : "start",
            text: () => rule.label,
            fill: "crimson",
          }),
        ]
        : []),
    ],
  });
}

/**
 * Writes `svg` to `<dir>/<name>.svg` (creating `dir`) and returns the path.
 *
 * @throws {Error} when `name` is not a plain file name
 */
export async function saveChart(dir: string, name: string, svg: string): Promise<string> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`Refusing chart name '${name}'`);
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.svg`);
  await Deno.writeTextFile(path, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
  return path;
}
