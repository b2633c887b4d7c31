// One target process started through tether-launch (see launcher/tether-launch.c):
// its output streams, stdin, signals, terminal size and its exit with rusage.
// Order is fixed: spawn resolves after exec, output follows, `exited` resolves last.
import type { Socket } from "node:net";
import { constants as osConstants } from "node:os";
import type { Readable } from "node:stream";
import { ErrorCode, TetherError, cancelled, errnoCode } from "../../common/tether-error.js";
import type { ChildExit } from "./child-exit.js";
import { type ChildStream, ChildOutput, type OutputListener } from "./child-output.js";
import { ChildStdin } from "./child-stdin.js";
import { launchError, spawnError } from "./launch-error.js";
import { readStatusLines, signalName } from "./launcher/status-line.js";
import { type LaunchSpec, type LauncherExit, type LauncherIo, spawnLauncher } from "./launcher-io.js";
import { PtyPair } from "./pty-pair.js";
import type { Prejoined, Zygote } from "./zygote.js";

export type ChildSpec = LaunchSpec;

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
  readonly #stdin: ChildStdin;
  readonly #output: ChildOutput;
  readonly #spec: ChildSpec;
  /** Set when this process holds the terminal's master (else tether-launch relays it). */
  readonly #pty: PtyPair | undefined;
  #pid = 0;
  #started: Promise<number>;
  #closed: Promise<void> | undefined;
  #targetGone = false;
  #exit: ChildExit | undefined;
  #diagnostics = "";

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
    this.#stdin = new ChildStdin(io.stdin, { open: spec.stdinOpen, terminal: pty !== undefined, pid: () => this.#pid });
    this.#ctl = io.ctl;
    this.#ctl.on("error", () => {
      // EPIPE once the launcher is gone: every command it could take is moot by then.
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
    const outputs: Array<{ stream: ChildStream; readable: Readable }> = [];
    if (this.hasTty) {
      outputs.push({ stream: "pty", readable: stdout });
      // In PTY mode only the launcher writes here (diagnostics); keep a bounded tail.
      stderr.setEncoding("utf8");
      stderr.on("data", (text: string) => {
        this.#diagnostics = (this.#diagnostics + text).slice(-maxDiagnostics);
      });
    } else {
      outputs.push({ stream: "stdout", readable: stdout }, { stream: "stderr", readable: stderr });
    }
    this.#output = new ChildOutput(outputs);

    const waits: Array<Promise<unknown>> = [once(stdout, "close"), once(stderr, "close")];
    const launcherExit = io.exit;
    io.onSpawnError((err) => {
      rejectStart(spawnError(err, spec, launcher));
      this.#output.drain();
    });
    const statusClosed = readStatusLines(status, (line) => {
      if (line.kind === "pid") {
        this.#pid = line.pid;
        resolveStart(line.pid);
      } else if (line.kind === "error") {
        rejectStart(this.#launchError(line.stage, line.errno, line.text));
        this.#output.drain();
      } else {
        this.#exit = line.exit;
        this.#output.targetExited();
      }
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
          this.#output.drain();
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
      await this.#output.delivered();
      this.#targetGone = true;
      this.#ctl.destroy();
      this.#stdin.destroy();
      this.#pty?.close();
      return this.#exit ?? this.#lostExit(launcher);
    });
  }

  get pid(): number {
    return this.#pid;
  }

  /**
   * Output chunks in order per stream (paused until the first listener: nothing is lost).
   * Listeners must not throw.
   */
  onOutput(listener: OutputListener): Disposable {
    return this.#output.subscribe(listener);
  }

  /** Stops reading output: the pipes fill and the child blocks on its next write. */
  pauseOutput(): void {
    this.#output.pause();
  }

  resumeOutput(): void {
    this.#output.resume();
  }

  /** Resolves once the bytes were handed to the pipe. */
  write(data: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#stdin.write(data, options);
  }

  /** Closes stdin (PTY: the launcher then sends the terminal's EOF char once). Idempotent. */
  closeStdin(): Promise<void> {
    return this.#stdin.close();
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
      this.#output.drain();
      this.killTree();
      await this.exited;
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #abortStart(): void {
    // Told to stop, the launcher kills and reaps the target.
    if (this.#pid === 0) this.#io.stop();
    this.#output.drain();
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
