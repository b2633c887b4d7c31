// Everything the agent owns, transport-free (like ExecCore): live threads, their rollouts
// and the index. The in-process client and the gRPC handlers both drive this object.
import { truncate } from "../common/fs-async.js";
import path from "node:path";
import type { Environment } from "../../clients/environment/environment.js";
import type { ThreadOptions, ThreadSettings, ThreadSnapshot, TurnInput } from "../../clients/agent/agent-client.js";
import { randomUuid } from "../common/random-uuid.js";
import { ErrorCode, TetherError } from "../common/tether-error.js";
import type { ModelClient, ReasoningSettings } from "./model/model-client.js";
import type { ApprovalDecision, ApprovalRequest } from "./policy/approval-types.js";
import { type EnvironmentCredentials, type OpenEnvironmentRequest, canReattach, execSessionIdFor } from "./thread-environment.js";
import { type OpenState, type OpenThreadDeps, openThread } from "./open-thread.js";
import { readRollout } from "./thread/rollout-reader.js";
import { RolloutStore, defaultTetherHome, metaRecord } from "./thread/rollout-store.js";
import { RolloutWriter } from "./thread/rollout-writer.js";
import { type LiveTurn, Thread } from "./thread/thread.js";
import type { ThreadEvent, ThreadInfo } from "./thread/thread-event.js";
import type { ThreadServicesFactory } from "./thread/thread-services.js";

export type { OpenEnvironmentRequest } from "./thread-environment.js";

export const DEFAULT_IDLE_THREAD_TTL_MS = 10 * 60_000;


export interface AgentCoreOptions {
  /** Holds sessions/ (rollouts), config and rules; default $TETHER_HOME or ~/.tether. */
  tetherHome?: string;
  /** Where sessions/ lives instead of tetherHome (`tether exec --ephemeral`: a directory removed afterwards). */
  rolloutHome?: string;
  model: ModelClient;
  services: ThreadServicesFactory;
  /** Opens a thread's environment; default: the `--env` grammar of clients/environment. */
  openEnvironment?: (request: OpenEnvironmentRequest, options: { signal?: AbortSignal }) => Promise<Environment>;
  /**
   * The default opener's credentials for an exec server (`--token-file`, `--ca-file`): carried by
   * every opening of it, the lazy environment's early session and full client included.
   */
  environmentCredentials?: EnvironmentCredentials;
  /**
   * Open a new thread's environment only when the model starts a function call (or at its
   * first use), so loading the exec core (or an exec client) holds back no model request, and
   * a turn that calls no tool never opens it. `local`: AGENTS.md is read with node:fs. An exec
   * server by the default opener: the thread's exec session opens at startThread on the lean
   * client (an unreachable server still fails startThread) and AGENTS.md is read through it.
   * A failed opening fails the turn that needed it (TurnError.source "environment"). Default false.
   */
  lazyEnvironment?: boolean;
  /**
   * Base instructions plus project instructions (AGENTS.md) for a cwd, read through the
   * thread's environment (the cwd may be remote). Called once per opened thread.
   */
  instructions?: (cwd: string, env: Environment) => Promise<string>;
  /** Sent with every model request (config model_reasoning_effort / model_reasoning_summary). */
  reasoning?: ReasoningSettings;
  /** How long a thread's exec session outlives the agent (restart, unloaded thread); default 1 h. */
  detachedTtlMs?: number;
  /**
   * A loaded thread with no running turn and no subscriber is unloaded after about this long
   * (its environment detached, not closed) and reloaded from its rollout on the next call.
   * Default 10 min; 0 keeps every thread loaded.
   */
  idleThreadTtlMs?: number;
  /**
   * Codex's `notify`: a program and its arguments, run after each completed turn with the
   * turn's JSON (notify/turn-notify.ts) as one more argument; never waited for by the thread.
   * A program that cannot be started is one warning on the thread, once per agent.
   */
  notify?: readonly string[];
  /** Where that warning goes instead (`tether exec` stops reading the thread at turn.completed: its stderr). */
  notifyWarning?: (message: string) => void;
  maxQueuedEvents?: number;
  newId?: (prefix: string) => string;
  now?: () => Date;
}

