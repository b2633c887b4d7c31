// The table of processes an exec server owns. Start is idempotent by id; everything
// else looks the process up and delegates to it. Exited processes stay readable for
// a while (late readers, Wait after a reconnect) within a bounded count.
import type { SandboxReport } from "./sandbox-denial.js";
import { equals } from "@bufbuild/protobuf";
import { constants as osConstants } from "node:os";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  type ExitStatus,
  OverflowPolicy,
  type ProcessInfo,
  type ProcessSpec,
  ProcessSpecSchema,
  ShellMode,
} from "../../../gen/tether/exec/v1/process_pb.js";
import { DEFAULT_RESUME_HISTORY_BYTES, checkResumeHistory } from "../../common/resume-window.js";
import { ErrorCode, TetherError, throwIfAborted } from "../../common/tether-error.js";
import { Child } from "./child.js";
import { ManagedProcess, type WriteResult } from "./managed-process.js";
import type { StreamWriteResult } from "./stdin-streams.js";
import { MemoryBudget } from "./memory-budget.js";
import { OutputLog } from "./output-log.js";
import type { PidsCgroup, ProcessCgroup } from "./pids-cgroup.js";
import { type SpecLimits, DEFAULT_SPEC_LIMITS, buildEnv, checkId, checkSpec, resolveCwd, resolveExecutable } from "./process-spec.js";
import type { SessionPolicySource } from "../session/session-policy-source.js";
import { type Clock, systemClock } from "./stopwatch.js";
import { Zygote } from "./zygote.js";
import { PrejoinedLaunchers, type PrejoinedLauncher } from "./prejoined-launchers.js";

export interface ProcessLimits extends SpecLimits {
  maxRunning: number;
  defaultRetainedBytes: number;
  maxRetainedBytesPerProcess: number;
  maxRetainedBytesTotal: number;
  maxWriteBytes: number;
  /** BLOCK: delivered output kept per process so a reader whose connection dropped can resume (see common/resume-window.ts). */
  resumeHistoryBytes: number;
  /** How long an exited process stays readable, and how many are kept at most. */
  exitedRetentionMs: number;
  maxExited: number;
  defaultKillGraceMs: number;
  /** Most tasks one process tree may have (cgroup pids.max); 0 = no limit. Needs `cgroups`. */
  maxPidsPerProcess: number;
}

/**
 * Kills per event-loop turn when many processes go at once. Each kill wakes the process and
 * its launcher; 1000 in one synchronous loop held the loop for 17 s on a busy 2-core machine,
 * long enough for every connection's keepalive ping to time out (GOAWAY, calls failed).
 */
const KILL_BATCH = 32;

async function killAll(processes: ManagedProcess[], reason: string): Promise<void> {
  const exits: Promise<ExitStatus>[] = [];
  for (let i = 0; i < processes.length; i += KILL_BATCH) {
    if (i > 0) await nextTurn();
    for (const p of processes.slice(i, i + KILL_BATCH)) exits.push(p.kill(reason));
  }
  await Promise.all(exits);
}

const DEFAULT_PROCESS_LIMITS: ProcessLimits = {
  ...DEFAULT_SPEC_LIMITS,
  maxRunning: 2048,
  defaultRetainedBytes: 4 << 20,
  maxRetainedBytesPerProcess: 64 << 20,
  maxRetainedBytesTotal: 512 << 20,
  maxWriteBytes: 4 << 20,
  resumeHistoryBytes: DEFAULT_RESUME_HISTORY_BYTES,
  exitedRetentionMs: 10 * 60_000,
  maxExited: 1000,
  defaultKillGraceMs: 2000,
  maxPidsPerProcess: 4096,
};

/** What actually gets exec'd, after sandboxing and shell wrapping. */
export interface PreparedCommand {
  file: string;
  argv: string[];
  env: Record<string, string>;
  /** What the sandbox may refuse it, for ExitStatus.sandbox_denied; absent when unsandboxed. */
  sandbox?: SandboxReport;
  dispose(): Promise<void>;
}

export interface PrepareInput {
  processId: string;
  sessionId: string;
  spec: ProcessSpec;
  /** Resolved program for DIRECT; the zsh-fork preparer resolves its own shell. */
  file: string | undefined;
  cwd: string;
  env: Record<string, string>;
  /** The owning session's sandbox and controller; without it the process has no session to ask. */
  sessions?: SessionPolicySource;
}

/** Applies the spec's sandbox and shell mode. The default runs DIRECT with full access only. */
export interface CommandPreparer {
  prepare(input: PrepareInput, signal?: AbortSignal): Promise<PreparedCommand>;
}

