/**
 * A throwaway PostgreSQL cluster for integration tests.
 *
 * The cluster lives in a fresh temp directory, listens on a random free port of
 * 127.0.0.1 (unix sockets in the temp directory), runs with fsync off, and has a
 * login role `etl` (password auth, scram-sha-256 on TCP) owning a database `etl`.
 *
 * PostgreSQL refuses to run as root: when this process is root, the temp directory
 * is chowned to the `postgres` user and every binary runs through
 * `runuser -u postgres --`. Otherwise the binaries run directly.
 *
 * @example
 * ```ts
 * const pg = await startPostgres();
 * try {
 *   // connect with pg.url
 * } finally {
 *   await pg.stop(); // shuts down and removes the temp dir
 * }
 * ```
 *
 * @module
 */

/** A running (or stopped) throwaway PostgreSQL cluster. */
export interface PgCluster {
  /** `postgres://etl:<password>@127.0.0.1:<port>/etl` */
  url: string;
  port: number;
  host: "127.0.0.1";
  user: string;
  password: string;
  database: string;
  /** The cluster's data directory (inside the temp dir). */
  dataDir: string;
  /**
   * Clean shutdown. By default it also removes the temp dir, and the cluster cannot be
   * started again. With `{ keepData: true }` the data is kept and `start()` works again.
   * Idempotent.
   */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Immediate shutdown (`pg_ctl stop -m immediate`: no checkpoint, recovery on next start). */
  kill(): Promise<void>;
  /** Starts the server again after `kill()` or `stop({ keepData: true })`: same port, same data. */
  start(): Promise<void>;
}

/** Options of {@linkcode startPostgres}. */
export interface StartPostgresOptions {
  /** Password of the `etl` role; a random one by default. */
  password?: string;
  /**
   * Where the temp dir is made. Default: `/dev/shm` when it is a writable directory
   * (tmpfs: initdb ~2x and the template copy ~10x faster than on disk), else the system's
   * temp dir.
   */
  baseDir?: string;
}

const BIN_NAMES = ["initdb", "pg_ctl", "postgres"] as const;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function hasServerBinaries(dir: string): Promise<boolean> {
  for (const name of BIN_NAMES) {
    if (!(await isFile(`${dir}/${name}`))) return false;
  }
  return true;
}

/**
 * The directory holding `initdb`, `pg_ctl` and `postgres`: `/usr/lib/postgresql/<v>/bin`
 * (newest version first), then each `PATH` entry. `undefined` when none has all three.
 */
export async function findPostgresBin(): Promise<string | undefined> {
  const candidates: string[] = [];
  try {
    const versions: { n: number; name: string }[] = [];
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (entry.isDirectory || entry.isSymlink) {
        versions.push({ n: Number.parseFloat(entry.name) || 0, name: entry.name });
      }
    }
    versions.sort((a, b) => b.n - a.n);
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v.name}/bin`);
  } catch {
    // no /usr/lib/postgresql
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir) candidates.push(dir);
  }
  for (const dir of candidates) {
    if (await hasServerBinaries(dir)) return dir;
  }
  return undefined;
}

let defaultBase: Promise<string | undefined> | undefined;
function defaultBaseDir(): Promise<string | undefined> {
  defaultBase ??= (async () => {
    try {
      const st = await Deno.stat("/dev/shm");
      if (!st.isDirectory) return undefined;
      const probe = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "pgtest-probe-" });
      await Deno.remove(probe);
      return "/dev/shm";
    } catch {
      return undefined;
    }
  })();
  return defaultBase;
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function lookupPostgresUser(): Promise<{ uid: number; gid: number }> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const parts = line.split(":");
    if (parts[0] === "postgres") return { uid: Number(parts[2]), gid: Number(parts[3]) };
  }
  throw new Error("running as root but there is no `postgres` user to run PostgreSQL as");
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a PostgreSQL binary (as `postgres` when we are root); always awaits the child. */
async function runPg(
  bin: string,
  args: string[],
  env?: Record<string, string>,
): Promise<RunResult> {
  const [cmd, cmdArgs] = isRoot() ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [
    bin,
    args,
  ];
  const out = await new Deno.Command(cmd, {
    args: cmdArgs,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C", ...env },
    cwd: "/",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function runPgOk(bin: string, args: string[], what: string, logFile?: string) {
  const r = await runPg(bin, args);
  if (r.code !== 0) {
    let log = "";
    if (logFile) {
      try {
        log = `\n--- server log ---\n${await Deno.readTextFile(logFile)}`;
      } catch {
        // no log
      }
    }
    throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout}${r.stderr}${log}`);
  }
  return r;
}

function sqlLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * initdb takes ~1 s, so it runs once per process and per bin directory into a template
 * directory; each cluster starts from a copy of it (~50 ms). Removed at process exit.
 */
const templates = new Map<string, Promise<string>>();

function templateFor(bin: string, baseDir: string | undefined): Promise<string> {
  const key = `${bin}\0${baseDir ?? ""}`;
  let t = templates.get(key);
  if (!t) {
    t = makeTemplate(bin, baseDir);
    templates.set(key, t);
    t.catch(() => templates.delete(key));
  }
  return t;
}

