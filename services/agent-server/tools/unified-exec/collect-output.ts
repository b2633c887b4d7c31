// One yield of a unified-exec session: wait until the process exits or the yield time passes,
// whichever comes first, then take what the session's reader buffered since the last yield,
// cut head+tail to the call's token budget. Nothing is attached or cancelled here: the
// reader holds the session's one Attach. The turn's abort propagates; the yield's own
// deadline does not.
import type { ExitStatus } from "../../../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import type { ToolContext } from "../tool.js";
import type { ExecSession, UnifiedExecSessions } from "./unified-exec-sessions.js";

export interface Collected {
  /** Output for the model, cut to its budget with a marker. */
  text: string;
  /** Bytes the process wrote since the previous yield (before cutting). */
  totalBytes: number;
  truncated: boolean;
  /** Set when the process exited (its last output is in `text`). */
  exit?: ExitStatus;
}

async function collectOutput(sessions: UnifiedExecSessions, session: ExecSession, ctx: ToolContext, yieldMs: number, maxBytes: number): Promise<Collected> {
  const out = session.output;
  if (!out.ended) {
    const timerStop = new AbortController();
    const timer = sessions.yieldTimer(yieldMs, AbortSignal.any([timerStop.signal, ctx.signal]));
    try {
      // The timer rejects when the turn aborts; the reader's `done` never rejects.
      await Promise.race([timer, out.done]);
    } finally {
      timerStop.abort();
      void timer.catch(() => undefined);
    }
  }
  ctx.signal.throwIfAborted();
  const exit = out.exit;
  if (exit === undefined && out.error !== undefined) throw out.error;
  return { ...out.take(maxBytes), ...(exit === undefined ? {} : { exit }) };
}

/**
 * collectOutput, with a failure to read the session (its process unknown to the exec server,
 * the environment unreachable) turned into a message for the model (rule 17). A session whose
 * reader failed is forgotten. Aborts propagate.
 */
export async function collectOrExplain(sessions: UnifiedExecSessions, session: ExecSession, ctx: ToolContext, yieldMs: number, maxBytes: number): Promise<Collected | { error: string }> {
  try {
    const collected = await collectOutput(sessions, session, ctx, yieldMs, maxBytes);
    // Still running: the rollout learns the new cursor, so a restarted agent resumes from here.
    if (collected.exit === undefined) sessions.checkpoint(session);
    return collected;
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
    const e = TetherError.from(err);
    if (session.output.error !== undefined || e.code === ErrorCode.NotFound) sessions.remove(session);
    return { error: `could not read the output of session ${session.id}: ${e.message}` };
  }
}
