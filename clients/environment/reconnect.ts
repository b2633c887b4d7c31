// When a call may be retried after the connection dropped, and for how long: exponential
// backoff with jitter (so clients cut together do not return together). Only transport
// failures are retried; every answer from the server is final. Shared by every client of
// the engine: GrpcEnvironment on any transport and the lean `tether run`.
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

export interface ReconnectPolicy {
  /** Give up when the server has been unreachable this long. */
  giveUpAfterMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A number in [0, 1): each wait is between half and all of the backoff step. Injected for tests. */
  random?: () => number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { giveUpAfterMs: 60_000, initialBackoffMs: 50, maxBackoffMs: 2_000 };

export function isTransportFailure(err: unknown): boolean {
  if (!(err instanceof TetherError)) return false;
  if (err.code === ErrorCode.Unavailable) return true;
  // grpc-js reports a connection cut mid-stream as INTERNAL "Received RST_STREAM" or UNKNOWN "Connection dropped".
  return (err.code === ErrorCode.Internal || err.code === ErrorCode.Unknown) && /RST_STREAM|Connection dropped|ECONNRESET|EPIPE/i.test(err.message);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(TetherError.from(signal.reason));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(TetherError.from(signal!.reason));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Tracks one outage: how long to wait next, and when to give up with a clear error. */
export class Outage {
  readonly #policy: ReconnectPolicy;
  readonly #what: string;
  #since: number | undefined;
  #backoff: number;

  constructor(policy: ReconnectPolicy, what: string) {
    this.#policy = policy;
    this.#what = what;
    this.#backoff = policy.initialBackoffMs;
  }

  /** Call after a transport failure: waits a backoff step, or throws UNAVAILABLE once the budget is spent. */
  async failed(err: TetherError, signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    this.#since ??= now;
    if (now - this.#since >= this.#policy.giveUpAfterMs) {
      if (this.#policy.giveUpAfterMs === 0) throw err;
      throw new TetherError(
        ErrorCode.Unavailable,
        `lost the connection to ${this.#what} and could not reconnect within ${this.#policy.giveUpAfterMs} ms: ${err.message}`,
        { cause: err },
      );
    }
    const random = this.#policy.random ?? Math.random;
    await sleep(Math.round(this.#backoff * (0.5 + random() / 2)), signal);
    this.#backoff = Math.min(this.#backoff * 2, this.#policy.maxBackoffMs);
  }

  /** Call after any successful exchange. */
  recovered(): void {
    this.#since = undefined;
    this.#backoff = this.#policy.initialBackoffMs;
  }
}

/** Runs an idempotent call, retrying transport failures within the policy. */
export async function withReconnect<T>(policy: ReconnectPolicy, what: string, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const outage = new Outage(policy, what);
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!isTransportFailure(err) || signal?.aborted) throw err;
      await outage.failed(err as TetherError, signal);
    }
  }
}
