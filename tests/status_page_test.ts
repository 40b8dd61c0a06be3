/**
 * The status page at `/` of serve, in a real headless Chromium (Debian's
 * `chromium` driven by puppeteer-core): a worker with loaded, failed and
 * late months; assertions on the rendered DOM; a screenshot kept under tmp/.
 * Under CI=true a missing chromium fails the suite instead of skipping it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { openNotifier } from "../src/adapters.ts";
import { loadConfig } from "../src/config/load.ts";
import { serveCommand } from "../src/cli/serve.ts";
import { Scheduler } from "../src/schedule/scheduler.ts";
import { escapeHtml, renderStatusPage } from "../src/serve/status_page.ts";
import { PgliteWarehouse } from "../src/sinks/pglite.ts";
import { LocalSource } from "../src/sources/local.ts";
import { canRun } from "./support/skip.ts";
import { ROOT, workspace } from "./support/workspace.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

Deno.test("renderStatusPage() escapes every value it prints", () => {
  const html = renderStatusPage({
    rows: [],
    pipelines: ["a<b"],
    error: `<img src=x onerror="alert(1)">`,
  });
  assert.ok(!html.includes("<img"));
  assert.ok(html.includes(escapeHtml(`<img src=x onerror="alert(1)">`)));
  assert.equal(escapeHtml(`<a href='x'>&"</a>`), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
});

Deno.test({
  name: "the status page shows loaded, failed and late months in headless Chromium",
  ignore: !canRun(hasChromium, `chromium not found at ${CHROMIUM} (apt-get install chromium)`),
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await using ws = await workspace();
  const token = "status-page-token-1234";
  const config = await loadConfig({ env: { ...ws.env, LOG_LEVEL: "error", SERVE_TOKEN: token } });
  const events = config.pipelines.filter((p) => p.name === "events").map((p) => ({
    ...p,
    start_month: "2021-01",
    due_by_day: 3,
  }));
  // January loads (with quarantined rows); February's header is wrong (and hostile); March is late.
  await ws.write(
    "2021/01/events.csv",
    await Deno.readFile(join(ROOT, "datasets/2021/01/events.csv")),
  );
  await ws.write("2021/02/events.csv", "<script>alert(1)</script>,b\n1,2\n");
  const warehouse = await PgliteWarehouse.open(ws.pgliteDir);
  try {
    const tick = await new Scheduler({
      pipelines: events,
      source: new LocalSource(ws.dataDir),
      warehouse,
      notifier: await openNotifier(config),
      now: () => new Date("2021-04-05T10:00:00Z"),
    }).tick("test");
    assert.deepEqual(tick.reports.map((r) => [r.month, r.status]), [
      ["2021-01", "succeeded"],
      ["2021-02", "failed"],
    ]);
    assert.equal(tick.late?.length, 1);
  } finally {
    await warehouse.close();
  }

  const listening = Promise.withResolvers<number>();
  const stop = Promise.withResolvers<void>();
  const serving = serveCommand(["--port", "0", "--no-catch-up"], {
    config: { ...config, pipelines: events },
    stopWhen: stop.promise,
    onListen: (port) => listening.resolve(port),
  });
  const base = `http://127.0.0.1:${await listening.promise}`;
  const profile = await Deno.makeTempDir({ prefix: "etl-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    userDataDir: profile,
    args: [
      "--no-sandbox",
      "--headless=new",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
  try {
    const unauthorized = await fetch(`${base}/`);
    assert.equal(unauthorized.status, 401, "the page is guarded like /runs");
    await unauthorized.body?.cancel();

    const page = await browser.newPage();
    await page.setExtraHTTPHeaders({ authorization: `Bearer ${token}` });
    const response = await page.goto(`${base}/`, { waitUntil: "load" });
    assert.equal(response?.status(), 200);
    const cells = await page.$$eval("tr[data-status]", (trs) =>
      trs.map((tr) => {
        const el = tr;
        return {
          pipeline: el.getAttribute("data-pipeline"),
          month: el.getAttribute("data-month"),
          status: el.getAttribute("data-status"),
          shown: el.querySelector(".status")?.textContent,
          numbers: [...el.querySelectorAll("td.num")].map((td) => td.textContent?.trim()),
          reasons: [...el.querySelectorAll("ul.reasons li")].map((li) => li.textContent),
          quarantine: el.querySelector("a.quarantine")?.getAttribute("href") ?? null,
          text: el.textContent ?? "",
        };
      }));
    assert.deepEqual(cells.map((c) => [c.pipeline, c.month, c.status, c.shown]), [
      ["events", "2021-03", "late", "late"],
      ["events", "2021-02", "failed", "failed"],
      ["events", "2021-01", "loaded", "loaded"],
    ]);
    const [late, failed, loaded] = cells;
    assert.match(late!.text, /late: no file for 2021-03/);
    assert.match(failed!.text, /<script>alert\(1\)<\/script>/, "shown as text");
    assert.equal(await page.$$eval("script", (s) => s.length), 0, "nothing was injected");
    assert.equal(loaded!.numbers[0], "10,000");
    assert.equal(loaded!.numbers[1], "3");
    assert.ok(loaded!.reasons.length > 0 && loaded!.reasons.length <= 3, String(loaded!.reasons));
    assert.match(loaded!.reasons[0]!, /\(\d+\)$/);
    assert.match(loaded!.numbers[3]!, /^\d+\.\d s$/, "duration");
    assert.ok(loaded!.quarantine?.startsWith("/quarantine/"));
    assert.equal(
      await page.$eval('meta[http-equiv="refresh"]', (m) => m.getAttribute("content")),
      "30",
    );
    await Deno.mkdir(join(ROOT, "tmp"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "tmp/status_page.png"), fullPage: true });

    const csv = await page.goto(`${base}${loaded!.quarantine}`);
    assert.equal(csv?.status(), 200);
    assert.match(await csv!.text(), /^line,reason,/);
  } finally {
    await browser.close();
    stop.resolve();
    assert.equal(await serving, 0);
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});

Deno.test("renderStatusPage() shows each database input's lag in words", () => {
  const html = renderStatusPage({
    rows: [],
    pipelines: ["ops", "events"],
    lags: [
      { pipeline: "ops", input: "sales_order", seconds: 42 },
      { pipeline: "ops", input: "staff", seconds: 3 * 3600 },
    ],
  });
  const ops = html.slice(
    html.indexOf('data-pipeline="ops"'),
    html.indexOf('data-pipeline="events"'),
  );
  assert.match(
    ops,
    /source lag: <span data-input="sales_order">sales_order 42 s<\/span>, <span data-input="staff">staff 3 h<\/span>/,
  );
  assert.doesNotMatch(html.slice(html.indexOf('data-pipeline="events"')), /source lag/);
});
