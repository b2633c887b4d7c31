// `tether` with no subcommand: the interactive session. It needs a terminal; scripts and CI
// use `tether exec`. Approvals are asked (the config's approval_policy, else on-request).
import { type AgentFlags, openAgentSession } from "../agent-session.js";
import { usageError } from "../cli-error.js";

export async function tuiCommand(flags: AgentFlags & { resume?: string }): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw usageError("the interactive session needs a terminal: for scripts and CI use tether exec PROMPT");
  }
  const session = await openAgentSession(flags, { approvalPolicy: "on-request" });
  const { runTui } = await import("./tui-app.js");
  await runTui(session, { resume: flags.resume });
}
