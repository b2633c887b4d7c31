// One target process started through tether-launch (see launcher/tether-launch.c):
// its output streams, stdin, signals, terminal size and its exit with rusage.
// Order is fixed: spawn resolves after exec, output follows, `exited` resolves last.
import { existsSync } from "node:fs";
import type { Socket } from "node:net";
import { constants as osConstants } from "node:os";
import type { Readable, Writable } from "node:stream";
import { ErrorCode, TetherError, cancelled, codeForErrno, errnoCode } from "../../common/tether-error.js";
import { parseStatusLine, signalName } from "./launcher/status-line.js";
import { type LaunchSpec, type LauncherExit, type LauncherIo, spawnLauncher } from "./launcher-io.js";
import { PtyPair } from "./pty-pair.js";
import type { Prejoined, Zygote } from "./zygote.js";

export type ChildStream = "stdout" | "stderr" | "pty";

export type ChildSpec = LaunchSpec;

export interface ChildExit {
  code: number | null;
  signal: number | null;
  signalName: string;
  userCpuMs: number;
  systemCpuMs: number;
  maxRssKb: number;
  /** Set when the launcher died without reporting; code/signal are then the launcher's best guess. */
  launcherFailure?: string;
}

export type OutputListener = (stream: ChildStream, data: Buffer) => void;

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
/** Status lines are a few dozen bytes; anything longer is a broken launcher. */
const maxStatusLine = 4096;
/** Launcher diagnostics kept for error messages. */
const maxDiagnostics = 4096;

export class Child implements AsyncDisposable {
  readonly hasTty: boolean;
  /**
   * Resolves once the target exited, every output stream reached EOF and the status line
   * arrived, so no output follows it. Output only flows while a listener is subscribed and
   * output is not paused (or during close()), so consume it or this never resolves. Never rejects.
   */
  readonly exited: Promise<ChildExit>;
  readonly #io: LauncherIo;
  readonly #ctl: Socket;
  readonly #stdin: Writable | null;
  readonly #outputs: Array<{ stream: ChildStream; readable: Readable }> = [];
  readonly #listeners = new Set<OutputListener>();
  readonly #spec: ChildSpec;
  /** Set when this process holds the terminal's master (else tether-launch relays it). */
  readonly #pty: PtyPair | undefined;
  #pid = 0;
  #started: Promise<number>;
  #stdinWritable: boolean;
  #stdinClosing: Promise<void> | undefined;
  #paused = false;
  #closing = false;
  #closed: Promise<void> | undefined;
  #targetGone = false;
  #exit: ChildExit | undefined;
  #diagnostics = "";
  /** Output that arrived while it should not flow (see the 'data' handler); delivered first on resume. */
  readonly #held: Array<{ stream: ChildStream; data: Buffer }> = [];
  #heldEmpty: (() => void) | undefined;

