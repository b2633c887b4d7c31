// The session's way to its socket: frames written in one tick leave in one write (corked),
// a write that finds the socket's queue past its high water completes only on 'drain', and
// control answers the server asked for are capped: a server that never reads them is cut off.
import type { Socket } from "node:net";
import { ConnectionError, H2Error } from "./h2-frames.js";

/** Control answers (PING and SETTINGS acks) a server may leave unread before it is cut off. */
const MAX_QUEUED_CONTROL_BYTES = 1024 * 1024;
/** Socket bytes queued past which a write waits for 'drain' before it completes. */
const SOCKET_HIGH_WATER = 256 * 1024;

export class FrameWriter {
  readonly #socket: Socket;
  #corked = false;
  #stopped = false;
  /** Write callbacks held until the socket drains (its queue passed SOCKET_HIGH_WATER). */
  readonly #drainWaiters: (() => void)[] = [];

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("drain", () => {
      for (const done of this.#drainWaiters.splice(0)) done();
    });
  }

  write(frame: Buffer): void {
    if (this.#stopped) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(frame);
  }

  /** An answer the server asked for; throws ENHANCE_YOUR_CALM when it left too many unread. */
  control(frame: Buffer): void {
    if (this.#socket.writableLength > MAX_QUEUED_CONTROL_BYTES) {
      throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, "it sends control frames faster than it reads the answers");
    }
    this.write(frame);
  }

  /** Runs `done` now, or once the socket drained when its queue is past the high water. */
  afterDrain(done: () => void): void {
    if (this.#socket.writableLength > SOCKET_HIGH_WATER) this.#drainWaiters.push(done);
    else done();
  }

  /** The connection is gone: nothing more is written, and held callbacks are dropped (their streams learn it from 'close'). */
  stop(): void {
    this.#stopped = true;
    this.#drainWaiters.length = 0;
  }
}
