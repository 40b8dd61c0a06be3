/**
 * Progress of a long step on stderr: a line redrawn in place on a terminal,
 * or a JSON line every few seconds otherwise (logs, CI), so a 20 s job is
 * never 20 s of silence. stdout keeps only the results.
 *
 * @module
 */

/** What a progress sample reports. */
export interface ProgressSample {
  /** Bytes done so far. */
  bytes: number;
  /** Bytes in all, when known. */
  totalBytes?: number;
  /** Rows done so far, when known. */
  rows?: number;
}

/** Options of {@link startProgress}. */
export interface ProgressOptions {
  /** Draw in place (a terminal). Default: whether stderr is a terminal. */
  tty?: boolean;
  /** Between samples, in ms. Default 200 on a terminal, 5000 otherwise. */
  everyMs?: number;
  /** Where lines go. Default: stderr. */
  write?: (text: string) => void;
  /**
   * Calls `tick` every `ms` until the returned function is called, like
   * `setInterval` and `clearInterval` in one. Default: those two. A test
   * passes its own and ticks by hand.
   */
  interval?: (tick: () => void, ms: number) => () => void;
  /** The clock of `elapsed_s`, in ms. Default: `Date.now`. */
  now?: () => number;
}

/** The real timer: {@link ProgressOptions.interval} by default. */
function realInterval(tick: () => void, ms: number): () => void {
  const id = setInterval(tick, ms);
  return () => clearInterval(id);
}

const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

function mb(bytes: number): string {
  return `${fmt.format(bytes / 1e6)} MB`;
}

/** One progress line for people, e.g. `events 2021-02 [#####-----] 52 % 120 MB of 230 MB`. */
export function progressText(label: string, s: ProgressSample): string {
  const share = s.totalBytes ? Math.min(1, s.bytes / s.totalBytes) : undefined;
  const bar = share === undefined
    ? ""
    : ` [${"#".repeat(Math.round(share * 20)).padEnd(20, "-")}] ${Math.round(share * 100)} %`;
  const rows = s.rows === undefined
    ? ""
    : `, ${new Intl.NumberFormat("en-US").format(s.rows)} rows`;
  return `${label}${bar} ${mb(s.bytes)}${s.totalBytes ? ` of ${mb(s.totalBytes)}` : ""}${rows}`;
}

/**
 * Samples `poll` until the returned `stop()` is called (which also ends a
 * terminal line). A failing poll is ignored (the file may not exist yet).
 */
export function startProgress(
  label: string,
  poll: () => Promise<ProgressSample>,
  options: ProgressOptions = {},
): { stop(): Promise<void> } {
  const tty = options.tty ?? Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  const write = options.write ?? ((t: string) => Deno.stderr.writeSync(encoder.encode(t)));
  const now = options.now ?? Date.now;
  const started = now();
  let drawn = false;
  let pending: Promise<void> = Promise.resolve();
  const sample = () => {
    pending = poll().then((s) => {
      if (tty) {
        write(`\r\x1b[2K${progressText(label, s)}`);
        drawn = true;
      } else {
        write(
          JSON.stringify({
            progress: label,
            bytes: s.bytes,
            ...(s.totalBytes !== undefined ? { total_bytes: s.totalBytes } : {}),
            ...(s.rows !== undefined ? { rows: s.rows } : {}),
            elapsed_s: Math.round((now() - started) / 100) / 10,
          }) + "\n",
        );
      }
    }, () => {});
  };
  const cancel = (options.interval ?? realInterval)(sample, options.everyMs ?? (tty ? 200 : 5000));
  return {
    async stop() {
      cancel();
      await pending;
      if (drawn) write("\r\x1b[2K");
    },
  };
}
