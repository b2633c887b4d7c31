// The output of one process: seq-numbered chunks and a final exit event, bounded in
// bytes, readable by any number of readers from any cursor. BLOCK keeps every unread
// byte (pausing the producer at the cap) plus up to the cap of delivered history for
// readers that resume; DROP_OLDEST keeps the first half of the cap (head) and the most
// recent half (tail) and counts what it dropped between them.
import { ErrorCode, TetherError, throwIfAborted } from "../../common/tether-error.js";
import type { BudgetMember, MemoryBudget } from "./memory-budget.js";

export type LogStream = "stdout" | "stderr" | "pty";
export type OverflowMode = "block" | "drop_oldest";

export interface LogOutput {
  readonly kind: "output";
  readonly seq: number;
  readonly stream: LogStream;
  readonly data: Uint8Array;
  /**
   * The appended chunks a merged item covers, in order. A transport that frames them itself
   * copies each byte once; reading `data` instead joins them (one more copy).
   */
  readonly parts?: readonly Uint8Array[];
}

export interface LogExit<E> {
  kind: "exit";
  seq: number;
  status: E;
}

/** Events in (fromSeq .. toSeq] are gone. */
export interface LogGap {
  kind: "gap";
  fromSeq: number;
  toSeq: number;
  droppedBytes: number;
}

export type LogItem<E> = LogOutput | LogExit<E> | LogGap;

export interface OutputLogOptions {
  overflow: OverflowMode;
  maxRetainedBytes: number;
  /**
   * BLOCK: delivered bytes kept for readers that resume (at least maxRetainedBytes).
   * What a dropped or abandoned stream had in flight (socket buffers, HTTP/2 windows, the
   * client library's queue) was delivered here but never seen, and can exceed a small cap.
   */
  historyBytes?: number;
  budget?: MemoryBudget;
}

export interface ReadOptions {
  afterSeq: number;
  allowGaps?: boolean;
  signal?: AbortSignal;
  /**
   * Merge consecutive chunks of one stream that are already there into one item of at most
   * this many bytes (its seq is the last merged one). A reader that fell behind then catches
   * up in few large messages instead of many pipe-sized ones (see LogOutput.parts).
   * 0: one item per chunk.
   */
  mergeUpToBytes?: number;
}

/**
 * What one retained chunk costs beyond its bytes, counted against the caps so that
 * --retain-bytes-total bounds real memory: the entry object, its Uint8Array, ArrayBuffer and
 * backing store, and malloc's header. Measured on Node 24: ~466 B of RSS per 8-byte chunk
 * held with its own backing store, as a pipe read gives (it was counted as 64 B before).
 */
const ENTRY_OVERHEAD = 512;

/** A retained chunk and the total bytes appended up to and including it (for O(1) unread counts). */
interface Entry extends LogOutput {
  end: number;
}

/** Consecutive chunks of one stream read as one item; `data` joins them on first use only. */
class MergedOutput implements LogOutput {
  readonly kind = "output";
  #data: Uint8Array | undefined;

  constructor(
    readonly seq: number,
    readonly stream: LogStream,
    readonly parts: readonly Uint8Array[],
    private readonly size: number,
  ) {}

  get data(): Uint8Array {
    return (this.#data ??= Buffer.concat(this.parts, this.size));
  }
}

function cost(entry: LogOutput): number {
  return entry.data.byteLength + ENTRY_OVERHEAD;
}

export class OutputLog<E> implements BudgetMember {
  readonly overflow: OverflowMode;
  readonly maxRetainedBytes: number;
  readonly historyBytes: number;
  readonly #budget: MemoryBudget | undefined;

  // DROP_OLDEST keeps head entries forever; everything else lives in the tail, whose
  // live part starts at #tailStart (compacted now and then).
  readonly #head: Entry[] = [];
  #headBytes = 0;
  #headClosed = false;
  #tail: Entry[] = [];
  #tailStart = 0;
  #tailBytes = 0;

  #lastSeq = 0;
  #appendedBytes = 0;
  #exit: LogExit<E> | undefined;
  #droppedBytes = 0;
  #droppedEntries = 0;
  #closed = false;

  // Cursors of attached readers and the furthest any reader got, for BLOCK accounting.
  readonly #cursors = new Map<symbol, number>();
  #deliveredMax = 0;

  #wakeups = new Set<() => void>();
  #writableListeners = new Set<() => void>();

