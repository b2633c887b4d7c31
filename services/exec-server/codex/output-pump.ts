// Pushes one process's output log as Codex notifications: process/output per chunk, then
// process/exited and process/closed. Seqs are the log's own, one per chunk, so a client's
// read cursor is an Attach cursor; `closed` takes the seq after the exit event. Chunks are
// never merged or split: Codex's client holds back every event until all lower seqs came.
import type { ExitStatus } from "../../../gen/tether/exec/v1/process_pb.js";
import type { ManagedProcess } from "../process/managed-process.js";
import type { Notification } from "./codex-wire.js";
import { DenialWatch } from "./sandbox-denial.js";

/** Codex's exit code: the code, or 128 + signal as a shell reports a killed child. */
export function exitCodeOf(status: ExitStatus): number {
  if (status.code !== undefined) return status.code;
  if (status.signal !== undefined) return 128 + status.signal;
  return -1;
}

export async function pumpOutput(
  process: ManagedProcess,
  afterSeq: number,
  notify: (n: Notification) => Promise<void>,
  signal: AbortSignal,
  sandboxed: boolean,
): Promise<void> {
  const processId = process.id;
  const denial = new DenialWatch(sandboxed);
  for await (const item of process.log.read({ afterSeq, signal })) {
    if (item.kind === "output") {
      denial.see(item.data);
      const chunk = Buffer.from(item.data.buffer, item.data.byteOffset, item.data.byteLength).toString("base64");
      await notify({ method: "process/output", params: { processId, seq: item.seq, stream: item.stream, chunk } });
    } else if (item.kind === "exit") {
      await notify({
        method: "process/exited",
        params: { processId, seq: item.seq, exitCode: exitCodeOf(item.status), sandboxDenied: denial.denied(item.status) },
      });
      await notify({ method: "process/closed", params: { processId, seq: item.seq + 1 } });
    }
  }
}
