// `tether` with no subcommand: the interactive session (also `tether PROMPT`, `tether resume`,
// `tether fork`, Codex's spellings). It needs a terminal; scripts and CI use `tether exec`.
// Approvals are asked (the config's approval_policy, else on-request).
import { type AgentFlags, openAgentSession } from "../agent-session.js";
import { usageError } from "../cli-error.js";
import type { OpenTarget } from "./tui-controller.js";

export async function tuiCommand(flags: AgentFlags & { resume?: string }, target: OpenTarget = {}): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    const quoted = target.prompt !== undefined ? ` ${JSON.stringify(target.prompt)}` : " PROMPT";
    const stored = target.last ? " resume --last" : ` resume ${target.threadId ?? flags.resume ?? ""}`;
    const resume = !target.fork && (target.last || (target.threadId ?? flags.resume) !== undefined) ? stored : "";
    throw usageError(`the interactive session needs a terminal: for scripts and CI use tether exec${resume}${quoted}`);
  }
  const session = await openAgentSession(flags, { approvalPolicy: "on-request" });
  const { runTui } = await import("./tui-app.js");
  await runTui(session, flags.resume !== undefined && target.threadId === undefined ? { ...target, threadId: flags.resume } : target);
}
