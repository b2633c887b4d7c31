// The lean client as a Transport that outlives connections: the current LeanChannel, replaced
// by a new one once it died (a retried call must not land on the dead one again), and a
// waitForReady that waits for a restarting server by reconnecting with backoff until the
// call's ready budget, deadline or signal ends the wait.
import type { Transport, TransportCallOptions, WireMethod } from "../../../services/common/transport.js";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";
import { sleep } from "../reconnect.js";
import { LeanChannel, type LeanChannelOptions } from "./lean-channel.js";

/** Between reconnect attempts of a waitForReady call: short, since a restart is usually quick. */
const READY_RETRY_MS = { first: 25, max: 500 };

export class LeanTransport implements Transport {
  readonly #opts: LeanChannelOptions;
  #channel: LeanChannel | undefined;
  #dead = false;
  #closed = false;

  constructor(opts: LeanChannelOptions) {
    this.#opts = opts;
  }

  get target(): string {
    return this.#opts.target;
  }

  /** The live connection, or a new one (connecting) when there is none. */
  channel(): LeanChannel {
    if (this.#closed) throw new TetherError(ErrorCode.Unavailable, `the client of ${this.#opts.target} was closed`);
    if (this.#channel === undefined || this.#dead) {
      const channel = LeanChannel.connect(this.#opts);
      this.#channel = channel;
      this.#dead = false;
      channel.onClose(() => {
        if (this.#channel === channel) this.#dead = true;
      });
    }
    return this.#channel;
  }

  /** A connected channel; for waitForReady, keeps reconnecting until the budget is spent. */
  async #ready(opts: TransportCallOptions | undefined): Promise<LeanChannel> {
    const first = this.channel();
    if (!opts?.waitForReady || first.isReady) return first;
    const budget = Math.min(opts.readyTimeoutMs ?? Infinity, opts.timeoutMs ?? Infinity);
    const giveUpAt = Date.now() + budget;
    let wait = READY_RETRY_MS.first;
    for (;;) {
      const channel = this.channel();
      try {
        await channel.ready();
        return channel;
      } catch (err) {
        if (Date.now() + wait >= giveUpAt) {
          throw new TetherError(ErrorCode.Unavailable, `cannot reach ${this.#opts.target}: no connection within ${budget} ms (${TetherError.from(err).message})`, { cause: err });
        }
        await sleep(wait, opts.signal);
        wait = Math.min(wait * 2, READY_RETRY_MS.max);
      }
    }
  }

  unary<Req, Res>(method: WireMethod<Req, Res, "unary">, req: Req, opts?: TransportCallOptions): Promise<Res> {
    if (!opts?.waitForReady) return this.channel().unary(method, req, opts);
    return this.#ready(opts).then((c) => c.unary(method, req, opts));
  }

  serverStream<Req, Res>(method: WireMethod<Req, Res, "server_streaming">, req: Req, opts?: TransportCallOptions): AsyncIterable<Res> {
    if (!opts?.waitForReady) return this.channel().serverStream(method, req, opts);
    const ready = () => this.#ready(opts);
    return (async function* () {
      yield* (await ready()).serverStream(method, req, opts);
    })();
  }

  clientStream<Req, Res>(method: WireMethod<Req, Res, "client_streaming">, reqs: AsyncIterable<Req>, opts?: TransportCallOptions): Promise<Res> {
    return this.#ready(opts).then((c) => c.clientStream(method, reqs, opts));
  }

  bidi<Req, Res>(method: WireMethod<Req, Res, "bidi_streaming">, reqs: AsyncIterable<Req>, opts?: TransportCallOptions): AsyncIterable<Res> {
    const ready = () => this.#ready(opts);
    return (async function* () {
      yield* (await ready()).bidi(method, reqs, opts);
    })();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#dead = true;
    await this.#channel?.close();
  }
}
