/**
 * serve under load: 200 concurrent clients on loopback scrape `/metrics`,
 * `/runs` and the status page for a fixed time while serve loads a 1M-row
 * month into PostgreSQL; the same month loaded with no scraping is the
 * baseline. Records p50/p99 latency and errors per endpoint and how much the
 * load slowed, in `bench/results/serve_load.{md,json}`, and puts the table in
 * `bench/results/latest.md` (section "serve under load").
 *
 * ```sh
 * deno run -A bench/serve_load.ts [--rows 1000000] [--clients 200] [--seconds 60] [--smoke]
 * ```
 *
 * Bounded: every client loop stops at the deadline, all traffic goes to
 * 127.0.0.1, the servers it starts are stopped before it exits.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { writeGenerated } from "../src/generate/rows.ts";
import { startPostgres } from "../testing/postgres.ts";
import { ROOT } from "./contenders.ts";

const { values: flags } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    clients: { type: "string", default: "200" },
    seconds: { type: "string", default: "60" },
    smoke: { type: "boolean", default: false },
  },
});
const ROWS = flags.smoke ? 20_000 : Number(flags.rows);
const CLIENTS = flags.smoke ? 10 : Number(flags.clients);
const SECONDS = flags.smoke ? 3 : Number(flags.seconds);
const TOKEN = "bench-serve-token-0123456789";
const ENDPOINTS = ["/metrics", "/runs?limit=50", "/"] as const;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface ServeRun {
  /** Seconds the month's run took, from the ledger (started_at -> finished_at). */
  loadSeconds: number;
  /** Per endpoint: latencies in ms and error count. */
  endpoints: Record<
    string,
    { latencies: number[]; errors: number; statuses: Record<number, number> }
  >;
}

