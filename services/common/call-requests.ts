// A client stream's requests as an async iterator, straight from the call's 'data' events.
// Node's Readable iterator (what `for await (… of call)` uses) costs a nextTick, an
// async-generator step and a buffer round trip per message; with a generator wrapping it for
// decoding errors, one keystroke through WriteStream took two generator hops before the handler
// saw it (issue 18, pty-echo). Here a waiting next() is resolved from the 'data' event itself.
import type { Readable } from "node:stream";
import { ErrorCode, TetherError } from "./tether-error.js";

type Waiter<T> = { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void };

/**
 * Reads `call` with backpressure: a message nobody waits for is queued and the call paused
 * (grpc-js then stops reading the HTTP/2 stream once its buffer fills), so at most a few
 * messages are held here. `unwrap` turns a message into the request or throws (a decoding
 * error); after a throw the iterator is done, as a generator's would be. Stopping early
 * (return) leaves the call paused, not destroyed: a bidi call still has to send its status.
 */
export class CallRequests<T> implements AsyncIterableIterator<T> {
  readonly #call: Readable;
  readonly #unwrap: (m: unknown) => T;
  readonly #queue: unknown[] = [];
  readonly #waiters: Waiter<T>[] = [];
  #done = false;
  #error: unknown;

  constructor(call: Readable, unwrap: (m: unknown) => T) {
    this.#call = call;
    this.#unwrap = unwrap;
    call.on("data", this.#onData);
    call.once("end", this.#onEnd);
    call.once("error", this.#onError);
    call.once("close", this.#onClose);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#queue.length > 0) {
      const m = this.#queue.shift();
      if (this.#queue.length === 0 && !this.#done) this.#call.resume();
      return this.#settle(m);
    }
    if (this.#error !== undefined) {
      // What the call buffered before its error is still read, as Node's stream iterator does.
      const buffered: unknown = this.#call.readableLength > 0 ? this.#call.read() : null;
      if (buffered !== null) return this.#settle(buffered);
      const err = this.#error;
      this.#finish();
      // Whatever the call's 'error' carried (grpc-js: a ServiceError), passed on unchanged.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(err);
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.#finish();
    this.#call.pause();
    return Promise.resolve({ value: undefined, done: true });
  }

  #settle(m: unknown): Promise<IteratorResult<T>> {
    try {
      return Promise.resolve({ value: this.#unwrap(m), done: false });
    } catch (err) {
      this.#finish();
      this.#call.pause();
      return Promise.reject(err);
    }
  }

  readonly #onData = (m: unknown): void => {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      if (this.#done) return;
      this.#queue.push(m);
      this.#call.pause();
      return;
    }
    let value: T;
    try {
      value = this.#unwrap(m);
    } catch (err) {
      this.#finish();
      this.#call.pause();
      waiter.reject(err);
      return;
    }
    waiter.resolve({ value, done: false });
  };

  readonly #onEnd = (): void => {
    // Queued messages are still read: only the waiters (there are none while some are queued) end.
    this.#done = true;
    this.#detach();
    for (const w of this.#waiters.splice(0)) w.resolve({ value: undefined, done: true });
  };

  readonly #onError = (err: unknown): void => {
    this.#fail(err);
  };

  readonly #onClose = (): void => {
    // Closed without 'end': the call was cut (cancelled, reset); a waiting read must not hang.
    if (!this.#done) this.#fail(new TetherError(ErrorCode.Cancelled, "the call ended before its requests did"));
  };

  #fail(err: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#detach();
    const waiters = this.#waiters.splice(0);
    if (waiters.length === 0) this.#error = err;
    for (const w of waiters) w.reject(err);
  }

  #finish(): void {
    this.#done = true;
    this.#error = undefined;
    this.#queue.length = 0;
    this.#detach();
    for (const w of this.#waiters.splice(0)) w.resolve({ value: undefined, done: true });
  }

  #detach(): void {
    this.#call.off("data", this.#onData);
    this.#call.off("end", this.#onEnd);
    this.#call.off("error", this.#onError);
    this.#call.off("close", this.#onClose);
  }
}
