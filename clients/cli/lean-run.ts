// `tether run` on an exec server through the lean client: node:http2 and the hand-written
// ProcessWire/SessionWire codecs, no grpc-js and no generated descriptors (each costs more
// start-up time than the whole run of a short command). The client engine is GrpcEnvironment's
// own (reconnect.ts, resumable-attach.ts, session-keeper.ts, stdin-stream-writer.ts over the
// LeanTransport): one session kept attached by an Events stream, Start and Write retried by
// id across reconnects, Attach resumed after the last seq it delivered and read to its end,
// stdin streamed over WriteStream.
// node:fs, not node:fs/promises: a run without --ca-file reads no file, and node:fs/promises
// (with the readline interface it loads) costs every run ≈ 1 ms of start-up (node:fs is loaded anyway).
import { readFile } from "node:fs";
import { CLIENT_STREAM_WINDOW_BYTES } from "../../services/common/resume-window.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { describeTarget, explainConnectError, leanTarget, parseEnvTarget } from "../environment/env-target.js";
import type { StdinWriter } from "../environment/environment.js";
import { LeanTransport } from "../environment/lean/lean-transport.js";
import { type AttachResponseWire, ProcessWire, SessionWire, WriteStreamWire } from "../environment/lean/process-wire.js";
import { DEFAULT_RECONNECT, Outage, type ReconnectPolicy, isTransportFailure, withReconnect } from "../environment/reconnect.js";
import { resumableAttach } from "../environment/resumable-attach.js";
import { keepSessionAttached } from "../environment/session-keeper.js";
import { StdinStreamWriter } from "../environment/stdin-stream-writer.js";
import type { RunEvent, RunSpec, RunTarget } from "./run-command.js";
import { randomUuid } from "../../services/common/random-uuid.js";

export interface LeanRunOptions {
  token?: string;
  caFile?: string;
  /** Log how long the session took to come up. */
  verbose?: boolean;
  reconnect?: Partial<ReconnectPolicy>;
}

/**
 * How long a run goes before it attaches its session (the Events stream), at most: a short
 * command is over by then, and the server is spared a stream while it starts the process.
 * Never more than a quarter of the detached TTL, so the session cannot expire meanwhile.
 */
const ATTACH_AFTER_MS = 1000;

export async function openLeanRunTarget(text: string, options: LeanRunOptions = {}): Promise<LeanRunTarget> {
  const target = parseEnvTarget(text);
  if (target.kind !== "unix" && target.kind !== "grpc" && target.kind !== "grpcs") {
    throw new TetherError(ErrorCode.InvalidArgument, `${text}: the lean client reaches exec servers only (unix://, grpc://, grpcs://)`);
  }
  if (target.kind === "grpc" && options.caFile) {
    throw new TetherError(ErrorCode.InvalidArgument, "--ca-file only applies to grpcs:// (TLS) environments");
  }
  const caFile = options.caFile;
  const caPem = caFile
    ? await new Promise<Buffer>((resolve, reject) => {
        readFile(caFile, (err, data) => (err ? reject(TetherError.from(err, `--ca-file ${caFile}`)) : resolve(data)));
      })
    : undefined;
  const description = describeTarget(target);
  // As the grpc-js connection does: a 4 MiB window lets output flow at pipe speed while what
  // a cut can lose in flight stays well under the server's resume history (8 MiB); keepalive
  // notices a link that died without a reset (then calls retry on a new one).
  const link = new LeanTransport({ target: leanTarget(target), token: options.token, caPem, windowBytes: CLIENT_STREAM_WINDOW_BYTES, keepaliveMs: 10_000 });
  const policy = { ...DEFAULT_RECONNECT, ...options.reconnect };
  // Date, not performance: the first use of performance costs a run ~1 ms of start-up.
  const started = Date.now();
  const sessionId = randomUuid();
  // Not awaited here: Start goes out right behind OpenSession, on the same connection, and
  // the round trip it would wait for is saved (see LeanRunTarget.start).
  const opened = (async () => {
    let ready: { detachedTtlMs: number };
    try {
      // The first contact fails fast: a wrong address should say so now, not after a minute.
      ready = await withReconnect({ ...policy, giveUpAfterMs: 0 }, description, () =>
        link.channel().unary(SessionWire.openSession, { sessionId }, { timeoutMs: 30_000 }),
      );
    } catch (err) {
      await link.close();
      throw explainConnectError(err, target);
    }
    if (options.verbose) process.stderr.write(`tether: ${description} ready in ${Date.now() - started} ms\n`);
    return ready.detachedTtlMs;
  })();
  return new LeanRunTarget(link, sessionId, description, policy, opened);
}

