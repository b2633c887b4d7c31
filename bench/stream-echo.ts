// A keystroke-echo session over any byte stream pair (ssh -tt, a local PTY, a tether PTY):
// waits for the remote READY, then times one byte out and one byte back.
import { ErrorCode, TetherError } from "../services/common/tether-error.js";
import type { EchoSession } from "./targets.js";

/** Run in a PTY: raw mode so every byte reaches cat at once and comes back unechoed by the tty. */
export const ECHO_SCRIPT = "stty raw -echo && printf READY && exec cat";

/** Echo over any byte stream pair: waits for READY, then one byte out, one byte back. */
export class StreamEcho implements EchoSession {
  private pending: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private seen = "";
  private ready: Promise<void>;
  private failReady: (e: Error) => void = () => {};

  constructor(
    private readonly write: (b: Buffer) => void,
    onData: (cb: (b: Buffer | string) => void) => void,
    private readonly stop: () => Promise<void>,
  ) {
    let markReady!: () => void;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      this.failReady = reject;
    });
    let isReady = false;
    onData((chunk) => {
      const text = typeof chunk === "string" ? chunk : chunk.toString("latin1");
      if (!isReady) {
        this.seen = (this.seen + text).slice(-64);
        if (this.seen.includes("READY")) {
          isReady = true;
          markReady();
        }
        return;
      }
      const p = this.pending;
      this.pending = undefined;
      p?.resolve();
    });
  }

  waitReady(): Promise<void> {
    return this.ready;
  }

  roundTrip(byte: number): Promise<void> {
    if (this.pending) return Promise.reject(new TetherError(ErrorCode.FailedPrecondition, "one keystroke at a time"));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.write(Buffer.of(byte));
    });
  }

  /** The other side went away: a waiting round trip fails instead of hanging. */
  fail(why: string): void {
    const err = new TetherError(ErrorCode.Unavailable, why);
    this.failReady(err);
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  close(): Promise<void> {
    return this.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
