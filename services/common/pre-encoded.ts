// A response a handler already encoded to protobuf bytes, for hot paths where the
// generic encoder's copies matter (bulk output). The message may be held as pieces (a
// small header, then the payload's buffers as they are), so a transport that frames it
// copies each byte once. The in-memory client decodes it, so every backend sees the same
// message.
export class PreEncoded {
  readonly parts: readonly Uint8Array[];
  readonly byteLength: number;
  #joined: Uint8Array | undefined;
  #bulk = true;

  /**
   * A small message that is not bulk data (Attach's started event): a stream's writer sends it
   * like a built message, without waiting for it to reach the socket before the next one.
   */
  static control(bytes: Uint8Array): PreEncoded {
    const msg = new PreEncoded(bytes);
    msg.#bulk = false;
    return msg;
  }

  /** Bulk data (output, file contents): counted against a stream's unsent-bytes cap. */
  get bulk(): boolean {
    return this.#bulk;
  }

  constructor(...parts: Uint8Array[]) {
    this.parts = parts;
    let size = 0;
    for (const part of parts) size += part.byteLength;
    this.byteLength = size;
    if (parts.length === 1) this.#joined = parts[0];
  }

  /** The message as one buffer; joining pieces copies them (once). */
  get bytes(): Uint8Array {
    if (this.#joined === undefined) {
      const out = Buffer.allocUnsafe(this.byteLength);
      this.copyTo(out, 0);
      this.#joined = out;
    }
    return this.#joined;
  }

  /** Writes the message into `target` at `offset`; `target` must have room for byteLength bytes. */
  copyTo(target: Uint8Array, offset: number): void {
    let at = offset;
    for (const part of this.parts) {
      target.set(part, at);
      at += part.byteLength;
    }
  }
}

/** Appends `value` as a protobuf varint at `offset`; returns the new offset. */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    buf[offset++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[offset++] = v;
  return offset;
}

export function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) size++;
  return size;
}
