/**
 * What machine and which versions produced a set of results, and how busy the
 * machine was (the load average) before and after.
 *
 * @module
 */

import pl from "nodejs-polars";
import { ROOT } from "./contenders.ts";

/** The machine and the software versions. */
export interface Machine {
  /** CPU model name from `/proc/cpuinfo`. */
  cpu: string;
  /** Logical cores. */
  cores: number;
  /** Total memory in GiB. */
  ramGiB: number;
  /** OS name and kernel. */
  os: string;
  /** Tool versions by name (`deno`, `node`, `python`, `polars`, `duckdb`, `pandas`, ...). */
  versions: Record<string, string>;
  /** The project commit measured (`+dirty` when the work tree had changes). */
  commit: string;
  /** Tracked files changed in the work tree since that commit (what `+dirty` means). */
  changed: string[];
}

async function text(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    return out.success ? dec.decode(out.stdout).trim() || dec.decode(out.stderr).trim() : "";
  } catch {
    return "";
  }
}

async function readOr(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/** The current 1-, 5- and 15-minute load averages. */
export async function loadAverage(): Promise<[number, number, number]> {
  const parts = (await readOr("/proc/loadavg")).split(" ").slice(0, 3).map(Number);
  return [parts[0] ?? NaN, parts[1] ?? NaN, parts[2] ?? NaN];
}

/**
 * Describes this machine. `extra` adds or overrides versions (e.g. from the peers' output);
 * `git` is the state of the code measured.
 */
export async function describeMachine(
  extra: Record<string, string>,
  git: { commit: string; changed: string[] },
): Promise<Machine> {
  const cpuinfo = await readOr("/proc/cpuinfo");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(await readOr("/proc/meminfo"))?.[1] ?? NaN);
  const osName = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(await readOr("/etc/os-release"))?.[1] ??
    Deno.build.os;
  const kernel = await text("uname", ["-r"]);
  const versions: Record<string, string> = {
    deno: Deno.version.deno,
    node: (await text("node", ["--version"])).replace(/^v/, ""),
    python: (await text("/usr/bin/python3", ["--version"])).replace(/^Python /, ""),
    polars: `nodejs-polars ${String(pl.version)}`,
    postgresql: (await text("psql", ["--version"])).replace(/^psql \(PostgreSQL\) /, ""),
    ...extra,
  };
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    ramGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    os: `${osName}, Linux ${kernel}`,
    versions,
    commit: git.commit,
    changed: git.changed,
  };
}
