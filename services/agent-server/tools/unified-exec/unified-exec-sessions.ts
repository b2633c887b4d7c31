// The running commands of one thread that the model may continue with write_stdin. The model
// sees short numbers; the exec layer sees process ids that embed the thread id and labels
// naming thread, turn and call, so a turn's processes can be found (List) and ended even
// when this table lost track of one. Bounded: starting one more than the limit ends the
// least recently used. Sessions still running after a call are journaled (ExecSessionRecord)
// so a restarted agent that reattached to its exec session can restore this table. Each
// session reads its process's output in the background (one Attach for its life,
// SessionOutput); an item whose process outlives its call is completed by that reader when
// the process exits, even after the turn ended.
import { setTimeout as sleep } from "node:timers/promises";
import { ProcessState } from "../../../common/wire-enums.js";
import type { Environment } from "../../../../clients/environment/environment.js";
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import type { ExecJournal, ExecSessionRecord, SavedExecSessions } from "../../thread/rollout-record.js";
import type { PastTurnItems, ProcessOrigin } from "../../thread/thread-services.js";
import type { ThreadItem } from "../../thread/thread-event.js";
import { HeadTailBuffer } from "../head-tail-buffer.js";
import type { ItemEmitter } from "../tool.js";
import { ITEM_OUTPUT_BYTES, itemExited, itemFailed, itemOutput } from "./exec-item.js";
import { SessionOutput } from "./session-output.js";

export type CommandItem = Extract<ThreadItem, { type: "command_execution" }>;

/** The command_execution item being filled by one session in one turn. */
export interface OpenItem {
  turnId: string;
  emitter: ItemEmitter;
  snapshot: CommandItem;
  output: HeadTailBuffer;
  startedAt: number;
  /** Bytes sent as deltas so far. */
  streamed: number;
  /** Completed (exactly once, by the call or by the reader). */
  done: boolean;
}

export interface ExecSession {
  /** What the model passes to write_stdin. */
  readonly id: number;
  readonly processId: string;
  readonly turnId: string;
  /** The model's call that started it ("" for a session restored from an older rollout). */
  readonly callId: string;
  readonly command: string;
  readonly cwd: string;
  readonly tty: boolean;
  readonly startedAt: number;
  lastUsed: number;
  /** The item the output feeds: opened by exec_command, open until the process exits. */
  item: OpenItem | undefined;
  /** The background reader and the output not yet handed to the model. */
  readonly output: SessionOutput;
  /**
   * A call is waiting on this session: it completes the item itself when it sees the exit
   * (exec_command may still retry unsandboxed on the same item). Otherwise the reader does.
   */
  inCall: boolean;
  /** Calls on one session run one at a time (each takes the buffered output). */
  lock: Promise<unknown>;
  /** Whether the journal holds this session (its end is then journaled too). */
  journaled?: boolean;
}

export interface SessionInit {
  processId: string;
  turnId: string;
  callId: string;
  command: string;
  cwd: string;
  tty: boolean;
  startedAt: number;
  item: OpenItem | undefined;
}

/** Waits `ms` (or until `signal` aborts, then rejects). Injected so tests decide when a yield ends. */
export type YieldTimer = (ms: number, signal: AbortSignal) => Promise<void>;

export const realYieldTimer: YieldTimer = async (ms, signal) => {
  await sleep(ms, undefined, { signal });
};

export interface UnifiedExecSessionsOptions {
  env: Environment;
  threadId: string;
  /** Running sessions kept per thread (default 16). */
  maxSessions?: number;
  /** First session number handed to the model (default 1000). */
  firstSessionId?: number;
  now?: () => number;
  yieldTimer?: YieldTimer;
  /** Between SIGTERM and SIGKILL when a session is ended (default: the server's). */
  terminateGraceMs?: number;
  journal?: ExecJournal;
}

/** After Terminate answered, the reader gets the exit at once; this only bounds a broken stream. */
const READER_DRAIN_MS = 5_000;

export const LABEL_THREAD = "tether.thread";
export const LABEL_TURN = "tether.turn";
export const LABEL_CALL = "tether.call";

export class UnifiedExecSessions implements AsyncDisposable {
  readonly env: Environment;
  readonly threadId: string;
  readonly maxSessions: number;
  readonly now: () => number;
  readonly yieldTimer: YieldTimer;
  readonly #graceMs: number | undefined;
  readonly #sessions = new Map<number, ExecSession>();
  readonly #journal: ExecJournal | undefined;
  /** Ids the rollout knew as running whose process was gone after a restart. */
  readonly #lost = new Set<number>();
  #nextId: number;
  #clock = 0;

  constructor(options: UnifiedExecSessionsOptions) {
    this.env = options.env;
    this.threadId = options.threadId;
    this.maxSessions = Math.max(1, options.maxSessions ?? 16);
    this.#nextId = options.firstSessionId ?? 1000;
    this.now = options.now ?? (() => performance.now());
    this.yieldTimer = options.yieldTimer ?? realYieldTimer;
    this.#graceMs = options.terminateGraceMs;
    this.#journal = options.journal;
  }

