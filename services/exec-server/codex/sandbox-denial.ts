// Codex's `sandboxDenied`: whether a sandboxed command failed the way a sandbox refusal looks
// (Codex then offers to run it again outside the sandbox, in its on-failure approval mode).
// A heuristic on the output's tail, as Codex's own server has: a failed exit plus a refusal.
import type { ExitStatus } from "../../../gen/tether/exec/v1/process_pb.js";

const REFUSALS = /Read-only file system|Permission denied|Operation not permitted|Network is unreachable|bwrap: /;
/** The tail of output kept to look for a refusal. */
const TAIL_BYTES = 8192;

export class DenialWatch {
  #tail = "";

  constructor(readonly sandboxed: boolean) {}

  see(data: Uint8Array): void {
    if (!this.sandboxed) return;
    // latin1 maps bytes 1:1, so a cut UTF-8 sequence cannot hide the ASCII phrases.
    this.#tail = (this.#tail + Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1")).slice(-TAIL_BYTES);
  }

  denied(status: ExitStatus): boolean {
    const failed = status.code !== undefined ? status.code !== 0 : status.signal !== undefined;
    return this.sandboxed && failed && REFUSALS.test(this.#tail);
  }
}
