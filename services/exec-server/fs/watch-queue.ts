// The bounded hand-off between file-system notifications (pushed by the kernel at its
// pace) and a watch consumer (pulling at its own). Repeats of a path's latest queued
// change are coalesced; beyond capacity new changes are dropped and counted, and the
// count is delivered, in order, once the queued changes have been taken.
import { TetherError, cancelled } from "../../common/tether-error.js";

export type WatchChange = "created" | "modified" | "removed" | "renamed";

export type WatchItem =
  | { type: "ready" }
  | { type: "change"; path: string; change: WatchChange }
  /** Changes were lost because the consumer lagged; rescan `roots` (the resolved watched paths). */
  | { type: "overflow"; dropped: number; roots?: string[] };

type Change = Extract<WatchItem, { type: "change" }>;

export class WatchQueue {
  private readonly items: Change[] = [];
  private head = 0;
  /** The latest queued change per path, for coalescing. */
  private readonly latest = new Map<string, Change>();
  private dropped = 0;
  private wake: (() => void) | undefined;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  push(path: string, change: WatchChange): void {
    const last = this.latest.get(path);
    if (last?.change === change) return;
    if (this.size >= this.capacity || this.dropped > 0) {
      // Once something is dropped, later changes go too until the consumer catches up:
      // delivering them would suggest an order that is no longer true.
      this.dropped++;
    } else {
      const item: Change = { type: "change", path, change };
      this.items.push(item);
      this.latest.set(path, item);
    }
    this.notify();
  }

  /** Counts changes lost elsewhere (e.g. a directory we could not watch). */
  noteDropped(count: number): void {
    this.dropped += count;
    this.notify();
  }

  /** The next item; waits for one. Rejects with the signal's reason when it aborts. */
  async take(signal: AbortSignal): Promise<Change | Extract<WatchItem, { type: "overflow" }>> {
    while (true) {
      if (signal.aborted) throw TetherError.from(signal.reason ?? cancelled());
      const item = this.shift();
      if (item) return item;
      if (this.dropped > 0) {
        const dropped = this.dropped;
        this.dropped = 0;
        return { type: "overflow", dropped };
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  private shift(): Change | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++]!;
    if (this.latest.get(item.path) === item) this.latest.delete(item.path);
    // Compact now and then so the array does not grow with the total ever pushed.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  private notify(): void {
    this.wake?.();
  }
}
