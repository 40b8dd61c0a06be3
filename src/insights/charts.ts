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

const SVG_NS = "http://www.w3.org/2000/svg";
const numbers = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function render(options: ChartOptions, plot: Record<string, unknown>): string {
  // A fresh document per chart: Plot appends its nodes to it.
  const dom = parseHTML("<!DOCTYPE html><html><body></body></html>");
  const marginTop = 48;
  const svg = Plot.plot({
    document: (dom as unknown as { document: Plot.PlotOptions["document"] }).document,
    width: options.width ?? 720,
    height: options.height ?? 360,
    marginTop,
    style: { fontSize: "12px", background: "white" },
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
    marginBottom: 44,
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
 * value.
 */
export function barChart<T extends object>(
  rows: readonly T[],
  label: keyof T & string,
  value: keyof T & string,
  options: BarChartOptions,
): string {
  const bars = rows.map((r) => {
    const v = r as Record<string, unknown>;
    return { label: String(v[label]), value: Number(v[value]) };
  });
  const longest = Math.max(4, ...bars.map((b) => b.label.length));
  return render(options, {
    height: options.height ?? Math.max(160, 48 + 44 + bars.length * 26),
    marginLeft: Math.min(220, 16 + longest * 7.5),
    marginRight: 64,
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
        x: "value",
        y: "label",
        text: (b: { value: number }) => numbers.format(b.value),
        textAnchor: "start",
        dx: 4,
      }),
      Plot.ruleX([0]),
    ],
  });
}

/** A histogram of amounts from {@link HistogramBin}s. */
export function histogramChart(bins: readonly HistogramBin[], options: ChartOptions): string {
  return render(options, {
    marginLeft: 64,
    marginBottom: 44,
    x: {
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
