// One Codex client on one WebSocket: the envelope (bad frames get JSON-RPC errors and the
// connection keeps serving), `initialize` (a tether session, new or resumed), dispatch to
// the method handlers, and the per-process pushes of output. The connection holds its
// session attached; when it drops the session's detached TTL starts (processes live on for
// a resume), and a clean Close frame from the client closes the session at once.
import type { RawData, WebSocket } from "ws";
import type { Logger } from "../../common/logger.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ExecCore } from "../exec-core.js";
import type { ManagedProcess } from "../process/managed-process.js";
import { environmentInfo } from "./environment-info.js";
import { InitializeParams, type Notification, RpcCode, type RequestId, type RpcErrorBody, parseParams } from "./codex-wire.js";
import { fsMethods } from "./fs-methods.js";
import { type Handler, type HandlerContext, Reply } from "./handler-context.js";
import { isSandboxed } from "./codex-sandbox.js";
import { pumpOutput } from "./output-pump.js";
import { processMethods } from "./process-methods.js";
import { RpcError, toRpcError } from "./rpc-error.js";

const METHODS: Record<string, Handler> = { ...processMethods, ...fsMethods };

/** Requests handled at once per connection; past it the socket is paused (TCP pushes back). */
const MAX_IN_FLIGHT = 64;
/** Unsent bytes above which a push waits for the socket to take them. */
const HIGH_WATER_BYTES = 1 << 20;
/** Label that marks a session as opened by this front door (only those may be resumed here). */
const SESSION_LABEL = "tether.front_door";

export interface ConnectionHost {
  readonly core: ExecCore;
  /** The connection currently serving each session, so a resume takes the session over. */
  readonly bySession: Map<string, CodexConnection>;
  readonly logger: Logger;
}

export class CodexConnection {
  readonly #ws: WebSocket;
  readonly #host: ConnectionHost;
  readonly #life = new AbortController();
  readonly #pumps = new Set<string>();
  #sessionId: string | undefined;
  #inFlight = 0;
  #paused = false;

  constructor(ws: WebSocket, host: ConnectionHost) {
    this.#ws = ws;
    this.#host = host;
    ws.on("message", (data, isBinary) => this.#onFrame(data, isBinary));
    ws.on("close", (code) => void this.#onClose(code));
    // An error is followed by close; the close handler does the cleanup.
    ws.on("error", (err) => host.logger.warn({ err: err.message }, "connection error"));
  }

  /** Ends this connection (shutdown, or a resume elsewhere took its session). */
  terminate(code: number, reason: string): void {
    this.#ws.close(code, reason);
  }

  #onFrame(data: RawData, isBinary: boolean): void {
    if (isBinary) return void this.#error(null, new RpcError(RpcCode.ParseError, "binary frames are not accepted: send one JSON object per text frame"));
    let msg: unknown;
    try {
      msg = JSON.parse(frameText(data));
    } catch (err) {
      return void this.#error(null, new RpcError(RpcCode.ParseError, `the frame is not JSON (${(err as Error).message}): send one JSON object per text frame`));
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      return void this.#error(null, new RpcError(RpcCode.InvalidRequest, "a frame must hold one JSON object (batches are not supported)"));
    }
    const { id, method, params } = msg as { id?: unknown; method?: unknown; params?: unknown };
    const validId = typeof id === "number" || typeof id === "string" ? id : undefined;
    if (typeof method !== "string") {
      return void this.#error(validId ?? null, new RpcError(RpcCode.InvalidRequest, "the message has no method: requests need id, method and params"));
    }
    if (id === undefined) return this.#notification(method);
    if (validId === undefined) return void this.#error(null, new RpcError(RpcCode.InvalidRequest, "id must be a number or a string"));
    this.#request(validId, method, params);
  }

  #notification(method: string): void {
    if (method === "initialized") return;
    // As Codex's own server does: a bad notification is answered with id -1.
    void this.#error(-1, new RpcError(RpcCode.InvalidRequest, `notification ${JSON.stringify(method.slice(0, 100))} is not accepted: the only client notification is initialized`));
  }

