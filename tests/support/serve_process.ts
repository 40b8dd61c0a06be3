/**
 * `main.ts serve` in a subprocess for end-to-end tests, with waits on what
 * it printed (log lines of things that happened), never on time.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT, type Workspace } from "./workspace.ts";

/** A running `serve`. */
export interface ServeProcess extends AsyncDisposable {
  /** Base URL once listening. */
  base: string;
  /** Resolves with the first stderr line matching `pattern` (already seen lines count). */
  waitForLog(pattern: RegExp): Promise<string>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/**
 * Lines of a stream, with waiters for a pattern. Only complete lines count
 * (ended by a newline, or by the end of the stream), so a line split across
 * two reads is never matched by its first half.
 */
export class LineWatch {
  private text = "";
  private ended = false;
  private readonly waiters: Array<{ pattern: RegExp; resolve(line: string): void }> = [];
  /** Resolves when the stream ends. */
  readonly done: Promise<void>;

  /** Reads `stream` to its end. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.text += chunk;
        this.wake();
      }
      this.ended = true;
      this.wake();
      for (const w of this.waiters.splice(0)) w.resolve("");
    })();
  }

  /** Resolves the waiters whose pattern a complete line now matches. */
  private wake(): void {
    for (const w of [...this.waiters]) {
      const line = this.find(w.pattern);
      if (line !== undefined) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  /** The first complete line matching `pattern`. */
  private find(pattern: RegExp): string | undefined {
    const lines = this.text.split("\n");
    // The last piece is a line still being written, unless the stream has ended.
    if (!this.ended) lines.pop();
    return lines.find((l) => pattern.test(l));
  }

  /** All text so far. */
  all(): string {
    return this.text;
  }

  /** The first line matching `pattern`; `""` if the stream ends first. */
  waitFor(pattern: RegExp): Promise<string> {
    const line = this.find(pattern);
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve("");
    return new Promise((resolve) => this.waiters.push({ pattern, resolve }));
  }
}

/** Spawns `main.ts <args>` the way {@link Workspace.cli} does, without waiting for it. */
export function spawnCli(
  ws: Workspace,
  args: string[],
  env: Record<string, string> = {},
): { child: Deno.ChildProcess; stdout: LineWatch; stderr: LineWatch } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", join(ROOT, "deno.json"), join(ROOT, "main.ts"), ...args],
    cwd: ws.dir,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? ws.dir,
      NO_COLOR: "1",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
      ...ws.env,
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, stdout: new LineWatch(child.stdout), stderr: new LineWatch(child.stderr) };
}

/** Starts `serve --port 0` in `ws`; resolves once it listens. */
export async function startServe(
  ws: Workspace,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<ServeProcess> {
  const { child, stdout, stderr } = spawnCli(ws, ["serve", "--port", "0", ...args], env);
  const line = await stdout.waitFor(/listening on http:\/\//);
  if (!line) {
    await child.status;
    throw new Error(`serve did not start:\n${stderr.all().slice(-3000)}`);
  }
  const base = /(http:\/\/\S+)/.exec(line)![1]!;
  let exited: Promise<number> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    if (!exited) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      exited = (async () => {
        const s = await child.status;
        await Promise.all([stdout.done, stderr.done]);
        return s.code;
      })();
    }
    return exited;
  };
  return {
    base,
    waitForLog: (p) => stderr.waitFor(p),
    stderr: () => stderr.all(),
    stop,
    [Symbol.asyncDispose]: async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await stop("SIGKILL");
    },
  };
}