const unsandboxedPreparer: CommandPreparer = {
  async prepare(input) {
    if (input.spec.shell === ShellMode.ZSH_FORK) {
      throw new TetherError(ErrorCode.FailedPrecondition, "shell ZSH_FORK is not available on this exec server");
    }
    const mode = input.spec.sandbox?.mode ?? 0;
    if (mode !== 0 && mode !== 1) {
      throw new TetherError(ErrorCode.FailedPrecondition, "this exec server has no sandbox support; refusing to run unsandboxed");
    }
    return { file: input.file!, argv: input.spec.argv, env: input.env, dispose: async () => {} };
  },
};

export interface ProcessManagerOptions {
  launcherPath: string;
  defaultCwd: string;
  limits?: Partial<ProcessLimits>;
  preparer?: CommandPreparer;
  clock?: Clock;
  serverEnv?: NodeJS.ProcessEnv;
  /** Where per-process pids limits come from; without it maxPidsPerProcess is not enforced. */
  cgroups?: PidsCgroup;
  /** Fork launchers from a tether-zygote beside the launcher (fast path; default true). */
  zygote?: boolean;
}

/** How long after a Start the prejoined launchers refill when its target is still running. */
const refillDelayMs = 100;

export class ProcessManager implements AsyncDisposable {
  readonly limits: ProcessLimits;
  readonly budget: MemoryBudget;
  readonly #options: ProcessManagerOptions;
  readonly #clock: Clock;
  readonly #processes = new Map<string, ManagedProcess>();
  /** Retention timers of exited processes, in exit order; their closures hold the process, so #forget clears them. */
  readonly #expiry = new Map<ManagedProcess, unknown>();
  /** Starts in flight, so a concurrent duplicate joins instead of racing. */
  readonly #starting = new Map<string, { spec: ProcessSpec; sessionId: string; done: Promise<ManagedProcess> }>();
  readonly #pausedSessions = new Set<string>();
  readonly #zygote: Zygote | undefined;
  readonly #prejoined: PrejoinedLaunchers | undefined;
  #running = 0;
  #closed = false;

  constructor(options: ProcessManagerOptions) {
    this.#options = options;
    this.limits = { ...DEFAULT_PROCESS_LIMITS, ...options.limits };
    checkResumeHistory(this.limits.resumeHistoryBytes);
    this.budget = new MemoryBudget(this.limits.maxRetainedBytesTotal);
    this.#clock = options.clock ?? systemClock;
    this.#zygote = options.zygote === false ? undefined : Zygote.beside(options.launcherPath, () => this.#clock.now());
    // cgroup v1 only: on v2 the launcher clones the target straight into its cgroup (clone3
    // CLONE_INTO_CGROUP), with no migration to take off the path, while a prejoin would migrate.
    this.#prejoined = this.#zygote && options.cgroups?.version === 1 ? new PrejoinedLaunchers(this.#zygote, options.cgroups) : undefined;
  }

  async start(
    processId: string,
    spec: ProcessSpec | undefined,
    options: { sessionId?: string; signal?: AbortSignal; sessions?: SessionPolicySource } = {},
  ): Promise<{ process: ManagedProcess; created: boolean }> {
    if (this.#closed) throw new TetherError(ErrorCode.Unavailable, "the exec server is shutting down");
    checkId("process_id", processId);
    const checked = checkSpec(spec, this.limits);
    const sessionId = options.sessionId ?? "";
    const existing = this.#processes.get(processId) ?? this.#starting.get(processId);
    if (existing) {
      if (!equals(ProcessSpecSchema, existing.spec, checked) || existing.sessionId !== sessionId) {
        throw new TetherError(
          ErrorCode.AlreadyExists,
          `process ${processId} already exists with a different spec or session: pick a new process_id`,
        );
      }
      const process = existing instanceof ManagedProcess ? existing : await existing.done;
      return { process, created: false };
    }
    if (this.#running + this.#starting.size >= this.limits.maxRunning) {
      throw new TetherError(
        ErrorCode.ResourceExhausted,
        `${this.limits.maxRunning} processes are running, the most this server allows: wait for some to exit`,
      );
    }
    const done = this.#spawn(processId, checked, sessionId, options.signal, options.sessions);
    this.#starting.set(processId, { spec: checked, sessionId, done });
    try {
      const process = await done;
      return { process, created: true };
    } finally {
      this.#starting.delete(processId);
    }
  }

  /** As get(), once a Start still in flight for it has ended: an Attach may come right behind its Start. */
  async started(processId: string): Promise<ManagedProcess> {
    await this.#starting.get(processId)?.done.catch(() => undefined);
    return this.get(processId);
  }

  get(processId: string): ManagedProcess {
    const process = this.#processes.get(processId);
    if (!process) {
      throw new TetherError(
        ErrorCode.NotFound,
        `no process ${JSON.stringify(processId.slice(0, 140))}: it never existed or exited too long ago`,
      );
    }
    return process;
  }

  list(filter: { sessionId?: string; labels?: Record<string, string>; includeExited?: boolean } = {}): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    for (const p of this.#processes.values()) {
      if (filter.sessionId && p.sessionId !== filter.sessionId) continue;
      if (!filter.includeExited && !p.running) continue;
      if (filter.labels && Object.entries(filter.labels).some(([k, v]) => p.spec.labels[k] !== v)) continue;
      out.push(p.info());
    }
    return out;
  }

