// A response a handler already encoded to protobuf bytes, for hot paths where the
// generic encoder's copies matter (bulk output). Transports send the bytes as they are;
// the in-memory client decodes them, so every backend sees the same message.
export class PreEncoded {
  constructor(readonly bytes: Uint8Array) {}
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
