// A tether exec server as its own process (`tether exec-server`), like sshd for the peer:
// server and client never share an event loop, so the figures compare like with like.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { ErrorCode, TetherError } from "../services/common/tether-error.js";

export class ExecServerProcess implements AsyncDisposable {
  private constructor(
    private readonly child: ChildProcess,
    /** unix:///… as printed by the server. */
    readonly url: string,
  ) {
    process.on("exit", this.onProcessExit);
  }

  /** The server's pid (its CPU time is read from /proc for the per-MiB figures). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** If the harness dies without close(), the server must not outlive it. */
  private readonly onProcessExit = () => {
    this.child.kill("SIGKILL");
  };

  /** `bin` is the bundled CLI (dist/tether.js); the socket goes into `dir` unless `listen` says otherwise. */
  static async start(bin: string, dir: string, extra: { listen?: string; args?: string[] } = {}): Promise<ExecServerProcess> {
    const listen = extra.listen ?? `unix://${join(dir, "exec-server.sock")}`;
    // TETHER_BENCH_SERVER_NODE_ARGS: node flags for the server (V8 flags NODE_OPTIONS refuses), for A/B runs.
    const nodeArgs = (process.env.TETHER_BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean).slice(0, 32);
    const child = spawn(process.execPath, [...nodeArgs, bin, "exec-server", "--listen", listen, "--cwd", dir, ...(extra.args ?? [])], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (b: Buffer) => {
      err = (err + b.toString()).slice(-4096);
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      const onData = (b: Buffer) => {
        out += b.toString();
        const line = /^listening (\S+)$/m.exec(out);
        if (line) {
          child.stdout.off("data", onData);
          child.off("exit", onExit);
          child.stdout.resume();
          resolve(line[1]!);
        }
      };
      const onExit = (code: number | null) =>
        reject(new TetherError(ErrorCode.Unavailable, `${bin} exec-server exited (${code}) before listening: ${err.trim()}`));
      child.stdout.on("data", onData);
      child.once("exit", onExit);
    });
    return new ExecServerProcess(child, url);
  }

  async close(): Promise<void> {
    process.off("exit", this.onProcessExit);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.kill("SIGTERM");
    await exited;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
