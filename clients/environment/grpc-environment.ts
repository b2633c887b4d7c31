// The Environment over gRPC. It owns one session on the server and keeps it attached
// (an Events stream, reopened after drops); calls that may be repeated are retried
// across reconnects (Start and Write are idempotent by id, WriteStream by stream offset), and Attach resumes from
// the last seq it delivered, so a cut connection loses and repeats nothing.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { randomUUID } from "node:crypto";
import type { SandboxPolicySchema } from "../../gen/tether/exec/v1/sandbox_pb.js";
import type { GetInfoResponse } from "../../gen/tether/exec/v1/environment_pb.js";
import type { AttachResponse, ExitStatus, ProcessInfo } from "../../gen/tether/exec/v1/process_pb.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { AttachOptions, Environment, FileOps, ProcessOps, ProcessSpecInit, SessionOps, Signalable } from "./environment.js";
import { type NetworkTarget, describeTarget, explainConnectError } from "./env-target.js";
import { type Connection, type ConnectionOptions, createConnection } from "./grpc-connection.js";
import { grpcFileOps } from "./grpc-file-ops.js";
import { StdinStreamWriter } from "./stdin-stream-writer.js";
import { DEFAULT_RECONNECT, Outage, type ReconnectPolicy, isTransportFailure, withReconnect } from "./reconnect.js";
import { resumableAttach } from "./resumable-attach.js";
import { SessionController } from "./session-controller.js";
import { keepSessionAttached } from "./session-keeper.js";

export interface GrpcEnvironmentOptions extends ConnectionOptions {
  reconnect?: Partial<ReconnectPolicy>;
  /** How long the first connection may take (the server may be starting); 0 = one attempt. */
  connectTimeoutMs?: number;
  /** The session's sandbox for processes that ask for none and for its file calls. */
  defaultSandbox?: MessageInitShape<typeof SandboxPolicySchema>;
  /** Resume this session instead of opening a new one (e.g. after the agent restarted). */
  sessionId?: string;
  detachedTtlMs?: number;
  /** How long the session's escalation and network requests wait for its controller; 0 = the server's default. */
  decisionTimeoutMs?: number;
  kind?: string;
  description?: string;
  /** How calls travel: grpc-js (default) or the lean node:http2 client. */
  transport?: "grpc-js" | "lean";
  /** Called when the environment closes (e.g. a provider removes its container). */
  onClose?: () => Promise<void>;
}

export class GrpcEnvironment implements Environment {
  readonly kind: string;
  readonly description: string;
  readonly resumed: boolean;
  readonly processes: ProcessOps;
  readonly files: FileOps;
  readonly session: SessionOps;
  readonly #conn: Connection;
  readonly #policy: ReconnectPolicy;
  /** Calls queue while the server is unreachable (restarting), for as long as the reconnect budget. */
  readonly #ready: { waitForReady: true; readyTimeoutMs: number };
  readonly #sessionId: string;
  readonly #lifetime = new AbortController();
  readonly #controller: SessionController;
  /** Resolves when the current Events stream got its ready event (the server registered it). */
  #streamReady: { promise: Promise<void>; resolve: () => void } | undefined;
  #eventsLoop: Promise<void> | undefined;
  #eventsAbort: AbortController | undefined;
  /**
   * Set from a controller's dispose until the Events stream that replaces it is ready: a
   * Start then goes out behind the old stream's cancel, so what it runs is not asked of the
   * controller that left (that exec would wait for the decision timeout, its clocks stopped).
   */
  #controllerLeaving: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #onClose: (() => Promise<void>) | undefined;

