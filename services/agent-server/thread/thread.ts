// One live thread: its options and environment, its tools and policy, the conversation, the
// rollout writer and the event fan-out. Runs at most one turn at a time; steer, interrupt
// and approval answers reach the running turn through here (each turn's run: thread-turn.ts).
import type { ThreadSettings } from "../../../clients/agent/agent-client.js";
import type { Environment } from "../../../clients/environment/environment.js";
import { LazyEnvironment } from "../../../clients/environment/lazy-environment.js";
import { ErrorCode, TetherError, cancelled } from "../../common/tether-error.js";
import type { ConversationItem } from "../model/model-client.js";
import type { ApprovalDecision, ApprovalRequest } from "../policy/approval-types.js";
import { ApprovalGate } from "./approval-gate.js";
import { EventFanout } from "./event-fanout.js";
import { ItemTracker } from "./item-tracker.js";
import { NetworkRequestAnswers } from "./network-requests.js";
import { capStoredItem } from "./rollout-record.js";
import { RunningTurn } from "./running-turn.js";
import { planSettingsChange } from "./thread-settings.js";
import type { ThreadEvent, ThreadInfo } from "./thread-event.js";
import type { LiveTurn, ThreadInit, ThreadTurnView } from "./thread-init.js";
import { type TurnHost, runThreadTurn } from "./thread-turn.js";
import type { ItemEmitter } from "../tools/tool.js";

export type { LiveTurn, ThreadInit, ThreadTurnView } from "./thread-init.js";

export const MAX_QUEUED_STEERS = 64;

export class Thread {
  info: ThreadInfo;
  readonly env: Environment;
  readonly fanout: EventFanout;
  readonly #i: ThreadInit;
  readonly #gate: ApprovalGate;
  #turns: LiveTurn[];
  #steers: string[] = [];
  #turn: RunningTurn | undefined;
  /** Trackers of ended turns whose restored commands are still running (one per turn). */
  readonly #pastItems = new Map<string, ItemTracker>();
  #escalations: Disposable | undefined;
  #network: Disposable | undefined;
  #closing: Promise<void> | undefined;
  /** Every writable root, the cwd first: changes with the thread's settings. */
  #writableRoots: string[];
  /** Settings changes run one at a time, so the session's sandbox and `info` agree. */
  #settings: Promise<unknown> = Promise.resolve();

  constructor(init: ThreadInit) {
    this.#i = init;
    this.info = init.info;
    this.env = init.env;
    this.#turns = init.turns;
    this.#writableRoots = init.writableRoots;
    this.fanout = new EventFanout({ maxQueued: init.maxQueuedEvents });
    this.#gate = new ApprovalGate({
      policy: init.policy,
      context: () => ({ sandbox: this.info.sandbox, approvalPolicy: this.info.approvalPolicy, cwd: this.info.cwd, writableRoots: this.#writableRoots }),
      hasController: () => this.fanout.hasController,
      session: init.env.session,
      newId: init.newId,
      warn: (message) => this.#emit({ type: "warning", message }),
      granted: (action) => this.#i.writer.append({ t: "grant", action }),
    });
  }

  /**
   * Becomes the controller of its exec session: zsh-fork escalations and the sandbox network
   * proxy's questions about unlisted hosts go through policy and the approval gate. A lazily
   * opened environment calls this with the environment it opened, before any use of it.
   */
  async attachEscalations(env: Environment = this.env): Promise<void> {
    // Both kinds of request name the asking process: asked under the call that started it.
    const origin = (processId: string) => this.#i.tools.originOf?.(processId);
    this.#escalations = await env.session.handleEscalations((req, signal) =>
      this.#turn ? this.#turn.decideEscalation(this.#gate, req, signal, origin(req.processId)) : Promise.resolve({ decision: "deny", reason: "no turn of this thread is running" }),
    );
    const answers = new NetworkRequestAnswers(this.#gate);
    this.#network = await env.session.handleNetworkRequests((req, signal) => answers.answer(req, signal, this.#turn?.networkTurn(origin(req.processId))));
  }

  /** The model input so far: every kept turn's input, in order. */
  conversation(): ConversationItem[] {
    return this.#turns.flatMap((t) => t.input);
  }

  get turnCount(): number {
    return this.#turns.length;
  }

