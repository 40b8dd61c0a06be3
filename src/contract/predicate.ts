/**
 * The row predicate: a small, safe subset of SQL that means the same thing in
 * Polars SQL, PostgreSQL and Amazon Redshift.
 *
 * The text from the configuration is parsed and type-checked against the
 * contract at start-up, then re-emitted as normalised SQL (identifiers
 * quoted, literals re-escaped). Only the re-emitted text ever reaches an
 * engine, so a predicate cannot smuggle a second statement, a subquery or a
 * function the engines disagree on.
 *
 * Grammar: comparisons (`= <> != < <= > >=`), `AND`, `OR`, `NOT`, parentheses,
 * `IS [NOT] NULL`, `[NOT] IN (...)`, `[NOT] BETWEEN a AND b`,
 * `[NOT] LIKE` / `ILIKE 'pattern'`, `+ - *`, numbers, `'strings'`,
 * `TRUE`/`FALSE`, and the functions `LOWER`, `UPPER`, `LENGTH`, `ABS`,
 * `COALESCE`. Timestamps and dates compare with ISO strings
 * (`event_time >= '2021-02-15'`).
 *
 * @module
 */

import type { ColumnType } from "./schema.ts";
import { PredicateError } from "./predicate_error.ts";
import {
  FUNCTIONS,
  KEYWORDS,
  type Kind,
  STATEMENT_WORDS,
  type Token,
  tokenize,
} from "./_predicate_tokens.ts";

export { PredicateError } from "./predicate_error.ts";

/** A predicate that passed validation. */
export interface Predicate {
  /** The text as configured. */
  source: string;
  /** Normalised SQL, safe to embed in a WHERE clause of any of the engines. */
  sql: string;
  /** Columns the predicate reads. */
  columns: string[];
}

interface Node {
  sql: string;
  kind: Kind;
  /** Literal string value, kept to compare against temporal columns. */
  literal?: string;
}

class Parser {
  private at = 0;
  readonly used = new Set<string>();

  constructor(
    private readonly tokens: Token[],
    private readonly columns: ReadonlyMap<string, { name: string; type: ColumnType }>,
  ) {}

  parse(): Node {
    const node = this.or();
    const t = this.peek();
    if (t.type !== "end") this.fail(`unexpected '${t.text}'`, t);
    return node;
  }

  private peek(): Token {
    return this.tokens[this.at]!;
  }

  private next(): Token {
    return this.tokens[this.at++]!;
  }

  private word(t: Token): string {
    return t.type === "ident" ? t.text.toUpperCase() : "";
  }

  private accept(word: string): boolean {
    const t = this.peek();
    if (this.word(t) === word || ((t.type === "op" || t.type === "punct") && t.text === word)) {
      this.at++;
      return true;
    }
    return false;
  }

  private expect(word: string): void {
    if (!this.accept(word)) {
      const t = this.peek();
      this.fail(`expected ${word} but found ${t.type === "end" ? "the end" : `'${t.text}'`}`, t);
    }
  }

  private fail(message: string, t: Token = this.peek()): never {
    throw new PredicateError(`${message} at position ${t.pos + 1}`);
  }

  private bool(node: Node, what: string, t: Token): void {
    if (node.kind !== "bool") {
      this.fail(`${what} needs a true/false condition, got a ${node.kind}`, t);
    }
  }

  private or(): Node {
    let left = this.and();
    for (;;) {
      const t = this.peek();
      if (!this.accept("OR")) return left;
      const right = this.and();
      this.bool(left, "OR", t);
      this.bool(right, "OR", t);
      left = { sql: `${left.sql} OR ${right.sql}`, kind: "bool" };
    }
  }

  private and(): Node {
    let left = this.not();
    for (;;) {
      const t = this.peek();
      if (!this.accept("AND")) return left;
      const right = this.not();
      this.bool(left, "AND", t);
      this.bool(right, "AND", t);
      left = { sql: `${left.sql} AND ${right.sql}`, kind: "bool" };
    }
  }

  private not(): Node {
    const t = this.peek();
    if (this.accept("NOT")) {
      const inner = this.not();
      this.bool(inner, "NOT", t);
      return { sql: `NOT (${inner.sql})`, kind: "bool" };
    }
    return this.comparison();
  }

