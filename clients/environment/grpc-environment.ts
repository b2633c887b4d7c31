// The Environment over gRPC. It owns one session on the server and keeps it attached
// (an Events stream, reopened after drops); calls that may be repeated are retried
// across reconnects (Start and Write are idempotent by id, WriteStream by stream offset), and Attach resumes from
// the last seq it delivered, so a cut connection loses and repeats nothing.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { randomUUID } from "node:crypto";
import type { SandboxPolicySchema } from "../../gen/tether/exec/v1/sandbox_pb.js";
import type { GetInfoResponse } from "../../gen/tether/exec/v1/environment_pb.js";
import { type AttachResponse, type ExitStatus, type ProcessInfo, ProcessState } from "../../gen/tether/exec/v1/process_pb.js";
import { Decision } from "../../gen/tether/exec/v1/session_pb.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { AttachOptions, EscalationHandler, Environment, FileOps, ProcessOps, ProcessSpecInit, SessionOps, Signalable } from "./environment.js";
import { type NetworkTarget, describeTarget, explainConnectError } from "./env-target.js";
import { type Connection, type ConnectionOptions, createConnection } from "./grpc-connection.js";
import { grpcFileOps } from "./grpc-file-ops.js";
import { StdinStreamWriter } from "./stdin-stream-writer.js";
import { DEFAULT_RECONNECT, Outage, type ReconnectPolicy, isTransportFailure, withReconnect } from "./reconnect.js";

export interface GrpcEnvironmentOptions extends ConnectionOptions {
  reconnect?: Partial<ReconnectPolicy>;
  /** How long the first connection may take (the server may be starting); 0 = one attempt. */
  connectTimeoutMs?: number;
  /** The session's sandbox for processes that ask for none and for its file calls. */
  defaultSandbox?: MessageInitShape<typeof SandboxPolicySchema>;
  /** Resume this session instead of opening a new one. */
  sessionId?: string;
  detachedTtlMs?: number;
  kind?: string;
  description?: string;
  /** Called when the environment closes (e.g. a provider removes its container). */
  onClose?: () => Promise<void>;
}

const DECISION_CODES = { run: Decision.RUN, escalate: Decision.ESCALATE, deny: Decision.DENY } as const;

export class GrpcEnvironment implements Environment {
  readonly kind: string;
  readonly description: string;
  readonly processes: ProcessOps;
  readonly files: FileOps;
  readonly session: SessionOps;
  readonly #conn: Connection;
  readonly #policy: ReconnectPolicy;
  /** Calls queue while the server is unreachable (restarting), for as long as the reconnect budget. */
  readonly #ready: { waitForReady: true; readyTimeoutMs: number };
  readonly #sessionId: string;
  readonly #lifetime = new AbortController();
  #escalationHandler: EscalationHandler | undefined;
  #eventsLoop: Promise<void> | undefined;
  #eventsAbort: AbortController | undefined;
  #closing: Promise<void> | undefined;
  readonly #onClose: (() => Promise<void>) | undefined;