/** Starts serve on a fresh database, optionally scrapes it, waits for the month's success. */
async function serveOnce(dataDir: string, scrape: boolean): Promise<ServeRun> {
  const pg = await startPostgres();
  const tmp = await Deno.makeTempDir({ prefix: "etl-serve-load-" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      join(ROOT, "deno.json"),
      join(ROOT, "main.ts"),
      "serve",
      "--port",
      String(port),
    ],
    cwd: tmp,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? tmp,
      NO_COLOR: "1",
      DATA_DIR: dataDir,
      DATABASE_URL: pg.url,
      PIPELINES_FILE: join(tmp, "pipelines.json"),
      SERVE_TOKEN: TOKEN,
      LOG_LEVEL: "warning",
    },
    stdout: "null",
    stderr: "null",
  });
  const pipelines = JSON.parse(await Deno.readTextFile(join(ROOT, "config/pipelines.json")));
  pipelines.pipelines = pipelines.pipelines.filter((p: { name: string }) => p.name === "events");
  await Deno.writeTextFile(join(tmp, "pipelines.json"), JSON.stringify(pipelines));
  const proc = child.spawn();
  const endpoints: ServeRun["endpoints"] = Object.fromEntries(
    ENDPOINTS.map((e) => [e, { latencies: [] as number[], errors: 0, statuses: {} }]),
  );
  const auth = { authorization: `Bearer ${TOKEN}` };
  try {
    // Ready = the port answers /healthz (bounded wait: 120 s).
    const readyBy = Date.now() + 120_000;
    for (;;) {
      const ok = await fetch(`${base}/healthz`).then((r) => r.body?.cancel().then(() => r.ok))
        .catch(() => false);
      if (ok) break;
      if (Date.now() > readyBy) throw new Error("serve did not start within 120 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const deadline = Date.now() + SECONDS * 1000;
    const clients = scrape
      ? Array.from({ length: CLIENTS }, async (_, i) => {
        const path = ENDPOINTS[i % ENDPOINTS.length]!;
        const stat = endpoints[path]!;
        while (Date.now() < deadline) {
          const t0 = performance.now();
          try {
            const r = await fetch(`${base}${path}`, { headers: auth });
            await r.arrayBuffer();
            stat.statuses[r.status] = (stat.statuses[r.status] ?? 0) + 1;
            if (r.ok) stat.latencies.push(performance.now() - t0);
            else stat.errors++;
          } catch {
            stat.errors++;
          }
        }
      })
      : [];
    // The run is done when the ledger shows a success for the month (bounded: 20 min).
    const doneBy = Date.now() + 20 * 60_000;
    let loadSeconds = NaN;
    while (Date.now() < doneBy) {
      const runs = await fetch(`${base}/runs?limit=5`, { headers: auth }).then((r) => r.json())
        .catch(() => []) as Array<{ status: string; started_at: string; finished_at: string }>;
      const ok = Array.isArray(runs) ? runs.find((r) => r.status === "succeeded") : undefined;
      if (ok) {
        loadSeconds = (Date.parse(ok.finished_at) - Date.parse(ok.started_at)) / 1000;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await Promise.all(clients);
    return { loadSeconds, endpoints };
  } finally {
    proc.kill("SIGTERM");
    await proc.status;
    await pg.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const LOADAVG = await Deno.readTextFile("/proc/loadavg").then((t) =>
  t.split(" ").slice(0, 3).join(" ")
)
  .catch(() => "?");

if (import.meta.main) {
  const dataDir = await Deno.makeTempDir({ prefix: "etl-serve-load-data-" });
  try {
    await Deno.mkdir(join(dataDir, "2021/02"), { recursive: true });
    await writeGenerated("events", { year: 2021, month: 2 }, join(dataDir, "2021/02/events.csv"), {
      rows: ROWS,
    });
    const baseline = await serveOnce(dataDir, false);
    const loaded = await serveOnce(dataDir, true);
    const slowdown = loaded.loadSeconds / baseline.loadSeconds - 1;
    const rows = ENDPOINTS.map((e) => {
      const s = loaded.endpoints[e]!;
      return {
        endpoint: e,
        requests: s.latencies.length + s.errors,
        errors: s.errors,
        p50_ms: Math.round(quantile(s.latencies, 0.5) * 10) / 10,
        p99_ms: Math.round(quantile(s.latencies, 0.99) * 10) / 10,
        statuses: s.statuses,
      };
    });
    const result = {
      at: new Date().toISOString(),
      rows: ROWS,
      clients: CLIENTS,
      seconds: SECONDS,
      baseline_load_s: baseline.loadSeconds,
      scraped_load_s: loaded.loadSeconds,
      slowdown,
      endpoints: rows,
      verdict: slowdown <= 0.1 ? "PASS" : "MISS",
    };
    const md = [
      "## serve under load",
      "",
      `\`deno run -A bench/serve_load.ts${
        flags.smoke ? " --smoke" : ""
      }\` at ${result.at}: ${CLIENTS} concurrent clients on 127.0.0.1 for ${SECONDS} s on /metrics, /runs and the status page (/) while serve loads a ${
        ROWS.toLocaleString("en-US")
      }-row month into PostgreSQL.`,
      "",
      "| endpoint | requests | errors | p50 ms | p99 ms | HTTP statuses |",
      "| --- | --- | --- | --- | --- | --- |",
      ...rows.map((r) =>
        `| ${r.endpoint} | ${r.requests} | ${r.errors} | ${r.p50_ms} | ${r.p99_ms} | ${
          Object.entries(r.statuses).map(([k, v]) => `${k}: ${v}`).join(", ")
        } |`
      ),
      "",
      `Load average before: ${LOADAVG}. Load of the month: ${
        baseline.loadSeconds.toFixed(2)
      } s unscraped, ${loaded.loadSeconds.toFixed(2)} s scraped (${
        (slowdown * 100).toFixed(1)
      } % slower; goal <= 10 %: ${result.verdict}). The clients run in the benchmark's own process on the same 2 cores, so part of the slowdown is their CPU, not serve's.`,
      "",
    ].join("\n");
    const out = join(ROOT, "bench/results");
    const name = flags.smoke ? "serve_load_smoke" : "serve_load";
    await Deno.writeTextFile(join(out, `${name}.json`), JSON.stringify(result, null, 2) + "\n");
    await Deno.writeTextFile(join(out, `${name}.md`), md);
    if (!flags.smoke) {
      const latest = join(out, "latest.md");
      const text = await Deno.readTextFile(latest).catch(() => "");
      const start = text.indexOf("## serve under load");
      const rest = start < 0 ? -1 : text.indexOf("\n## ", start + 3);
      const updated = start < 0
        ? `${text.trimEnd()}\n\n${md}`
        : text.slice(0, start) + md + (rest < 0 ? "" : text.slice(rest + 1));
      await Deno.writeTextFile(latest, updated);
    }
    console.log(md);
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}
