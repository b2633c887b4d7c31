// Iterates a source that may stall (a client stream) so that an abort ends the wait at
// once instead of when the next item happens to arrive; the source is closed either way.
import { TetherError, cancelled } from "../../common/tether-error.js";

export async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let done = false;
  try {
    while (true) {
      const next = await nextOrAbort(it, signal);
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Closing a stalled source must not block us: its pending next() may never settle.
    if (!done) void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

// One listener per pull, removed when the pull settles. (Promise.race against one
// long-lived abort promise would pile a reaction per item onto it, keeping every
// item alive until the abort: a leak the size of the whole stream.)
function nextOrAbort<T>(it: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(TetherError.from(signal.reason ?? cancelled()));
    const onAbort = () => reject(TetherError.from(signal.reason ?? cancelled()));
    signal.addEventListener("abort", onAbort, { once: true });
    it.next().then(
      (r) => {
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