  write(processId: string, writeId: string, data: Uint8Array, eof: boolean, signal?: AbortSignal): Promise<WriteResult> {
    this.#checkWriteSize(data);
    return this.get(processId).write(writeId, data, eof, signal);
  }

  /** One WriteStream request; see ManagedProcess.writeStream for the offset rules. */
  writeStream(processId: string, streamId: string, offset: number, data: Uint8Array, eof: boolean): Promise<StreamWriteResult> {
    checkId("stream_id", streamId);
    this.#checkWriteSize(data);
    return this.get(processId).writeStream(streamId, offset, data, eof);
  }

  #checkWriteSize(data: Uint8Array): void {
    if (data.byteLength > this.limits.maxWriteBytes) {
      throw new TetherError(
        ErrorCode.InvalidArgument,
        `data is ${data.byteLength} bytes; the limit per Write is ${this.limits.maxWriteBytes}: split it into several writes`,
      );
    }
  }

  signal(processId: string, signal: number | string, target: "process" | "group"): void {
    this.get(processId).signal(parseSignal(signal), target);
  }

  resize(processId: string, rows: number, cols: number): void {
    const max = this.limits.maxTtyDimension;
    if (rows < 1 || cols < 1 || rows > max || cols > max) {
      throw new TetherError(ErrorCode.InvalidArgument, `size ${rows}x${cols} is out of range: rows and cols must be 1-${max}`);
    }
    this.get(processId).resize(rows, cols);
  }

  terminate(processId: string, graceMs: number): Promise<ExitStatus> {
    return this.get(processId).terminate(graceMs || this.limits.defaultKillGraceMs, "terminated by request");
  }

  async wait(processId: string, signal?: AbortSignal): Promise<ExitStatus> {
    const process = this.get(processId);
    if (!signal) return process.exited;
    throwIfAborted(signal);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(TetherError.from(signal.reason));
      signal.addEventListener("abort", onAbort, { once: true });
      process.exited.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /** Pauses or resumes the stopwatches of every process of a session (elicitation). */
  setSessionPaused(sessionId: string, paused: boolean): void {
    if (paused) this.#pausedSessions.add(sessionId);
    else this.#pausedSessions.delete(sessionId);
    for (const p of this.#processes.values()) if (p.sessionId === sessionId && p.running) p.setPaused(paused);
  }

  /** Kills every process of a session and forgets them (session expired or closed). */
  async closeSession(sessionId: string, reason: string): Promise<number> {
    this.#pausedSessions.delete(sessionId);
    // A start still spawning is not in the table yet; let it land, then kill it too, or
    // it would outlive its session. (New starts are refused: the session is gone by now.)
    const starting = [...this.#starting.values()].filter((s) => s.sessionId === sessionId);
    await Promise.allSettled(starting.map((s) => s.done));
    const owned = [...this.#processes.values()].filter((p) => p.sessionId === sessionId);
    const killed = owned.filter((p) => p.running).length;
    await killAll(owned, reason);
    for (const p of owned) this.#forget(p);
    return killed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#starting.values()].map((s) => s.done));
    await killAll([...this.#processes.values()], "the exec server shut down");
    for (const p of [...this.#processes.values()]) this.#forget(p);
    await this.#prejoined?.close();
    await this.#zygote?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get runningCount(): number {
    return this.#running;
  }

  async #spawn(processId: string, spec: ProcessSpec, sessionId: string, signal?: AbortSignal, sessions?: SessionPolicySource): Promise<ManagedProcess> {
    const cwd = await resolveCwd(spec.cwd, this.#options.defaultCwd);
    const env = buildEnv(spec, this.#options.serverEnv ?? process.env);
    const file = spec.shell === ShellMode.ZSH_FORK ? undefined : await resolveExecutable(spec.argv[0]!, cwd, env);
    const preparer = this.#options.preparer ?? unsandboxedPreparer;
    const prepared = await preparer.prepare({ processId, sessionId, spec, file, cwd, env, sessions }, signal);
    let child: Child;
    let cgroup: ProcessCgroup | undefined;
    let ready: PrejoinedLauncher | undefined;
    const pidsMax = this.limits.maxPidsPerProcess;
    try {
      throwIfAborted(signal);
      ready = pidsMax > 0 ? this.#prejoined?.take(pidsMax) : undefined;
      cgroup = ready?.cgroup ?? (this.#options.cgroups && pidsMax > 0 ? await this.#options.cgroups.create(pidsMax) : undefined);
      child = await Child.spawn(
        { file: prepared.file, argv: prepared.argv, cwd, env: prepared.env, tty: spec.tty, stdinOpen: spec.stdinOpen, cgroup: cgroup?.dir },
        { launcherPath: this.#options.launcherPath, zygote: this.#zygote, signal, prejoined: ready?.prejoined },
      );
    } catch (err) {
      ready?.prejoined.conn.destroy(); // its child leaves the cgroup free for removal
      await cgroup?.finish();
      await prepared.dispose();
      throw err;
    } finally {
      // Off this Start's path: the refill's join takes the kernel's cgroup lock that the
      // target's fork and exit also take. So refill once the target exits (onFinished),
      // or after a moment for a target that keeps running; a second call is a no-op.
      if (pidsMax > 0 && this.#prejoined) setTimeout(() => this.#prejoined?.refill(pidsMax), refillDelayMs).unref();
    }
    const log = new OutputLog<ExitStatus>({
      overflow: spec.output?.overflow === OverflowPolicy.DROP_OLDEST ? "drop_oldest" : "block",
      maxRetainedBytes: this.#retainedBytes(spec),
      historyBytes: this.limits.resumeHistoryBytes,
      budget: this.budget,
    });
    this.#running++;
    const managed = new ManagedProcess({
      id: processId,
      sessionId,
      spec,
      child,
      log,
      clock: this.#clock,
      nowMs: Date.now(),
      defaultGraceMs: this.limits.defaultKillGraceMs,
      paused: this.#pausedSessions.has(sessionId),
      cgroup: cgroup && { outcome: () => cgroup.finish(), pidsMax: this.limits.maxPidsPerProcess },
      sandbox: prepared.sandbox,
      onFinished: (p) => {
        // After this turn: the exit status is on its way to the readers first (the refill's
        // mkdir, pids.max write and zygote connect cost ~0.5 ms of this thread).
        if (pidsMax > 0 && this.#prejoined) setImmediate(() => this.#prejoined?.refill(pidsMax));
        this.#running--;
        void prepared.dispose();
        this.#retainExited(p);
      },
    });
    this.#processes.set(processId, managed);
    return managed;
  }

  #retainedBytes(spec: ProcessSpec): number {
    const asked = Number(spec.output?.maxRetainedBytes ?? 0n);
    const bytes = asked > 0 ? asked : this.limits.defaultRetainedBytes;
    return Math.max(64 << 10, Math.min(bytes, this.limits.maxRetainedBytesPerProcess));
  }

  #retainExited(p: ManagedProcess): void {
    // #expiry holds the exited processes in exit order: the oldest go first past maxExited,
    // without a scan over every process at each exit (1000 held made that a hot loop).
    if (this.#processes.get(p.id) !== p) return; // forgotten while running (its session closed)
    this.#expiry.set(p, this.#clock.setTimeout(() => this.#forget(p), this.limits.exitedRetentionMs));
    for (const old of this.#expiry.keys()) {
      if (this.#expiry.size <= this.limits.maxExited) break;
      this.#forget(old);
    }
  }

  #forget(p: ManagedProcess): void {
    if (this.#expiry.has(p)) this.#clock.clearTimeout(this.#expiry.get(p));
    this.#expiry.delete(p);
    if (this.#processes.get(p.id) !== p) return;
    this.#processes.delete(p.id);
    p.log.close();
  }
}

/** A signal number (1-64) or name ("TERM", "SIGTERM", "int"). */
function parseSignal(signal: number | string): number {
  if (typeof signal === "number") {
    if (!Number.isInteger(signal) || signal < 1 || signal > 64) {
      throw new TetherError(ErrorCode.InvalidArgument, `signal ${signal} is out of range: use 1-64 or a name like TERM`);
    }
    return signal;
  }
  const name = signal.toUpperCase().startsWith("SIG") ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  const num = (osConstants.signals as Record<string, number>)[name];
  if (num === undefined) throw new TetherError(ErrorCode.InvalidArgument, `unknown signal ${JSON.stringify(signal)}: use a name like TERM, INT, KILL, HUP`);
  return num;
}
