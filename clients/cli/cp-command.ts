// `tether cp`: copies files and directories between this machine and an environment.
// The remote operand carries a leading colon. On a terminal a progress line is redrawn
// in place (\r); otherwise one summary line is printed when the copy is done.
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { openEnvironment } from "../environment/open-environment.js";
import { type CopyProgress, type CopySummary, checkCopyDirection, copyFiles, parseCopyOperand } from "../environment/copy-files.js";
import { asStartupUsageError, reportError } from "./cli-error.js";
import { readSecretFile } from "./cli-options.js";

export interface CpFlags {
  env: string;
  tokenFile?: string;
  caFile?: string;
}

export interface CpIo {
  /** Where progress and the summary go; default process.stderr. */
  stderr?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  now?: () => number;
  signal?: AbortSignal;
}

/** Returns the exit status: 0 when everything was copied. */
export async function cpCommand(src: string, dst: string, flags: CpFlags, io: CpIo = {}): Promise<number> {
  let source, destination;
  try {
    source = parseCopyOperand(src);
    destination = parseCopyOperand(dst);
    checkCopyDirection(source, destination);
  } catch (err) {
    // The operands as typed: a usage error (exit 2), checked before anything connects.
    throw asStartupUsageError(err);
  }
  const out = io.stderr ?? process.stderr;
  const now = io.now ?? (() => performance.now());
  const token = flags.tokenFile ? await readSecretFile(flags.tokenFile, "--token-file") : undefined;
  // Ctrl-C aborts the copy, so the file in flight is discarded (temp files removed) on both sides.
  const interrupt = new AbortController();
  const onSignal = (sig: NodeJS.Signals) =>
    interrupt.abort(new TetherError(ErrorCode.Cancelled, `${sig}: copy interrupted; files already copied stay, the one in progress was discarded`));
  const signal = io.signal ? AbortSignal.any([io.signal, interrupt.signal]) : interrupt.signal;
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  const env = await openEnvironment(flags.env, { token, caFile: flags.caFile }).catch((err: unknown) => {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    throw err;
  });
  try {
    const started = now();
    const bar = out.isTTY ? new ProgressLine(out, now) : undefined;
    let summary: CopySummary;
    try {
      summary = await copyFiles(env, source, destination, { signal, onProgress: bar && ((p) => bar.update(p)) });
    } finally {
      bar?.end();
    }
    out.write(`${summaryLine(summary, now() - started)}\n`);
    return 0;
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    await env.close().catch((err: unknown) => reportError(err));
  }
}

export function summaryLine(s: CopySummary, elapsedMs: number): string {
  const parts = [plural(s.files, "file")];
  if (s.directories > 0) parts.push(plural(s.directories, "directory", "directories"));
  if (s.symlinks > 0) parts.push(plural(s.symlinks, "link"));
  const secs = Math.max(elapsedMs, 1) / 1000;
  return `tether: copied ${parts.join(", ")} (${formatBytes(s.bytes)}) to ${s.destination} in ${secs.toFixed(1)} s (${formatBytes(s.bytes / secs)}/s)`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** Redraws at most every REDRAW_MS, so a fast copy does not spend its time on the terminal. */
const REDRAW_MS = 100;
const BAR_WIDTH = 20;

export class ProgressLine {
  readonly #out: NodeJS.WritableStream & { columns?: number };
  readonly #now: () => number;
  readonly #started: number;
  #lastDraw = -Infinity;
  #last: CopyProgress | undefined;
  #drawn = false;

  constructor(out: NodeJS.WritableStream & { columns?: number }, now: () => number) {
    this.#out = out;
    this.#now = now;
    this.#started = now();
  }

  update(p: CopyProgress): void {
    this.#last = p;
    const t = this.#now();
    if (t - this.#lastDraw < REDRAW_MS && p.bytesDone < p.bytesTotal) return;
    this.#lastDraw = t;
    this.#draw(p, t);
  }

  /** Draws the final state and moves off the line, so the summary starts on its own. */
  end(): void {
    if (this.#last) this.#draw(this.#last, this.#now());
    if (this.#drawn) this.#out.write("\n");
  }

  #draw(p: CopyProgress, t: number): void {
    const fraction = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const rate = p.bytesDone / (Math.max(t - this.#started, 1) / 1000);
    const line = `${(fraction * 100).toFixed(0).padStart(3)}% [${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}  ${formatBytes(rate)}/s  ${p.path}`;
    const width = Math.max(20, (this.#out.columns ?? 80) - 1);
    // \x1b[K clears what a longer previous line left behind.
    this.#out.write(`\r${line.length > width ? line.slice(0, width) : line}\x1b[K`);
    this.#drawn = true;
  }
}
