import assert from "node:assert/strict";
import { BEGIN, END, renderReadmeSection, replaceSection } from "../bench/readme_section.ts";
import type { Results } from "../bench/report.ts";
import { isWholeRun, parseOptions } from "../bench/run.ts";

const results = JSON.parse(
  await Deno.readTextFile(new URL("../bench/results/latest.json", import.meta.url)),
) as Results;

Deno.test("the README's figures are the latest full run's: every target with its verdict", () => {
  const section = renderReadmeSection(results);
  assert.ok(section.startsWith(BEGIN) && section.endsWith(END));
  assert.ok(section.includes(results.machine.commit));
  for (const t of results.targets) {
    assert.ok(
      section.includes(`| ${t.name} | ${t.measured} | ${t.goal} | **${t.verdict}** |`),
      t.name,
    );
  }
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  assert.ok(
    readme.includes(section),
    "README.md is not regenerated from bench/results/latest.json",
  );
});

Deno.test("replaceSection() replaces only between the markers and refuses a README without them", () => {
  const doc = `before\n${BEGIN}\nold\n${END}\nafter\n`;
  assert.equal(
    replaceSection(doc, `${BEGIN}\nnew\n${END}`),
    `before\n${BEGIN}\nnew\n${END}\nafter\n`,
  );
  assert.throws(() => replaceSection("no markers", "x"), /lacks the markers/);
  assert.throws(() => replaceSection(`${END}\n${BEGIN}`, "x"), /lacks the markers/);
});

Deno.test("only a whole run at the default sizes rewrites the README", () => {
  assert.equal(isWholeRun(parseOptions([])), true);
  assert.equal(isWholeRun(parseOptions(["--smoke"])), false);
  assert.equal(isWholeRun(parseOptions(["--only", "cold-start"])), false);
  assert.equal(isWholeRun(parseOptions(["--rows", "1000"])), false);
  assert.equal(isWholeRun(parseOptions(["--repeat", "5"])), false);
});
