// Bounds the output bytes retained by all processes together. Logs register so the
// budget can ask them to shed what they may drop (already-read history, DROP_OLDEST
// tails) when the total goes over, and wake blocked producers when bytes free up.

export interface BudgetMember {
  /** Drop what may be dropped, oldest first, until `bytes` were freed or nothing is left; returns bytes freed. */
  shed(bytes: number): number;
  /** Called when bytes were released, so a blocked producer may resume. */
  budgetReleased(): void;
}

export class MemoryBudget {
  readonly maxBytes: number;
  #used = 0;
  readonly #members = new Set<BudgetMember>();

  constructor(maxBytes: number) {
    if (!(maxBytes > 0)) throw new RangeError("memory budget must be positive");
    this.maxBytes = maxBytes;
  }

  get used(): number {
    return this.#used;
  }

  get over(): boolean {
    return this.#used > this.maxBytes;
  }

  join(member: BudgetMember): void {
    this.#members.add(member);
  }

  leave(member: BudgetMember): void {
    this.#members.delete(member);
  }

  /** Accounts for retained bytes; when over, asks members to shed. */
  reserve(bytes: number): void {
    this.#used += bytes;
    if (!this.over) return;
    for (const member of this.#members) {
      const excess = this.#used - this.maxBytes;
      if (excess <= 0) break;
      member.shed(excess);
    }
  }

  release(bytes: number): void {
    const wasOver = this.over;
    this.#used = Math.max(0, this.#used - bytes);
    if (wasOver && !this.over) for (const member of this.#members) member.budgetReleased();
  }
}
