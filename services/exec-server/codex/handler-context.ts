// What a Codex-protocol method handler may use: the core, the connection's session, and
// a way to have a process's output pushed to the client. Handlers translate and call core.
import type { ExecCore } from "../exec-core.js";
import type { ManagedProcess } from "../process/managed-process.js";

export interface HandlerContext {
  readonly core: ExecCore;
  /** The tether session this connection initialized or resumed. */
  readonly sessionId: string;
  /** Aborts when the connection goes away. */
  readonly signal: AbortSignal;
  /** Push the process's events after `afterSeq` as notifications (once per process and connection). */
  follow(process: ManagedProcess, afterSeq: number): void;
}

export type Handler = (params: unknown, ctx: HandlerContext) => Promise<unknown>;

/** A result plus what to do once it is on the wire (e.g. start pushing that process's output). */
export class Reply {
  constructor(
    readonly result: unknown,
    readonly afterSend: () => void,
  ) {}
}
