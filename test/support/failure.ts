// The TetherError a call fails with, for tests of error paths.
import { TetherError } from "../../services/common/tether-error.js";

/** Awaits (or drains, for a stream) `p` and returns its TetherError; the test fails when it succeeds. */
export async function failure(p: Promise<unknown> | (() => Promise<unknown> | AsyncIterable<unknown>)): Promise<TetherError> {
  try {
    const r = typeof p === "function" ? p() : p;
    if (r && typeof r === "object" && Symbol.asyncIterator in r) {
      for await (const _ of r) {
        // Draining: the error may come after any number of items.
      }
    } else {
      await r;
    }
  } catch (err) {
    if (err instanceof TetherError) return err;
    throw err;
  }
  throw new Error("expected a failure, got success");
}

/** Every item of an async iterable. */
export async function collectAll<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
