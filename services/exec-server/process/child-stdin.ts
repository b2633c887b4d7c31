// A child's stdin as the exec server writes it: a write resolves once its bytes were handed to
// the pipe (or the terminal), and it closes once: EOF on a pipe, or the terminal's EOF
// character when this process holds the PTY's master (which stays open for the output).
import type { Writable } from "node:stream";
import { ErrorCode, TetherError, cancelled } from "../../common/tether-error.js";

export class ChildStdin {
  readonly #stdin: Writable | null;
  /** Set when `stdin` is a PTY master this process holds. */
  readonly #terminal: boolean;
  /** The target's pid, for error messages (known only once it started). */
  readonly #pid: () => number;
  #writable: boolean;
  #closing: Promise<void> | undefined;

  constructor(stdin: Writable | null, options: { open: boolean; terminal: boolean; pid: () => number }) {
    this.#stdin = stdin;
    this.#terminal = options.terminal;
    this.#pid = options.pid;
    this.#writable = options.open && stdin !== null;
    stdin?.on("error", () => {
      // EPIPE when the target closed stdin or exited; write() reports it through its callback.
      this.#writable = false;
    });
  }

  /** Resolves once the bytes were handed to the pipe. */
  write(data: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    const stdin = this.#stdin;
    if (stdin === null || !this.#writable || this.#closing !== undefined) return Promise.reject(this.#closedError());
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(TetherError.from(signal.reason ?? cancelled()));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(TetherError.from(signal?.reason ?? cancelled()));
      signal?.addEventListener("abort", onAbort, { once: true });
      stdin.write(data, (err) => {
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(this.#closedError(err));
        else resolve();
      });
    });
  }

  /** Closes stdin (PTY: the terminal's EOF char, once). Idempotent. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    const stdin = this.#stdin;
    this.#writable = false;
    if (this.#terminal && stdin !== null && !stdin.destroyed) {
      // The terminal's EOF, once, as a user's ^D (the default VEOF; the launcher's relay read
      // c_cc[VEOF], which Node cannot): the master itself stays open for the output.
      this.#closing = new Promise<void>((resolve) => stdin.write(Buffer.of(4), () => resolve()));
    } else if (stdin === null || stdin.destroyed || stdin.writableFinished) {
      this.#closing = Promise.resolve();
    } else {
      this.#closing = new Promise<void>((resolve) => {
        // 'close' also covers EPIPE: either way the stdin is closed afterwards.
        stdin.once("close", () => resolve());
        stdin.end(() => resolve());
      });
    }
    return this.#closing;
  }

  /** The target is gone: drop the pipe. */
  destroy(): void {
    this.#stdin?.destroy();
  }

  #closedError(cause?: unknown): TetherError {
    return new TetherError(
      ErrorCode.FailedPrecondition,
      `stdin of process ${this.#pid()} is closed: start it with stdin open and write before closing it or before it exits`,
      cause === undefined ? {} : { cause },
    );
  }
}
