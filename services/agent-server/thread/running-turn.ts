// The turn a thread is running: its cancellation, its items, the tool call it is in, and how
// requests from outside the model's calls (zsh-fork escalations, the network proxy's
// questions) are asked under it through the thread's approval gate.
import type { Environment, EscalationHandler } from "../../../clients/environment/environment.js";
import type { DecisionResult } from "../../exec-server/escalation/escalation-types.js";
import { TetherError, cancelled } from "../../common/tether-error.js";
import type { SandboxMode } from "../policy/approval-types.js";
import type { ToolContext } from "../tools/tool.js";
import type { ApprovalCall, ApprovalGate } from "./approval-gate.js";
import type { ItemTracker } from "./item-tracker.js";
import type { NetworkRequestTurn } from "./network-requests.js";
import type { ProcessOrigin } from "./thread-services.js";

/** What a tool call sees of its thread; sandbox and roots are read when the tool reads them. */
export interface ToolThreadView {
  cwd: string;
  env: Environment;
  gate: ApprovalGate;
  sandbox(): SandboxMode;
  writableRoots(): string[];
  proxyHosts(): { allowHosts: readonly string[]; denyHosts: readonly string[] };
}

export class RunningTurn {
  readonly abort = new AbortController();
  /** The user answered cancel to an approval (the turn ends as interrupted by the user). */
  cancelled = false;
  done: Promise<void> = Promise.resolve();
  /** The call that last started a tool: requests from outside the model's calls are filed under it. */
  callId = "";

  constructor(
    readonly threadId: string,
    readonly turnId: string,
    readonly items: ItemTracker,
    /** `exec --output-schema`: asked of every model request of the turn. */
    readonly outputSchema?: Record<string, unknown>,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** The user cancelled an approval: the turn ends. */
  cancel(): void {
    this.cancelled = true;
    this.abort.abort(cancelled("the user cancelled the turn"));
  }

  /** An approval call under this turn's current tool call, cancelled with the turn and `signal`. */
  call(callId = this.callId, signal?: AbortSignal): ApprovalCall {
    return { threadId: this.threadId, turnId: this.turnId, callId, items: this.items, signal: signal ? AbortSignal.any([signal, this.signal]) : this.signal };
  }

  /**
   * Where a running process's question is asked. Under the call that started the process (a
   * background `exec_command` that yielded may ask long after later calls began). A process
   * from an earlier turn still needs an answer and only this turn can show one: it is asked
   * here, under its own call id, naming its command. An unknown process: the current call.
   */
  processCall(origin: ProcessOrigin | undefined, signal?: AbortSignal): ApprovalCall {
    if (origin === undefined) return this.call(this.callId, signal);
    const earlier = origin.turnId !== this.turnId;
    return { ...this.call(origin.callId ?? (earlier ? "" : this.callId), signal), command: origin.command, ...(earlier ? { fromEarlierTurn: true } : {}) };
  }

  networkTurn(origin?: ProcessOrigin): NetworkRequestTurn {
    return { ...this.processCall(origin), signal: this.signal, cancelTurn: () => this.cancel() };
  }

  /** A zsh-fork escalation, decided by policy or the user: run in the sandbox, escalate out of it, or deny. */
  async decideEscalation(gate: ApprovalGate, req: Parameters<EscalationHandler>[0], signal: AbortSignal | undefined, origin?: ProcessOrigin): Promise<DecisionResult> {
    try {
      const result = await gate.authorize({ kind: "escalation", file: req.file, argv: [...req.argv], cwd: req.cwd }, this.processCall(origin, signal));
      if (!result.allowed) return { decision: "deny", reason: result.reason };
      return { decision: result.unsandboxed ? "escalate" : "run" };
    } catch (err) {
      return { decision: "deny", reason: TetherError.from(err).message };
    }
  }

  /** The context of the model's call `callId`, which becomes the turn's current call. */
  toolContext(callId: string, thread: ToolThreadView): ToolContext {
    this.callId = callId;
    return {
      // Getters: a settings change reaches the tool's next decision (and apply_patch restores
      // the session's current default sandbox, not the one it began with).
      get sandbox() {
        return thread.sandbox();
      },
      get writableRoots() {
        return thread.writableRoots();
      },
      // Read at each command's start: a rule added since then reaches the next command's proxy.
      proxyHosts: thread.proxyHosts,
      threadId: this.threadId,
      turnId: this.turnId,
      callId,
      cwd: thread.cwd,
      env: thread.env,
      signal: this.signal,
      item: this.items,
      authorize: async (action) => {
        const result = await thread.gate.authorize(action, this.call(callId));
        if (!result.allowed && result.cancelTurn) this.cancel();
        return result;
      },
    };
  }
}
