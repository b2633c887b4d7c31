// An Environment that opens on first use: every call waits for the opening, then goes to the
// opened environment. A thread's first model request needs no environment (project
// instructions of a local cwd are read with node:fs; of a remote one through an early session
// on the lean client), so it goes out before the exec core, the generated codecs and grpc-js
// are even loaded; the opening starts right after it (start()) or at the first real use.
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { GetInfoResponse } from "../../gen/tether/exec/v1/environment_pb.js";
import type { AttachResponse } from "../../gen/tether/exec/v1/process_pb.js";
import type {
  AttachOptions,
  Environment,
  FileOps,
  NetworkRequestHandler,
  EscalationHandler,
  ProcessOps,
  ReadFileOptions,
  SessionEvent,
  SessionOps,
  Signalable,
  StdinWriter,
} from "./environment.js";

export interface LazyEnvironmentInit {
  kind: string;
  description: string;
  /** The exec session id the opened environment will have. */
  sessionId: string;
  /** Opens the environment (and readies it: the thread's controller attached, …). Called once. */
  open: () => Promise<Environment>;
  /**
   * What answers stat and readFile until the environment is open (an exec session opened on
   * the lean client: early-session.ts), so reading AGENTS.md loads no full client. Released
   * once the environment is open; closed (its session ended) when the environment never opens.
   */
  early?: Promise<EarlyFiles>;
}

export interface EarlyFiles {
  readonly files: Pick<FileOps, "stat" | "readFile">;
  close(): Promise<void>;
  release(): Promise<void>;
}

export class LazyEnvironment implements Environment {
  readonly kind: string;
  readonly #init: LazyEnvironmentInit;
  #opening: Promise<Environment> | undefined;
  #opened: Environment | undefined;
  readonly processes: ProcessOps;
  readonly files: FileOps;
  readonly session: SessionOps;