  /** Drops the last `count` turns (the rollout gets a rollback record). */
  rollback(count: number): void {
    if (this.#turn) throw new TetherError(ErrorCode.FailedPrecondition, `turn ${this.#turn.turnId} is running: interrupt it before rolling back`);
    if (!Number.isInteger(count) || count < 1) throw new TetherError(ErrorCode.InvalidArgument, "rollback needs a positive number of turns");
    if (count > this.#turns.length) throw new TetherError(ErrorCode.OutOfRange, `the thread has ${this.#turns.length} turns: cannot roll back ${count}`);
    this.#turns = this.#turns.slice(0, this.#turns.length - count);
    const at = this.#i.now().toISOString();
    this.info = { ...this.info, updatedAt: at };
    this.#i.writer.append({ t: "rollback", turns: count, at });
  }

  /** Records changed options (resume with overrides), and new writable roots when given. */
  updateInfo(info: ThreadInfo, writableRoots?: string[]): void {
    this.info = info;
    this.#i.writer.append({ t: "settings", thread: info, ...(writableRoots ? { writableRoots } : {}) });
  }

  /**
   * Changes the live thread's settings (rule: from the next model request and the next tool
   * call on, a running turn included; a command already running keeps its sandbox). The exec
   * session's default sandbox is set first, so a refused change leaves everything as it was;
   * then the rollout gets a settings record, which a resume rebuilds.
   */
  updateSettings(settings: ThreadSettings, opts: { signal?: AbortSignal } = {}): Promise<ThreadInfo> {
    const run = this.#settings.then(() => this.#applySettings(settings, opts));
    this.#settings = run.catch(() => undefined);
    return run;
  }

  async #applySettings(settings: ThreadSettings, opts: { signal?: AbortSignal }): Promise<ThreadInfo> {
    if (this.#closing) throw new TetherError(ErrorCode.FailedPrecondition, "the thread is closing");
    const { next, roots, sandboxChanged, unchanged } = planSettingsChange(this.info, this.#writableRoots, settings);
    if (unchanged) return this.info;
    if (sandboxChanged) await this.env.session.setSandbox(this.#i.sessionSandbox(next.sandbox, roots), opts);
    this.#writableRoots = roots;
    this.updateInfo({ ...next, updatedAt: this.#i.now().toISOString() }, settings.writableRoots ? roots.slice(1) : undefined);
    await this.#i.writer.flush();
    // After the record is durable: a subscriber never sees settings a restart would lose.
    this.#emit({ type: "thread.settings_updated", thread: this.info, writableRoots: roots.slice(1) });
    return this.info;
  }

  flush(): Promise<void> {
    return this.#i.writer.flush();
  }

  get runningTurnId(): string | undefined {
    return this.#turn?.turnId;
  }

  turns(): ThreadTurnView[] {
    return this.#turns.map((t) => ({ turnId: t.turnId, status: t.status, items: [...t.items] }));
  }

  subscribe(options: { controller?: boolean; signal?: AbortSignal }): AsyncIterable<ThreadEvent> {
    return this.fanout.subscribe({
      ...options,
      // Every subscription opens with the thread itself; a new controller also sees what waits.
      initial: () => [
        { type: "thread.started", thread: this.info },
        ...(options.controller && this.#turn
          ? this.#gate.listPending().map((request): ThreadEvent => ({ type: "item.started", turnId: request.turnId, item: { type: "approval", id: request.requestId, request } }))
          : []),
      ],
    });
  }

  startTurn(text: string, outputSchema?: Record<string, unknown>): { turnId: string } {
    if (this.#closing) throw new TetherError(ErrorCode.FailedPrecondition, "the thread is closing");
    if (this.#turn) throw new TetherError(ErrorCode.FailedPrecondition, `turn ${this.#turn.turnId} is still running: steer it or interrupt it first`);
    if (text.trim() === "") throw new TetherError(ErrorCode.InvalidArgument, "the turn's input text is empty");
    const turnId = this.#i.newId("turn");
    const view: LiveTurn = { turnId, items: [], status: "in_progress", input: [] };
    this.#turns.push(view);
    const items = this.#tracker(view);
    const turn = new RunningTurn(this.info.threadId, turnId, items, outputSchema);
    this.#turn = turn;
    this.#steers = [];
    this.#i.writer.append({ t: "turn", turnId, at: this.#i.now().toISOString() });
    if (this.info.preview === "") this.info = { ...this.info, preview: text.slice(0, 120) };
    this.#emit({ type: "turn.started", turnId });
    turn.done = runThreadTurn(this.#turnHost(), turn, text, view);
    return { turnId };
  }

  /** A turn's items: shown on the thread's stream, kept in its view, stored when completed. */
  #tracker(view: LiveTurn): ItemTracker {
    return new ItemTracker(view.turnId, (e) => this.#emit(e), (item) => {
      view.items.push(item);
      this.#i.writer.append({ t: "item", turnId: view.turnId, item: capStoredItem(item) });
    });
  }

  /**
   * The items of a turn the thread holds, ended or not (undefined if rolled back): a command
   * still running when the agent went away is restored into the turn that started it.
   */
  itemsFor(turnId: string): ItemEmitter | undefined {
    if (this.#turn?.turnId === turnId) return this.#turn.items;
    const view = this.#turns.find((t) => t.turnId === turnId);
    if (view === undefined) return undefined;
    let items = this.#pastItems.get(turnId);
    if (items === undefined) {
      items = this.#tracker(view);
      this.#pastItems.set(turnId, items);
    }
    return items;
  }

  steer(text: string): void {
    if (!this.#turn) throw new TetherError(ErrorCode.FailedPrecondition, "no turn is running: start a turn instead");
    if (this.#steers.length >= MAX_QUEUED_STEERS) throw new TetherError(ErrorCode.ResourceExhausted, `${MAX_QUEUED_STEERS} steering messages are already waiting for the model`);
    this.#steers.push(text);
  }

  /** Cancels the model request and the turn's processes; resolves once the turn has ended. */
  async interrupt(): Promise<void> {
    const turn = this.#turn;
    if (!turn) return;
    turn.abort.abort(cancelled("the turn was interrupted"));
    await turn.done;
  }

  listPending(): ApprovalRequest[] {
    return this.#gate.listPending();
  }

  respond(requestId: string, decision: ApprovalDecision): void {
    this.#gate.respond(requestId, decision);
  }

  /** Waits for the running turn (if any) to end. */
  async idle(): Promise<void> {
    await this.#turn?.done;
  }

  async close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.interrupt();
      this.#releaseController();
      if (this.#envInUse()) await this.#i.tools.closeAll().catch(() => undefined);
      await this.#i.writer.close();
      this.fanout.close();
      await this.env.close();
    })();
    return this.#closing;
  }

  /** Long-lived processes the thread's tools hold. */
  get liveProcesses(): number {
    return this.#i.tools.liveProcesses?.() ?? 0;
  }

  /**
   * Unloads an idle thread: the rollout is closed and the environment detached, not closed,
   * so the exec session and its processes outlive it (for its detached TTL) and a resume
   * reattaches. An environment that cannot detach is closed.
   */
  async unload(): Promise<void> {
    this.#closing ??= (async () => {
      await this.interrupt();
      this.#releaseController();
      await this.#i.writer.close();
      this.fanout.close();
      await (this.env.detach ? this.env.detach() : this.env.close());
    })();
    return this.#closing;
  }

  /** False while a lazily opened environment has not begun opening: nothing can run there, nothing to end (and no opening just to list nothing). */
  #envInUse(): boolean {
    return !(this.env instanceof LazyEnvironment) || this.env.started;
  }

  /** Stops answering the exec session's escalations and network questions (another agent may take over). */
  #releaseController(): void {
    this.#gate.close();
    this.#escalations?.[Symbol.dispose]();
    this.#network?.[Symbol.dispose]();
  }

  #emit(event: ThreadEvent): void {
    this.fanout.publish(event);
  }

  /** What the running turn reads and changes of the thread (thread-turn.ts). */
  #turnHost(): TurnHost {
    return {
      init: this.#i,
      env: this.env,
      gate: this.#gate,
      info: () => this.info,
      setInfo: (info) => void (this.info = info),
      writableRoots: () => this.#writableRoots,
      conversation: () => this.conversation(),
      takeSteers: () => this.#steers.splice(0),
      envInUse: () => this.#envInUse(),
      turnEnded: () => void (this.#turn = undefined),
      emit: (event) => this.#emit(event),
    };
  }
}