  /**
   * Spawns via the launcher, forked by the zygote when one is given and able, else by
   * Node itself; resolves once the target was exec'd (pid known).
   */
  static async spawn(spec: ChildSpec, options: { launcherPath: string; zygote?: Zygote; signal?: AbortSignal; prejoined?: Prejoined }): Promise<Child> {
    validate(spec);
    const { signal } = options;
    if (signal?.aborted) throw TetherError.from(signal.reason ?? cancelled());
    // A terminal's master stays here when node-pty loads: one relay process less per keystroke.
    const pty = spec.tty ? PtyPair.open(spec.tty.rows, spec.tty.cols) : undefined;
    const launch = pty && spec.tty ? { ...spec, tty: { ...spec.tty, slave: pty.slavePath }, stdinOpen: false } : spec;
    let io: LauncherIo;
    try {
      const forked = await options.zygote?.launch(launch, signal, options.prejoined);
      if (forked?.ok === false) throw launchError(spec, forked.refusal.stage, forked.refusal.errno, forked.refusal.text, "");
      io = forked?.io ?? spawnLauncher(launch, options.launcherPath);
    } catch (err) {
      pty?.close();
      throw err;
    }
    const child = new Child(spec, pty ? withMaster(io, pty) : io, options.launcherPath, pty);
    if (signal === undefined) {
      await child.#started;
      return child;
    }
    return await new Promise<Child>((resolve, reject) => {
      const onAbort = (): void => {
        child.#abortStart();
        reject(TetherError.from(signal.reason ?? cancelled()));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      child.#started
        .then(() => resolve(child), reject)
        .finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  private constructor(spec: ChildSpec, io: LauncherIo, launcher: string, pty: PtyPair | undefined) {
    this.hasTty = spec.tty !== undefined;
    this.#pty = pty;
    this.#spec = spec;
    this.#io = io;
    this.#stdin = io.stdin;
    this.#stdinWritable = spec.stdinOpen && io.stdin !== null;
    this.#ctl = io.ctl;
    this.#ctl.on("error", () => {
      // EPIPE once the launcher is gone: every command it could take is moot by then.
    });
    this.#stdin?.on("error", () => {
      // EPIPE when the target closed stdin or exited; write() reports it through its callback.
      this.#stdinWritable = false;
    });

    let resolveStart!: (pid: number) => void;
    let rejectStart!: (err: TetherError) => void;
    this.#started = new Promise<number>((resolve, reject) => {
      resolveStart = resolve;
      rejectStart = reject;
    });
    // A failed start is reported by spawn(); nobody else awaits #started.
    this.#started.catch(() => undefined);

    const { status, stdout, stderr } = io;
    if (this.hasTty) {
      this.#outputs.push({ stream: "pty", readable: stdout });
      // In PTY mode only the launcher writes here (diagnostics); keep a bounded tail.
      stderr.setEncoding("utf8");
      stderr.on("data", (text: string) => {
        this.#diagnostics = (this.#diagnostics + text).slice(-maxDiagnostics);
      });
    } else {
      this.#outputs.push({ stream: "stdout", readable: stdout }, { stream: "stderr", readable: stderr });
    }
    for (const { stream, readable } of this.#outputs) {
      // Paused before the first 'data' listener, so nothing flows (and nothing is lost)
      // until someone subscribes with onOutput() or close() drains.
      readable.pause();
      readable.on("data", (data: Buffer) => {
        if (this.#flowing()) {
          for (const listener of this.#listeners) listener(stream, data);
          return;
        }
        // Node resumes a child's stdio streams by itself once the child exits (flushStdio),
        // even paused ones: keep what arrives against our will and stop the stream again.
        // Bounded: only what the kernel buffered for an exited tree can arrive this way.
        this.#held.push({ stream, data });
        readable.pause();
      });
    }

    const waits: Array<Promise<unknown>> = [once(stdout, "close"), once(stderr, "close")];
    const launcherExit = io.exit;
    io.onSpawnError((err) => {
      rejectStart(this.#spawnError(err, spec.cwd, launcher));
      this.#drain();
    });
    const statusClosed = this.#readStatus(status, {
      pid: (pid) => {
        this.#pid = pid;
        resolveStart(pid);
      },
      error: (stage, errno, text) => {
        rejectStart(this.#launchError(stage, errno, text));
        this.#drain();
      },
    });
    waits.push(
      statusClosed.then(() => {
        // Our slave fd kept the master from reading EIO (and so closing, which hangs up the
        // terminal: SIGHUP to a target that closed its fds but has not exited yet). The tree is
        // gone now: without it, the master reads what is left, then EIO, and the output ends.
        pty?.releaseSlave();
        if (this.#pid === 0) {
          // No pid line ever came (an "error" line already rejected, then this is a no-op).
          rejectStart(this.#launchError("start", 0, "tether-launch ended before starting the target"));
          this.#drain();
        } else if (this.#exit === undefined) {
          // The launcher died without its exit line (SIGKILLed): its cleanup never ran.
          // PDEATHSIG took the target; take its group too, or the group's copies of our
          // pipes would hold back EOF forever. The live members still pin the pgid.
          try {
            killIgnoringGone(-this.#pid, 9);
          } catch {
            // EPERM: the group id now belongs to someone else, so none of ours is left in it.
          }
        }
      }),
    );
    this.exited = Promise.all([launcherExit, ...waits]).then(async ([launcher]) => {
      // Held output goes out before the exit, as all output does.
      await this.#heldDelivered();
      this.#targetGone = true;
      this.#ctl.destroy();
      this.#stdin?.destroy();
      this.#pty?.close();
      return this.#exit ?? this.#lostExit(launcher);
    });
  }

  get pid(): number {
    return this.#pid;
  }

  /** Output chunks in order per stream. Listeners must not throw. */
  onOutput(listener: OutputListener): Disposable {
    this.#listeners.add(listener);
    this.#updateFlow();
    return {
      [Symbol.dispose]: () => {
        this.#listeners.delete(listener);
        this.#updateFlow();
      },
    };
  }

  /** Stops reading output: the pipes fill and the child blocks on its next write. */
  pauseOutput(): void {
    this.#paused = true;
    this.#updateFlow();
  }

  resumeOutput(): void {
    this.#paused = false;
    this.#updateFlow();
  }

  /** Resolves once the bytes were handed to the pipe. */
  write(data: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    const stdin = this.#stdin;
    if (stdin === null || !this.#stdinWritable || this.#stdinClosing !== undefined) {
      return Promise.reject(this.#stdinClosedError());
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(TetherError.from(signal.reason ?? cancelled()));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(TetherError.from(signal?.reason ?? cancelled()));
      signal?.addEventListener("abort", onAbort, { once: true });
      stdin.write(data, (err) => {
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(this.#stdinClosedError(err));
        else resolve();
      });
    });
  }

  /** Closes stdin (PTY: the launcher then sends the terminal's EOF char once). Idempotent. */
  closeStdin(): Promise<void> {
    if (this.#stdinClosing !== undefined) return this.#stdinClosing;
    const stdin = this.#stdin;
    this.#stdinWritable = false;
    if (this.#pty && stdin !== null && !stdin.destroyed) {
      // The terminal's EOF, once, as a user's ^D (the default VEOF; the launcher's relay read
      // c_cc[VEOF], which Node cannot): the master itself stays open for the output.
      this.#stdinClosing = new Promise<void>((resolve) => stdin.write(Buffer.of(4), () => resolve()));
    } else if (stdin === null || stdin.destroyed || stdin.writableFinished) {
      this.#stdinClosing = Promise.resolve();
    } else {
      this.#stdinClosing = new Promise<void>((resolve) => {
        // 'close' also covers EPIPE: either way the stdin is closed afterwards.
        stdin.once("close", () => resolve());
        stdin.end(() => resolve());
      });
    }
    return this.#stdinClosing;
  }

  resize(rows: number, cols: number): void {
    if (!this.hasTty) {
      throw new TetherError(ErrorCode.FailedPrecondition, `process ${this.#pid} has no terminal to resize: start it with tty`);
    }
    if (!isDimension(rows) || !isDimension(cols)) {
      throw new TetherError(ErrorCode.InvalidArgument, `terminal size ${rows}x${cols} is invalid: rows and cols must be integers 1..65535`);
    }
    if (this.#targetGone) return;
    if (this.#pty) this.#pty.resize(rows, cols);
    else this.#ctl.write(`resize ${rows} ${cols}\n`);
  }

  /** kill(2) on the target or its process group; a target that already exited is ignored. */
  signal(signo: number, target: "process" | "group"): void {
    if (!Number.isInteger(signo) || signo < 0 || signo > 64) {
      throw new TetherError(ErrorCode.InvalidArgument, `signal ${signo} is invalid: use a signal number 0..64`);
    }
    // After the exit line the pid may be recycled; until then the launcher holds it.
    if (this.#targetGone || this.#exit !== undefined) return;
    killIgnoringGone(target === "group" ? -this.#pid : this.#pid, signo);
  }

  /** SIGKILLs the group and every descendant (the launcher finds those re-parented to it). */
  killTree(): void {
    if (this.#targetGone || this.#exit !== undefined) return;
    this.#ctl.write("kill 9\n");
    killIgnoringGone(-this.#pid, 9);
  }

  /** killTree, then waits for exit; output is drained (to listeners, if any). Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#drain();
      this.killTree();
      await this.exited;
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #drain(): void {
    this.#closing = true;
    this.#updateFlow();
  }

  #flowing(): boolean {
    // Closing overrides pause: EOF (and so `exited`) needs the pipes read to the end.
    // Once the target exited, pause no longer applies (see the exit line), a listener still does.
    return this.#closing || (this.#listeners.size > 0 && (!this.#paused || this.#exit !== undefined));
  }

  #updateFlow(): void {
    // A listener may pause again while held chunks are delivered: check before each one.
    while (this.#held.length > 0 && this.#flowing()) {
      const { stream, data } = this.#held.shift()!;
      for (const listener of this.#listeners) listener(stream, data);
    }
    if (this.#held.length === 0) this.#heldEmpty?.();
    const flow = this.#flowing() && this.#held.length === 0;
    for (const { readable } of this.#outputs) {
      if (flow) readable.resume();
      else readable.pause();
    }
  }

  #heldDelivered(): Promise<void> {
    if (this.#held.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#heldEmpty = () => {
        this.#heldEmpty = undefined;
        resolve();
      };
    });
  }

  #abortStart(): void {
    // Told to stop, the launcher kills and reaps the target.
    if (this.#pid === 0) this.#io.stop();
    this.#drain();
  }

  #readStatus(
    status: Socket,
    on: { pid: (pid: number) => void; error: (stage: string, errno: number, text: string) => void },
  ): Promise<void> {
    status.setEncoding("utf8");
    let pending = "";
    status.on("data", (text: string) => {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = parseStatusLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        if (line?.kind === "pid") on.pid(line.pid);
        else if (line?.kind === "error") on.error(line.stage, line.errno, line.text);
        else if (line?.kind === "exit") {
          this.#exit = line.exit;
          // The tree is dead, so what is left in the pipes is bounded: read it even when
          // paused (BLOCK with no reader), or EOF, and so `exited`, would never come.
          this.#updateFlow();
        }
      }
      if (pending.length > maxStatusLine) pending = "";
    });
    status.resume(); // the zygote's handshake leaves it paused
    return once(status, "close");
  }

  #spawnError(err: Error, cwd: string, launcher: string): TetherError {
    const errno = errnoCode(err);
    if (errno === "ENOENT" && !existsSync(cwd)) {
      return new TetherError(ErrorCode.NotFound, `working directory ${cwd} does not exist: create it or pass another cwd`, { cause: err });
    }
    if (errno === "ENOENT" || errno === "EACCES") {
      return new TetherError(ErrorCode.FailedPrecondition, `cannot run ${launcher}: run \`make setup\` (scripts/build-native.sh)`, { cause: err });
    }
    return TetherError.from(err, `starting ${this.#spec.file} through tether-launch`);
  }

  #launchError(stage: string, errno: number, text: string): TetherError {
    return launchError(this.#spec, stage, errno, text, this.#diagnostics);
  }

  #lostExit(launcher: LauncherExit): ChildExit {
    // The launcher died without an exit line (e.g. SIGKILLed); its PDEATHSIG killed the target.
    const signo = launcher.signal === null ? 9 : (osConstants.signals[launcher.signal] ?? 9);
    return {
      code: null,
      signal: signo,
      signalName: signalName(signo),
      userCpuMs: 0,
      systemCpuMs: 0,
      maxRssKb: 0,
      launcherFailure: `tether-launch ended (${describe(launcher)}) without reporting the exit of ${this.#spec.file}`,
    };
  }

  #stdinClosedError(cause?: unknown): TetherError {
    return new TetherError(
      ErrorCode.FailedPrecondition,
      `stdin of process ${this.#pid} is closed: start it with stdin open and write before closing it or before it exits`,
      cause === undefined ? {} : { cause },
    );
  }
}

/** A launcher's (or the zygote's) "error STAGE ERRNO TEXT" as a TetherError. */
function launchError(spec: ChildSpec, stage: string, errno: number, text: string, diagnostics: string): TetherError {
  const name = errnoNames.get(errno);
  if (stage === "chdir") {
    const message = `cannot use the working directory ${spec.cwd}: ${text}`;
    if (name === "ENOENT") return new TetherError(ErrorCode.NotFound, `working directory ${spec.cwd} does not exist: create it or pass another cwd`);
    return new TetherError(name ? codeForErrno(name) : ErrorCode.Internal, message);
  }
  if (stage === "exec") {
    const message = `cannot execute ${spec.file}: ${text}`;
    const details = { errno: name ?? String(errno) };
    if (name === "ENOENT" || name === "ENOTDIR") return new TetherError(ErrorCode.NotFound, message, { details });
    if (name === "EACCES" || name === "EPERM") return new TetherError(ErrorCode.PermissionDenied, message, { details });
    if (name === "E2BIG") return new TetherError(ErrorCode.InvalidArgument, message, { details });
    return new TetherError(ErrorCode.FailedPrecondition, message, { details });
  }
  const diag = diagnostics.trim();
  const message = `tether-launch failed (${stage}) for ${spec.file}: ${text}${diag ? `; ${diag}` : ""}`;
  return new TetherError(name ? codeForErrno(name) : ErrorCode.Internal, message);
}

function validate(spec: ChildSpec): void {
  if (spec.argv.length === 0) throw new TetherError(ErrorCode.InvalidArgument, "argv is empty: pass at least argv[0]");
  if (!spec.file.startsWith("/")) {
    throw new TetherError(ErrorCode.InvalidArgument, `file ${spec.file} is not absolute: resolve it against PATH first`);
  }
  if (spec.tty && (!isDimension(spec.tty.rows) || !isDimension(spec.tty.cols))) {
    throw new TetherError(ErrorCode.InvalidArgument, `tty size ${spec.tty.rows}x${spec.tty.cols} is invalid: use integers 1..65535`);
  }
}

function isDimension(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function killIgnoringGone(pid: number, signo: number): void {
  try {
    process.kill(pid, signo);
  } catch (err) {
    if (errnoCode(err) === "ESRCH") return; // exited meanwhile: nothing left to signal
    throw TetherError.from(err, `sending signal ${signo} to ${pid < 0 ? "group " : ""}${Math.abs(pid)}`);
  }
}

/** The launcher's pipes for stdin and stdout go unused when the master is ours. */
function withMaster(io: LauncherIo, pty: PtyPair): LauncherIo {
  io.stdin?.destroy();
  io.stdout.destroy();
  return { ...io, stdin: pty.master, stdout: pty.master };
}

function once(emitter: Readable | Socket, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

function describe(launcher: LauncherExit): string {
  if (launcher.signal !== null) return `signal ${launcher.signal}`;
  return launcher.code !== null ? `code ${launcher.code}` : "status unknown";
}
