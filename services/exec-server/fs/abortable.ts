// Iterates a source that may stall (a client stream) so that an abort ends the wait at
// once instead of when the next item happens to arrive; the source is closed either way.
import { TetherError, cancelled } from "../../common/tether-error.js";

export async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(TetherError.from(signal.reason ?? cancelled()));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  // The race below may leave `aborted` rejected with no one awaiting it.
  aborted.catch(() => undefined);
  let done = false;
  try {
    while (true) {
      const next = await Promise.race([it.next(), aborted]);
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
    // Closing a stalled source must not block us: its pending next() may never settle.
    if (!done) void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}