  constructor(options: OutputLogOptions) {
    if (!(options.maxRetainedBytes >= 1024)) throw new RangeError("maxRetainedBytes must be at least 1024");
    this.overflow = options.overflow;
    this.maxRetainedBytes = options.maxRetainedBytes;
    this.historyBytes = Math.max(options.maxRetainedBytes, options.historyBytes ?? 0);
    this.#budget = options.budget;
    this.#headClosed = options.overflow === "block";
    this.#budget?.join(this);
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  get retainedBytes(): number {
    return this.#headBytes + this.#tailBytes;
  }

  get finished(): boolean {
    return this.#exit !== undefined;
  }

  /** Oldest seq a reader can resume after without a gap (1 when nothing was dropped). */
  get firstRetainedSeq(): number {
    if (this.#droppedEntries === 0) return 1;
    return this.#tailFirstSeq() ?? this.#lastSeq + 1;
  }

  /** BLOCK: false while the unread bytes reach the cap or the shared budget is exhausted. */
  get writable(): boolean {
    if (this.overflow === "drop_oldest" || this.#closed) return true;
    return this.#unreadBytes() < this.maxRetainedBytes && !(this.#budget?.over ?? false);
  }

  /** Registers a listener called whenever a blocked log may have become writable. */
  onWritable(listener: () => void): Disposable {
    this.#writableListeners.add(listener);
    return { [Symbol.dispose]: () => this.#writableListeners.delete(listener) };
  }

  append(stream: LogStream, data: Uint8Array): void {
    if (this.#exit || this.#closed) throw new TetherError(ErrorCode.FailedPrecondition, "output log is finished");
    if (data.byteLength === 0) return;
    if (!this.#headClosed) {
      // The head is also refused under budget pressure: it is never shed, so it must not eat the budget.
      const room = this.#budget?.over ? 0 : this.maxRetainedBytes / 2 - this.#headBytes - ENTRY_OVERHEAD;
      const fits = Math.max(0, Math.min(data.byteLength, Math.floor(room)));
      if (fits > 0) this.#push(this.#head, stream, data.subarray(0, fits));
      // A chunk that overflows the head is split, so the first bytes are always kept.
      if (fits < data.byteLength) {
        this.#headClosed = true;
        this.#push(this.#tail, stream, data.subarray(fits));
      }
    } else {
      this.#push(this.#tail, stream, data);
    }
    this.#trim();
    this.#wake();
  }

  #push(into: Entry[], stream: LogStream, data: Uint8Array): void {
    const bytes = data.byteLength + ENTRY_OVERHEAD;
    this.#appendedBytes += bytes;
    into.push({ kind: "output", seq: ++this.#lastSeq, stream, data, end: this.#appendedBytes });
    if (into === this.#head) this.#headBytes += bytes;
    else this.#tailBytes += bytes;
    this.#budget?.reserve(bytes);
  }

  /** Appends the exit event; it is the last event every reader sees. */
  finish(status: E): void {
    if (this.#exit) return;
    this.#exit = { kind: "exit", seq: ++this.#lastSeq, status };
    this.#wake();
    this.#notifyWritable();
  }

  /** Frees everything; readers still attached end after what they already got. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const bytes = this.retainedBytes;
    this.#head.length = 0;
    this.#tail = [];
    this.#tailStart = 0;
    this.#headBytes = this.#tailBytes = 0;
    this.#budget?.leave(this);
    this.#budget?.release(bytes);
    this.#wake();
    this.#notifyWritable();
  }

  /** Throws what `read` would throw for this cursor before yielding anything (bad or dropped cursor). */
  checkCursor(afterSeq: number, allowGaps: boolean): void {
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
      throw new TetherError(ErrorCode.InvalidArgument, `after_seq must be a non-negative integer, got ${afterSeq}`);
    }
    if (afterSeq > this.#lastSeq) {
      throw new TetherError(
        ErrorCode.OutOfRange,
        `after_seq ${afterSeq} is beyond the last event (seq ${this.#lastSeq}) of this process`,
        { details: { last_seq: String(this.#lastSeq) } },
      );
    }
    this.#next(afterSeq, allowGaps);
  }

  /**
   * Items after `afterSeq`, following the log until the exit event. A cursor behind
   * dropped output throws OUT_OF_RANGE naming the first retained seq, unless gaps are allowed.
   */
  async *read(options: ReadOptions): AsyncGenerator<LogItem<E>, void, undefined> {
    let cursor = options.afterSeq;
    this.checkCursor(cursor, options.allowGaps ?? false);
    const id = Symbol("reader");
    this.#cursors.set(id, cursor);
    try {
      for (;;) {
        throwIfAborted(options.signal);
        let item = this.#next(cursor, options.allowGaps ?? false);
        if (item) {
          if (item.kind === "output" && options.mergeUpToBytes) item = this.#merge(item, options.mergeUpToBytes);
          yield item;
          cursor = item.kind === "gap" ? item.toSeq : item.seq;
          this.#advance(id, cursor);
          if (item.kind === "exit") return;
          continue;
        }
        // Closed, or the cursor is at the exit event already: nothing more will ever come.
        if (this.#closed || (this.#exit !== undefined && cursor >= this.#exit.seq)) return;
        await this.#changed(options.signal);
      }
    } finally {
      this.#moveCursor(() => this.#cursors.delete(id));
    }
  }

  /** `first` plus the chunks right after it of the same stream, up to `limit` bytes. */
  #merge(first: LogOutput, limit: number): LogOutput {
    let last = first;
    let parts: Uint8Array[] | undefined;
    let size = first.data.byteLength;
    for (;;) {
      const next = this.#next(last.seq, true);
      if (next?.kind !== "output" || next.stream !== first.stream || size + next.data.byteLength > limit) break;
      (parts ??= [first.data]).push(next.data);
      size += next.data.byteLength;
      last = next;
    }
    return parts ? new MergedOutput(last.seq, first.stream, parts, size) : first;
  }

  shed(bytes: number): number {
    let freed = 0;
    while (freed < bytes) {
      const oldest = this.#tail[this.#tailStart];
      if (!oldest) break;
      // BLOCK never drops what a reader still needs.
      if (this.overflow === "block" && oldest.seq > this.#lowWater()) break;
      freed += this.#dropOldest();
    }
    if (freed > 0) this.#budget?.release(freed);
    return freed;
  }

  budgetReleased(): void {
    this.#notifyWritable();
  }

  #next(cursor: number, allowGaps: boolean): LogItem<E> | undefined {
    const want = cursor + 1;
    if (this.#exit && want === this.#exit.seq) return this.#exit;
    if (want > this.#lastSeq) return undefined;
    const headLast = this.#head.length;
    if (want <= headLast) return this.#head[want - 1];
    const tailFirst = this.#tailFirstSeq();
    if (tailFirst !== undefined && want >= tailFirst) return this.#tail[this.#tailStart + (want - tailFirst)];
    // `want` was dropped.
    const resumeAt = tailFirst ?? (this.#exit ? this.#exit.seq : this.#lastSeq + 1);
    if (!allowGaps) {
      throw new TetherError(
        ErrorCode.OutOfRange,
        `output after seq ${cursor} was dropped (overflow policy ${this.overflow}); ` +
          `the oldest retained seq after it is ${resumeAt}: attach with after_seq=${resumeAt - 1} or allow gaps`,
        { details: { oldest_seq: String(resumeAt) } },
      );
    }
    return { kind: "gap", fromSeq: cursor, toSeq: resumeAt - 1, droppedBytes: this.#droppedBytes };
  }

  #tailFirstSeq(): number | undefined {
    return this.#tail[this.#tailStart]?.seq;
  }

  #advance(id: symbol, cursor: number): void {
    this.#moveCursor(() => {
      this.#cursors.set(id, cursor);
      if (cursor > this.#deliveredMax) this.#deliveredMax = cursor;
    });
  }

  /** Applies a cursor change; BLOCK may then drop delivered history and wake the producer. */
  #moveCursor(change: () => void): void {
    if (this.overflow !== "block") return change();
    const wasWritable = this.writable;
    change();
    this.#trim();
    if (!wasWritable && this.writable) this.#notifyWritable();
  }

  /** Seq below which every attached reader has read (the furthest read when none is attached). */
  #lowWater(): number {
    if (this.#cursors.size === 0) return this.#deliveredMax;
    let low = Infinity;
    for (const c of this.#cursors.values()) low = Math.min(low, c);
    return low;
  }

  /** Bytes after the low-water cursor (BLOCK keeps everything in the tail). */
  #unreadBytes(): number {
    const tailFirst = this.#tailFirstSeq();
    if (tailFirst === undefined) return 0;
    const firstUnread = Math.max(this.#lowWater() + 1, tailFirst);
    const entry = this.#tail[this.#tailStart + (firstUnread - tailFirst)];
    if (!entry) return 0;
    return this.#appendedBytes - (entry.end - cost(entry));
  }

  #trim(): void {
    let freed = 0;
    if (this.overflow === "drop_oldest") {
      const tailCap = this.maxRetainedBytes - this.maxRetainedBytes / 2;
      // Always keep the newest entry, even when it alone exceeds the tail's half.
      while (this.#tailBytes > tailCap && this.#tail.length - this.#tailStart > 1) freed += this.#dropOldest();
    } else {
      // Delivered history beyond the cap goes first; unread bytes never do.
      const low = this.#lowWater();
      while (this.#tailBytes - this.#unreadBytes() > this.historyBytes) {
        const oldest = this.#tail[this.#tailStart];
        if (!oldest || oldest.seq > low) break;
        freed += this.#dropOldest();
      }
    }
    if (freed > 0) this.#budget?.release(freed);
  }

  #dropOldest(): number {
    const entry = this.#tail[this.#tailStart]!;
    this.#tail[this.#tailStart] = undefined as unknown as Entry;
    this.#tailStart++;
    const bytes = cost(entry);
    this.#tailBytes -= bytes;
    this.#droppedBytes += entry.data.byteLength;
    this.#droppedEntries++;
    if (this.#tailStart > 1024 && this.#tailStart * 2 > this.#tail.length) {
      this.#tail = this.#tail.slice(this.#tailStart);
      this.#tailStart = 0;
    }
    return bytes;
  }

  #changed(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.#wakeups.delete(done);
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#wakeups.delete(done);
        reject(TetherError.from(signal!.reason));
      };
      this.#wakeups.add(done);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #wake(): void {
    const waiting = this.#wakeups;
    this.#wakeups = new Set();
    for (const wake of waiting) wake();
  }

  #notifyWritable(): void {
    if (!this.writable) return;
    for (const listener of this.#writableListeners) listener();
  }
}
