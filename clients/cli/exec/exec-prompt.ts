// The prompt of `tether exec`: the argument, or stdin when the argument is `-` or absent and
// stdin is not a terminal (`tether exec - < task.md`). With both an argument and piped stdin,
// stdin is appended in a `<stdin>` block, as `codex exec` does (`git diff | tether exec
// "review this diff"`). Bounded, so a runaway pipe fails clearly instead of filling memory.
import { usageError } from "../cli-error.js";

const MAX_PROMPT_BYTES = 4 << 20;
/** How long a silent, still-open stdin is read before saying why tether waits. */
const STDIN_HINT_MS = 3_000;

export interface PromptOptions {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Where the "still reading stdin" hint goes (default: stderr). */
  warn?: (line: string) => void;
}

export async function readPrompt(arg: string | undefined, options: PromptOptions = {}): Promise<string> {
  const stdin = options.stdin ?? process.stdin;
  if (arg !== undefined && arg !== "-") {
    if (arg.trim() === "") throw usageError("the prompt is empty: tether exec PROMPT (or - to read it from stdin)");
    if (stdin.isTTY) return arg;
    const piped = await readStdin(stdin, options.warn, "to append it to the prompt");
    return piped.trim() === "" ? arg : `${arg}\n\n<stdin>\n${piped.replace(/\n+$/, "")}\n</stdin>`;
  }
  if (arg === undefined && stdin.isTTY) throw usageError("no prompt: tether exec PROMPT, or pipe it in with tether exec -");
  const text = await readStdin(stdin, options.warn, "for the prompt");
  if (text.trim() === "") throw usageError("the prompt read from stdin is empty");
  return text;
}

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
      if (size > MAX_PROMPT_BYTES) throw usageError(`the prompt on stdin is larger than ${MAX_PROMPT_BYTES >> 20} MiB`);
      chunks.push(buf);
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    clearTimeout(hint);
  }
}
