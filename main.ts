/**
 * Entry point of every task: `deno task <command> ...` runs
 * `main.ts <command> ...` with the permissions that command needs.
 *
 * Exit codes: 0 success, 1 a run failed, 2 usage or configuration error.
 * User mistakes print a message and a hint, never a stack trace.
 *
 * @module
 */

import { EtlError } from "./src/_shared/errors.ts";
import { redact } from "./src/_shared/log.ts";

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./src/cli/run.ts")).runCommand,
  generate: async () => (await import("./src/cli/generate.ts")).generateCommand,
  upload: async () => (await import("./src/cli/upload.ts")).uploadCommand,
  months: async () => (await import("./src/cli/months.ts")).monthsCommand,
  serve: async () => (await import("./src/cli/serve.ts")).serveCommand,
  status: async () => (await import("./src/cli/status.ts")).statusCommand,
  sql: async () => (await import("./src/cli/sql.ts")).sqlCommand,
  insights: async () => (await import("./src/cli/insights.ts")).insightsCommand,
  notebooks: async () => (await import("./src/cli/notebooks.ts")).notebooksCommand,
  extract: async () => (await import("./src/cli/extract.ts")).extractCommand,
  "demo-db": async () => {
    const { demoDbCommand } = await import("./src/cli/demo_db.ts");
    return (args) => demoDbCommand(args, { env: Deno.env.toObject() });
  },
};

/** Runs `argv` and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const load = name ? COMMANDS[name] : undefined;
  if (!load) {
    console.error(`Unknown command '${name ?? ""}'. Commands: ${Object.keys(COMMANDS).join(", ")}`);
    return 2;
  }
  try {
    const command = await load();
    return await command(args);
  } catch (error) {
    if (error instanceof EtlError) {
      console.error(`error: ${redact(error.message)}`);
      if (error.hint) console.error(`hint: ${error.hint}`);
      return error.exitCode;
    }
    // Not a user mistake but a bug or an unforeseen fault: keep the stack.
    console.error(
      `internal error: ${
        redact(error instanceof Error ? error.stack ?? error.message : String(error))
      }`,
    );
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
