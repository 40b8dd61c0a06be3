/**
 * Small pipelines and files for tests.
 *
 * @module
 */

import type { ResolvedPipeline } from "../../src/config/load.ts";
import type { Pipeline } from "../../src/contract/schema.ts";
import { compilePredicate } from "../../src/contract/predicate.ts";
import { predicateColumns } from "../../src/contract/schema.ts";

/** A two-column pipeline (`a` int, `b` string) with predicate `a > 1`. */
export function samplePipeline(overrides: Partial<Pipeline> = {}): ResolvedPipeline {
  const p: Pipeline = {
    name: "sample",
    key: "{yyyy}/{mm}/sample.csv",
    table: "sample",
    predicate: "a > 1",
    columns: [
      { name: "a", type: "int", nullable: false },
      { name: "b", type: "string", nullable: true },
    ],
    derived: [],
    extra_columns: "ignore",
    delimiter: ",",
    max_rejected_share: 0.1,
    write: { mode: "replace_month", snapshot: false },
    ...overrides,
  };
  return { ...p, compiled: compilePredicate(p.predicate, predicateColumns(p)) };
}
