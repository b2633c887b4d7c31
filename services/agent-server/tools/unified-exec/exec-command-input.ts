// exec_command's arguments (Codex's names and shape): the one source of both the JSON schema
// the model is offered (tool-parameters.gen.ts, `make tool-schemas`) and the parser of its
// calls, which the registry imports on the first call (zod stays off the start-up path).
import * as z from "zod";

export const execCommandInput = z.object({
  cmd: z.string().min(1).describe("Shell command to execute."),
  workdir: z.string().optional().describe("Working directory for the command. Defaults to the turn's working directory."),
  shell: z.string().optional().describe("Shell binary to launch. Defaults to bash."),
  login: z.boolean().optional().describe("Run the shell as a login shell (-lc). Defaults to true."),
  tty: z.boolean().optional().describe("Allocate a PTY for the command (needed to send input with write_stdin). Defaults to false: plain pipes, stdin closed."),
  yield_time_ms: z.number().optional().describe("How long to wait for output before returning. Defaults to 10000 ms; clamped to 250-30000 ms. The command keeps running afterwards."),
  max_output_tokens: z.number().optional().describe("Maximum output tokens to return; the middle is cut beyond it. Defaults to 10000."),
  sandbox_permissions: z
    .enum(["use_default", "require_escalated"])
    .optional()
    .describe("'require_escalated' asks to run outside the sandbox (the user may be asked); give a justification."),
  justification: z.string().optional().describe("Why the command needs to run outside the sandbox: one short sentence for the user."),
});

export type ExecCommandInput = z.infer<typeof execCommandInput>;
