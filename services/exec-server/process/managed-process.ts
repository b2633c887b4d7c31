// One process the exec server owns: its child, its output log, its stopwatches and
// the bookkeeping that makes Write idempotent. Publishes exit only after every byte of
// output was appended (the Child resolves `exited` after its streams end).
import { DenialWatch, type SandboxReport } from "./sandbox-denial.js";
import { create } from "@bufbuild/protobuf";
import { constants as osConstants } from "node:os";
import {
  type ExitStatus,
  ExitStatusSchema,
  type ProcessInfo,
  ProcessInfoSchema,
  type ProcessSpec,
  ProcessState,
  TimeoutKind,
} from "../../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { Child } from "./child.js";
import type { ChildExit } from "./child-exit.js";
import type { CgroupOutcome } from "./pids-cgroup.js";
import type { OutputLog } from "./output-log.js";
import { StdinStreams, type StreamWriteResult } from "./stdin-streams.js";
import { type Clock, MAX_TIMER_MS, Stopwatch } from "./stopwatch.js";

export interface WriteResult {
  bytesWritten: number;
  applied: boolean;
}

/** How many write ids a process remembers for idempotent retries. */
const REMEMBERED_WRITES = 1024;

export function signalName(signo: number): string {
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === signo) return name;
  return `SIG${signo}`;
}

export class ManagedProcess {
  readonly id: string;
  readonly sessionId: string;
  readonly spec: ProcessSpec;
  readonly child: Child;
  readonly log: OutputLog<ExitStatus>;
  readonly startedAtMs: number;
  readonly exited: Promise<ExitStatus>;
  exitStatus: ExitStatus | undefined;
  exitedAtMs: number | undefined;

  readonly #startedAt: number;
  readonly #clock: Clock;
  #stdinClosed: boolean;
  #writeChain: Promise<unknown> = Promise.resolve();
  readonly #writes = new Map<string, Promise<WriteResult>>();
  readonly #streams = new StdinStreams();
  readonly #stopwatches: Stopwatch[] = [];
  #idle: Stopwatch | undefined;
  #paused = false;
  #stopReason: { reason: string; timeout?: TimeoutKind } | undefined;
  #terminating: Promise<ExitStatus> | undefined;
  readonly #denials: DenialWatch | undefined;
  /** Set when a terminate's grace ran out and SIGKILL followed. */
  #killedAfterGraceMs: number | undefined;

