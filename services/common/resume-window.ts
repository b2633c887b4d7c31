// The resume-window invariant, in one place. When a connection drops, what the server had
// already delivered but the client never read is lost in flight: at most the client's
// receive window plus the one output message being written. The server keeps that much
// delivered output (the resume history) so a client that reconnects and resumes from its
// last seen seq gets every byte. Clients size their windows from here, the Attach handler
// its merged messages, and the process manager refuses a history smaller than their sum.
import { ErrorCode, TetherError } from "./tether-error.js";

/** Per-stream receive window of tether's clients (grpc-js flow_control_window, the lean channel's windowBytes). */
export const CLIENT_STREAM_WINDOW_BYTES = 4 << 20;

/** Largest output message Attach sends when a reader is behind (consecutive chunks merged). */
export const ATTACH_MERGE_BYTES = 512 << 10;

/** Delivered output the server keeps per process for resuming readers (ProcessLimits.resumeHistoryBytes). */
export const DEFAULT_RESUME_HISTORY_BYTES = 8 << 20;

/** The least resume history that covers what a cut can lose: a full client window plus one merged message. */
export function minResumeHistoryBytes(): number {
  return CLIENT_STREAM_WINDOW_BYTES + ATTACH_MERGE_BYTES;
}

/** Throws INVALID_ARGUMENT when a resume history could lose delivered output across a reconnect. */
export function checkResumeHistory(historyBytes: number): void {
  if (historyBytes < minResumeHistoryBytes()) {
    throw new TetherError(
      ErrorCode.InvalidArgument,
      `resume history ${historyBytes} B is below the client window plus one Attach message (${minResumeHistoryBytes()} B): a reconnecting reader could lose output; raise it`,
    );
  }
}
