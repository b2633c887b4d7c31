// write_stdin (Codex's name and shape): write to a running exec_command session (once, even
// if the call is retried: the call id is the write id) and answer with the output that
// follows, like a yield of exec_command. Empty chars only polls. The output goes on feeding
// the item exec_command opened (one item per command, however many turns it runs through).
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import type { ToolContext, ToolDefinition, ToolResult } from "../tool.js";
import { TOOL_PARAMETERS } from "../tool-parameters.gen.js";
import { collectOrExplain } from "./collect-output.js";
import { itemExited, itemFailed, itemYielded, newItem } from "./exec-item.js";
import { clampMs, execResult, outputBudgetBytes } from "./exec-output.js";
import type { WriteStdinInput } from "./write-stdin-input.js";
import type { UnifiedExecSessions } from "./unified-exec-sessions.js";

/** After a write the answer comes quickly; a bare poll waits longer so the model does not spin. */
export const WRITE_YIELD = { default: 250, min: 250, max: 30_000 } as const;
export const POLL_YIELD = { default: 5_000, min: 5_000, max: 300_000 } as const;

export function writeStdinTool(sessions: UnifiedExecSessions): ToolDefinition<WriteStdinInput> {
  return {
    name: "write_stdin",
    description: "Writes characters to a running exec_command session and returns the output that follows (or just waits for output when chars is empty).",
    input: { parameters: TOOL_PARAMETERS.write_stdin, load: async () => (await import("./write-stdin-input.js")).writeStdinInput },
    mutating: true,
    run: (args, ctx) => runWriteStdin(sessions, args, ctx),
  };
}

async function runWriteStdin(sessions: UnifiedExecSessions, args: WriteStdinInput, ctx: ToolContext): Promise<ToolResult> {
  const session = sessions.get(args.session_id);
  if (session === undefined) {
    const running = sessions.ids();
    if (sessions.wasLost(args.session_id)) {
      return {
        output: `Session ID ${args.session_id} is gone: the agent restarted and its exec session no longer had this process (the session outlived its detached TTL, or the exec server restarted). Start the command again with exec_command. ${running.length === 0 ? "No session is running." : `Running sessions: ${running.join(", ")}.`}`,
        success: false,
      };
    }
    return {
      output: `Unknown session ID ${args.session_id}: its process exited (and its output was returned) or it never existed. ${running.length === 0 ? "No session is running." : `Running sessions: ${running.join(", ")}.`}`,
      success: false,
    };
  }
  const chars = args.chars ?? "";
  if (chars !== "" && !session.tty) {
    return { output: "stdin is closed for this session; rerun exec_command with tty=true to keep stdin open", success: false };
  }
  return sessions.exclusive(session, async () => {
    const startedAt = sessions.now();
    session.inCall = true;
    // A session restored after a restart has no item yet: this call opens one for it.
    session.item ??= newItem(ctx, session.command, session.cwd, startedAt, session.id);
    try {
      if (chars !== "") {
        try {
          await ctx.env.processes.write(session.processId, Buffer.from(chars, "utf8"), { writeId: ctx.callId, signal: ctx.signal });
        } catch (err) {
          if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
          // The process may have exited just now: the yield below reports that; anything else is the model's to see.
          const e = TetherError.from(err);
          if (e.code !== ErrorCode.FailedPrecondition && e.code !== ErrorCode.NotFound) return { output: `write_stdin failed: ${e.message}`, success: false };
        }
      }
      const limits = chars === "" ? POLL_YIELD : WRITE_YIELD;
      const yieldMs = clampMs(args.yield_time_ms, limits.default, limits.min, limits.max);
      const collected = await collectOrExplain(sessions, session, ctx, yieldMs, outputBudgetBytes(args.max_output_tokens));
      // The session's one item (opened by exec_command, maybe in an earlier turn) carries on.
      const item = session.item;
      if ("error" in collected) {
        if (item !== undefined) itemFailed(item, collected.error, "failed");
        return { output: `write_stdin failed: ${collected.error}`, success: false };
      }
      if (collected.exit !== undefined) {
        sessions.remove(session);
        if (item !== undefined) itemExited(item, collected.exit, sessions.now());
      } else if (item !== undefined) {
        itemYielded(item, session.id);
      }
      return execResult({ wallMs: sessions.now() - startedAt, collected, sessionId: session.id });
    } finally {
      session.inCall = false;
    }
  });
}
