// The prompt of `tether exec`: the argument, or stdin when the argument is `-` or absent and
// stdin is not a terminal (`git diff | tether exec -`). Bounded, so a runaway pipe fails
// clearly instead of filling memory.
import { usageError } from "../cli-error.js";

const MAX_PROMPT_BYTES = 4 << 20;

export async function readPrompt(arg: string | undefined, stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (arg !== undefined && arg !== "-") {
    if (arg.trim() === "") throw usageError("the prompt is empty: tether exec PROMPT (or - to read it from stdin)");
    return arg;
  }
  if (arg === undefined && stdin.isTTY) throw usageError("no prompt: tether exec PROMPT, or pipe it in with tether exec -");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_PROMPT_BYTES) throw usageError(`the prompt on stdin is larger than ${MAX_PROMPT_BYTES >> 20} MiB`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw usageError("the prompt read from stdin is empty");
  return text;
}
