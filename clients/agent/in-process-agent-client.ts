// The agent in this process: AgentClient calls go straight to an AgentCore. Closing the
// client closes the core when the client made it (createAgentClient) and not otherwise.
import type { AgentCore } from "../../services/agent-server/agent-core.js";
import type { ApprovalDecision, ApprovalRequest } from "../../services/agent-server/policy/approval-types.js";
import type { ThreadEvent, ThreadInfo } from "../../services/agent-server/thread/thread-event.js";
import type { AgentClient, ThreadOptions, ThreadSettings, ThreadSnapshot, TurnInput } from "./agent-client.js";

export class InProcessAgentClient implements AgentClient {
  readonly core: AgentCore;
  readonly #ownsCore: boolean;

  constructor(core: AgentCore, options: { ownsCore?: boolean } = {}) {
    this.core = core;
    this.#ownsCore = options.ownsCore ?? false;
  }

  startThread(options: ThreadOptions): Promise<ThreadInfo> {
    return this.core.startThread(options);
  }

  resumeThread(threadId: string, overrides?: Partial<ThreadOptions>): Promise<ThreadInfo> {
    return this.core.resumeThread(threadId, overrides);
  }

  forkThread(threadId: string, options?: { turns?: number }): Promise<ThreadInfo> {
    return this.core.forkThread(threadId, options);
  }

  updateThreadSettings(threadId: string, settings: ThreadSettings): Promise<ThreadInfo> {
    return this.core.updateThreadSettings(threadId, settings);
  }

  rollback(threadId: string, turns: number): Promise<ThreadInfo> {
    return this.core.rollback(threadId, turns);
  }

  listThreads(options?: { limit?: number; cwd?: string }): Promise<ThreadInfo[]> {
    return this.core.listThreads(options);
  }

  readThread(threadId: string): Promise<ThreadSnapshot> {
    return this.core.readThread(threadId);
  }

  startTurn(threadId: string, input: TurnInput): Promise<{ turnId: string }> {
    return this.core.startTurn(threadId, input);
  }

  steer(threadId: string, text: string): Promise<void> {
    return this.core.steer(threadId, text);
  }

  interrupt(threadId: string): Promise<void> {
    return this.core.interrupt(threadId);
  }

  async *events(threadId: string, options?: { controller?: boolean; signal?: AbortSignal }): AsyncIterable<ThreadEvent> {
    yield* await this.core.events(threadId, options);
  }

  listPendingApprovals(threadId: string): Promise<ApprovalRequest[]> {
    return this.core.listPendingApprovals(threadId);
  }

  respond(threadId: string, requestId: string, decision: ApprovalDecision): Promise<void> {
    return this.core.respond(threadId, requestId, decision);
  }

  async close(): Promise<void> {
    if (this.#ownsCore) await this.core.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
