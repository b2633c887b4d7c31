// Emits a turn's items in their fixed order (started → updated*/delta* → completed) and
// remembers which are still open, so the turn's end can close them (rule 18). An item kept
// open past the turn (a command still running) is left to its owner, which completes it
// later; an item completes once.
import type { ItemEmitter } from "../tools/tool.js";
import type { ThreadEvent, ThreadItem } from "./thread-event.js";

export class ItemTracker implements ItemEmitter {
  readonly #open = new Map<string, ThreadItem>();
  /** Open items that outlive the turn: closeAll leaves them. */
  readonly #kept = new Set<string>();
  /** Completed ids: a second completion (a late reader after closeAll) is dropped. */
  readonly #completed = new Set<string>();
  readonly #turnId: string;
  readonly #emit: (event: ThreadEvent) => void;
  readonly #onCompleted: (item: ThreadItem) => void;

  constructor(turnId: string, emit: (event: ThreadEvent) => void, onCompleted: (item: ThreadItem) => void) {
    this.#turnId = turnId;
    this.#emit = emit;
    this.#onCompleted = onCompleted;
  }

  isOpen(itemId: string): boolean {
    return this.#open.has(itemId);
  }

  get(itemId: string): ThreadItem | undefined {
    return this.#open.get(itemId);
  }

  started(item: ThreadItem): void {
    if (this.#open.has(item.id) || this.#completed.has(item.id)) return this.updated(item);
    this.#open.set(item.id, item);
    this.#emit({ type: "item.started", turnId: this.#turnId, item });
  }

  updated(item: ThreadItem): void {
    if (this.#completed.has(item.id)) return;
    if (!this.#open.has(item.id)) return this.started(item);
    this.#open.set(item.id, item);
    this.#emit({ type: "item.updated", turnId: this.#turnId, item });
  }

  delta(itemId: string, kind: "text" | "reasoning" | "output", delta: string): void {
    // A delta for an item that is not open would break the order a reader relies on.
    const item = this.#open.get(itemId);
    if (!item || delta === "") return;
    // The snapshot keeps the text so far: a turn interrupted mid-answer closes the message with
    // what the user saw stream in, not with the empty text it started with.
    if ((kind === "text" && item.type === "agent_message") || (kind === "reasoning" && item.type === "reasoning")) {
      this.#open.set(itemId, { ...item, text: item.text + delta });
    }
    this.#emit({ type: "item.delta", turnId: this.#turnId, itemId, kind, delta });
  }

  keepOpen(itemId: string): void {
    if (this.#open.has(itemId)) this.#kept.add(itemId);
  }

  completed(item: ThreadItem): void {
    if (this.#completed.has(item.id)) return;
    this.#completed.add(item.id);
    this.#kept.delete(item.id);
    if (!this.#open.has(item.id)) this.#emit({ type: "item.started", turnId: this.#turnId, item });
    this.#open.delete(item.id);
    this.#emit({ type: "item.completed", turnId: this.#turnId, item });
    this.#onCompleted(item);
  }

  /** Drops an open item without completing it (a retried model attempt's partial text). */
  forget(itemId: string): void {
    this.#open.delete(itemId);
  }

  /** Closes every open item at the turn's end (but kept ones): status-carrying items end as `failed`. */
  closeAll(): void {
    for (const item of [...this.#open.values()]) {
      if (this.#kept.has(item.id)) continue;
      this.completed("status" in item && item.status === "in_progress" ? { ...item, status: "failed" } : item);
    }
  }
}
