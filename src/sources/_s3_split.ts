/**
 * Split months on S3 (`{yyyy}/{mm}/events-*.csv`), the pure part: which
 * listed keys are a month's parts, and the month's {@link SourceFile}. The
 * listing itself (ListObjectsV2 from the fixed prefix, paginated) and the
 * reads are `S3Source`'s; the parts are read through `concatParts`, the
 * code path the local folder uses.
 *
 * @module
 */

import { partMatcher, splitIdentity } from "../_shared/split_month.ts";
import type { Month } from "../contract/month.ts";
import { refuseCompressedParts, type SourceFile, type SourcePart } from "./source.ts";

/** An object as ListObjectsV2 lists it. */
export interface ListedObject {
  /** Its key. */
  key: string;
  /** ETag, without quotes. */
  etag: string;
  /** Size in bytes. */
  size: number;
}

/** An object's identity in the ledger: `etag:<etag>;size:<bytes>`. */
export function objectIdentity(etag: string | undefined, size: number | undefined): string {
  return `etag:${(etag ?? "").replaceAll('"', "")};size:${size ?? 0}`;
}

/** The fixed prefix to list for a concrete split key: everything before its first `*`. */
export function listPrefix(key: string): string {
  return key.slice(0, key.indexOf("*"));
}

/**
 * The listed objects that are parts of the concrete split key `key`
 * (`2021/02/events-*.csv`: same folder, `*` any run of characters but `/`),
 * sorted by name as the local source sorts them.
 */
export function partsOfKey(
  key: string,
  objects: Iterable<ListedObject>,
  url: (key: string) => string,
): SourcePart[] {
  const dir = key.slice(0, key.lastIndexOf("/") + 1);
  const match = partMatcher(key.slice(dir.length));
  const parts: SourcePart[] = [];
  for (const o of objects) {
    if (!o.key.startsWith(dir) || !match.test(o.key.slice(dir.length))) continue;
    parts.push({
      name: o.key.slice(dir.length),
      url: url(o.key),
      identity: objectIdentity(o.etag, o.size),
      size: o.size,
    });
  }
  return parts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The listed objects grouped by the month of a split template
 * (`{yyyy}/{mm}/events-*.csv`), each group holding that month's parts.
 */
export function splitMonthsOf(
  template: string,
  objects: Iterable<ListedObject>,
): Array<{ month: Month; objects: ListedObject[] }> {
  const pattern = new RegExp(
    "^" +
      template.split(/(\{yyyy\}|\{mm\}|\*)/).map((part) =>
        part === "{yyyy}"
          ? "(?<yyyy>\\d{4})"
          : part === "{mm}"
          ? "(?<mm>0[1-9]|1[0-2])"
          : part === "*"
          ? "[^/]*"
          : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      ).join("") + "$",
  );
  const months = new Map<string, { month: Month; objects: ListedObject[] }>();
  for (const o of objects) {
    const groups = pattern.exec(o.key)?.groups;
    if (!groups) continue;
    const month = { year: Number(groups.yyyy), month: Number(groups.mm) };
    const id = `${month.year}-${month.month}`;
    if (!months.has(id)) months.set(id, { month, objects: [] });
    months.get(id)!.objects.push(o);
  }
  return [...months.values()];
}

/**
 * A split month as one {@link SourceFile}: `url` is the key with its `*`,
 * the identity lists each part's ETag and size.
 *
 * @throws {RunError} step `locate` when a part is compressed
 */
export async function splitFile(
  url: string,
  parts: readonly SourcePart[],
  cloudOptions: Record<string, string>,
): Promise<SourceFile> {
  refuseCompressedParts(url, parts);
  return {
    url,
    scanPath: url,
    cloudOptions,
    identity: await splitIdentity(parts),
    size: parts.reduce((n, p) => n + p.size, 0),
    parts,
  };
}
