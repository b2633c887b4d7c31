// write_stdin's arguments (Codex's names and shape): the one source of both the JSON schema
// the model is offered (tool-parameters.gen.ts, `make tool-schemas`) and the parser of its
// calls, which the registry imports on the first call (zod stays off the start-up path).
import * as z from "zod";

export const writeStdinInput = z.object({
  session_id: z.number().int().describe("The session ID exec_command returned for a command that is still running."),
  chars: z.string().optional().describe("Characters to write to the command's stdin (a PTY: '\\n' is Enter, '\\u0003' is Ctrl-C). Empty or omitted: only wait for more output."),
  yield_time_ms: z.number().optional().describe("How long to wait for output. Writes: default 250 ms, at most 30000. Empty polls: 5000-300000 ms."),
  max_output_tokens: z.number().optional().describe("Maximum output tokens to return; the middle is cut beyond it. Defaults to 10000."),
});

export type WriteStdinInput = z.infer<typeof writeStdinInput>;
