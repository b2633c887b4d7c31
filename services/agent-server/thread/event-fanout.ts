// Delivers a thread's events to every subscriber, in order, each through its own bounded
// queue: a subscriber that falls more than `maxQueued` events behind is ended with
// RESOURCE_EXHAUSTED (it re-subscribes and reads the thread) instead of growing memory.
// At most one controller: a new subscriber that asks for the role takes it over (as the exec
// layer's session stream does), the old one stays subscribed as a viewer.
// Warnings are also kept (the last MAX_RETAINED_WARNINGS since the thread was loaded) and
// handed to every new subscriber: most are published while the thread opens (a torn rollout
// line, a lost exec session), before anyone can have subscribed. Each gets an id unique to
// this fan-out (and, by a random prefix, to this load of the thread), so a client that
// subscribes again can tell the warnings it already showed.
import { ErrorCode, TetherError, cancelled } from "../../common/tether-error.js";
import type { ThreadEvent } from "./thread-event.js";

export const DEFAULT_MAX_QUEUED_EVENTS = 4096;
export const MAX_RETAINED_WARNINGS = 32;

type WarningEvent = Extract<ThreadEvent, { type: "warning" }>;

interface Subscriber {
  queue: ThreadEvent[];
  /** Set once the subscriber is ended: what its iterator throws (undefined = clean end). */
  ended: { error?: TetherError } | undefined;
  wake: (() => void) | undefined;
  controller: boolean;
}

export interface SubscribeOptions {
  controller?: boolean;
  signal?: AbortSignal;
  /**
   * Delivered first, before any live event (e.g. thread.started, pending approvals); the
   * retained warnings come right after its first event.
   */
  initial?: () => ThreadEvent[];
}

export class EventFanout {
  readonly #subscribers = new Set<Subscriber>();
  readonly #maxQueued: number;
  #controller: Subscriber | undefined;
  #closed = false;
  readonly #warnings: WarningEvent[] = [];
  #droppedWarnings = 0;
  readonly #warningPrefix = `w${Math.random().toString(36).slice(2, 10)}`;
  #warningCount = 0;

  constructor(options: { maxQueued?: number } = {}) {
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED_EVENTS;
  }

  get hasController(): boolean {
    return this.#controller !== undefined;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  publish(event: ThreadEvent): void {
    if (event.type === "warning") {
      if (event.id === undefined) event = { ...event, id: `${this.#warningPrefix}-${++this.#warningCount}` };
      this.#retain(event);
    }
    for (const sub of this.#subscribers) {
      if (sub.ended) continue;
      if (sub.queue.length >= this.#maxQueued) {
        this.#end(sub, new TetherError(ErrorCode.ResourceExhausted, `the event subscriber fell more than ${this.#maxQueued} events behind and was dropped: subscribe again and read the thread to catch up`));
        continue;
      }
      sub.queue.push(event);
      sub.wake?.();
    }
  }

  /** Ends every subscription cleanly (the thread is closing). */
  close(): void {
    this.#closed = true;
    for (const sub of this.#subscribers) this.#end(sub, undefined);
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<ThreadEvent> {
    if (this.#closed) throw new TetherError(ErrorCode.FailedPrecondition, "the thread is closed: resume it first");
    const sub: Subscriber = { queue: [], ended: undefined, wake: undefined, controller: false };
    if (options.controller) {
      if (this.#controller) this.#controller.controller = false;
      sub.controller = true;
      this.#controller = sub;
    }
    const [first, ...rest] = options.initial?.() ?? [];
    sub.queue.push(...(first ? [first] : []), ...this.warnings(), ...rest);
    this.#subscribers.add(sub);
    const onAbort = () => this.#end(sub, TetherError.from(options.signal?.reason ?? cancelled()));
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    const iterate = async function* (this: EventFanout): AsyncGenerator<ThreadEvent> {
      try {
        for (;;) {
          const next = sub.queue.shift();
          if (next !== undefined) {
            yield next;
            continue;
          }
          if (sub.ended) {
            if (sub.ended.error && sub.ended.error.code !== ErrorCode.Cancelled) throw sub.ended.error;
            return;
          }
          await new Promise<void>((resolve) => (sub.wake = resolve));
          sub.wake = undefined;
        }
      } finally {
        options.signal?.removeEventListener("abort", onAbort);
        this.#end(sub, undefined);
      }
    };
    return iterate.call(this);
  }

  /** The warnings kept since the thread was loaded, oldest first (with a note when some were dropped). */
  warnings(): WarningEvent[] {
    if (this.#droppedWarnings === 0) return [...this.#warnings];
    const s = this.#droppedWarnings === 1 ? "" : "s";
    const message = `${this.#droppedWarnings} earlier warning${s} not kept (only the last ${MAX_RETAINED_WARNINGS} are)`;
    return [{ type: "warning", message, id: `${this.#warningPrefix}-dropped-${this.#droppedWarnings}` }, ...this.#warnings];
  }

  #retain(event: WarningEvent): void {
    if (this.#warnings.length >= MAX_RETAINED_WARNINGS) {
      this.#warnings.shift();
      this.#droppedWarnings++;
    }
    this.#warnings.push(event);
  }

  #end(sub: Subscriber, error: TetherError | undefined): void {
    if (!sub.ended) sub.ended = { error };
    // A dropped subscriber's queue is released at once; a clean end keeps it to be read out.
    if (error) sub.queue.length = 0;
    this.#subscribers.delete(sub);
    if (this.#controller === sub) this.#controller = undefined;
    sub.wake?.();
  }
}