  private comparable(a: Node, b: Node, t: Token): void {
    const temporal = (k: Kind) => k === "timestamp" || k === "date";
    if (a.kind === "null" || b.kind === "null") {
      this.fail("compare with NULL using IS NULL or IS NOT NULL", t);
    }
    if (a.kind === b.kind) return;
    if (temporal(a.kind) && b.kind === "string" && b.literal !== undefined) {
      return this.isoLiteral(b, t);
    }
    if (temporal(b.kind) && a.kind === "string" && a.literal !== undefined) {
      return this.isoLiteral(a, t);
    }
    this.fail(`cannot compare a ${a.kind} with a ${b.kind}`, t);
  }

  private isoLiteral(node: Node, t: Token): void {
    if (
      !/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(
        node.literal!,
      )
    ) {
      this.fail(
        `'${node.literal}' is not an ISO date or timestamp like '2021-02-15' or '2021-02-15 08:00:00'`,
        t,
      );
    }
  }

  private comparison(): Node {
    const left = this.sum();
    const t = this.peek();
    if (t.type === "op" && ["=", "<>", "!=", "<", "<=", ">", ">="].includes(t.text)) {
      this.next();
      const right = this.sum();
      this.comparable(left, right, t);
      const op = t.text === "!=" ? "<>" : t.text;
      return { sql: `${left.sql} ${op} ${right.sql}`, kind: "bool" };
    }
    if (this.accept("IS")) {
      const negated = this.accept("NOT");
      this.expect("NULL");
      return { sql: `${left.sql} IS ${negated ? "NOT " : ""}NULL`, kind: "bool" };
    }
    const negated = this.accept("NOT");
    const op = this.word(this.peek());
    if (op === "IN") {
      this.next();
      this.expect("(");
      const items: string[] = [];
      do {
        const item = this.primary();
        if (item.literal === undefined && !/^-?[0-9.]/.test(item.sql)) {
          this.fail("IN takes a list of literal values", t);
        }
        this.comparable(left, item, t);
        items.push(item.sql);
      } while (this.accept(","));
      this.expect(")");
      return { sql: `${left.sql} ${negated ? "NOT " : ""}IN (${items.join(", ")})`, kind: "bool" };
    }
    if (op === "BETWEEN") {
      this.next();
      const low = this.sum();
      this.expect("AND");
      const high = this.sum();
      this.comparable(left, low, t);
      this.comparable(left, high, t);
      return {
        sql: `${left.sql} ${negated ? "NOT " : ""}BETWEEN ${low.sql} AND ${high.sql}`,
        kind: "bool",
      };
    }
    if (op === "LIKE" || op === "ILIKE") {
      this.next();
      const pattern = this.primary();
      if (left.kind !== "string" || pattern.literal === undefined) {
        this.fail(`${op} needs a string column and a quoted pattern`, t);
      }
      return { sql: `${left.sql} ${negated ? "NOT " : ""}${op} ${pattern.sql}`, kind: "bool" };
    }
    if (negated) this.fail("NOT must be followed by IN, BETWEEN, LIKE or ILIKE here", t);
    return left;
  }

  private sum(): Node {
    let left = this.product();
    for (;;) {
      const t = this.peek();
      if (t.type !== "op" || (t.text !== "+" && t.text !== "-")) return left;
      this.next();
      const right = this.product();
      if (left.kind !== "number" || right.kind !== "number") {
        this.fail(`'${t.text}' needs numbers`, t);
      }
      left = { sql: `${left.sql} ${t.text} ${right.sql}`, kind: "number" };
    }
  }

