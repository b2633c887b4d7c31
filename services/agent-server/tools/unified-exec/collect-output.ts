// One yield of a unified-exec session: attach after the session's cursor and take output
// until the process exits or the yield time passes, whichever comes first. The model's share
// is cut head+tail to its token budget; the item gets every byte as deltas (capped in its
// snapshot). The turn's abort propagates; the yield's own deadline does not.
import { create } from "@bufbuild/protobuf";
import { type ExitStatus, ExitStatusSchema } from "../../../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import { HeadTailBuffer } from "../head-tail-buffer.js";
import type { ToolContext } from "../tool.js";
import { itemOutput } from "./exec-item.js";
import type { ExecSession, UnifiedExecSessions } from "./unified-exec-sessions.js";

export interface Collected {
  /** Output for the model, cut to its budget with a marker. */
  text: string;
  /** Bytes the process wrote during this yield (before cutting). */
  totalBytes: number;
  truncated: boolean;
  /** Set when the process exited during this yield. */
  exit?: ExitStatus;
}


export async function collectOutput(sessions: UnifiedExecSessions, session: ExecSession, ctx: ToolContext, yieldMs: number, maxBytes: number): Promise<Collected> {
  const out = new HeadTailBuffer(maxBytes);
  const deadline = new AbortController();
  // A TetherError, so a transport that wraps the abort reason keeps its code.
  const yieldOver = new TetherError(ErrorCode.Cancelled, "the yield time passed");
  const timerStop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, deadline.signal]);
  void sessions.yieldTimer(yieldMs, AbortSignal.any([timerStop.signal, ctx.signal])).then(
    () => deadline.abort(yieldOver),
    () => undefined, // stopped: the process exited first, or the turn was aborted (handled below)
  );
  let exit: ExitStatus | undefined;
  try {
    for await (const ev of ctx.env.processes.attach(session.processId, { afterSeq: Number(session.cursor), allowGaps: true, signal })) {
      const e = ev.event;
      if (e.case === "started") continue;
      session.cursor = ev.seq;
      if (e.case === "output") {
        out.push(e.value.data);
        const text = session.decoder.decode(e.value.data, { stream: true });
        if (session.item !== undefined) itemOutput(session.item, e.value.data, text);
      } else if (e.case === "gap") {
        const note = `\n[… ${e.value.droppedBytes} bytes of output were dropped by the exec server before they were read …]\n`;
        out.push(Buffer.from(note));
        if (session.item !== undefined) itemOutput(session.item, Buffer.from(note), note);
      } else if (e.case === "exited") {
        exit = e.value.status ?? create(ExitStatusSchema);
        break;
      }
    }
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
    // Only the cancellation the deadline caused ends a yield quietly; a real failure that
    // raced with it (e.g. an unknown process) still counts.
    const cancelledByDeadline = deadline.signal.reason === yieldOver && (err === yieldOver || TetherError.from(err).code === ErrorCode.Cancelled);
    if (!cancelledByDeadline) throw err;
  } finally {
    timerStop.abort();
  }
  if (exit !== undefined) {
    const rest = session.decoder.decode();
    if (rest !== "" && session.item !== undefined) itemOutput(session.item, new Uint8Array(0), rest);
  }
  return { text: out.text(), totalBytes: out.totalBytes, truncated: out.omittedBytes > 0, ...(exit === undefined ? {} : { exit }) };
}

/**
 * collectOutput, with a failure to read the session (its process unknown to the exec server,
 * the environment unreachable) turned into a message for the model (rule 17). A session whose
 * process is gone is forgotten. Aborts propagate.
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
    if (e.code === ErrorCode.NotFound) sessions.remove(session);
    return { error: `could not read the output of session ${session.id}: ${e.message}` };
  }
}
