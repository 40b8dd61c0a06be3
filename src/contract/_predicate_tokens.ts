/**
 * The predicate's lexical layer: token kinds, reserved words, the functions
 * the grammar allows, and the tokenizer. Private to `predicate.ts`.
 *
 * @module
 */

import { PredicateError } from "./predicate_error.ts";

/** The type of a predicate expression, as the checker infers it. */
export type Kind = "number" | "string" | "bool" | "timestamp" | "date" | "null";

/** One lexical token of a predicate. */
export interface Token {
  /** What the token is. */
  type: "num" | "str" | "ident" | "qident" | "op" | "punct" | "end";
  /** Its text (for strings and quoted names: the value, unescaped). */
  text: string;
  /** Offset in the predicate, for messages. */
  pos: number;
}

/** Words of the grammar (never column names unless quoted). */
export const KEYWORDS = new Set([
  "AND",
  "OR",
  "NOT",
  "IS",
  "NULL",
  "IN",
  "BETWEEN",
  "LIKE",
  "ILIKE",
  "TRUE",
  "FALSE",
]);

/** SQL statement words: refused anywhere in a predicate. */
export const STATEMENT_WORDS = new Set([
  "SELECT",
  "FROM",
  "WHERE",
  "INSERT",
  "UPDATE",
  "DELETE",
  "DROP",
  "CREATE",
  "ALTER",
  "TRUNCATE",
  "GRANT",
  "REVOKE",
  "UNION",
  "EXEC",
  "EXECUTE",
  "COPY",
  "UNLOAD",
  "WITH",
  "INTO",
  "CALL",
  "SET",
]);

/** The functions the grammar allows: argument counts and result types. */
export const FUNCTIONS: Record<
  string,
  { args: [number, number]; result: (args: Kind[]) => Kind | string }
> = {
  LOWER: { args: [1, 1], result: (a) => (a[0] === "string" ? "string" : "LOWER needs a string") },
  UPPER: { args: [1, 1], result: (a) => (a[0] === "string" ? "string" : "UPPER needs a string") },
  LENGTH: { args: [1, 1], result: (a) => (a[0] === "string" ? "number" : "LENGTH needs a string") },
  ABS: { args: [1, 1], result: (a) => (a[0] === "number" ? "number" : "ABS needs a number") },
  COALESCE: {
    args: [2, 8],
    result: (a) => {
      const kinds = new Set(a.filter((k) => k !== "null"));
      return kinds.size === 1 ? [...kinds][0]! : "COALESCE needs arguments of one type";
    },
  },
};

/**
 * Splits a predicate into tokens.
 *
 * @throws {PredicateError} naming the position of a character the grammar does not know
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new PredicateError(`${what} at position ${i + 1}`);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === ";") {
      fail("';' is not allowed (a predicate is one boolean expression, not a statement)");
    }
    if (text.startsWith("--", i) || text.startsWith("/*", i)) fail("comments are not allowed");
    const start = i;
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(text[i + 1] ?? ""))) {
      const m = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(text.slice(i))!;
      i += m[0].length;
      if (/[A-Za-z_]/.test(text[i] ?? "")) fail(`malformed number '${text.slice(start, i + 1)}'`);
      tokens.push({ type: "num", text: m[0], pos: start });
    } else if (c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= text.length) {
          i = start;
          fail("unterminated string");
        }
        if (text[i] === "\\") {
          // Redshift reads a backslash in a literal as an escape, the others do not.
          fail("backslashes are not allowed in predicate strings (the engines disagree on them)");
        }
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
      tokens.push({ type: "str", text: value, pos: start });
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) fail("unterminated quoted identifier");
      tokens.push({ type: "qident", text: text.slice(i + 1, end), pos: start });
      i = end + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      i += m[0].length;
      tokens.push({ type: "ident", text: m[0], pos: start });
    } else {
      const two = text.slice(i, i + 2);
      if (["<>", "!=", "<=", ">="].includes(two)) {
        tokens.push({ type: "op", text: two, pos: start });
        i += 2;
      } else if ("=<>+-*".includes(c)) {
        tokens.push({ type: "op", text: c, pos: start });
        i++;
      } else if ("(),".includes(c)) {
        tokens.push({ type: "punct", text: c, pos: start });
        i++;
      } else {
        fail(`unexpected character '${c}'`);
      }
    }
  }
  tokens.push({ type: "end", text: "", pos: text.length });
  return tokens;
}
