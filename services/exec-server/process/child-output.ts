// How a child's output streams reach their listeners: paused until someone listens (so nothing
// is lost), held back while paused (backpressure reaches the pipes), and drained regardless
// once the target exited or the child is closing, since EOF (and so the exit) needs the
// pipes read to the end.
import type { Readable } from "node:stream";

export type ChildStream = "stdout" | "stderr" | "pty";

export type OutputListener = (stream: ChildStream, data: Buffer) => void;

export class ChildOutput {
  readonly #outputs: ReadonlyArray<{ stream: ChildStream; readable: Readable }>;
  readonly #listeners = new Set<OutputListener>();
  #paused = false;
  #draining = false;
  #targetExited = false;
  /** Output that arrived while it should not flow (see the 'data' handler); delivered first on resume. */
  readonly #held: Array<{ stream: ChildStream; data: Buffer }> = [];
  #heldEmpty: (() => void) | undefined;

  constructor(outputs: ReadonlyArray<{ stream: ChildStream; readable: Readable }>) {
    this.#outputs = outputs;
    for (const { stream, readable } of outputs) {
      // Paused before the first 'data' listener, so nothing flows (and nothing is lost)
      // until someone subscribes or drain() is called.
      readable.pause();
      readable.on("data", (data: Buffer) => {
        if (this.#flowing()) {
          for (const listener of this.#listeners) listener(stream, data);
          return;
        }
        // Node resumes a child's stdio streams by itself once the child exits (flushStdio),
        // even paused ones: keep what arrives against our will and stop the stream again.
        // Bounded: only what the kernel buffered for an exited tree can arrive this way.
        this.#held.push({ stream, data });
        readable.pause();
      });
    }
  }

  /** Output chunks in order per stream. Listeners must not throw. */
  subscribe(listener: OutputListener): Disposable {
    this.#listeners.add(listener);
    this.#update();
    return {
      [Symbol.dispose]: () => {
        this.#listeners.delete(listener);
        this.#update();
      },
    };
  }

  /** Stops reading output: the pipes fill and the child blocks on its next write. */
  pause(): void {
    this.#paused = true;
    this.#update();
  }

  resume(): void {
    this.#paused = false;
    this.#update();
  }

  /** Reads to EOF from now on, listeners or not (the child is closing or failed to start). */
  drain(): void {
    this.#draining = true;
    this.#update();
  }

  /**
   * The tree is dead, so what is left in the pipes is bounded: pause no longer applies (BLOCK
   * with no reader would otherwise keep EOF, and so the exit, from ever coming); a listener still does.
   */
  targetExited(): void {
    this.#targetExited = true;
    this.#update();
  }

  /** Resolves once every held chunk went to a listener (so held output precedes the exit). */
  delivered(): Promise<void> {
    if (this.#held.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#heldEmpty = () => {
        this.#heldEmpty = undefined;
        resolve();
      };
    });
  }

  #flowing(): boolean {
    return this.#draining || (this.#listeners.size > 0 && (!this.#paused || this.#targetExited));
  }

  #update(): void {
    // A listener may pause again while held chunks are delivered: check before each one.
    while (this.#held.length > 0 && this.#flowing()) {
      const { stream, data } = this.#held.shift()!;
      for (const listener of this.#listeners) listener(stream, data);
    }
    if (this.#held.length === 0) this.#heldEmpty?.();
    const flow = this.#flowing() && this.#held.length === 0;
    for (const { readable } of this.#outputs) {
      if (flow) readable.resume();
      else readable.pause();
    }
  }
}
