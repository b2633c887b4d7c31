// The background reader of one unified-exec session: ONE Attach for the whole life of the
// process, never one per yield. Cancelling a stream is an HTTP/2 RST_STREAM, and past
// nghttp2's rapid-reset limit the peer drops the whole connection, which every thread of the
// agent shares; so a stream is read to its end and cancelled at most once, when the session
// is discarded. Output lands in a bounded buffer (head+tail, as the model sees it) that each
// yield takes; the session's item is fed as output arrives, between model calls too.
import type { ExitStatus } from "../../../../gen/tether/exec/v1/process_pb.js";
import type { Environment } from "../../../../clients/environment/environment.js";
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import { HeadTailBuffer } from "../head-tail-buffer.js";

/**
 * An exit without a status, as the wire reads it. Imported when needed: the tools load before
 * the agent's first model request, the protobuf runtime only with the environment (issue 15).
 */
async function emptyExitStatus(): Promise<ExitStatus> {
  const [{ create }, { ExitStatusSchema }] = await Promise.all([import("@bufbuild/protobuf"), import("../../../../gen/tether/exec/v1/process_pb.js")]);
  return create(ExitStatusSchema);
}

/**
 * Output kept per session between yields: the most a call may ask for (MAX_OUTPUT_TOKENS × 4),
 * as Codex keeps 1 MiB per unified-exec session. Beyond it the middle is counted, not kept.
 */
export const SESSION_OUTPUT_BYTES = 1 << 20;

/** Where the reader sends what it reads, as it reads it. */
export interface SessionOutputSink {
  /** Raw bytes and their text (UTF-8 across chunk borders); text may be "" mid-character. */
  output(data: Uint8Array, text: string): void;
  /** The reader is done: the process exited (exit set) or reading failed (error set). */
  ended(): void;
}

/** What one yield takes from the buffer. */
export interface TakenOutput {
  /** Cut head+tail to the call's budget, with a marker. */
  text: string;
  /** Bytes written since the previous take (kept or not). */
  totalBytes: number;
  truncated: boolean;
}

export class SessionOutput {
  readonly processId: string;
  /** Resolves (never rejects) once the process exited or reading failed or was stopped. */
  readonly done: Promise<void>;
  #pending = new HeadTailBuffer(SESSION_OUTPUT_BYTES);
  readonly #decoder = new TextDecoder();
  readonly #stop = new AbortController();
  readonly #sink: SessionOutputSink;
  #exit: ExitStatus | undefined;
  #error: TetherError | undefined;
  /** Seq of the last event in the buffer, and of the last one a take handed out. */
  #readSeq: bigint;
  #takenSeq: bigint;

  /**
   * Reads events after `afterSeq` (0: from the first; a resumed session: what the model last
   * took). `started`, for a Start still in flight: the Attach goes out right behind it (the
   * exec server holds an Attach until the Start before it has ended, saving a round trip); an
   * environment that answered NOT_FOUND before its Start was applied is asked once more after.
   */
  constructor(env: Environment, processId: string, afterSeq: bigint, sink: SessionOutputSink, started?: Promise<boolean>) {
    this.processId = processId;
    this.#sink = sink;
    this.#readSeq = afterSeq;
    this.#takenSeq = afterSeq;
    this.done = this.#read(env, afterSeq, started);
  }

  /** Where the model's view ends: a restarted agent resumes reading after it (the journal's cursor). */
  get takenSeq(): bigint {
    return this.#takenSeq;
  }

  get exit(): ExitStatus | undefined {
    return this.#exit;
  }

  /** Why reading ended without an exit (the process unknown, the environment gone, stopped). */
  get error(): TetherError | undefined {
    return this.#error;
  }

  get ended(): boolean {
    return this.#exit !== undefined || this.#error !== undefined;
  }

  /** Everything read since the last take, cut to `maxBytes`; the buffer starts empty again. */
  take(maxBytes: number): TakenOutput {
    const b = this.#pending;
    if (b.totalBytes > 0) this.#pending = new HeadTailBuffer(SESSION_OUTPUT_BYTES);
    this.#takenSeq = this.#readSeq;
    const text = b.text(undefined, maxBytes);
    return { text, totalBytes: b.totalBytes, truncated: b.totalBytes > maxBytes };
  }

  /** Stops reading (the one cancel of this stream): for a session being discarded. */
  stop(): void {
    this.#stop.abort(new TetherError(ErrorCode.Cancelled, "the session was discarded"));
  }

  async #read(env: Environment, afterSeq: bigint, started: Promise<boolean> | undefined): Promise<void> {
    try {
      try {
        await this.#attach(env, afterSeq);
      } catch (err) {
        // Only an Attach that overtook its Start is asked again, once, after Start answered.
        const overtook = started !== undefined && this.#readSeq === afterSeq && TetherError.from(err).code === ErrorCode.NotFound && !this.#stop.signal.aborted;
        if (!overtook || !(await started)) throw err;
        await this.#attach(env, afterSeq);
      }
      if (this.#exit === undefined) this.#error = new TetherError(ErrorCode.Unavailable, `the output stream of ${this.processId} ended before the process exited`);
    } catch (err) {
      this.#error = this.#stop.signal.aborted ? TetherError.from(this.#stop.signal.reason) : TetherError.from(err);
    }
    const rest = this.#decoder.decode();
    if (rest !== "") this.#sink.output(new Uint8Array(0), rest);
    try {
      this.#sink.ended();
    } catch {
      // A sink that fails (its thread's rollout closed) must not leave `done` rejected.
    }
  }

  async #attach(env: Environment, afterSeq: bigint): Promise<void> {
    {
      for await (const ev of env.processes.attach(this.processId, { afterSeq: Number(afterSeq), allowGaps: true, signal: this.#stop.signal })) {
        const e = ev.event;
        if (e.case === "started") continue;
        this.#readSeq = ev.seq;
        if (e.case === "output") {
          // Buffered before the sink hears of it: whoever the sink wakes finds it there.
          this.#pending.push(e.value.data);
          this.#sink.output(e.value.data, this.#decoder.decode(e.value.data, { stream: true }));
        } else if (e.case === "gap") {
          const note = `\n[… ${e.value.droppedBytes} bytes of output were dropped by the exec server before they were read …]\n`;
          const bytes = Buffer.from(note);
          this.#pending.push(bytes);
          this.#sink.output(bytes, note);
        } else if (e.case === "exited") {
          this.#exit = e.value.status ?? (await emptyExitStatus());
          break;
        }
      }
    }
  }
}