  /**
   * After a restart: takes back the sessions the rollout recorded whose process the exec
   * session still has (running, or exited with output the model has not seen), and ends the
   * thread's other processes (calls whose result was never recorded: the model was told they
   * were aborted). Returns the ids restored and the ids lost.
   */
  async restore(saved: SavedExecSessions, signal?: AbortSignal, items?: PastTurnItems): Promise<{ restored: number[]; lost: number[] }> {
    this.#nextId = Math.max(this.#nextId, saved.nextId);
    const listed = await this.env.processes.list({ labels: { [LABEL_THREAD]: this.threadId }, includeExited: true });
    signal?.throwIfAborted();
    const known = new Map(listed.map((p) => [p.processId, p]));
    const restored: number[] = [];
    for (const r of saved.sessions) {
      if (!known.has(r.processId)) {
        this.#lost.add(r.sessionId);
        continue;
      }
      known.delete(r.processId);
      // The reader resumes after what the model last took; output it has not seen is read again.
      // Its item, open when the agent went away, carries on in the turn that started it (and
      // completes there when the process exits), under the same id.
      const emitter = r.callId !== undefined ? items?.(r.turnId) : undefined;
      const item = emitter !== undefined && r.callId !== undefined ? restoredItem(emitter, r, r.callId, this.now()) : undefined;
      const session = this.#open({ processId: r.processId, turnId: r.turnId, callId: r.callId ?? "", command: r.command, cwd: r.cwd, tty: r.tty, startedAt: this.now(), item }, r.sessionId, BigInt(r.cursor), false);
      session.journaled = true;
      this.#sessions.set(session.id, session);
      restored.push(session.id);
    }
    const orphans = [...known.values()].filter((p) => p.state === ProcessState.RUNNING).map((p) => p.processId);
    await Promise.all(orphans.map((id) => this.#terminate(id)));
    return { restored, lost: [...this.#lost] };
  }

  /** Whether the id belonged to a session that was gone when the thread was resumed. */
  wasLost(id: number): boolean {
    return this.#lost.has(id);
  }

  /** Journals where the session stands after a call that left it in the table. */
  checkpoint(session: ExecSession): void {
    if (this.#journal === undefined || this.#sessions.get(session.id) !== session) return;
    session.journaled = true;
    const { id, processId, turnId, callId, command, cwd, tty } = session;
    this.#journal.running({ sessionId: id, processId, turnId, callId, command, cwd, tty, cursor: session.output.takenSeq.toString() });
  }

  /**
   * Which call started a process the exec layer names (a network request or an escalation
   * comes with the asking process's id): a background process may belong to an earlier call
   * or turn than the one running. Undefined for a process this table does not hold.
   */
  originOf(processId: string): ProcessOrigin | undefined {
    for (const s of this.#sessions.values()) {
      if (s.processId === processId) return { turnId: s.turnId, ...(s.callId !== "" ? { callId: s.callId } : {}), command: s.command };
    }
    return undefined;
  }

  labels(turnId: string, callId: string): Record<string, string> {
    return { [LABEL_THREAD]: this.threadId, [LABEL_TURN]: turnId, [LABEL_CALL]: callId };
  }

  /** A process id unique to this thread and call: 1-128 of [A-Za-z0-9._:-], as Start requires. */
  processIdFor(callId: string, suffix = ""): string {
    const id = `ue.${safe(this.threadId)}.${safe(callId)}${suffix}`;
    return id.length <= 128 ? id : `ue.${safe(this.threadId).slice(0, 60)}.${hash(callId)}${suffix}`.slice(0, 128);
  }

  /**
   * Records a started process the model may come back to and starts reading its output (its
   * item gets deltas from now on). The caller holds it (`inCall`) until its first yield ends.
   */
  add(init: SessionInit, started?: Promise<boolean>): ExecSession {
    return this.#open(init, this.#nextId++, 0n, true, started);
  }

  #open(init: SessionInit, id: number, afterSeq: bigint, inCall: boolean, started?: Promise<boolean>): ExecSession {
    const session: ExecSession = Object.assign(
      { ...init, id, lastUsed: ++this.#clock, lock: Promise.resolve(), inCall },
      {
        output: new SessionOutput(this.env, init.processId, afterSeq, {
          output: (data, text) => {
            if (session.item !== undefined && !session.item.done) itemOutput(session.item, data, text);
          },
          ended: () => {
            if (!session.inCall) this.completeItem(session);
          },
        }, started),
      },
    );
    this.#sessions.set(session.id, session);
    return session;
  }

  /** Closes the session's item for how its process ended (once; no-op while it runs). */
  completeItem(session: ExecSession): void {
    const item = session.item;
    if (item === undefined || item.done) return;
    const { exit, error } = session.output;
    if (exit !== undefined) itemExited(item, exit, this.now());
    else if (error !== undefined) itemFailed(item, `${item.output.text()}\n[the output of this command could not be read to its end: ${error.message}]`, "failed");
  }

  get(id: number): ExecSession | undefined {
    const s = this.#sessions.get(id);
    if (s !== undefined) s.lastUsed = ++this.#clock;
    return s;
  }

  /** Runs `fn` when the session's earlier calls are done. */
  exclusive<T>(session: ExecSession, fn: () => Promise<T>): Promise<T> {
    const run = session.lock.then(fn, fn);
    session.lock = run.catch(() => undefined);
    return run;
  }

  remove(session: ExecSession): void {
    if (this.#sessions.get(session.id) === session) this.#forget(session);
  }

  #forget(session: ExecSession): void {
    this.#sessions.delete(session.id);
    if (session.journaled) this.#journal?.closed(session.id);
    session.journaled = false;
  }

  get size(): number {
    return this.#sessions.size;
  }

  ids(): number[] {
    return [...this.#sessions.keys()];
  }

  /**
   * Makes room for one more session: forgets sessions whose process already exited, then ends
   * the least recently used. Returns the ids of the sessions ended.
   */
  async makeRoom(): Promise<number[]> {
    if (this.#sessions.size < this.maxSessions) return [];
    // The readers know which processes ended: no List needed.
    for (const s of this.#sessions.values()) if (s.output.ended && !s.inCall) this.#forget(s);
    const ended: number[] = [];
    while (this.#sessions.size >= this.maxSessions) {
      const lru = [...this.#sessions.values()].reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
      this.#forget(lru);
      await this.#end(lru);
      ended.push(lru.id);
    }
    return ended;
  }

  /**
   * Ends every process the turn started (interrupt): those in the table, then whatever List
   * still shows with the turn's labels. Resolves with the process ids that were ended.
   */
  async terminateTurn(turnId: string): Promise<string[]> {
    const mine = [...this.#sessions.values()].filter((s) => s.turnId === turnId);
    for (const s of mine) this.#forget(s);
    return this.#terminateAll(mine, { [LABEL_THREAD]: this.threadId, [LABEL_TURN]: turnId });
  }

  /** Ends every process of the thread (thread closed); their items complete. */
  async closeAll(): Promise<string[]> {
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    return this.#terminateAll(all, { [LABEL_THREAD]: this.threadId });
  }

  /** closeAll, for `await using`. */
  async close(): Promise<void> {
    await this.closeAll();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #terminateAll(known: ExecSession[], labels: Record<string, string>): Promise<string[]> {
    const ended = new Set<string>();
    // The readers see the exits and complete the items before this resolves.
    await Promise.all(known.map((s) => this.#end(s).then(() => ended.add(s.processId))));
    let targets: string[] = [];
    // Twice at most: a Start that was in flight during the first List shows up in the second.
    for (let pass = 0; pass < 2; pass++) {
      const running = (await this.env.processes.list({ labels })).filter((p) => p.state === ProcessState.RUNNING).map((p) => p.processId);
      targets = [...new Set(running)];
      if (targets.length === 0) break;
      await Promise.all(targets.map((id) => this.#terminate(id).then(() => ended.add(id))));
    }
    return [...ended];
  }

  /**
   * Ends a session's process and waits for its reader to see the exit (so its item completes
   * now, not later); a reader that cannot finish within READER_DRAIN_MS is stopped.
   */
  async #end(session: ExecSession): Promise<void> {
    try {
      if (!session.output.ended) await this.#terminate(session.processId);
    } finally {
      const timer = new AbortController();
      const drained = await Promise.race([session.output.done.then(() => true), sleep(READER_DRAIN_MS, false, { ref: false, signal: timer.signal }).catch(() => true)]);
      timer.abort();
      if (!drained) {
        session.output.stop();
        await session.output.done;
      }
    }
  }

  async #terminate(processId: string): Promise<void> {
    try {
      await this.env.processes.terminate(processId, this.#graceMs === undefined ? {} : { graceMs: this.#graceMs });
    } catch (err) {
      // Already gone (exited and reaped, or its session ended): nothing left to end.
      if (!(err instanceof TetherError && err.code === ErrorCode.NotFound)) throw err;
    }
  }
}

/** The command item of a session restored after a restart, reopened under its first id. */
function restoredItem(emitter: ItemEmitter, r: ExecSessionRecord, callId: string, now: number): OpenItem {
  const snapshot: CommandItem = { type: "command_execution", id: `cmd-${callId}`, callId, command: r.command, cwd: r.cwd, sessionId: String(r.sessionId), output: "", status: "in_progress" };
  emitter.started(snapshot);
  emitter.keepOpen(snapshot.id);
  const item: OpenItem = { turnId: r.turnId, emitter, snapshot, output: new HeadTailBuffer(ITEM_OUTPUT_BYTES), startedAt: now, streamed: 0, done: false };
  const note = "[the agent restarted: output from before is not shown here]\n";
  itemOutput(item, Buffer.from(note), note);
  return item;
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_:-]/g, "_");
}

function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16);
}