interface Signal {
  signal?: AbortSignal;
}

export class AgentCore implements AsyncDisposable {
  readonly store: RolloutStore;
  readonly #o: AgentCoreOptions;
  readonly #threads = new Map<string, Thread>();
  /** Threads being opened: a second resume of the same id waits for the first. */
  readonly #opening = new Map<string, Promise<Thread>>();
  /** Threads being unloaded: a resume waits until the rollout writer is closed. */
  readonly #unloading = new Map<string, Promise<void>>();
  /** When each loaded thread was last seen in use (ms, from `now`). */
  readonly #lastUsed = new Map<string, number>();
  readonly #idleTimer: NodeJS.Timeout | undefined;
  readonly #newId: (prefix: string) => string;
  readonly #now: () => Date;
  #closing: Promise<void> | undefined;
  /** Running notify programs: close() waits for them (each is bounded by its timeout). */
  readonly #notifying = new Set<Promise<void>>();
  #notifyWarned = false;

  private constructor(options: AgentCoreOptions, store: RolloutStore) {
    this.#o = options;
    this.store = store;
    this.#newId = options.newId ?? ((prefix) => `${prefix}_${randomUuid().replaceAll("-", "")}`);
    this.#now = options.now ?? (() => new Date());
    const ttl = options.idleThreadTtlMs ?? DEFAULT_IDLE_THREAD_TTL_MS;
    if (ttl > 0) {
      // Idle time is counted from the last sweep that saw the thread busy: at most one interval late.
      this.#idleTimer = setInterval(() => void this.unloadIdleThreads().catch(() => undefined), Math.min(ttl, 60_000));
      this.#idleTimer.unref();
    }
  }

  static async create(options: AgentCoreOptions): Promise<AgentCore> {
    const store = new RolloutStore(options.rolloutHome ?? options.tetherHome ?? defaultTetherHome());
    await store.init();
    return new AgentCore(options, store);
  }

  async startThread(options: ThreadOptions, opts: Signal = {}): Promise<ThreadInfo> {
    this.#checkOpen();
    const at = this.#now().toISOString();
    const info: ThreadInfo = {
      threadId: this.#newId("thread"),
      createdAt: at,
      updatedAt: at,
      cwd: path.resolve(options.cwd),
      environment: options.environment,
      model: options.model,
      sandbox: options.sandbox,
      approvalPolicy: options.approvalPolicy,
      preview: "",
    };
    const writer = await RolloutWriter.open(this.store.pathFor(info.threadId), { create: true });
    const execSessionId = execSessionIdFor(info.threadId);
    const writableRoots = options.writableRoots ?? [];
    writer.append(metaRecord(info, undefined, 1, { execSessionId, ...(writableRoots.length > 0 ? { writableRoots } : {}) }));
    const thread = await this.#open(info, writer, [], { execSessionId, writableRoots, reattach: false }, opts);
    await this.store.noteThread(info);
    return thread.info;
  }

