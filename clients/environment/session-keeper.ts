// Keeps a session attached for its life, for every client of the engine: one Events stream
// open (an attached session does not expire), reopened with backoff after every drop, for as
// long as the signal allows. Ends quietly when the session is gone (closed or expired).
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { Outage, type ReconnectPolicy, sleep } from "./reconnect.js";

export interface SessionKeeperOptions<E> {
  /** Opens one Events stream. */
  open(signal: AbortSignal): AsyncIterable<E>;
  /** Each event, in order (escalations, elicitation changes, resolutions, ready). */
  onEvent?(event: E): void;
  policy: ReconnectPolicy;
  /** Names the server in errors. */
  what: string;
  /** Stops keeping the session attached. */
  signal: AbortSignal;
  /** Attach only after this long (a short run is over by then); 0 = now. */
  delayMs?: number;
}

/** Runs until the signal aborts or the session is gone; never rejects. */
export async function keepSessionAttached<E>(opts: SessionKeeperOptions<E>): Promise<void> {
  const { signal } = opts;
  if (opts.delayMs && !(await sleep(opts.delayMs, signal).then(() => true, () => false))) return;
  // Never gives up: a session outlives outages for its detached TTL, and so does this.
  const outage = new Outage({ ...opts.policy, giveUpAfterMs: Number.MAX_SAFE_INTEGER }, opts.what);
  while (!signal.aborted) {
    try {
      for await (const ev of opts.open(signal)) {
        outage.recovered();
        opts.onEvent?.(ev);
      }
      if (!signal.aborted) await outage.failed(new TetherError(ErrorCode.Unavailable, "events stream ended"), signal);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof TetherError && err.code === ErrorCode.NotFound) return;
      // Only an abort ends the wait early, and then the loop ends too.
      await outage.failed(TetherError.from(err), signal).catch(() => undefined);
    }
  }
}