  private product(): Node {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.type !== "op" || t.text !== "*") return left;
      this.next();
      const right = this.unary();
      if (left.kind !== "number" || right.kind !== "number") this.fail("'*' needs numbers", t);
      left = { sql: `${left.sql} * ${right.sql}`, kind: "number" };
    }
  }

  private unary(): Node {
    const t = this.peek();
    if (t.type === "op" && t.text === "-") {
      this.next();
      const inner = this.unary();
      if (inner.kind !== "number") this.fail("'-' needs a number", t);
      return { sql: `-${inner.sql}`, kind: "number" };
    }
    return this.primary();
  }

  private primary(): Node {
    const t = this.next();
    switch (t.type) {
      case "num":
        return { sql: t.text, kind: "number" };
      case "str":
        return { sql: `'${t.text.replaceAll("'", "''")}'`, kind: "string", literal: t.text };
      case "qident":
        return this.column(t.text, t, true);
      case "punct":
        if (t.text === "(") {
          if (STATEMENT_WORDS.has(this.word(this.peek()))) {
            this.fail("subqueries are not allowed", this.peek());
          }
          const inner = this.or();
          this.expect(")");
          return { ...inner, sql: `(${inner.sql})` };
        }
        return this.fail(`unexpected '${t.text}'`, t);
      case "ident": {
        const word = t.text.toUpperCase();
        if (word === "TRUE" || word === "FALSE") return { sql: word, kind: "bool" };
        if (word === "NULL") return { sql: "NULL", kind: "null" };
        if (STATEMENT_WORDS.has(word)) {
          this.fail(`'${t.text}' is not allowed (no statements or subqueries)`, t);
        }
        if (this.peek().type === "punct" && this.peek().text === "(") {
          const inner = this.tokens[this.at + 1];
          if (inner && STATEMENT_WORDS.has(this.word(inner))) {
            this.fail("subqueries are not allowed", inner);
          }
          return this.call(t);
        }
        if (KEYWORDS.has(word)) this.fail(`unexpected ${word}`, t);
        return this.column(t.text, t, false);
      }
      default:
        return this.fail(
          t.type === "end" ? "the predicate ends too early" : `unexpected '${t.text}'`,
          t,
        );
    }
  }

  private call(t: Token): Node {
    const name = t.text.toUpperCase();
    const fn = FUNCTIONS[name];
    if (!fn) {
      this.fail(
        `unknown function ${t.text}() (allowed: ${Object.keys(FUNCTIONS).join(", ")})`,
        t,
      );
    }
    this.expect("(");
    const args: Node[] = [];
    if (!(this.peek().type === "punct" && this.peek().text === ")")) {
      do args.push(this.or()); while (this.accept(","));
    }
    this.expect(")");
    if (args.length < fn.args[0] || args.length > fn.args[1]) {
      this.fail(
        `${name}() takes ${
          fn.args[0] === fn.args[1] ? fn.args[0] : `${fn.args[0]} to ${fn.args[1]}`
        } argument(s)`,
        t,
      );
    }
    const result = fn.result(args.map((a) => a.kind));
    if (!["number", "string", "bool", "timestamp", "date"].includes(result)) this.fail(result, t);
    return { sql: `${name}(${args.map((a) => a.sql).join(", ")})`, kind: result as Kind };
  }

  private column(name: string, t: Token, quoted: boolean): Node {
    const col = quoted ? this.columns.get(name) : this.columns.get(name.toLowerCase()) ??
      [...this.columns.values()].find((c) => c.name.toLowerCase() === name.toLowerCase());
    if (!col) {
      this.fail(
        `unknown column '${name}' (known: ${
          [...new Set([...this.columns.values()].map((c) => c.name))].join(", ")
        })`,
        t,
      );
    }
    this.used.add(col.name);
    const kind: Kind = col.type === "int" || col.type === "float" ? "number" : col.type;
    return { sql: `"${col.name}"`, kind };
  }
}

/**
 * Parses, type-checks and normalises `text` against the given columns.
 *
 * @throws {PredicateError} with the reason and the position
 *
 * @example
 * ```ts
 * const p = compilePredicate("amount > 500 AND country IN ('FR','DE')", [
 *   { name: "amount", type: "float" }, { name: "country", type: "string" },
 * ]);
 * p.sql; // "amount" > 500 AND "country" IN ('FR', 'DE')
 * ```
 */
export function compilePredicate(
  text: string,
  columns: ReadonlyArray<{ name: string; type: ColumnType }>,
): Predicate {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const parser = new Parser(tokenize(text), byName);
  const node = parser.parse();
  if (node.kind !== "bool") {
    throw new PredicateError(
      `the predicate must be a true/false condition, but it is a ${node.kind}`,
    );
  }
  return { source: text, sql: node.sql, columns: [...parser.used] };
}
