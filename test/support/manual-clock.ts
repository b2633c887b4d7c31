// A Clock whose time moves only when a test says so, and which tells the test when code under
// test starts a timer: tests wait for "a 2000 ms timer was set", then advance, never sleep.
import type { Clock } from "../../services/exec-server/process/stopwatch.js";

export interface ManualTimer {
  id: number;
  /** The delay asked for. */
  ms: number;
  at: number;
}

export class ManualClock implements Clock {
  #now = 0;
  #nextId = 1;
  readonly #timers = new Map<number, ManualTimer & { fn: () => void }>();
  readonly #waiters = new Set<() => void>();
  /** Every delay ever asked for, in order (cleared ones included). */
  readonly requested: number[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { id, ms, at: this.#now + ms, fn });
    this.requested.push(ms);
    for (const w of [...this.#waiters]) w();
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): ManualTimer[] {
    return [...this.#timers.values()].map(({ id, ms, at }) => ({ id, ms, at }));
  }

  /** Resolves with the first pending timer that matches (now or once it is set). */
  waitForTimer(match: (t: ManualTimer) => boolean = () => true, signal?: AbortSignal): Promise<ManualTimer> {
    return new Promise<ManualTimer>((resolve, reject) => {
      const check = () => {
        const found = this.pending.find(match);
        if (!found) return;
        this.#waiters.delete(check);
        signal?.removeEventListener("abort", onAbort);
        resolve(found);
      };
      const onAbort = () => {
        this.#waiters.delete(check);
        reject(signal?.reason instanceof Error ? signal.reason : new Error("wait aborted"));
      };
      this.#waiters.add(check);
      signal?.addEventListener("abort", onAbort, { once: true });
      check();
    });
  }

  /** Moves time forward, firing due timers in order (each sees its own due time as now). */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.values()].filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers.delete(due.id);
      this.#now = due.at;
      due.fn();
    }
    this.#now = until;
  }
}
