// An exec server inside the test process (ExecCore + the gRPC server on a temp Unix
// socket or TCP port) with typed clients bound to it, plus small waiting helpers the
// exec-server suites share. Everything is torn down by close().
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AttachResponse, ExitStatus } from "../../gen/tether/exec/v1/process_pb.js";
import { parseEnvTarget } from "../../clients/environment/env-target.js";
import { type ConnectionOptions, type ExecClients, type NetworkTarget, createConnection } from "../../clients/environment/grpc-connection.js";
import { ExecCore, type ExecCoreOptions } from "../../services/exec-server/exec-core.js";
import { type ExecServer, type ExecServerOptions, startExecServer } from "../../services/exec-server/grpc/exec-server.js";
export { failure } from "./failure.js";

export interface Harness extends AsyncDisposable {
  readonly core: ExecCore;
  readonly server: ExecServer;
  readonly url: string;
  readonly target: NetworkTarget;
  /** A temp dir removed on close (cwd of processes by default). */
  readonly dir: string;
  /** Clients over one channel (with the token, when the server has one). */
  readonly clients: ExecClients;
  /** Another channel with other credentials (closed with the harness). */
  connect(options?: ConnectionOptions): ExecClients;
  close(): Promise<void>;
}

export interface HarnessOptions {
  core?: ExecCoreOptions;
  /** Default: a socket in the temp dir. */
  listen?: string;
  token?: string;
  tls?: ExecServerOptions["tls"];
  connection?: ConnectionOptions;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), "tether-harness-"));
  const core = await ExecCore.create({ defaultCwd: dir, ...options.core });
  let server: ExecServer;
  try {
    server = await startExecServer(core, { listen: options.listen ?? `unix://${dir}/exec.sock`, token: options.token, tls: options.tls });
  } catch (err) {
    await core.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const target = parseEnvTarget(server.url) as NetworkTarget;
  const channels: ExecClients[] = [];
  const connect = (opts: ConnectionOptions = { token: options.token, ...options.connection }) => {
    const c = createConnection(target, opts);
    channels.push(c);
    return c;
  };
  const clients = connect();
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const c of channels) c.close();
      await core.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    })());
  return { core, server, url: server.url, target, dir, clients, connect, close, [Symbol.asyncDispose]: close };
}

/** Drains an Attach stream: every event, the bytes per stream and the exit status. */
export async function drain(stream: AsyncIterable<AttachResponse>): Promise<{ events: AttachResponse[]; stdout: Buffer; stderr: Buffer; pty: Buffer; exit: ExitStatus | undefined }> {
  const events: AttachResponse[] = [];
  const parts: Record<number, Buffer[]> = { 1: [], 2: [], 3: [] };
  let exit: ExitStatus | undefined;
  for await (const ev of stream) {
    events.push(ev);
    if (ev.event.case === "output") parts[ev.event.value.stream]?.push(Buffer.from(ev.event.value.data));
    if (ev.event.case === "exited") exit = ev.event.value.status;
  }
  return { events, stdout: Buffer.concat(parts[1]!), stderr: Buffer.concat(parts[2]!), pty: Buffer.concat(parts[3]!), exit };
}

/** Reads an Attach stream until `ok(text so far)` holds; returns the text (all streams merged). */
export async function readUntil(stream: AsyncIterable<AttachResponse>, ok: (text: string) => boolean): Promise<string> {
  let text = "";
  for await (const ev of stream) {
    if (ev.event.case === "output") text += Buffer.from(ev.event.value.data).toString("utf8");
    if (ok(text)) return text;
    if (ev.event.case === "exited") break;
  }
  throw new Error(`stream ended before the expected output; got ${JSON.stringify(text.slice(-500))}`);
}


/** Whether a pid names a live (not zombie) process. */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Field 3 (after the parenthesised command) is the state; Z and X are dead.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    // No /proc entry: gone.
    return false;
  }
}

/**
 * Polls `check` every `everyMs` until it holds or `withinMs` passes. Only for state with
 * no event to wait on (the kernel's process table, /proc counters).
 */
export async function pollUntil(check: () => boolean | Promise<boolean>, what: string, withinMs = 10_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Pids of every process whose parent is `ppid` (from /proc). */
export async function childrenOf(ppid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${ppid}/task/${ppid}/children`, "utf8");
    return text.trim() === "" ? [] : text.trim().split(/\s+/).map(Number);
  } catch {
    // The parent is gone.
    return [];
  }
}

/** Reads one Attach stream in steps: `until` pulls events until the text so far satisfies `ok`. */
export class TextReader {
  text = "";
  exit: ExitStatus | undefined;
  readonly #it: AsyncIterator<AttachResponse>;

  constructor(stream: AsyncIterable<AttachResponse>) {
    this.#it = stream[Symbol.asyncIterator]();
  }

  async until(ok: (text: string) => boolean): Promise<string> {
    while (!ok(this.text)) {
      const next = await this.#it.next();
      if (next.done) throw new Error(`stream ended before the expected output; got ${JSON.stringify(this.text.slice(-500))}`);
      const ev = next.value;
      if (ev.event.case === "output") this.text += Buffer.from(ev.event.value.data).toString("utf8");
      if (ev.event.case === "exited") this.exit = ev.event.value.status;
    }
    return this.text;
  }

  /** Reads to the end of the stream; returns the exit status. */
  async end(): Promise<ExitStatus | undefined> {
    for (;;) {
      const next = await this.#it.next();
      if (next.done) return this.exit;
      const ev = next.value;
      if (ev.event.case === "output") this.text += Buffer.from(ev.event.value.data).toString("utf8");
      if (ev.event.case === "exited") this.exit = ev.event.value.status;
    }
  }

  /** Stops reading (cancels the call). */
  async stop(): Promise<void> {
    await this.#it.return?.();
  }
}