  async resumeThread(threadId: string, overrides: Partial<ThreadOptions> = {}, opts: Signal = {}): Promise<ThreadInfo> {
    this.#checkOpen();
    const live = this.#threads.get(threadId);
    if (live) return this.#applyOverrides(live, overrides, opts);
    const pending = this.#opening.get(threadId);
    if (pending) return this.#applyOverrides(await pending, overrides, opts);
    const opening = (async () => {
      await this.#unloading.get(threadId);
      const file = this.store.pathFor(threadId);
      if (!(await this.store.exists(threadId))) throw new TetherError(ErrorCode.NotFound, `no thread ${threadId} under ${this.store.dir}`);
      const state = await readRollout(file);
      if (state.tornAt !== undefined) await truncate(file, state.tornAt);
      const writer = await RolloutWriter.open(file, { create: false });
      // Record the synthetic outputs so the file itself never leaves a call unanswered.
      for (const d of state.danglingCalls) {
        const turn = state.turns.find((t) => t.turnId === d.turnId)!;
        const output = turn.input.find((i) => i.type === "function_call_output" && i.callId === d.callId)!;
        writer.append({ t: "input", turnId: d.turnId, item: output });
      }
      const turns: LiveTurn[] = state.turns.map((t) => ({ turnId: t.turnId, items: t.items, status: t.status, input: t.input }));
      const { writableRoots: newRoots, ...rest } = overrides;
      const rootsChanged = newRoots !== undefined && JSON.stringify(newRoots) !== JSON.stringify(state.writableRoots);
      const writableRoots = newRoots ?? state.writableRoots;
      const changed = Object.entries(rest).some(([k, v]) => v !== undefined && (state.thread as unknown as Record<string, unknown>)[k] !== v);
      const info: ThreadInfo = changed || rootsChanged ? { ...state.thread, ...definedOnly(rest), updatedAt: this.#now().toISOString() } : state.thread;
      const execSessionId = state.execSessionId ?? execSessionIdFor(threadId);
      const saved = { sessions: state.execSessions, nextId: state.execNextId };
      const thread = await this.#open(info, writer, turns, { execSessionId, writableRoots, saved, reattach: true, sessionGrants: state.sessionGrants }, opts);
      if (changed || rootsChanged) thread.updateInfo(info, rootsChanged ? writableRoots : undefined);
      for (const message of state.warnings) thread.fanout.publish({ type: "warning", message });
      return thread;
    })();
    this.#opening.set(threadId, opening);
    try {
      return (await opening).info;
    } finally {
      this.#opening.delete(threadId);
    }
  }

  /**
   * A resume of a thread that is already loaded (another client has it, or it was not idle
   * long enough to be unloaded): its settings overrides apply as a live settings change rather
   * than being dropped. Its environment and cwd cannot change while it is loaded: a clear error.
   */
  async #applyOverrides(thread: Thread, overrides: Partial<ThreadOptions>, opts: Signal): Promise<ThreadInfo> {
    const { cwd, environment, ...settings } = overrides;
    const id = thread.info.threadId;
    if (environment !== undefined && environment !== thread.info.environment) {
      throw new TetherError(ErrorCode.FailedPrecondition, `thread ${id} is loaded with environment ${thread.info.environment}: resume it without a new environment, or once no client uses it`);
    }
    if (cwd !== undefined && path.resolve(cwd) !== thread.info.cwd) {
      throw new TetherError(ErrorCode.FailedPrecondition, `thread ${id} is loaded with working directory ${thread.info.cwd}: resume it without a new one, or once no client uses it`);
    }
    const changes = definedOnly(settings);
    return Object.keys(changes).length === 0 ? thread.info : this.updateThreadSettings(id, changes, opts);
  }

