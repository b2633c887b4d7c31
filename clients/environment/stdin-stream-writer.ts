// Stdin over one WriteStream call, kept across reconnects: bytes go out as soon as they are
// written, stay buffered (bounded) until the server acknowledges them, and after a cut the
// stream is reopened under the same stream id from the first unacknowledged byte, so the
// server neither repeats nor loses any.
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { StdinWriter } from "./environment.js";
import { Outage, type ReconnectPolicy, isTransportFailure } from "./reconnect.js";

export interface StdinRequest {
  processId: string;
  streamId: string;
  offset: bigint;
  data: Uint8Array;
  eof: boolean;
}

export interface StdinAck {
  appliedOffset: bigint;
  eof: boolean;
}

/** Opens one WriteStream call (gRPC, in memory or the lean client). */
export type OpenWriteStream = (requests: AsyncIterable<StdinRequest>, signal: AbortSignal) => AsyncIterable<StdinAck>;

export interface StdinStreamOptions {
  processId: string;
  streamId: string;
  open: OpenWriteStream;
  policy: ReconnectPolicy;
  /** Names the stream in errors ("unix:///run/tether.sock (WriteStream p1)"). */
  what: string;
  /** Aborts the stream (the environment closed, or the caller gave up). */
  signal?: AbortSignal;
}

/** Unacknowledged bytes a writer keeps for a resend; write() waits while they reach this. */
const WINDOW_BYTES = 1 << 20;
/** Largest request: well under the server's per-write limit. */
const PIECE_BYTES = 64 << 10;

interface Piece {
  offset: number;
  data: Uint8Array;
  eof: boolean;
}

/**
 * The requests of one attempt: pieces pushed as they are written; ends when told to. The first
 * request names the process and stream. A hand-rolled iterator, not a generator over a
 * generator: a keystroke is one push, one resolve.
 */
class Feed implements AsyncIterableIterator<StdinRequest> {
  readonly #queue: Piece[] = [];
  #wake: ((r: IteratorResult<StdinRequest>) => void) | undefined;
  #ended = false;
  #first = true;

  constructor(
    private readonly processId: string,
    private readonly streamId: string,
  ) {}

  push(piece: Piece): void {
    if (this.#ended) return;
    const wake = this.#wake;
    this.#wake = undefined;
    if (wake) wake({ value: this.#request(piece), done: false });
    else this.#queue.push(piece);
  }

  end(): void {
    this.#ended = true;
    if (this.#queue.length === 0) {
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<StdinRequest>> {
    const piece = this.#queue.shift();
    if (piece) return Promise.resolve({ value: this.#request(piece), done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#wake = resolve));
  }

  return(): Promise<IteratorResult<StdinRequest>> {
    this.#ended = true;
    this.#queue.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  #request(p: Piece): StdinRequest {
    const first = this.#first;
    this.#first = false;
    return { processId: first ? this.processId : "", streamId: first ? this.streamId : "", offset: BigInt(p.offset), data: p.data, eof: p.eof };
  }
}

export class StdinStreamWriter implements StdinWriter {
  readonly #opts: StdinStreamOptions;
  readonly #abort = new AbortController();
  readonly #signal: AbortSignal;
  /** Written but not acknowledged, oldest first. */
  readonly #pending: Piece[] = [];
  #next = 0;
  #acked = 0;
  #ending = false;
  #eofAcked = false;
  #failure: TetherError | undefined;
  #feed: Feed | undefined;
  #running: Promise<void> | undefined;
  /** Woken on every acknowledgement and on failure. */
  #waiters = new Set<() => void>();

  constructor(opts: StdinStreamOptions) {
    this.#opts = opts;
    this.#signal = opts.signal ? AbortSignal.any([opts.signal, this.#abort.signal]) : this.#abort.signal;
    // Ending the requests also ends an in-memory call, which does not watch the signal.
    this.#signal.addEventListener("abort", () => this.#fail(TetherError.from(this.#signal.reason)), { once: true });
  }

  async write(data: Uint8Array): Promise<void> {
    this.#check();
    for (let at = 0; at < data.byteLength; at += PIECE_BYTES) {
      await this.#until(() => this.#next - this.#acked < WINDOW_BYTES);
      this.#check();
      this.#send(data.subarray(at, at + PIECE_BYTES), false);
    }
  }

  async flush(): Promise<void> {
    if (this.#failure) throw this.#failure;
    // The server delays its answers; a request without data asks for one at once.
    if (this.#acked < this.#next && !this.#ending) this.#send(new Uint8Array(0), false);
    await this.#until(() => this.#acked >= this.#next);
  }

  async end(): Promise<void> {
    this.#check();
    this.#ending = true;
    this.#send(new Uint8Array(0), true);
    await this.#until(() => this.#eofAcked);
  }

  async close(): Promise<void> {
    this.#abort.abort(new TetherError(ErrorCode.Cancelled, "the stdin stream was closed"));
    await this.#running;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
    if (this.#signal.aborted) throw TetherError.from(this.#signal.reason);
    if (this.#ending) throw new TetherError(ErrorCode.FailedPrecondition, `stdin of process ${this.#opts.processId} was already ended`);
  }

  #send(data: Uint8Array, eof: boolean): void {
    const piece = { offset: this.#next, data, eof };
    this.#next += data.byteLength;
    this.#pending.push(piece);
    this.#feed?.push(piece);
    this.#running ??= this.#run().catch((err: unknown) => this.#fail(TetherError.from(err)));
  }

  async #until(done: () => boolean): Promise<void> {
    while (!done()) {
      if (this.#failure) throw this.#failure;
      if (this.#signal.aborted) throw TetherError.from(this.#signal.reason);
      await this.#changed();
    }
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  #notify(): void {
    const waiting = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiting) wake();
  }

  #fail(err: TetherError): void {
    this.#failure ??= err;
    this.#feed?.end();
    this.#notify();
  }

  #ack(ack: StdinAck): void {
    this.#acked = Number(ack.appliedOffset);
    if (ack.eof) this.#eofAcked = true;
    while (this.#pending.length > 0) {
      const p = this.#pending[0]!;
      if (p.offset + p.data.byteLength > this.#acked || (p.eof && !this.#eofAcked)) break;
      this.#pending.shift();
    }
    this.#notify();
  }

  /** One call after another until EOF is acknowledged: each resends what is unacknowledged. */
  async #run(): Promise<void> {
    const { processId, streamId, policy, what } = this.#opts;
    const outage = new Outage(policy, what);
    while (!this.#eofAcked) {
      const feed = new Feed(processId, streamId);
      this.#feed = feed;
      for (const p of this.#pending) feed.push(p);
      try {
        for await (const ack of this.#opts.open(feed, this.#signal)) {
          outage.recovered();
          this.#ack(ack);
          // Everything is in: ending the requests lets the server end the call.
          if (this.#eofAcked) feed.end();
        }
        if (!this.#eofAcked) throw new TetherError(ErrorCode.Unavailable, "the WriteStream call ended before stdin was closed");
      } catch (err) {
        feed.end();
        if (this.#signal.aborted) throw TetherError.from(this.#signal.reason);
        if (!isTransportFailure(err)) throw err;
        await outage.failed(err as TetherError, this.#signal);
      }
    }
  }
}
