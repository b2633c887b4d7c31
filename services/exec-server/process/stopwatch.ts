// A timeout that can be paused: it counts only running time, so a command's clock
// stops while a human is being asked something. `touch()` restarts the count (idle
// timeouts); the timer is rescheduled lazily so touching on every chunk stays cheap.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Node fires a timer of more than 2^31-1 ms after 1 ms (TimeoutOverflowWarning), and
 * uint32 timeouts from the wire reach 49 days: longer waits are cut to this, and the
 * Stopwatch re-arms when an early firing finds time left.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class Stopwatch implements Disposable {
  readonly limitMs: number;
  readonly #clock: Clock;
  readonly #onExpire: () => void;
  /** Running time accumulated before the current run segment. */
  #banked = 0;
  /** Start of the current run segment, or undefined while paused. */
  #runningSince: number | undefined;
  #timer: unknown;
  #done = false;

  constructor(limitMs: number, onExpire: () => void, clock: Clock = systemClock) {
    if (!(limitMs > 0)) throw new RangeError("stopwatch limit must be positive");
    this.limitMs = limitMs;
    this.#onExpire = onExpire;
    this.#clock = clock;
    this.#runningSince = clock.now();
    this.#schedule();
  }

  get paused(): boolean {
    return this.#runningSince === undefined;
  }

  get elapsedMs(): number {
    const running = this.#runningSince === undefined ? 0 : this.#clock.now() - this.#runningSince;
    return this.#banked + running;
  }

  pause(): void {
    if (this.#done || this.#runningSince === undefined) return;
    this.#banked += this.#clock.now() - this.#runningSince;
    this.#runningSince = undefined;
    this.#cancelTimer();
  }

  resume(): void {
    if (this.#done || this.#runningSince !== undefined) return;
    this.#runningSince = this.#clock.now();
    this.#schedule();
  }

  /** Restart the count from zero, keeping the paused/running state. */
  touch(): void {
    if (this.#done) return;
    this.#banked = 0;
    if (this.#runningSince !== undefined) this.#runningSince = this.#clock.now();
  }

  [Symbol.dispose](): void {
    this.#done = true;
    this.#cancelTimer();
  }

  #schedule(): void {
    this.#cancelTimer();
    const remaining = this.limitMs - this.elapsedMs;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(0, remaining));
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#done || this.#runningSince === undefined) return;
    if (this.elapsedMs < this.limitMs) return this.#schedule();
    this.#done = true;
    this.#onExpire();
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
