// Attach that survives reconnects, for every client of the engine (GrpcEnvironment on any
// transport, the lean `tether run`): it resumes after the last seq it delivered, yields the
// started event once, and reads every stream to its end before handing over the exit event.
// That last rule matters on any HTTP/2 transport: a consumer that stops at the exit event
// resets the stream, and nghttp2 closes a connection that resets more than ~33 streams a
// second (its rapid-reset guard), failing every call on it.
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { type Outage, isTransportFailure } from "./reconnect.js";

/** ProcessState.EXITED in process.proto (the lean path cannot load gen/; the test checks it). */
export const EXITED_STATE = 2;

/** What both the generated AttachResponse and the lean AttachResponseWire look like. */
export interface AttachEventLike {
  seq: bigint;
  event: { case: string | undefined; value?: unknown };
}

export interface ResumableAttachOptions {
  /** Events after this seq; 0 = from the first. */
  afterSeq?: bigint;
  signal?: AbortSignal;
  /** Backoff and give-up budget across reconnects. */
  outage: Outage;
  /** A failure that is not a transport failure but still worth one more attempt (e.g. NOT_FOUND from an Attach sent ahead of its Start). */
  retryOnce?: (err: TetherError, attempt: number) => boolean;
}

function startedSummary(ev: AttachEventLike): { state: number; lastSeq: bigint } | undefined {
  return ev.event.case === "started" ? (ev.event.value as { state: number; lastSeq: bigint }) : undefined;
}

/** `open(afterSeq, attempt)` makes one Attach call; this resumes it until the exit event. */
export async function* resumableAttach<E extends AttachEventLike>(
  open: (afterSeq: bigint, attempt: number) => AsyncIterable<E>,
  opts: ResumableAttachOptions,
): AsyncIterable<E> {
  let cursor = opts.afterSeq ?? 0n;
  let startedSent = false;
  for (let attempt = 0; ; attempt++) {
    try {
      let endsAt: bigint | undefined;
      let exit: E | undefined;
      try {
        for await (const ev of open(cursor, attempt)) {
          opts.outage.recovered();
          const started = startedSummary(ev);
          if (started) {
            // An exited process's last seq is its exit event: a cursor there has nothing left to read.
            if (started.state === EXITED_STATE) endsAt = started.lastSeq;
            if (startedSent) continue;
            startedSent = true;
          } else {
            cursor = ev.seq;
          }
          if (ev.event.case === "exited") exit = ev;
          else yield ev;
        }
      } catch (err) {
        // The exit event arrived: whatever ended the stream after it costs nothing.
        if (exit === undefined) throw err;
      }
      if (exit !== undefined) {
        yield exit;
        return;
      }
      if (endsAt !== undefined && cursor >= endsAt) return;
      // The server ends the stream only after the exit event, or when it shuts down.
      throw new TetherError(ErrorCode.Unavailable, "the attach stream ended before the process exited");
    } catch (err) {
      const te = TetherError.from(err);
      if (opts.signal?.aborted) throw te;
      if (opts.retryOnce?.(te, attempt)) continue;
      if (!isTransportFailure(te)) throw te;
      await opts.outage.failed(te, opts.signal);
    }
  }
}
