// Whether the sandbox refused a process something, for ExitStatus.sandbox_denied (an agent's
// on-failure policy retries or asks on it). What is detectable, and how:
// - a connection the process's own network proxy refused: certain (the proxy reports it);
// - a write (or exec) the file-system sandbox refused: the kernel says EROFS/EACCES/EPERM to
//   the process only, so this reads the failure the process printed: a non-zero exit under a
//   sandbox that restricts writes, whose last stderr/PTY output carries the OS's message. A
//   heuristic (a command failing on its own with the same words counts too).
import type { ChildStream } from "./child-output.js";

/** What the preparer knows of a process's sandbox. */
export interface SandboxReport {
  /** Writes outside writable roots are refused (read-only, workspace-write, NONE rules). */
  restrictsWrites: boolean;
  /** Connections the proxy refused so far ("host:port (reason)"), oldest first, bounded. */
  denials(): readonly string[];
}

/** Output kept for the check: the refusal is in the last lines a failing command prints. */
const TAIL_BYTES = 4096;

const OS_REFUSALS: readonly [RegExp, string][] = [
  [/read-only file system/i, "Read-only file system"],
  [/permission denied/i, "Permission denied"],
  [/operation not permitted/i, "Operation not permitted"],
];

export class DenialWatch {
  readonly #report: SandboxReport;
  #tail = Buffer.alloc(0);

  constructor(report: SandboxReport) {
    this.#report = report;
  }

  /** Every output chunk; only stderr and PTY output are kept (bounded). */
  observe(stream: ChildStream, data: Uint8Array): void {
    if (!this.#report.restrictsWrites || stream === "stdout") return;
    const joined = Buffer.concat([this.#tail, data]);
    this.#tail = joined.byteLength > TAIL_BYTES ? Buffer.from(joined.subarray(joined.byteLength - TAIL_BYTES)) : joined;
  }

  /** At exit: what the sandbox refused, or undefined. */
  verdict(exitCode: number | undefined): string | undefined {
    const network = this.#report.denials();
    if (network.length > 0) return `network: ${network.slice(-3).join(", ")}${network.length > 3 ? ` (+${network.length - 3} more)` : ""}`;
    if (exitCode === 0 || !this.#report.restrictsWrites) return undefined;
    const text = this.#tail.toString("utf8");
    const hit = OS_REFUSALS.find(([re]) => re.test(text));
    return hit ? `file system: ${hit[1]}` : undefined;
  }
}
