// The prompt of `tether exec`: the argument, or stdin when the argument is `-` or absent and
// stdin is not a terminal (`tether exec - < task.md`). With both an argument and piped stdin,
// stdin is appended in a `<stdin>` block, as `codex exec` does (`git diff | tether exec
// "review this diff"`). Bounded, so a runaway pipe fails clearly instead of filling memory.
import { type Stats, createReadStream, fstatSync, readSync, statSync } from "node:fs";
import { isatty } from "node:tty";
import { usageError } from "../cli-error.js";

const MAX_PROMPT_BYTES = 4 << 20;
/** How long a silent, still-open stdin is read before saying why tether waits. */
const STDIN_HINT_MS = 3_000;

export interface PromptOptions {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Without `stdin`: the descriptor to read (default 0, the process's stdin). */
  stdinFd?: number;
  /** Where the "still reading stdin" hint goes (default: stderr). */
  warn?: (line: string) => void;
}

/** Where the prompt's stdin comes from: a terminal is never read. */
interface StdinSource {
  isTTY: boolean;
  read(warn: PromptOptions["warn"], why: string): Promise<string>;
}

export async function readPrompt(arg: string | undefined, options: PromptOptions = {}): Promise<string> {
  const stdin = options.stdin ? streamSource(options.stdin) : fdSource(options.stdinFd ?? 0);
  if (arg !== undefined && arg !== "-") {
    if (arg.trim() === "") throw usageError("the prompt is empty: tether exec PROMPT (or - to read it from stdin)");
    if (stdin.isTTY) return arg;
    const piped = await stdin.read(options.warn, "to append it to the prompt");
    return piped.trim() === "" ? arg : `${arg}\n\n<stdin>\n${piped.replace(/\n+$/, "")}\n</stdin>`;
  }
  if (arg === undefined && stdin.isTTY) throw usageError("no prompt: tether exec PROMPT, or pipe it in with tether exec -");
  const text = await stdin.read(options.warn, "for the prompt");
  if (text.trim() === "") throw usageError("the prompt read from stdin is empty");
  return text;
}

function streamSource(stream: NodeJS.ReadableStream & { isTTY?: boolean }): StdinSource {
  return { isTTY: stream.isTTY === true, read: (warn, why) => readStdin(stream, warn, why) };
}

/**
 * A descriptor: /dev/null and a regular file (`< task.md`) are read at once, synchronously;
 * a pipe, a socket or any other device as a stream, as before. Not through process.stdin
 * first: for /dev/null (CI's usual stdin) that stream's reads on the thread pool cost ≈ 4 ms
 * of CPU before the first model request (issue 15), where a stat costs microseconds.
 */
function fdSource(fd: number): StdinSource {
  let info: Stats | undefined;
  try {
    info = fstatSync(fd);
  } catch {
    info = undefined; // read it as a stream, which says what is wrong
  }
  if (info?.isFile()) return { isTTY: false, read: () => Promise.resolve(readFileAtOnce(fd)) };
  if (info?.isCharacterDevice() && isDevNull(info)) return { isTTY: false, read: () => Promise.resolve("") };
  if (isatty(fd)) return { isTTY: true, read: () => Promise.reject(new Error("a terminal is never read")) };
  return streamSource(fd === 0 ? process.stdin : createReadStream("", { fd, autoClose: false }));
}

function isDevNull(info: Stats): boolean {
  const devNull = statSync("/dev/null", { throwIfNoEntry: false });
  return devNull !== undefined && devNull.isCharacterDevice() && devNull.rdev === info.rdev;
}

/** From the descriptor's current offset to its end, as the stream would read it. */
function readFileAtOnce(fd: number): string {
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    size += n;
    if (size > MAX_PROMPT_BYTES) throw tooLarge();
    chunks.push(buf.subarray(0, n));
  }
  return Buffer.concat(chunks).toString("utf8");
}

const tooLarge = () => usageError(`the prompt on stdin is larger than ${MAX_PROMPT_BYTES >> 20} MiB`);

async function readStdin(stdin: NodeJS.ReadableStream, warn: ((line: string) => void) | undefined, why: string): Promise<string> {
  // A pipe a parent never closes would hold tether silently: after a while, say what it waits for.
  const hint = setTimeout(() => {
    (warn ?? ((line) => process.stderr.write(`${line}\n`)))(`tether: reading stdin ${why} until it closes (redirect </dev/null to skip it)`);
  }, STDIN_HINT_MS);
  hint.unref();
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stdin as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > MAX_PROMPT_BYTES) throw tooLarge();
      chunks.push(buf);
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    clearTimeout(hint);
  }
}