  async forkThread(threadId: string, options: { turns?: number } = {}, opts: Signal = {}): Promise<ThreadInfo> {
    this.#checkOpen();
    await this.#threads.get(threadId)?.flush();
    const state = await readRollout(this.store.pathFor(threadId));
    const count = options.turns ?? state.turns.length;
    if (!Number.isInteger(count) || count < 0 || count > state.turns.length) {
      throw new TetherError(ErrorCode.OutOfRange, `thread ${threadId} has ${state.turns.length} turns: cannot fork its first ${count}`);
    }
    const kept = state.turns.slice(0, count);
    const at = this.#now().toISOString();
    const forkedFrom = { threadId, turnCount: count };
    const info: ThreadInfo = { ...state.thread, threadId: this.#newId("thread"), createdAt: at, updatedAt: at, forkedFrom };
    const writer = await RolloutWriter.open(this.store.pathFor(info.threadId), { create: true });
    // The fork gets its own exec session: the parent's processes stay the parent's. Its
    // session ids start after the parent's so an old id never names a new process.
    const execSessionId = execSessionIdFor(info.threadId);
    const writableRoots = state.writableRoots;
    writer.append(metaRecord(info, forkedFrom, 1, { execSessionId, ...(writableRoots.length > 0 ? { writableRoots } : {}), execNextId: state.execNextId }));
    for (const t of kept) {
      writer.append({ t: "turn", turnId: t.turnId, at });
      for (const item of t.input) writer.append({ t: "input", turnId: t.turnId, item });
      for (const item of t.items) writer.append({ t: "item", turnId: t.turnId, item });
      writer.append({ t: "end", turnId: t.turnId, status: t.status, usage: { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningOutputTokens: 0 }, at });
    }
    const turns: LiveTurn[] = kept.map((t) => ({ turnId: t.turnId, items: t.items, status: t.status, input: t.input }));
    const thread = await this.#open(info, writer, turns, { execSessionId, writableRoots, saved: { sessions: [], nextId: state.execNextId }, reattach: false }, opts);
    await this.store.noteThread(thread.info);
    return thread.info;
  }

  /** Changes a thread's settings (it is loaded if stored); see Thread.updateSettings for when they apply. */
  async updateThreadSettings(threadId: string, settings: ThreadSettings, opts: Signal = {}): Promise<ThreadInfo> {
    if (settings.model !== undefined && settings.model.trim() === "") throw new TetherError(ErrorCode.InvalidArgument, "the model name is empty");
    const thread = await this.#live(threadId);
    const before = thread.info;
    const info = await thread.updateSettings(settings, opts);
    if (info !== before) await this.store.noteThread(info);
    return info;
  }

  async rollback(threadId: string, turns: number): Promise<ThreadInfo> {
    const thread = await this.#live(threadId);
    thread.rollback(turns);
    await thread.flush();
    await this.store.noteThread(thread.info);
    return thread.info;
  }

  listThreads(options: { limit?: number; cwd?: string } = {}): Promise<ThreadInfo[]> {
    return this.store.list(options);
  }

  async readThread(threadId: string): Promise<ThreadSnapshot> {
    const live = this.#threads.get(threadId);
    if (live) {
      return { thread: live.info, turns: live.turns().flatMap((t) => (t.status === "in_progress" ? [] : [{ turnId: t.turnId, items: t.items, status: t.status }])) };
    }
    if (!(await this.store.exists(threadId))) throw new TetherError(ErrorCode.NotFound, `no thread ${threadId} under ${this.store.dir}`);
    const state = await readRollout(this.store.pathFor(threadId));
    return { thread: state.thread, turns: state.turns.map((t) => ({ turnId: t.turnId, items: t.items, status: t.status })) };
  }

  async startTurn(threadId: string, input: TurnInput): Promise<{ turnId: string }> {
    return (await this.#live(threadId)).startTurn(input.text, input.outputSchema);
  }

  async steer(threadId: string, text: string): Promise<void> {
    if (text.trim() === "") throw new TetherError(ErrorCode.InvalidArgument, "the steering text is empty");
    (await this.#live(threadId)).steer(text);
  }

  async interrupt(threadId: string): Promise<void> {
    await (await this.#live(threadId)).interrupt();
  }

  /** The thread's events; the first subscription opens with `thread.started`. Resumes a stored thread. */
  async events(threadId: string, options: { controller?: boolean; signal?: AbortSignal } = {}): Promise<AsyncIterable<ThreadEvent>> {
    return (await this.#live(threadId)).subscribe(options);
  }

  async listPendingApprovals(threadId: string): Promise<ApprovalRequest[]> {
    return (await this.#live(threadId)).listPending();
  }

  async respond(threadId: string, requestId: string, decision: ApprovalDecision): Promise<void> {
    (await this.#live(threadId)).respond(requestId, decision);
  }

  /** A live thread (tests and the server's shutdown use it). */
  thread(threadId: string): Thread | undefined {
    return this.#threads.get(threadId);
  }

  get liveThreadCount(): number {
    return this.#threads.size;
  }

  /** Closes one live thread (its environment session ends); its rollout stays. */
  async closeThread(threadId: string): Promise<void> {
    const thread = this.#threads.get(threadId);
    if (!thread) return;
    this.#threads.delete(threadId);
    await thread.close();
  }

  /**
   * Unloads every thread idle for the idle TTL: no running turn, no subscriber. Its exec
   * session is detached, so its processes live on for the detached TTL; a thread whose
   * environment cannot be reattached (in process, a container) is kept while it holds
   * long-lived processes. Returns the ids unloaded.
   */
  async unloadIdleThreads(ttlMs = this.#o.idleThreadTtlMs ?? DEFAULT_IDLE_THREAD_TTL_MS): Promise<string[]> {
    const now = this.#now().getTime();
    const idle: Thread[] = [];
    for (const [id, thread] of this.#threads) {
      const busy = thread.runningTurnId !== undefined || thread.fanout.subscriberCount > 0 || thread.listPending().length > 0;
      if (busy || !this.#lastUsed.has(id)) this.#lastUsed.set(id, now);
      else if (now - this.#lastUsed.get(id)! >= ttlMs && (canReattach(thread.info.environment) || thread.liveProcesses === 0)) idle.push(thread);
    }
    await Promise.all(idle.map((t) => this.#unload(t)));
    return idle.map((t) => t.info.threadId);
  }

  async #unload(thread: Thread): Promise<void> {
    const id = thread.info.threadId;
    if (this.#threads.get(id) !== thread) return;
    this.#threads.delete(id);
    this.#lastUsed.delete(id);
    const unloading = thread.unload().catch(() => undefined);
    this.#unloading.set(id, unloading);
    try {
      await unloading;
    } finally {
      if (this.#unloading.get(id) === unloading) this.#unloading.delete(id);
    }
  }

  /**
   * Ends every loaded thread (running turns are interrupted, their processes ended). By
   * default their exec sessions close too; `detach` (a server that stops to be restarted)
   * leaves the sessions of reattachable environments to their detached TTL, so the
   * restarted agent finds the model's long-lived processes again.
   */
  close(options: { detach?: boolean } = {}): Promise<void> {
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    this.#closing ??= (async () => {
      const threads = [...this.#threads.values()];
      this.#threads.clear();
      await Promise.allSettled(threads.map((t) => (options.detach && canReattach(t.info.environment) ? t.unload() : t.close())));
      while (this.#notifying.size > 0) await Promise.allSettled([...this.#notifying]);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(): void {
    if (this.#closing) throw new TetherError(ErrorCode.Unavailable, "the agent is shutting down");
  }

  async #live(threadId: string): Promise<Thread> {
    this.#checkOpen();
    this.#lastUsed.set(threadId, this.#now().getTime());
    const live = this.#threads.get(threadId);
    if (live) return live;
    await this.resumeThread(threadId);
    const thread = this.#threads.get(threadId);
    if (!thread) throw new TetherError(ErrorCode.Unavailable, `thread ${threadId} was unloaded while it was being opened: try again`);
    return thread;
  }

  async #open(info: ThreadInfo, writer: RolloutWriter, turns: LiveTurn[], state: OpenState, opts: Signal): Promise<Thread> {
    const onTurnCompleted = this.#o.notify?.length ? this.#notify.bind(this) : undefined;
    const thread = await openThread({ options: this.#o, newId: this.#newId, now: this.#now, noteThread: (i) => this.store.noteThread(i), onTurnCompleted }, info, writer, turns, state, opts);
    this.#threads.set(info.threadId, thread);
    return thread;
  }

  /** Runs `notify` for a completed turn, in the background (its module loads at the first one). */
  #notify(turn: Parameters<NonNullable<OpenThreadDeps["onTurnCompleted"]>>[0], warn: (message: string) => void): void {
    const command = this.#o.notify!;
    const run = import("./notify/turn-notify.js")
      .then((m) => m.runNotify(command, m.turnNotification(turn)))
      .then((warning) => {
        if (warning === undefined || this.#notifyWarned) return;
        this.#notifyWarned = true;
        (this.#o.notifyWarning ?? warn)(warning);
      })
      .catch(() => undefined)
      .finally(() => this.#notifying.delete(run));
    this.#notifying.add(run);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
