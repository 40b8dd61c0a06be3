/**
 * Free-mail domains (gmail.com, outlook.com, ...): an address there is a
 * private person's, not a company's, so the insights rank them apart from
 * companies. The list is declared in `free_mail_domains.json`, read like the
 * pipelines file: validated once, every problem reported together with the
 * file it came from.
 *
 * Where it is read: `free_mail_domains.json` beside the pipelines file
 * (`PIPELINES_FILE`, default `config/`), else the list shipped in the
 * repository's `config/free_mail_domains.json`.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { Config } from "../config/types.ts";
import { ConfigError, type ConfigProblem } from "../_shared/errors.ts";

/** Name of the file, beside the pipelines file. */
export const FREE_MAIL_FILE = "free_mail_domains.json";

/** The list shipped with the repository, used when none sits beside the pipelines file. */
export const SHIPPED_FREE_MAIL_FILE: string = fileURLToPath(
  new URL(`../../config/${FREE_MAIL_FILE}`, import.meta.url),
);

/** A lower-case domain name: labels of letters, digits and inner hyphens, at least one dot. */
export const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

const FileSchema = z.strictObject({
  /** Free text for the reader of the file. */
  $comment: z.string().optional(),
  /** The domains, lower case. */
  domains: z.array(
    z.string().regex(DOMAIN, "must be a lower-case domain name such as gmail.com"),
  ),
});

/**
 * The places {@link loadFreeMailDomains} looks, in order: beside the
 * pipelines file, then the shipped list.
 */
export function freeMailPaths(config: Pick<Config, "pipelinesFile">): string[] {
  const beside = join(dirname(config.pipelinesFile), FREE_MAIL_FILE);
  return [...new Set([beside, SHIPPED_FREE_MAIL_FILE])];
}

/**
 * Reads and validates the free-mail list (see the module doc for where),
 * sorted and without duplicates.
 *
 * @throws {ConfigError} when no file is found (naming every place looked) or the file is invalid
 * @example
 * ```ts
 * const freeMail = await loadFreeMailDomains(config);
 * freeMail.includes("gmail.com"); // true
 * ```
 */
export async function loadFreeMailDomains(
  config: Pick<Config, "pipelinesFile">,
): Promise<string[]> {
  const paths = freeMailPaths(config);
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw new ConfigError([{ field: "(file)", source: path, message: String(error) }]);
    }
    return parseFreeMailDomains(text, path);
  }
  throw new ConfigError([{
    field: "(file)",
    source: paths.join(", "),
    message: `no ${FREE_MAIL_FILE} in any of these places`,
  }], { hint: `restore config/${FREE_MAIL_FILE} (git checkout config/${FREE_MAIL_FILE})` });
}

/**
 * Validates the text of a free-mail file (`{"domains": ["gmail.com", ...]}`).
 *
 * @throws {ConfigError} listing every invalid entry, each with its place in `source`
 */
export function parseFreeMailDomains(text: string, source: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([{
      field: "(file)",
      source,
      message: `not valid JSON: ${(error as Error).message}`,
    }]);
  }
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) {
    const problems: ConfigProblem[] = parsed.error.issues.map((i) => ({
      field: i.path.map((p) => typeof p === "number" ? `[${p}]` : String(p)).join(".")
        .replaceAll(".[", "[") || "(file)",
      source,
      message: i.message,
    }));
    throw new ConfigError(problems);
  }
  return [...new Set(parsed.data.domains)].sort();
}

/** Splits ranked domains into companies and free-mail providers, keeping their order. */
export function splitFreeMail<T extends { email_domain: string }>(
  rows: readonly T[],
  freeMail: readonly string[],
): { companies: T[]; freeMail: T[] } {
  const free = new Set(freeMail);
  return {
    companies: rows.filter((r) => !free.has(r.email_domain)),
    freeMail: rows.filter((r) => free.has(r.email_domain)),
  };
}
