// The command_execution item of a unified-exec session: opened by the call that started the
// command, fed output deltas by the session's reader as the process writes (between model
// calls too), updated when a yield leaves the process running (and then kept open past the
// turn), completed once when it exits: by the call waiting on it, else by the reader.
import type { ExitStatus } from "../../../../gen/tether/exec/v1/process_pb.js";
import { HeadTailBuffer } from "../head-tail-buffer.js";
import type { ToolContext } from "../tool.js";
import type { CommandItem, OpenItem } from "./unified-exec-sessions.js";

/** Output kept in an item (the model's share is cut separately, per call). */
export const ITEM_OUTPUT_BYTES = 64 << 10;
/** Output streamed as deltas per item; beyond it one marker, then silence until the item completes. */
export const MAX_STREAMED_BYTES = 1 << 20;

export function newItem(ctx: ToolContext, command: string, cwd: string, startedAt: number, sessionId?: number): OpenItem {
  const snapshot: CommandItem = { type: "command_execution", id: `cmd-${ctx.callId}`, callId: ctx.callId, command, cwd, ...(sessionId === undefined ? {} : { sessionId: String(sessionId) }), output: "", status: "in_progress" };
  ctx.item.started(snapshot);
  return { turnId: ctx.turnId, emitter: ctx.item, snapshot, output: new HeadTailBuffer(ITEM_OUTPUT_BYTES), startedAt, streamed: 0, done: false };
}

export function itemOutput(item: OpenItem, data: Uint8Array, text: string): void {
  item.output.push(data);
  if (text === "" || item.streamed > MAX_STREAMED_BYTES) return;
  item.streamed += data.byteLength;
  if (item.streamed <= MAX_STREAMED_BYTES) {
    item.emitter.delta(item.snapshot.id, "output", text);
  } else {
    // Clients (and the rollout) get no more live output; the completed item still has head and tail.
    item.emitter.delta(item.snapshot.id, "output", `\n[… output beyond ${MAX_STREAMED_BYTES >> 20} MiB is not streamed; the item keeps its head and tail …]\n`);
  }
}

/**
 * The process is still running after a yield: the item shows its session id and output so
 * far, and stays open past the turn (its reader completes it when the process exits).
 */
export function itemYielded(item: OpenItem, sessionId: number): void {
  if (item.done) return;
  item.snapshot = { ...item.snapshot, sessionId: String(sessionId), output: item.output.text() };
  item.emitter.updated(item.snapshot);
  item.emitter.keepOpen(item.snapshot.id);
}

export function itemExited(item: OpenItem, exit: ExitStatus, now: number): void {
  if (item.done) return;
  item.done = true;
  const exitCode = exitCodeOf(exit);
  item.snapshot = {
    ...item.snapshot,
    output: item.output.text(),
    exitCode,
    status: exitCode === 0 ? "completed" : "failed",
    durationMs: Math.max(0, Math.round(now - item.startedAt)),
  };
  item.emitter.completed(item.snapshot);
}

/** The call failed before or while starting (or was refused): the item closes with the reason. */
export function itemFailed(item: OpenItem, message: string, status: "failed" | "declined"): void {
  if (item.done) return;
  item.done = true;
  item.snapshot = { ...item.snapshot, output: message, status };
  item.emitter.completed(item.snapshot);
}

/** A shell's view of how a process ended: its code, or 128 + the signal that killed it. */
export function exitCodeOf(exit: ExitStatus): number {
  if (exit.code !== undefined) return exit.code;
  if (exit.signal !== undefined) return 128 + exit.signal;
  return -1;
}