  private constructor(conn: Connection, sessionId: string, options: GrpcEnvironmentOptions & { kind: string; description: string }, resumed: boolean) {
    this.#conn = conn;
    this.#sessionId = sessionId;
    this.resumed = resumed;
    this.#policy = { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.#ready = { waitForReady: true, readyTimeoutMs: this.#policy.giveUpAfterMs };
    this.kind = options.kind;
    this.description = options.description;
    this.#onClose = options.onClose;
    this.#controller = new SessionController({
      decide: (escalationId, decision, reason) =>
        this.#retry("Decide", async () => void (await conn.sessions.decide({ sessionId, escalationId, decision, reason }, { ...this.#ready }))),
      decideNetwork: (requestId, decision, reason) =>
        this.#retry("DecideNetwork", async () => void (await conn.sessions.decideNetwork({ sessionId, requestId, decision, reason }, { ...this.#ready }))),
    });
    this.processes = this.#processOps();
    this.files = grpcFileOps(
      conn,
      sessionId,
      (what, call, signal) => this.#retry(what, call, signal),
      (what) => new Outage(this.#policy, `${this.description} (${what})`),
      this.#ready,
    );
    this.session = this.#sessionOps();
  }

  /** Connects, opens (or resumes) a session and keeps it attached. */
  static async connect(target: NetworkTarget, options: GrpcEnvironmentOptions = {}): Promise<GrpcEnvironment> {
    const conn = options.transport === "lean" ? (await import("./lean-connection.js")).createLeanConnection(target, options) : createConnection(target, options);
    try {
      return await GrpcEnvironment.open(conn, { kind: target.kind, description: describeTarget(target), ...options });
    } catch (err) {
      throw explainConnectError(err, target);
    }
  }

  /** Opens a session through any set of exec clients (gRPC or in memory). Closes them on failure. */
  static async open(conn: Connection, options: GrpcEnvironmentOptions & { kind: string; description: string }): Promise<GrpcEnvironment> {
    // The first contact fails fast: a wrong address should say so now, not after a minute.
    const policy = { ...DEFAULT_RECONNECT, ...options.reconnect, giveUpAfterMs: options.connectTimeoutMs ?? 0 };
    try {
      const opened = await withReconnect(policy, options.description, () =>
        conn.sessions.openSession(
          {
            sessionId: options.sessionId ?? randomUUID(),
            detachedTtlMs: options.detachedTtlMs ?? 0,
            defaultSandbox: options.defaultSandbox,
            decisionTimeoutMs: options.decisionTimeoutMs ?? 0,
          },
          { timeoutMs: 30_000 },
        ),
      );
      const env = new GrpcEnvironment(conn, opened.sessionId, options, opened.resumed);
      env.#startEvents();
      return env;
    } catch (err) {
      conn.close();
      await options.onClose?.();
      throw err;
    }
  }

  get sessionId(): string {
    return this.#sessionId;
  }

  info(opts?: Signalable): Promise<GetInfoResponse> {
    return this.#retry("GetInfo", () => this.#conn.environment.getInfo({}, { signal: opts?.signal, ...this.#ready }), opts?.signal);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#eventsAbort?.abort();
      this.#controller.abortAll("the environment closed");
      try {
        await this.#conn.sessions.closeSession({ sessionId: this.#sessionId }, { timeoutMs: 5000 });
      } catch (err) {
        // The server may already be gone; its own session expiry then kills what is left.
        if (!isTransportFailure(err) && !(err instanceof TetherError && err.code === ErrorCode.NotFound)) throw err;
      } finally {
        this.#lifetime.abort();
        await this.#eventsLoop?.catch(() => undefined);
        this.#conn.close();
        await this.#onClose?.();
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Drops the connection without CloseSession: the server keeps the session (and its
   * processes) for its detached TTL, as after a crash. An environment whose server the
   * caller started (onClose: a container) closes instead, since nothing could reattach.
   */
  detach(): Promise<void> {
    if (this.#onClose) return this.close();
    this.#closing ??= (async () => {
      this.#eventsAbort?.abort();
      this.#controller.abortAll("the environment was detached");
      this.#lifetime.abort();
      await this.#eventsLoop?.catch(() => undefined);
      this.#conn.close();
    })();
    return this.#closing;
  }

  /** Retries transport failures within the policy; closing the environment stops the retries. */
  #retry<T>(what: string, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const stop = signal ? AbortSignal.any([signal, this.#lifetime.signal]) : this.#lifetime.signal;
    return withReconnect(this.#policy, `${this.description} (${what})`, call, stop);
  }

  #processOps(): ProcessOps {
    const c = this.#conn.processes;
    const sessionId = this.#sessionId;
    return {
      start: async (processId: string, spec: ProcessSpecInit, opts?: Signalable) => {
        if (this.#controllerLeaving) await this.#controllerLeaving;
        return this.#retry("Start", async () => {
          const res = await c.start({ processId, spec, sessionId }, { signal: opts?.signal, ...this.#ready });
          return { process: res.process as ProcessInfo, created: res.created };
        }, opts?.signal);
      },
      attach: (processId: string, opts?: AttachOptions) => this.#attach(processId, opts ?? {}),
      write: (processId, data, opts) => {
        // A write id makes the retry after a reconnect safe.
        const writeId = opts?.writeId ?? randomUUID();
        return this.#retry("Write", async () => {
          const res = await c.write({ processId, writeId, data, eof: opts?.eof ?? false }, { signal: opts?.signal, ...this.#ready });
          return { bytesWritten: Number(res.bytesWritten), applied: res.applied };
        }, opts?.signal);
      },
      openStdin: (processId, opts) =>
        new StdinStreamWriter({
          processId,
          streamId: randomUUID(),
          open: (requests, signal) => c.writeStream(requests, { signal, ...this.#ready }),
          policy: this.#policy,
          what: `${this.description} (WriteStream ${processId})`,
          signal: opts?.signal ? AbortSignal.any([opts.signal, this.#lifetime.signal]) : this.#lifetime.signal,
        }),
      signal: async (processId, signal, opts) => {
        const value = typeof signal === "number" ? { case: "number" as const, value: signal } : { case: "name" as const, value: signal };
        const target = opts?.target === "process" ? 1 : 2;
        await this.#retry("Signal", () => c.signal({ processId, signal: value, target }, { ...this.#ready }));
      },
      resize: async (processId, rows, cols) => {
        await this.#retry("Resize", () => c.resize({ processId, size: { rows, cols } }, { ...this.#ready }));
      },
      terminate: (processId, opts) =>
        this.#retry("Terminate", async () => (await c.terminate({ processId, graceMs: opts?.graceMs ?? 0 }, { ...this.#ready })).status as ExitStatus),
      list: (filter) =>
        this.#retry("List", async () =>
          (await c.list({ sessionId: filter?.allSessions ? "" : sessionId, labels: filter?.labels ?? {}, includeExited: filter?.includeExited ?? false }, { ...this.#ready })).processes,
        ),
      wait: (processId, opts) =>
        this.#retry("Wait", async () => (await c.wait({ processId }, { signal: opts?.signal, ...this.#ready })).status as ExitStatus, opts?.signal),
    };
  }

  /** Attach that survives reconnects (resumableAttach: resumes after the last seq, reads each stream to its end). */
  #attach(processId: string, opts: AttachOptions): AsyncIterable<AttachResponse> {
    return resumableAttach(
      (afterSeq) => this.#conn.processes.attach({ processId, afterSeq, allowGaps: opts.allowGaps ?? false }, { signal: opts.signal, ...this.#ready }),
      { afterSeq: BigInt(opts.afterSeq ?? 0), signal: opts.signal, outage: new Outage(this.#policy, `${this.description} (Attach ${processId})`) },
    );
  }

  #sessionOps(): SessionOps {
    const s = this.#conn.sessions;
    const sessionId = this.#sessionId;
    /** Installs a controller handler, restarts the stream as a controller stream, waits until the server has it. */
    const control = async <H>(slot: "escalations" | "network", handler: H): Promise<Disposable> => {
      (this.#controller[slot] as H | undefined) = handler;
      this.#restartEvents();
      await this.#whenStreamReady();
      return {
        [Symbol.dispose]: () => {
          if ((this.#controller[slot] as H | undefined) !== handler) return;
          this.#controller[slot] = undefined;
          this.#restartEvents();
          const leaving: Promise<void> = this.#whenStreamReady().finally(() => {
            if (this.#controllerLeaving === leaving) this.#controllerLeaving = undefined;
          });
          this.#controllerLeaving = leaving;
        },
      };
    };
    return {
      sessionId,
      incrementElicitation: async () => (await this.#retry("IncrementElicitation", () => s.incrementElicitation({ sessionId }, { ...this.#ready }))).count,
      decrementElicitation: async () => (await this.#retry("DecrementElicitation", () => s.decrementElicitation({ sessionId }, { ...this.#ready }))).count,
      handleEscalations: (handler) => control("escalations", handler),
      handleNetworkRequests: (handler) => control("network", handler),
      onEvent: (listener) => this.#controller.listen(listener),
      setSandbox: async (policy, opts) => {
        await this.#retry("SetSandbox", () => s.setSandbox({ sessionId, defaultSandbox: policy }, { signal: opts?.signal, ...this.#ready }), opts?.signal);
      },
    };
  }

  #restartEvents(): void {
    this.#eventsAbort?.abort();
    // The handlers' requests are re-sent to the new controller stream; the old answers are not wanted.
    this.#controller.abortAll("the controller changed");
    this.#startEvents();
  }

  /**
   * Resolves once the current Events stream is registered on the server, the environment
   * closed, or the reconnect budget passed (during an outage the stream registers when the
   * server is back; a caller is not held for longer than a call would be).
   */
  async #whenStreamReady(): Promise<void> {
    const ready = this.#streamReady?.promise;
    if (!ready) return;
    const stop = AbortSignal.any([this.#lifetime.signal, AbortSignal.timeout(this.#policy.giveUpAfterMs)]);
    const stopped = new Promise<void>((resolve) => stop.addEventListener("abort", () => resolve(), { once: true }));
    await Promise.race([ready, stopped]);
  }

  /** Keeps one Events stream open for the session's life (attached = not expiring). */
  #startEvents(): void {
    const abort = new AbortController();
    this.#eventsAbort = abort;
    const signal = AbortSignal.any([abort.signal, this.#lifetime.signal]);
    const controller = this.#controller.controls;
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    this.#streamReady = { promise: ready, resolve: markReady };
    const previous = this.#eventsLoop ?? Promise.resolve();
    this.#eventsLoop = previous.then(() =>
      keepSessionAttached({
        open: (sig) => this.#conn.sessions.events({ sessionId: this.#sessionId, controller }, { signal: sig, ...this.#ready }),
        onEvent: (ev) => {
          if (ev.event.case === "ready") markReady();
          this.#controller.dispatch(ev);
        },
        policy: this.#policy,
        what: this.description,
        signal,
      }).finally(markReady),
    );
  }
}