async function makeTemplate(bin: string, baseDir: string | undefined): Promise<string> {
  const root = await Deno.makeTempDir({ dir: baseDir, prefix: "pgtest-template-" });
  hookUnload();
  templateRoots.add(root);
  if (isRoot()) {
    const { uid, gid } = await lookupPostgresUser();
    await Deno.chown(root, uid, gid);
  }
  const dataDir = `${root}/data`;
  await runPgOk(
    `${bin}/initdb`,
    [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ],
    "initdb",
  );
  // Port and socket directory are per cluster: passed to pg_ctl with -o.
  const conf = [
    "",
    "# throwaway test cluster",
    "listen_addresses = '127.0.0.1'",
    "fsync = off",
    // Not synchronous_commit = off: kill() (immediate shutdown) would then lose commits
    // the WAL writer had not written yet. With fsync off a commit costs a write(), no flush.
    "full_page_writes = off",
    "max_connections = 200",
    "shared_buffers = 64MB",
    "timezone = 'UTC'",
    "log_timezone = 'UTC'",
    "logging_collector = off",
    "",
  ].join("\n");
  // Written by root into a postgres-owned file: appending keeps owner and mode.
  await Deno.writeTextFile(`${dataDir}/postgresql.conf`, conf, { append: true });
  return dataDir;
}

const templateRoots = new Set<string>();

/** Clusters still running when the process exits are shut down synchronously. */
const live = new Set<{ emergencyStop(): void }>();
let unloadHooked = false;
function hookUnload() {
  if (unloadHooked) return;
  unloadHooked = true;
  globalThis.addEventListener("unload", () => {
    for (const c of live) c.emergencyStop();
    for (const dir of templateRoots) {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // best effort at exit
      }
    }
  });
}

/**
 * Creates and starts a throwaway cluster (typically ~1-2 s). Throws when the server
 * binaries are missing (check {@linkcode findPostgresBin} first to skip instead).
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PgCluster> {
  const bin = await findPostgresBin();
  if (!bin) throw new Error("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found");
  const password = options.password ?? randomHex(16);
  const baseDir = options.baseDir ?? await defaultBaseDir();
  const root = await Deno.makeTempDir({ dir: baseDir, prefix: "pgtest-" });
  const dataDir = `${root}/data`;
  const sockDir = root;
  const logFile = `${root}/server.log`;
  const port = freePort();
  const pgCtl = `${bin}/pg_ctl`;

  let state: "running" | "down" | "removed" = "down";

  const removeRoot = async () => {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };

  try {
    if (isRoot()) {
      const { uid, gid } = await lookupPostgresUser();
      await Deno.chown(root, uid, gid);
    }
    const template = await templateFor(bin, baseDir);
    // cp as the cluster's owner, so the copy keeps the right owner and 0700 modes.
    await runPgOk("/bin/cp", ["-a", template, dataDir], "copying the template cluster");
  } catch (e) {
    await removeRoot();
    throw e;
  }

  const ctlStart = async () => {
    await runPgOk(
      pgCtl,
      [
        "start",
        "-D",
        dataDir,
        "-l",
        logFile,
        "-w",
        "-t",
        "30",
        "-s",
        "-o",
        `-p ${port} -k ${sockDir}`,
      ],
      "pg_ctl start",
      logFile,
    );
  };

  const ctlStop = async (mode: "fast" | "immediate") => {
    await runPgOk(
      pgCtl,
      ["stop", "-D", dataDir, "-m", mode, "-w", "-t", "30", "-s"],
      "pg_ctl stop",
    );
  };

  const handle = {
    emergencyStop() {
      if (state !== "running") return;
      try {
        const [cmd, args] = isRoot()
          ? ["runuser", ["-u", "postgres", "--", pgCtl, "stop", "-D", dataDir, "-m", "immediate"]]
          : [pgCtl, ["stop", "-D", dataDir, "-m", "immediate"]];
        new Deno.Command(cmd as string, { args: args as string[], stdout: "null", stderr: "null" })
          .outputSync();
        Deno.removeSync(root, { recursive: true });
      } catch {
        // best effort at exit
      }
      state = "removed";
    },
  };

  try {
    await ctlStart();
    state = "running";
    live.add(handle);
    hookUnload();
    // Each -c runs on its own (CREATE DATABASE cannot run inside a transaction block).
    await runPgOk(
      `${bin}/psql`,
      [
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        sockDir,
        "-p",
        String(port),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-c",
        `CREATE ROLE etl LOGIN PASSWORD ${sqlLiteral(password)}`,
        "-c",
        "CREATE DATABASE etl OWNER etl",
      ],
      "psql setup",
    );
  } catch (e) {
    if (state === "running") await ctlStop("immediate").catch(() => {});
    live.delete(handle);
    state = "removed";
    await removeRoot();
    throw e;
  }

  let queue: Promise<unknown> = Promise.resolve();
  /** Serializes start/stop/kill so concurrent calls cannot interleave. */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => {});
    return p;
  };

  const cluster: PgCluster = {
    url: `postgres://etl:${encodeURIComponent(password)}@127.0.0.1:${port}/etl`,
    port,
    host: "127.0.0.1",
    user: "etl",
    password,
    database: "etl",
    dataDir,
    stop: (opts) =>
      serial(async () => {
        if (state === "removed") return;
        if (state === "running") {
          await ctlStop("fast");
          state = "down";
        }
        if (!opts?.keepData) {
          live.delete(handle);
          await removeRoot();
          state = "removed";
        }
      }),
    kill: () =>
      serial(async () => {
        if (state !== "running") return;
        await ctlStop("immediate");
        state = "down";
      }),
    start: () =>
      serial(async () => {
        if (state === "removed") {
          throw new Error(
            "cluster was stopped and removed; use stop({ keepData: true }) to restart",
          );
        }
        if (state === "running") return;
        await ctlStart();
        state = "running";
      }),
  };
  return cluster;
}

/** Runs one SQL text on `url` over its own connection; returns the rows. */
export async function queryOnce(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}