export class LeanRunTarget implements RunTarget {
  readonly #link: LeanTransport;
  readonly #sessionId: string;
  readonly #description: string;
  readonly #policy: ReconnectPolicy;
  readonly #lifetime = new AbortController();
  /** The session's detached TTL once it is open; rejects with the reason the server cannot be reached. */
  readonly #opened: Promise<number>;
  readonly #attached: Promise<void>;
  #closing: Promise<void> | undefined;
  /** The first process's Attach, sent right behind its Start (see start()), for attach() to take up. */
  #earlyAttach: { processId: string; responses: AsyncIterable<AttachResponseWire> } | undefined;
  #firstStart = true;

  constructor(link: LeanTransport, sessionId: string, description: string, policy: ReconnectPolicy, opened: Promise<number>) {
    this.#link = link;
    this.#sessionId = sessionId;
    this.#description = description;
    this.#policy = policy;
    this.#opened = opened;
    // Attached once open: an Events stream for an unknown session would end at once.
    this.#attached = opened.then(
      (detachedTtlMs) => this.#keepAttached(Math.min(ATTACH_AFTER_MS, detachedTtlMs / 4)),
      () => undefined,
    );
  }

  get sessionId(): string {
    return this.#sessionId;
  }

  async start(processId: string, spec: RunSpec): Promise<void> {
    if (spec.sandbox) throw new TetherError(ErrorCode.InvalidArgument, "sandbox flags need the Environment path (tether run without the lean client)");
    const start = () => this.#link.channel().unary(ProcessWire.start, { processId, spec, sessionId: this.#sessionId });
    // Sent before OpenSession has answered: the server handles the two in order, and if it
    // did not, Start fails NOT_FOUND (no such session) and is sent again; it is idempotent by id.
    const early = start().then(
      () => true,
      () => false,
    );
    // Its Attach goes right behind it too: the server holds an Attach until the Start before
    // it has ended, which saves a run the round trip between the two.
    if (this.#firstStart) this.#earlyAttach = { processId, responses: this.#sendAttach(processId) };
    this.#firstStart = false;
    await this.#opened;
    if (await early) return;
    await this.#retry("Start", start);
  }

  async write(processId: string, data: Uint8Array, opts?: { eof?: boolean }): Promise<void> {
    // A write id makes the retry after a reconnect safe: the server applies it once.
    const writeId = randomUuid();
    await this.#retry("Write", () => this.#link.channel().unary(ProcessWire.write, { processId, writeId, data, eof: opts?.eof ?? false }));
  }

  async signal(processId: string, signal: string): Promise<void> {
    // SignalTarget 2 = the process group, as the Environment's default.
    await this.#retry("Signal", () => this.#link.channel().unary(ProcessWire.signal, { processId, signal, target: 2 }));
  }

  async resize(processId: string, rows: number, cols: number): Promise<void> {
    await this.#retry("Resize", () => this.#link.channel().unary(ProcessWire.resize, { processId, size: { rows, cols } }));
  }

  /** Attach that survives reconnects (the engine's resumableAttach), mapped to run events. */
  async *attach(processId: string): AsyncIterable<RunEvent> {
    let early: AsyncIterable<AttachResponseWire> | undefined;
    if (this.#earlyAttach?.processId === processId) {
      early = this.#earlyAttach.responses;
      this.#earlyAttach = undefined;
    }
    const hadEarly = early !== undefined;
    const open = (afterSeq: bigint): AsyncIterable<AttachResponseWire> => {
      const responses = early ?? this.#link.channel().serverStream(ProcessWire.attach, { processId, afterSeq });
      early = undefined;
      return responses;
    };
    const events = resumableAttach(open, {
      outage: new Outage(this.#policy, `${this.#description} (Attach ${processId})`),
      // A server that does not hold an Attach for a process still starting: attach again, now that it has.
      retryOnce: (err, attempt) => hadEarly && attempt === 0 && err.code === ErrorCode.NotFound,
    });
    for await (const ev of events) {
      const e = ev.event;
      if (e.case === "output") yield { kind: "output", stream: e.value.stream, data: e.value.data };
      else if (e.case === "exited") yield { kind: "exited", status: e.value.status };
    }
  }

  /** Stdin as one WriteStream (bidi), resent from the first unacknowledged byte after a cut. */
  openStdin(processId: string): StdinWriter {
    return new StdinStreamWriter({
      processId,
      streamId: randomUuid(),
      open: (requests, signal) => this.#link.bidi(WriteStreamWire, requests, { signal, waitForReady: true, readyTimeoutMs: this.#policy.giveUpAfterMs }),
      policy: this.#policy,
      what: `${this.#description} (WriteStream ${processId})`,
      signal: this.#lifetime.signal,
    });
  }

  /** An Attach from the start, sent now; its responses wait for attach() (flow control holds the rest). */
  #sendAttach(processId: string): AsyncIterable<AttachResponseWire> {
    const stream = this.#link.channel().serverStream(ProcessWire.attach, { processId, afterSeq: 0n })[Symbol.asyncIterator]();
    const first = stream.next();
    // Seen by attach() if it comes; a run that fails before then closes the target, which cancels the call.
    first.catch(() => undefined);
    return (async function* () {
      try {
        for (let r = await first; !r.done; r = await stream.next()) yield r.value;
      } finally {
        // A consumer that left early (a reader gone: `tether run yes | head -1`) must end the
        // call too: left open and unread, it holds its whole window, which is the connection's
        // (4 MiB each), and no other call's answer (CloseSession) gets through.
        await stream.return?.(undefined);
      }
    })();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#lifetime.abort();
      // Never opened: the connection is already closed, and the reason was reported.
      if (!(await this.#opened.then(() => true, () => false))) return;
      try {
        await this.#link.channel().unary(SessionWire.closeSession, { sessionId: this.#sessionId }, { timeoutMs: 5000 });
      } catch (err) {
        // The server may already be gone; its own session expiry then kills what is left.
        if (!isTransportFailure(err) && !(err instanceof TetherError && err.code === ErrorCode.NotFound)) throw err;
      } finally {
        await this.#attached;
        await this.#link.close();
      }
    })();
    return this.#closing;
  }

  /** Retries transport failures until the budget runs out or the target is closed (a late
   *  stdin write must not keep a finished run waiting for a server that is going away). */
  #retry<T>(what: string, call: () => Promise<T>): Promise<T> {
    return withReconnect(this.#policy, `${this.#description} (${what})`, call, this.#lifetime.signal);
  }

  /**
   * Keeps one Events stream open for the session's life from `afterMs` on (the engine's
   * keepSessionAttached): an attached session does not expire, so a command may run for as
   * long as it likes.
   */
  #keepAttached(afterMs: number): Promise<void> {
    return keepSessionAttached({
      open: (signal) => this.#link.channel().serverStream(SessionWire.events, { sessionId: this.#sessionId }, { signal }),
      policy: this.#policy,
      what: this.#description,
      signal: this.#lifetime.signal,
      delayMs: afterMs,
    });
  }
}