  #request(id: RequestId, method: string, params: unknown): void {
    this.#inFlight++;
    if (this.#inFlight >= MAX_IN_FLIGHT && !this.#paused) {
      this.#paused = true;
      this.#ws.pause();
    }
    const started = performance.now();
    const ms = () => Math.round((performance.now() - started) * 10) / 10;
    this.#handle(method, params)
      .then(
        (result) => {
          this.#host.logger.debug({ method, code: "OK", ms: ms() }, "call");
          if (result instanceof Reply) {
            this.#send({ id, result: result.result });
            result.afterSend();
          } else {
            this.#send({ id, result });
          }
        },
        (err: unknown) => {
          const body = this.#error(id, err);
          const fields = { method: method.slice(0, 100), code: body.code, ms: ms(), details: body.message };
          if (body.code === RpcCode.Internal) this.#host.logger.warn(fields, "call failed");
          else this.#host.logger.debug(fields, "call");
        },
      )
      .finally(() => {
        this.#inFlight--;
        if (this.#paused && this.#inFlight < MAX_IN_FLIGHT / 2) {
          this.#paused = false;
          this.#ws.resume();
        }
      });
  }

  async #handle(method: string, params: unknown): Promise<unknown> {
    if (method === "initialize") return this.#initialize(params);
    const handler = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
    if (!handler) {
      throw new RpcError(RpcCode.MethodNotFound, `method ${JSON.stringify(method.slice(0, 100))} is not served by tether's Codex front door (it serves initialize, ${Object.keys(METHODS).join(", ")})`);
    }
    if (this.#sessionId === undefined) throw new RpcError(RpcCode.InvalidRequest, `${method} before initialize: send initialize first`);
    return handler(params, this.#context(this.#sessionId));
  }

  async #initialize(raw: unknown): Promise<Reply> {
    if (this.#sessionId !== undefined) throw new RpcError(RpcCode.InvalidRequest, "initialize was already called on this connection");
    const p = parseParams("initialize", InitializeParams, raw);
    const core = this.#host.core;
    let resumed = false;
    let id: string;
    if (p.resumeSessionId) {
      id = p.resumeSessionId;
      if (core.findSession(id)?.labels[SESSION_LABEL] !== "codex") {
        throw new TetherError(ErrorCode.NotFound, `session ${JSON.stringify(id.slice(0, 140))} cannot be resumed: it expired (detached longer than its TTL) or the exec server restarted; initialize without resumeSessionId`);
      }
      core.openSession(id, 0);
      resumed = true;
      this.#host.bySession.get(id)?.terminate(4000, "the session was resumed on another connection");
    } else {
      id = core.openSession("", 0, { [SESSION_LABEL]: "codex", "codex.client": p.clientName }).session.id;
    }
    this.#sessionId = id;
    this.#host.bySession.set(id, this);
    this.#attach(id);
    return new Reply({ sessionId: id, environmentInfo: environmentInfo(this.#host.core) }, () => {
      if (!resumed) return;
      // Pushes go on from where the log is now; the client's process/read covers what it missed.
      for (const info of this.#host.core.listProcesses({ sessionId: id })) {
        const proc = this.#host.core.getProcess(info.processId);
        this.#follow(proc, proc.log.lastSeq);
      }
    });
  }

  /** Holds the session attached (its detached countdown stopped) while this connection lives. */
  #attach(sessionId: string): void {
    const events = this.#host.core.sessionEvents(sessionId, false, this.#life.signal)[Symbol.asyncIterator]();
    void (async () => {
      // Nothing in the session's events is Codex's business; reading them keeps the subscription.
      while (!(await events.next()).done);
    })().catch((err: unknown) => {
      if (!this.#life.signal.aborted) this.#host.logger.warn({ sessionId, err: TetherError.from(err).message }, "session events ended");
    });
  }

  #context(sessionId: string): HandlerContext {
    return { core: this.#host.core, sessionId, signal: this.#life.signal, follow: (p, after) => this.#follow(p, after) };
  }

  #follow(process: ManagedProcess, afterSeq: number): void {
    if (this.#pumps.has(process.id) || this.#life.signal.aborted) return;
    this.#pumps.add(process.id);
    const sandboxed = isSandboxed(process.spec.sandbox, this.#host.core.defaultMode !== "full-access");
    pumpOutput(process, afterSeq, (n) => this.#notify(n), this.#life.signal, sandboxed)
      .catch((err: unknown) => {
        if (this.#life.signal.aborted) return;
        // The client would wait forever for events that cannot come: end the connection so
        // it reconnects and reads (process/read then names the problem).
        this.#host.logger.warn({ processId: process.id, err: TetherError.from(err).message }, "output push stopped; closing the connection");
        this.#ws.close(1011, "process output could not be delivered; reconnect and read");
      })
      .finally(() => this.#pumps.delete(process.id));
  }

  #notify(n: Notification): Promise<void> {
    if (this.#ws.readyState !== this.#ws.OPEN) return Promise.reject(new TetherError(ErrorCode.Unavailable, "the connection is closed"));
    const text = JSON.stringify(n);
    if (this.#ws.bufferedAmount < HIGH_WATER_BYTES) {
      this.#ws.send(text);
      return Promise.resolve();
    }
    // Backpressure: the log keeps the output (BLOCK pauses the process) until the socket takes it.
    return new Promise((resolve, reject) => this.#ws.send(text, (err) => (err ? reject(err) : resolve())));
  }

  #send(message: object): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(JSON.stringify(message));
  }

  #error(id: RequestId | null, err: unknown): RpcErrorBody {
    const body = toRpcError(err);
    this.#send({ error: body, id });
    return body;
  }

  async #onClose(code: number): Promise<void> {
    this.#life.abort(new TetherError(ErrorCode.Cancelled, "the connection closed"));
    const id = this.#sessionId;
    if (id === undefined || this.#host.bySession.get(id) !== this) return;
    this.#host.bySession.delete(id);
    // 1000: the client said goodbye, so its processes end now; a drop (1006) leaves the
    // session to its detached TTL, for a resume.
    if (code === 1000 && this.#host.core.findSession(id)) {
      await this.#host.core.closeSession(id, "the Codex client closed its connection").catch((err: unknown) => {
        this.#host.logger.warn({ sessionId: id, err: TetherError.from(err).message }, "closing the session failed");
      });
    }
  }
}

function frameText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString("utf8");
}