  constructor(init: LazyEnvironmentInit) {
    this.#init = init;
    this.kind = init.kind;
    const env = () => this.ready();
    const opened = () => this.#opened;
    // Until the environment is open, file reads go to the early session when there is one.
    const early = init.early;
    early?.catch(() => undefined); // its failure is the thread's to report (openThread awaits it)
    const reads = (): Promise<Pick<FileOps, "stat" | "readFile">> =>
      this.#opened !== undefined || early === undefined ? env().then((e) => e.files) : early.then((e) => e.files);
    const iterate = <T>(f: (e: Environment) => AsyncIterable<T>): AsyncIterable<T> => ({
      async *[Symbol.asyncIterator]() {
        yield* f(await env());
      },
    });
    this.processes = {
      start: async (id, spec, opts) => (await env()).processes.start(id, spec, opts),
      attach: (id, opts?: AttachOptions): AsyncIterable<AttachResponse> => iterate((e) => e.processes.attach(id, opts)),
      write: async (id, data, opts) => (await env()).processes.write(id, data, opts),
      openStdin: (id, opts?: Signalable): StdinWriter => lazyStdin(env().then((e) => e.processes.openStdin(id, opts))),
      signal: async (id, sig, opts) => (await env()).processes.signal(id, sig, opts),
      resize: async (id, rows, cols) => (await env()).processes.resize(id, rows, cols),
      terminate: async (id, opts) => (await env()).processes.terminate(id, opts),
      // It opens new (a local environment, a new exec session: open-thread.ts), so nothing runs
      // there before its opening starts: a resumed thread's look for its processes opens nothing.
      list: async (filter) => (this.#opening === undefined ? [] : (await env()).processes.list(filter)),
      wait: async (id, opts) => (await env()).processes.wait(id, opts),
    };
    this.files = {
      stat: async (p, opts) => (await reads()).stat(p, opts),
      readFile: (p, opts?: ReadFileOptions) => {
        const read = reads().then((f) => f.readFile(p, opts));
        // The info rejects with the opening when the opening fails: no floating rejection if unused.
        const info = read.then((r) => r.info);
        info.catch(() => undefined);
        return { info, chunks: { async *[Symbol.asyncIterator]() { yield* (await read).chunks; } } };
      },
      writeFile: async (header, data, opts) => (await env()).files.writeFile(header, data, opts),
      makeDir: async (p, opts) => (await env()).files.makeDir(p, opts),
      readDir: (p, opts) => iterate((e) => e.files.readDir(p, opts)),
      remove: async (p, opts) => (await env()).files.remove(p, opts),
      copy: async (s, d, opts) => (await env()).files.copy(s, d, opts),
      rename: async (s, d, opts) => (await env()).files.rename(s, d, opts),
      canonicalize: async (p, opts) => (await env()).files.canonicalize(p, opts),
      watch: (paths, opts) => iterate((e) => e.files.watch(paths, opts)),
    };
    const listeners = new Set<(event: SessionEvent) => void>();
    this.session = {
      get sessionId() {
        return opened()?.session.sessionId ?? init.sessionId;
      },
      incrementElicitation: async () => (await env()).session.incrementElicitation(),
      decrementElicitation: async () => (await env()).session.decrementElicitation(),
      handleEscalations: async (handler: EscalationHandler) => (await env()).session.handleEscalations(handler),
      handleNetworkRequests: async (handler: NetworkRequestHandler) => (await env()).session.handleNetworkRequests(handler),
      // Listeners registered before the opening are forwarded once it is done (events before it cannot exist).
      onEvent: (listener) => {
        listeners.add(listener);
        let inner: Disposable | undefined;
        void env().then((e) => { if (listeners.has(listener)) inner = e.session.onEvent(listener); }, () => undefined);
        return { [Symbol.dispose]: () => { listeners.delete(listener); inner?.[Symbol.dispose](); } };
      },
      setSandbox: async (policy, opts) => (await env()).session.setSandbox(policy, opts),
    };
  }

  get description(): string {
    return this.#opened?.description ?? this.#init.description;
  }

  /** Whether the opening has started. */
  get started(): boolean {
    return this.#opening !== undefined;
  }

  /** Starts the opening now (idempotent); a failure is reported to whoever uses the environment. */
  start(): void {
    void this.ready().catch(() => undefined);
  }

  /** The opened environment; rejects with the opening's error (the same error to every caller). */
  ready(): Promise<Environment> {
    this.#opening ??= this.#init.open().then((e) => {
      this.#opened = e;
      void this.#endEarly("release");
      return e;
    });
    return this.#opening;
  }

  /** Lets the early session go: released for the opened environment, or closed (its session ended). */
  async #endEarly(how: "release" | "close"): Promise<void> {
    const early = await this.#init.early?.catch(() => undefined);
    await early?.[how]().catch(() => undefined); // best effort: the session's TTL ends what is left
  }

  async info(opts?: Signalable): Promise<GetInfoResponse> {
    return (await this.ready()).info(opts);
  }

  /** Closes what was opened; one that never opened (or failed to) has nothing to close. */
  async close(): Promise<void> {
    if (this.#opening === undefined) {
      this.#opening = Promise.reject(new TetherError(ErrorCode.FailedPrecondition, "the environment was closed before it opened")); // nothing opens after close
      this.#opening.catch(() => undefined);
      return this.#endEarly("close");
    }
    const env = await this.#opening.catch(() => undefined);
    if (env === undefined) return this.#endEarly("close");
    await env.close();
  }

  async detach(): Promise<void> {
    if (this.#opening === undefined && this.#init.early === undefined) return this.close();
    if (this.#opening === undefined) {
      this.#opening = Promise.reject(new TetherError(ErrorCode.FailedPrecondition, "the environment was detached before it opened"));
      this.#opening.catch(() => undefined);
      return this.#endEarly("release"); // the session stays for its TTL, as a detached one does
    }
    const env = await this.#opening.catch(() => undefined);
    if (env === undefined) return this.#endEarly("release");
    await (env.detach ? env.detach() : env.close());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function lazyStdin(writer: Promise<StdinWriter>): StdinWriter {
  writer.catch(() => undefined);
  return {
    write: async (data) => (await writer).write(data),
    flush: async () => (await writer).flush(),
    end: async () => (await writer).end(),
    close: async () => (await writer).close(),
    [Symbol.asyncDispose]: async () => (await writer)[Symbol.asyncDispose](),
  };
}