  constructor(init: {
    id: string;
    sessionId: string;
    spec: ProcessSpec;
    child: Child;
    log: OutputLog<ExitStatus>;
    clock: Clock;
    nowMs: number;
    defaultGraceMs: number;
    paused: boolean;
    /** The process tree's cgroup: read (and removed) after exit, before the status is published. */
    cgroup?: { outcome: () => Promise<CgroupOutcome>; pidsMax: number };
    /** The sandbox's report, read at exit for sandbox_denied. */
    sandbox?: SandboxReport;
    onFinished: (p: ManagedProcess) => void;
  }) {
    this.id = init.id;
    this.sessionId = init.sessionId;
    this.spec = init.spec;
    this.child = init.child;
    this.log = init.log;
    this.#clock = init.clock;
    this.startedAtMs = init.nowMs;
    this.#startedAt = init.clock.now();
    this.#stdinClosed = !init.spec.stdinOpen;
    this.#denials = init.sandbox && new DenialWatch(init.sandbox);

    const timeouts = init.spec.timeouts;
    const grace = timeouts?.killGraceMs || init.defaultGraceMs;
    if (timeouts?.wallMs) {
      this.#stopwatches.push(
        new Stopwatch(timeouts.wallMs, () => void this.#timeout(TimeoutKind.WALL, timeouts.wallMs, grace), init.clock),
      );
    }
    if (timeouts?.idleMs) {
      this.#idle = new Stopwatch(timeouts.idleMs, () => void this.#timeout(TimeoutKind.IDLE, timeouts.idleMs, grace), init.clock);
      this.#stopwatches.push(this.#idle);
    }
    if (init.paused) this.setPaused(true);

    this.#wireOutput();
    const cgroup = init.cgroup;
    this.exited = this.child.exited.then(async (exit) => {
      const outcome = cgroup ? await cgroup.outcome() : undefined;
      const status = this.#status(exit, outcome && { ...outcome, pidsMax: cgroup!.pidsMax });
      this.exitStatus = status;
      this.exitedAtMs = Date.now();
      for (const sw of this.#stopwatches) sw[Symbol.dispose]();
      this.log.finish(status);
      init.onFinished(this);
      return status;
    });
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Elicitation: stopwatches stop counting while a human is being asked. */
  setPaused(paused: boolean): void {
    this.#paused = paused;
    for (const sw of this.#stopwatches) (paused ? sw.pause() : sw.resume());
  }

  info(): ProcessInfo {
    return create(ProcessInfoSchema, {
      processId: this.id,
      sessionId: this.sessionId,
      state: this.running ? ProcessState.RUNNING : ProcessState.EXITED,
      pid: this.child.pid,
      spec: this.spec,
      startedAtMs: BigInt(this.startedAtMs),
      exit: this.exitStatus,
      firstRetainedSeq: BigInt(this.log.firstRetainedSeq),
      lastSeq: BigInt(this.log.lastSeq),
      droppedBytes: BigInt(this.log.droppedBytes),
      paused: this.#paused,
    });
  }

  write(writeId: string, data: Uint8Array, eof: boolean, signal?: AbortSignal): Promise<WriteResult> {
    if (writeId !== "") {
      const earlier = this.#writes.get(writeId);
      if (earlier) return earlier.then((r) => ({ ...r, applied: false }));
    }
    const closed = this.#stdinClosedError();
    if (closed) return Promise.reject(closed);
    if (eof) this.#stdinClosed = true;
    // Writes are applied in arrival order, one at a time.
    const result = this.#writeChain.then(async (): Promise<WriteResult> => {
      if (data.byteLength > 0) await this.child.write(data, { signal });
      if (eof) await this.child.closeStdin();
      return { bytesWritten: data.byteLength, applied: true };
    });
    this.#writeChain = result.catch(() => undefined);
    if (writeId !== "") {
      this.#writes.set(writeId, result);
      result.catch(() => this.#writes.delete(writeId));
      if (this.#writes.size > REMEMBERED_WRITES) this.#writes.delete(this.#writes.keys().next().value!);
    }
    return result;
  }

  /**
   * One WriteStream request. Bytes are numbered per stream, so a request retried after a cut
   * writes only what was not accepted before. Accepted bytes are written even if the call
   * goes away meanwhile (no signal here): the retry counts them as applied.
   */
  writeStream(streamId: string, offset: number, data: Uint8Array, eof: boolean): Promise<StreamWriteResult> {
    const { stream, fresh, closes } = this.#streams.piece(streamId, offset, data, eof);
    // A pure repeat is answered even after exit: its bytes did go in.
    if (fresh.byteLength === 0 && !closes) return stream.last;
    const closed = this.#stdinClosedError();
    if (closed) return Promise.reject(closed);
    if (closes) this.#stdinClosed = stream.eof = true;
    stream.accepted += fresh.byteLength;
    const answer = { appliedOffset: stream.accepted, eof: stream.eof };
    const result = this.#writeChain.then(async (): Promise<StreamWriteResult> => {
      if (fresh.byteLength > 0) await this.child.write(fresh);
      if (closes) await this.child.closeStdin();
      return answer;
    });
    stream.last = result;
    this.#writeChain = result.catch(() => undefined);
    return result;
  }

  #stdinClosedError(): TetherError | undefined {
    if (!this.running) return new TetherError(ErrorCode.FailedPrecondition, `process ${this.id} has exited; stdin is closed`);
    if (!this.#stdinClosed) return undefined;
    const why = this.spec.stdinOpen ? "EOF was already sent" : "it was started without stdin_open";
    return new TetherError(ErrorCode.FailedPrecondition, `stdin of process ${this.id} is closed: ${why}`);
  }

  signal(signo: number, target: "process" | "group"): void {
    if (!this.running) throw new TetherError(ErrorCode.FailedPrecondition, `process ${this.id} has already exited`);
    this.child.signal(signo, target);
  }

  resize(rows: number, cols: number): void {
    if (!this.child.hasTty) {
      throw new TetherError(ErrorCode.FailedPrecondition, `process ${this.id} has no PTY (it was started with pipes); only PTY processes can be resized`);
    }
    if (!this.running) throw new TetherError(ErrorCode.FailedPrecondition, `process ${this.id} has already exited`);
    this.child.resize(rows, cols);
  }

  /** SIGTERM to the group, then SIGKILL to everything after the grace period. */
  terminate(graceMs: number, reason: string, timeout?: TimeoutKind): Promise<ExitStatus> {
    if (!this.running) return this.exited;
    this.#stopReason ??= { reason, timeout };
    this.#terminating ??= (async () => {
      this.child.signal(osConstants.signals.SIGTERM, "group");
      // A grace past Node's timer range (uint32 from the wire) would fire at once; 24.8 days is as good as forever.
      const timer = setTimeout(() => {
        this.#killedAfterGraceMs = graceMs;
        // close() kills and also drains paused output: a PTY launcher blocked relaying to a
        // pipe that BLOCK paused would otherwise never report the exit.
        void this.child.close();
      }, Math.min(graceMs, MAX_TIMER_MS));
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.#terminating;
  }

  /** Immediate SIGKILL of the whole tree (session expiry, shutdown). */
  kill(reason: string): Promise<ExitStatus> {
    if (this.running) {
      this.#stopReason ??= { reason };
      // Kill and drain (see terminate): output paused by BLOCK must not hold back the exit.
      void this.child.close();
    }
    return this.exited;
  }

  #timeout(kind: TimeoutKind, limitMs: number, graceMs: number): Promise<ExitStatus> {
    const which = kind === TimeoutKind.WALL ? "wall" : "idle";
    return this.terminate(graceMs, `${which} timeout of ${limitMs} ms reached`, kind);
  }

