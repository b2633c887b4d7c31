// Codex's own exec server (`codex exec-server --listen stdio`, the pinned @openai/codex) as a
// peer: its JSON-RPC (one JSON object a line on stdio; no "jsonrpc" field) spoken directly.
// Over stdio because its WebSocket transport stalls ≈ 43 ms per exchange on Nagle.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { ErrorCode, TetherError } from "../services/common/tether-error.js";
import { CODEX_BIN } from "../test/support/codex-cli.js";
import { ECHO_SCRIPT, StreamEcho } from "./stream-echo.js";

interface Message {
  id?: number;
  method?: string;
  params?: { processId?: string; exitCode?: number; chunk?: string };
  result?: { dataBase64?: string };
  error?: { code: number; message: string };
}

export class CodexStdioPeer {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  readonly #exits = new Map<string, (code: number) => void>();
  /** Output bytes (decoded) per process, until process/closed. */
  readonly #streams = new Map<string, { bytes: number; closed: () => void }>();
  /** Output handlers of PTY processes (openEcho), until process/closed. */
  readonly #ptyOutput = new Map<string, (chunk: Buffer) => void>();
  readonly #cwd: string;
  #next = 0;

  private constructor(child: ChildProcess, cwd: string) {
    this.#child = child;
    this.#cwd = cwd;
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => this.#onLine(line));
    // A peer that closes its stdin (Codex does on a line too long) fails the calls in flight,
    // instead of an unhandled EPIPE ending the whole benchmark run.
    child.stdin!.on("error", (err: Error) => {
      const failure = TetherError.from(err, "writing to codex exec-server's stdin");
      for (const p of this.#pending.values()) p.reject(failure);
      this.#pending.clear();
    });
    child.once("exit", (code) => {
      const err = new TetherError(ErrorCode.Unavailable, `codex exec-server exited (${code})`);
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    });
  }

  /** Undefined plus the reason when the Codex CLI is not installed. */
  static async start(cwd: string): Promise<CodexStdioPeer | string> {
    if (!existsSync(CODEX_BIN)) return `${CODEX_BIN} not found (npm install: @openai/codex is a pinned dev dependency)`;
    const child = spawn(CODEX_BIN, ["exec-server", "--listen", "stdio"], { stdio: ["pipe", "pipe", "ignore"], cwd });
    const peer = new CodexStdioPeer(child, cwd);
    await peer.#call("initialize", { clientName: "tether-bench" });
    peer.#send({ method: "initialized" });
    return peer;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** process/start `/bin/true`, resolved on its process/exited notification. */
  async runTrue(): Promise<void> {
    const processId = `p${++this.#next}`;
    const exited = new Promise<number>((resolve) => this.#exits.set(processId, resolve));
    await this.#call("process/start", { processId, argv: ["/bin/true"], cwd: pathToFileURL(this.#cwd).href, env: { PATH: "/usr/bin:/bin" }, tty: false, pipeStdin: false, arg0: null });
    const code = await exited;
    if (code !== 0) throw new TetherError(ErrorCode.Internal, `/bin/true exited with ${code} under codex exec-server`);
  }

  /** Runs `head -c n /dev/zero`; resolves with the stdout bytes decoded from process/output, once closed. */
  async streamBytes(n: number): Promise<number> {
    const processId = `p${++this.#next}`;
    const stream = { bytes: 0, closed: () => undefined as void };
    const closed = new Promise<void>((resolve) => (stream.closed = resolve));
    this.#streams.set(processId, stream);
    await this.#call("process/start", { processId, argv: ["head", "-c", String(n), "/dev/zero"], cwd: pathToFileURL(this.#cwd).href, env: { PATH: "/usr/bin:/bin" }, tty: false, pipeStdin: false, arg0: null });
    await closed;
    return stream.bytes;
  }

  /**
   * A raw-mode `cat` on a Codex PTY (tty:true), for keystroke echo: keys go in with process/write
   * (what Codex's write_stdin sends), the echo comes back as process/output notifications.
   */
  async openEcho(): Promise<StreamEcho> {
    const processId = `p${++this.#next}`;
    let writes = 0;
    const echo = new StreamEcho(
      (b) => void this.#call("process/write", { processId, chunk: b.toString("base64"), writeId: String(++writes) }).catch((err: unknown) => echo.fail(String(err))),
      (cb) => this.#ptyOutput.set(processId, cb),
      async () => {
        await this.#call("process/terminate", { processId }).catch(() => undefined);
        this.#ptyOutput.delete(processId);
      },
    );
    this.#exits.set(processId, (code) => echo.fail(`the codex PTY process exited with ${code}`));
    await this.#call("process/start", { processId, argv: ["/bin/sh", "-c", ECHO_SCRIPT], cwd: pathToFileURL(this.#cwd).href, env: { PATH: "/usr/bin:/bin" }, tty: true, pipeStdin: false, arg0: null });
    await echo.waitReady();
    return echo;
  }

  /** fs/writeFile of a whole local file (one base64 message: Codex has no streaming write here). */
  async upload(localPath: string, remotePath: string): Promise<void> {
    const data = await readFile(localPath);
    await this.#call("fs/writeFile", { path: pathToFileURL(remotePath).href, dataBase64: data.toString("base64") });
  }

  /** fs/readFile, decoded and written to a local file. */
  async download(remotePath: string, localPath: string): Promise<void> {
    const reply = await this.#call("fs/readFile", { path: pathToFileURL(remotePath).href });
    await writeFile(localPath, Buffer.from(reply.result?.dataBase64 ?? "", "base64"));
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, "exit");
    this.#child.stdin?.end(); // EOF: it leaves
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  }

  #send(m: Message): void {
    this.#child.stdin!.write(`${JSON.stringify(m)}\n`);
  }

  #call(method: string, params: unknown): Promise<Message> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin!.write(`${JSON.stringify({ id, method, params })}\n`);
    }).then((m) => {
      const msg = m as Message;
      if (msg.error) throw new TetherError(ErrorCode.Internal, `codex exec-server ${method}: ${msg.error.message} (${msg.error.code})`);
      return msg;
    });
  }

  #onLine(line: string): void {
    let m: Message;
    try {
      m = JSON.parse(line) as Message;
    } catch {
      return; // not ours to judge: only replies and exits matter here
    }
    if (m.id !== undefined && m.method === undefined) {
      this.#pending.get(m.id)?.resolve(m);
      this.#pending.delete(m.id);
    } else if (m.method === "process/output" && m.params?.processId !== undefined) {
      const pty = this.#ptyOutput.get(m.params.processId);
      if (pty) return pty(Buffer.from(m.params.chunk ?? "", "base64"));
      const stream = this.#streams.get(m.params.processId);
      if (stream) stream.bytes += Buffer.from(m.params.chunk ?? "", "base64").byteLength;
    } else if (m.method === "process/closed" && m.params?.processId !== undefined) {
      this.#streams.get(m.params.processId)?.closed();
      this.#streams.delete(m.params.processId);
      this.#ptyOutput.delete(m.params.processId);
    } else if (m.method === "process/exited" && m.params?.processId !== undefined) {
      this.#exits.get(m.params.processId)?.(m.params.exitCode ?? -1);
      this.#exits.delete(m.params.processId);
    }
  }
}

/**
 * The Codex peer of one benchmark row: started in the row's setup (the reason instead when Codex
 * is not installed), closed in its teardown.
 */
export class CodexPeerSlot {
  #peer: CodexStdioPeer | undefined;

  get peer(): CodexStdioPeer {
    if (!this.#peer) throw new TetherError(ErrorCode.FailedPrecondition, "the Codex peer was not started (its row's setup did not run)");
    return this.#peer;
  }

  async open(cwd: string): Promise<string | undefined> {
    const started = await CodexStdioPeer.start(cwd);
    if (typeof started === "string") return started;
    this.#peer = started;
    return undefined;
  }

  async close(): Promise<void> {
    await this.#peer?.close();
  }
}
