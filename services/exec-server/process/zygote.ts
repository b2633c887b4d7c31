// The exec server's tether-zygote (launcher/tether-zygote.c): a small process that forks
// launchers on request, so a spawn does not fork the large Node process. Best effort by
// design: whenever the zygote cannot serve a launch (not built, died, refused), launch()
// answers undefined and the caller spawns the launcher directly, as before the zygote.
import { spawn as spawnProcess, type ChildProcess } from "node:child_process";
import { constants as fsConstants, existsSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { Socket, connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { TetherError, cancelled } from "../../common/tether-error.js";
import { type LaunchSpec, type LauncherIo, checkNoNul } from "./launcher-io.js";

/** The zygote's answer when its child could not even get to the launcher (bad cwd, no pipes). */
export interface ZygoteRefusal {
  stage: string;
  errno: number;
  text: string;
}

export type ZygoteLaunch = { ok: true; io: LauncherIo } | { ok: false; refusal: ZygoteRefusal };

/** A zygote child waiting, already in its cgroup, for the request (Zygote.prejoin). */
export interface Prejoined {
  readonly conn: Socket;
  /** The connection closed (the child left, e.g. the join failed and said why): unusable. */
  closed: boolean;
}

export interface ZygoteOptions {
  /** build/native/tether-zygote. */
  path: string;
  /** A crashed zygote is restarted on the next launch, but not sooner than this after the last start. */
  restartDelayMs?: number;
  now?: () => number;
}

interface Running {
  proc: ChildProcess;
  dir: string;
  socket: string;
}

/** The handshake line is a few dozen bytes; anything longer is a broken zygote. */
const maxHandshake = 512;

export class Zygote implements AsyncDisposable {
  readonly #options: Required<ZygoteOptions>;
  #running: Promise<Running | undefined> | undefined;
  #lastStart = -Infinity;
  #closed = false;

  constructor(options: ZygoteOptions) {
    this.#options = { restartDelayMs: 1000, now: Date.now, ...options };
  }

  /** The zygote next to a launcher binary, if it was built. */
  static beside(launcherPath: string, now?: () => number): Zygote | undefined {
    const file = path.join(path.dirname(launcherPath), "tether-zygote");
    return existsSync(file) ? new Zygote({ path: file, ...(now ? { now } : {}) }) : undefined;
  }

  /** The zygote's pid while it runs (tests kill it to check the fallback). */
  async pid(): Promise<number | undefined> {
    return (await this.#running)?.proc.pid;
  }

  /**
   * Starts a launcher through the zygote. Undefined: the zygote cannot serve it now and
   * nothing was started, so the caller spawns directly.
   */
  async launch(spec: LaunchSpec, signal?: AbortSignal, prejoined?: Prejoined): Promise<ZygoteLaunch | undefined> {
    checkNoNul(spec);
    if (prejoined !== undefined) {
      if (signal?.aborted) throw TetherError.from(signal.reason ?? cancelled());
      // Its child is in spec.cgroup already: the request must not ask the launcher to join again.
      if (!prejoined.closed) return await handshake(prejoined.conn, { ...spec, cgroup: undefined }, signal);
      prejoined.conn.destroy();
    }
    const running = await this.#ensureRunning();
    if (running === undefined) return undefined;
    if (signal?.aborted) throw TetherError.from(signal.reason ?? cancelled());
    return await handshake(connect(running.socket), spec, signal);
  }

  /**
   * Forks a zygote child that joins `cgroupDir` now and then waits for a request (see
   * launch's `prejoined`): joining a cgroup can wait ~12 ms for the kernel, off the Start's
   * path this way. Undefined when the zygote cannot serve.
   */
  async prejoin(cgroupDir: string): Promise<Prejoined | undefined> {
    checkNoNul({ cwd: cgroupDir, file: "", argv: [], env: {}, stdinOpen: false });
    const running = await this.#ensureRunning();
    if (running === undefined) return undefined;
    const conn = connect(running.socket);
    const prejoined: Prejoined = { conn, closed: false };
    conn.on("error", () => undefined); // ECONNREFUSED/EPIPE end in 'close'
    conn.once("close", () => (prejoined.closed = true));
    const body = Buffer.from(`join\0${cgroupDir}\0`, "utf8");
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length);
    conn.write(Buffer.concat([head, body]));
    return prejoined;
  }

  /** Stops the zygote; launchers it started keep running until their exec server lets go. */
  async close(): Promise<void> {
    this.#closed = true;
    const running = await this.#running;
    if (running === undefined || running.proc.exitCode !== null || running.proc.signalCode !== null) return;
    const exited = new Promise((resolve) => running.proc.once("exit", resolve));
    running.proc.stdin?.end(); // EOF: the zygote removes its socket and leaves
    await exited;
    rmSync(running.dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #ensureRunning(): Promise<Running | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    const current = this.#running;
    if (current !== undefined) {
      return current.then((running) => {
        if (running !== undefined && running.proc.exitCode === null && running.proc.signalCode === null) return running;
        if (this.#running !== current) return this.#ensureRunning(); // another launch restarted it meanwhile
        if (this.#options.now() - this.#lastStart < this.#options.restartDelayMs) return undefined;
        this.#running = undefined;
        return this.#ensureRunning();
      });
    }
    this.#lastStart = this.#options.now();
    this.#running = this.#start();
    return this.#running;
  }

  async #start(): Promise<Running | undefined> {
    const dir = mkdtempSync(path.join(tmpdir(), "tether-zygote-")); // 0700: only we may connect
    const socket = path.join(dir, "s");
    let proc: ChildProcess;
    try {
      proc = spawnProcess(this.#options.path, [socket, String(process.pid)], { stdio: ["pipe", "pipe", "inherit"] });
    } catch {
      // Not startable (EMFILE, ...): launches go direct until the next restart attempt.
      rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
    proc.stdin?.on("error", () => undefined); // EPIPE once it is gone: 'exit' tells us
    proc.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const ready = await new Promise<boolean>((resolve) => {
      let text = "";
      proc.on("error", () => resolve(false));
      proc.on("exit", () => resolve(false));
      proc.stdout?.setEncoding("utf8");
      proc.stdout?.on("data", (d: string) => {
        text += d;
        if (text.includes("\n")) resolve(text.startsWith("ready\n"));
      });
    });
    if (!ready) {
      proc.kill("SIGKILL");
      return undefined;
    }
    // Once serving, the zygote must not keep the exec server alive (a launch in flight holds its own connection).
    proc.unref();
    for (const stream of [proc.stdin, proc.stdout]) (stream as Socket | null)?.unref();
    return { proc, dir, socket };
  }
}

/** Connects, sends the request, opens the pipes the zygote's child made, and says go. */
function handshake(conn: Socket, spec: LaunchSpec, signal?: AbortSignal): Promise<ZygoteLaunch | undefined> {
  return new Promise((resolve, reject) => {
    let reply = Buffer.alloc(0);
    const done = (): void => {
      conn.off("data", onData);
      conn.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = (): void => {
      done();
      conn.destroy(); // the zygote's child reads EOF and leaves: nothing was started
      reject(TetherError.from(signal?.reason ?? cancelled()));
    };
    // Closed before the handshake finished: the child never got to the launcher.
    const onClose = (): void => {
      done();
      resolve(undefined);
    };
    const onData = (data: Buffer): void => {
      reply = Buffer.concat([reply, data]);
      const nl = reply.indexOf(10);
      if (nl < 0) {
        if (reply.length > maxHandshake) conn.destroy();
        return;
      }
      done();
      conn.pause();
      if (nl + 1 < reply.length) conn.unshift(reply.subarray(nl + 1));
      const answer = answerOf(reply.subarray(0, nl).toString("utf8"), conn);
      if (answer === undefined) conn.destroy();
      resolve(answer);
    };
    conn.on("error", () => undefined); // ECONNREFUSED/ENOENT (zygote gone) end in 'close'
    conn.on("data", onData);
    conn.on("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
    conn.write(encodeRequest(spec));
  });
}

function answerOf(line: string, conn: Socket): ZygoteLaunch | undefined {
  const error = /^error (\S+) (\d+) ?(.*)$/.exec(line);
  if (error) return { ok: false, refusal: { stage: error[1]!, errno: Number(error[2]), text: error[3] ?? "" } };
  const fds = /^fds (\d+) (-1|\d+) (\d+) (\d+)$/.exec(line);
  if (!fds) return undefined;
  const [pid, stdinFd, stdoutFd, stderrFd] = fds.slice(1).map(Number) as [number, number, number, number];
  const opened: Socket[] = [];
  const open = (fd: number, mode: "r" | "w"): Socket => {
    const flags = (mode === "r" ? fsConstants.O_RDONLY : fsConstants.O_WRONLY) | fsConstants.O_NONBLOCK;
    const socket = new Socket({ fd: openSync(`/proc/${pid}/fd/${fd}`, flags), readable: mode === "r", writable: mode === "w" });
    opened.push(socket);
    return socket;
  };
  let stdin: Socket | null, stdout: Socket, stderr: Socket;
  try {
    stdin = stdinFd < 0 ? null : open(stdinFd, "w");
    stdout = open(stdoutFd, "r");
    stderr = open(stderrFd, "r");
  } catch {
    // /proc/PID/fd refused (hardened /proc, the child died): nothing started; go direct.
    for (const s of opened) s.destroy();
    return undefined;
  }
  conn.write("go\n");
  const exit = new Promise<{ code: null; signal: null }>((resolve) => conn.once("close", () => resolve({ code: null, signal: null })));
  return {
    ok: true,
    io: {
      stdin,
      stdout,
      stderr,
      ctl: conn,
      status: conn,
      exit,
      onSpawnError: () => undefined, // the launcher exists by now; failures arrive as status lines
      // EOF on its control channel is the launcher's "the exec server let go": it kills and reaps.
      stop: () => conn.end(),
    },
  };
}

/** The request frame of tether-zygote.c: u32 LE length, then NUL-terminated fields. */
function encodeRequest(spec: LaunchSpec): Buffer {
  const env = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
  const fields = [
    spec.tty?.slave !== undefined ? `pts:${spec.tty.slave}` : spec.tty ? `${spec.tty.rows}x${spec.tty.cols}` : "pipe",
    spec.stdinOpen ? "1" : "0",
    spec.cgroup ?? "",
    spec.cwd,
    spec.file,
    String(spec.argv.length),
    ...spec.argv,
    String(env.length),
    ...env,
  ];
  const body = Buffer.from(fields.map((f) => `${f}\0`).join(""), "utf8");
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length);
  return Buffer.concat([head, body]);
}
