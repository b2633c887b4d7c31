// The PINGs this client sent and not yet saw acknowledged: a bounded number in flight, each
// told when its ACK comes (matched by payload) or when the connection goes.

const MAX_PINGS_IN_FLIGHT = 16;

export type PingCallback = (err: Error | null) => void;

export class PingsInFlight {
  readonly #pings: { payload: Buffer; cb: PingCallback }[] = [];
  #count = 0;

  /** The payload of a new PING to send, or undefined when too many are out already. */
  start(cb: PingCallback): Buffer | undefined {
    if (this.#pings.length >= MAX_PINGS_IN_FLIGHT) return undefined;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(++this.#count, 4);
    this.#pings.push({ payload, cb });
    return payload;
  }

  /** A PING ACK arrived; one that matches no PING of ours is ignored. */
  acked(payload: Buffer): void {
    const at = this.#pings.findIndex((p) => p.payload.equals(payload));
    if (at >= 0) this.#pings.splice(at, 1)[0]!.cb(null);
  }

  /** The connection is gone: every PING still out fails with `err`. */
  failAll(err: Error): void {
    for (const { cb } of this.#pings.splice(0)) cb(err);
  }
}
