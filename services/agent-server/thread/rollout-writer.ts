// The single owner of one rollout file (rule 20): records are queued (bounded in bytes) and
// written in order by one loop; `flush()` resolves once everything queued so far is in the
// file, `close()` once the file is closed. A failed write fails every later call loudly
// rather than silently dropping history.
import { close, open, write } from "../../common/fs-async.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { RolloutRecord } from "./rollout-record.js";

export const DEFAULT_MAX_QUEUED_BYTES = 8 << 20;

export class RolloutWriter {
  readonly path: string;
  /** The file's descriptor until close(). */
  #fd: number | undefined;
  #queue: string[] = [];
  #queuedBytes = 0;
  readonly #maxQueuedBytes: number;
  #writing: Promise<void> | undefined;
  #failed: TetherError | undefined;
  #closed = false;
  #roomWaiters: (() => void)[] = [];

  private constructor(path: string, fd: number, maxQueuedBytes: number) {
    this.path = path;
    this.#fd = fd;
    this.#maxQueuedBytes = maxQueuedBytes;
  }

  /** Opens for appending; `create` refuses an existing file (a new thread never reuses one). */
  static async open(path: string, options: { create: boolean; maxQueuedBytes?: number }): Promise<RolloutWriter> {
    const fd = await open(path, options.create ? "wx" : "a", 0o600).catch((err: unknown) => {
      throw TetherError.from(err, `cannot open the rollout ${path}`);
    });
    return new RolloutWriter(path, fd, options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES);
  }

  /** Queues a record. Synchronous so event order is kept; callers await `room()` at safe points. */
  append(record: RolloutRecord): void {
    if (this.#failed) throw this.#failed;
    if (this.#closed) throw new TetherError(ErrorCode.FailedPrecondition, `the rollout ${this.path} is closed`);
    const line = `${JSON.stringify(record)}\n`;
    this.#queue.push(line);
    this.#queuedBytes += line.length;
    this.#writing ??= this.#drain();
  }

  /** Resolves when the queue is under its byte cap (backpressure for the turn loop). */
  async room(): Promise<void> {
    while (this.#queuedBytes > this.#maxQueuedBytes && !this.#failed) await new Promise<void>((r) => this.#roomWaiters.push(r));
    if (this.#failed) throw this.#failed;
  }

  /** Resolves once everything appended so far is written. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#failed) throw this.#failed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.flush().catch(() => undefined);
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) await close(fd);
    if (this.#failed) throw this.#failed;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#fd !== undefined) {
        const batch = this.#queue.join("");
        this.#queue = [];
        await writeAll(this.#fd, batch);
        this.#queuedBytes -= batch.length;
        for (const w of this.#roomWaiters.splice(0)) w();
      }
    } catch (err) {
      this.#failed = TetherError.from(err, `writing the rollout ${this.path}`);
      for (const w of this.#roomWaiters.splice(0)) w();
    } finally {
      this.#writing = undefined;
    }
  }
}

/** All of `text` (appended: the file is opened for appending), however the kernel splits the write. */
async function writeAll(fd: number, text: string): Promise<void> {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    const { bytesWritten } = await write(fd, buf, 0, buf.length, null);
    buf = buf.subarray(bytesWritten);
  }
}