  #wireOutput(): void {
    this.child.onOutput((stream, data) => {
      this.#idle?.touch();
      this.#denials?.observe(stream, data);
      this.log.append(stream, data);
      // BLOCK backpressure: stop reading the child until readers catch up.
      if (!this.log.writable) this.child.pauseOutput();
    });
    this.log.onWritable(() => this.child.resumeOutput());
  }

  #status(exit: ChildExit, cgroup?: CgroupOutcome & { pidsMax: number }): ExitStatus {
    const stop = this.#stopReason;
    const escalated =
      this.#killedAfterGraceMs !== undefined && exit.signal === osConstants.signals.SIGKILL
        ? `still running ${this.#killedAfterGraceMs} ms after SIGTERM, so killed with SIGKILL`
        : "";
    // Not a reason the server ended it, but the likeliest reason it failed: say so.
    const limitHit =
      cgroup && cgroup.pidsLimitHits > 0
        ? `the process tree reached its limit of ${cgroup.pidsMax} tasks (${cgroup.pidsLimitHits} forks refused)`
        : "";
    const denial = this.#denials?.verdict(exit.code ?? undefined);
    return create(ExitStatusSchema, {
      sandboxDenied: denial !== undefined,
      sandboxDenial: denial ?? "",
      code: exit.code ?? undefined,
      signal: exit.signal ?? undefined,
      signalName: exit.signal !== null ? exit.signalName || signalName(exit.signal) : "",
      timedOut: stop?.timeout !== undefined,
      timeoutKind: stop?.timeout ?? TimeoutKind.UNSPECIFIED,
      wallTimeMs: BigInt(Math.round(this.#clock.now() - this.#startedAt)),
      userCpuMs: BigInt(Math.round(exit.userCpuMs)),
      systemCpuMs: BigInt(Math.round(exit.systemCpuMs)),
      maxRssKb: BigInt(exit.maxRssKb),
      oomKilled: cgroup?.oomKilled ?? false,
      reason: [stop?.reason, escalated, limitHit].filter(Boolean).join("; "),
    });
  }
}