  private constructor(conn: Connection, sessionId: string, options: GrpcEnvironmentOptions & { kind: string; description: string }) {
    this.#conn = conn;
    this.#sessionId = sessionId;
    this.#policy = { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.#ready = { waitForReady: true, readyTimeoutMs: this.#policy.giveUpAfterMs };
    this.kind = options.kind;
    this.description = options.description;
    this.#onClose = options.onClose;
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
    const conn = createConnection(target, options);
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
          { sessionId: options.sessionId ?? randomUUID(), detachedTtlMs: options.detachedTtlMs ?? 0, defaultSandbox: options.defaultSandbox },
          { timeoutMs: 30_000 },
        ),
      );
      const env = new GrpcEnvironment(conn, opened.sessionId, options);
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

  /** Retries transport failures within the policy; closing the environment stops the retries. */
  #retry<T>(what: string, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const stop = signal ? AbortSignal.any([signal, this.#lifetime.signal]) : this.#lifetime.signal;
    return withReconnect(this.#policy, `${this.description} (${what})`, call, stop);
  }

  #processOps(): ProcessOps {
    const c = this.#conn.processes;
    const sessionId = this.#sessionId;
    return {
      start: (processId: string, spec: ProcessSpecInit, opts?: Signalable) =>
        this.#retry("Start", async () => {
          const res = await c.start({ processId, spec, sessionId }, { signal: opts?.signal, ...this.#ready });
          return { process: res.process as ProcessInfo, created: res.created };
        }, opts?.signal),
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

  /** Attach that survives reconnects: it resumes after the last seq it yielded. */
  async *#attach(processId: string, opts: AttachOptions): AsyncIterable<AttachResponse> {
    let cursor = BigInt(opts.afterSeq ?? 0);
    let startedSent = false;
    const outage = new Outage(this.#policy, `${this.description} (Attach ${processId})`);
    for (;;) {
      try {
        const stream = this.#conn.processes.attach(
          { processId, afterSeq: cursor, allowGaps: opts.allowGaps ?? false },
          { signal: opts.signal, ...this.#ready },
        );
        let endsAt: bigint | undefined;
        let exit: AttachResponse | undefined;
        try {
          for await (const ev of stream) {
            outage.recovered();
            if (ev.event.case === "started") {
              // An exited process's last seq is its exit event: a cursor there has nothing left to read.
              if (ev.event.value.state === ProcessState.EXITED) endsAt = ev.event.value.lastSeq;
              if (startedSent) continue;
              startedSent = true;
            } else {
              cursor = ev.seq;
            }
            // The exit event is held until the stream ends: a consumer that stops at it would
            // otherwise reset the stream, and nghttp2 closes a connection that resets more than
            // ~33 streams a second (its rapid-reset guard), failing every call on it.
            if (ev.event.case === "exited") exit = ev;
            else yield ev;
          }
        } catch (err) {
          if (exit === undefined) throw err;
        }
        if (exit !== undefined) {
          yield exit;
          return;
        }
        if (endsAt !== undefined && cursor >= endsAt) return;
        // The server ends the stream only after the exit event, or when it shuts down.
        throw new TetherError(ErrorCode.Unavailable, "the attach stream ended before the process exited");
      } catch (err) {
        if (!isTransportFailure(err) || opts.signal?.aborted) throw err;
        await outage.failed(err as TetherError, opts.signal);
      }
    }
  }

  #sessionOps(): SessionOps {
    const s = this.#conn.sessions;
    const sessionId = this.#sessionId;
    return {
      sessionId,
      incrementElicitation: async () => (await this.#retry("IncrementElicitation", () => s.incrementElicitation({ sessionId }, { ...this.#ready }))).count,
      decrementElicitation: async () => (await this.#retry("DecrementElicitation", () => s.decrementElicitation({ sessionId }, { ...this.#ready }))).count,
      handleEscalations: async (handler) => {
        this.#escalationHandler = handler;
        this.#restartEvents();
        return {
          [Symbol.dispose]: () => {
            if (this.#escalationHandler !== handler) return;
            this.#escalationHandler = undefined;
            this.#restartEvents();
          },
        };
      },
    };
  }

  #restartEvents(): void {
    this.#eventsAbort?.abort();
    this.#startEvents();
  }

  /** Keeps one Events stream open for the session's life (attached = not expiring). */
  #startEvents(): void {
    const abort = new AbortController();
    this.#eventsAbort = abort;
    const signal = AbortSignal.any([abort.signal, this.#lifetime.signal]);
    const handler = this.#escalationHandler;
    const previous = this.#eventsLoop ?? Promise.resolve();
    this.#eventsLoop = previous.catch(() => undefined).then(async () => {
      const outage = new Outage({ ...this.#policy, giveUpAfterMs: Number.MAX_SAFE_INTEGER }, this.description);
      while (!signal.aborted) {
        try {
          for await (const ev of this.#conn.sessions.events({ sessionId: this.#sessionId, controller: handler !== undefined }, { signal, ...this.#ready })) {
            outage.recovered();
            if (ev.event.case === "escalation" && handler) void this.#answer(handler, ev.event.value);
          }
          if (!signal.aborted) await outage.failed(new TetherError(ErrorCode.Unavailable, "events stream ended"), signal);
        } catch (err) {
          if (signal.aborted) return;
          if (err instanceof TetherError && err.code === ErrorCode.NotFound) return; // session gone (closed or expired)
          await outage.failed(TetherError.from(err), signal).catch(() => undefined);
        }
      }
    });
  }

  async #answer(handler: EscalationHandler, req: Parameters<EscalationHandler>[0]): Promise<void> {
    let result;
    try {
      result = await handler(req);
    } catch (err) {
      result = { decision: "deny" as const, reason: `the controller failed: ${TetherError.from(err).message}` };
    }
    await this.#retry("Decide", () =>
      this.#conn.sessions.decide({ sessionId: this.#sessionId, escalationId: req.escalationId, decision: DECISION_CODES[result.decision], reason: result.reason ?? "" }, { ...this.#ready }),
    ).catch(() => {
      // Already decided or timed out on the server: it has denied on its own.
    });
  }
}
