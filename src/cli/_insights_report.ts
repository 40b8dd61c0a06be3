/**
 * What `insights` prints: the report `--format json` writes, and the same
 * answers as aligned tables or CSV (private to `insights.ts`, which
 * re-exports it).
 *
 * @module
 */

import { count } from "../notify/report.ts";
import { ROLE_INFO, type Unanswered } from "../insights/columns.ts";
import type { RowSelection } from "../insights/file.ts";
import { type Answers, QUESTION_INFO, type QuestionName } from "../insights/questions.ts";
import { formatCsv, formatTable } from "../_shared/table.ts";

/** Most rows a table shows; JSON and CSV print every row. */
export const TABLE_ROWS = 40;

/** What `--format json` prints. */
export interface InsightsReport {
  /** Pipeline name. */
  pipeline: string;
  /** `file` or `warehouse`. */
  source: "file" | "warehouse";
  /** Where the answers come from: the file's address or the warehouse's description. */
  from: string;
  /** The month asked about (`YYYY-MM`), if one. */
  month: string | null;
  /** First month included (`YYYY-MM`) with --since. */
  since: string | null;
  /** File only: which rows the answers describe. */
  rows: RowSelection | null;
  /** Seconds it took. */
  seconds: number;
  /** The answers, by question. */
  answers: Partial<Answers>;
  /**
   * Questions not asked because the pipeline has no column for a role they
   * read (map one under `"roles"` in the pipelines file), each with the roles it lacks.
   */
  unanswered: Unanswered[];
  /** Pipelines file where roles are mapped (named in the table output's advice). */
  pipelinesFile: string;
}

/** Lines saying which questions were not asked and which columns they need. */
export function renderUnanswered(
  report: Pick<InsightsReport, "unanswered" | "pipelinesFile">,
): string[] {
  if (report.unanswered.length === 0) return [];
  const width = Math.max(...report.unanswered.map((u) => u.question.length));
  const lines = [
    "",
    `Not asked: this pipeline has no column for some roles (map columns to them under "roles" in ${report.pipelinesFile}):`,
  ];
  for (const u of report.unanswered) {
    lines.push(
      `  ${u.question.padEnd(width)}  needs ${
        u.missing.map((r) => `${ROLE_INFO[r].key}: ${ROLE_INFO[r].describe}`).join("; ")
      }`,
    );
  }
  return lines;
}

/** Values as a person reads them in a table: ids and years without separators, shares in %. */
function forDisplay(name: QuestionName, rows: readonly object[]): object[] {
  return rows.map((row) => {
    const r = { ...row } as Record<string, unknown>;
    for (const key of ["year", "user_id"]) if (typeof r[key] === "number") r[key] = String(r[key]);
    if (typeof r.kept_share === "number") r.kept_share = `${(r.kept_share * 100).toFixed(2)} %`;
    if (typeof r.change_pct === "number") {
      r.change_pct = `${r.change_pct > 0 ? "+" : ""}${r.change_pct.toFixed(1)} %`;
    }
    if (name === "amount_stats" && r.stat === "count" && typeof r.value === "number") {
      r.value = Math.round(r.value);
    }
    return r;
  });
}

/** Renders a report as aligned tables, one per question. */
export function renderTables(report: InsightsReport): string {
  const scope = report.source === "file"
    ? `${report.month} from ${report.from}`
    : `${
      report.month ?? (report.since ? `since ${report.since}` : "all loaded months")
    } from ${report.from}`;
  const kept = report.answers.kept_share?.[0];
  const lines = [`${report.pipeline} ${scope} (${report.seconds.toFixed(1)} s)`];
  if (report.source === "file" && kept) {
    lines.push(
      `${count(kept.rows_read)} rows read, ${count(kept.rows_rejected)} rejected by the contract, ${
        count(kept.rows_kept)
      } kept by the predicate; answers cover ${
        report.rows === "kept"
          ? "the kept rows"
          : `the ${count(kept.rows_read - kept.rows_rejected)} valid rows`
      }`,
    );
  }
  lines.push(...renderUnanswered(report));
  for (const [name, rows] of Object.entries(report.answers) as Array<[QuestionName, object[]]>) {
    const info = QUESTION_INFO[name];
    lines.push("", info.title);
    const shown = forDisplay(name, rows.slice(0, TABLE_ROWS));
    lines.push(rows.length === 0 ? "(no rows)" : formatTable(shown, [...info.fields]));
    if (rows.length > TABLE_ROWS) {
      lines.push(
        `... ${count(rows.length - TABLE_ROWS)} more rows (--format csv or json prints them all)`,
      );
    }
  }
  return lines.join("\n");
}

/** Renders the answers as CSV: plain for one question, `# name` sections for several. */
export function renderCsv(answers: Partial<Answers>): string {
  const entries = Object.entries(answers) as Array<[QuestionName, object[]]>;
  if (entries.length === 1) {
    const [name, rows] = entries[0]!;
    return formatCsv(rows, [...QUESTION_INFO[name].fields]);
  }
  return entries.map(([name, rows]) =>
    `# ${name}\n${formatCsv(rows, [...QUESTION_INFO[name].fields])}\n`
  ).join("\n");
}
