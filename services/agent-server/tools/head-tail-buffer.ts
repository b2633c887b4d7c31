// Bounded output for the model and for items: the first half of the budget keeps the head,
// the second half the most recent bytes, and what fell in between is counted so the text can
// say how much was cut. Cuts never split a UTF-8 character.

export class HeadTailBuffer {
  readonly #headCap: number;
  readonly #tailCap: number;
  #head: Buffer = Buffer.alloc(0);
  #tail: Buffer[] = [];
  #tailBytes = 0;
  #total = 0;

  constructor(maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.#headCap = Math.floor(maxBytes / 2);
    this.#tailCap = maxBytes - this.#headCap;
  }

  /** Bytes pushed so far, kept or not. */
  get totalBytes(): number {
    return this.#total;
  }

  get omittedBytes(): number {
    return this.#total - this.#head.byteLength - this.#tailBytes;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#total += chunk.byteLength;
    let rest = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#head.byteLength < this.#headCap && this.#tailBytes === 0) {
      const take = Math.min(this.#headCap - this.#head.byteLength, rest.byteLength);
      this.#head = Buffer.concat([this.#head, rest.subarray(0, take)]);
      rest = rest.subarray(take);
    }
    if (rest.byteLength === 0 || this.#tailCap === 0) return;
    // Copied: the caller may reuse its buffer.
    this.#tail.push(Buffer.from(rest.subarray(Math.max(0, rest.byteLength - this.#tailCap))));
    this.#tailBytes += Math.min(rest.byteLength, this.#tailCap);
    while (this.#tailBytes > this.#tailCap) {
      const first = this.#tail[0]!;
      const excess = this.#tailBytes - this.#tailCap;
      if (first.byteLength <= excess) {
        this.#tail.shift();
        this.#tailBytes -= first.byteLength;
      } else {
        this.#tail[0] = first.subarray(excess);
        this.#tailBytes -= excess;
      }
    }
  }

  /**
   * The kept text, with a marker where bytes were cut. `maxBytes` below the buffer's own
   * budget cuts again to that budget: the same text a buffer of `maxBytes` would have given,
   * since its head is a prefix of this head and its tail a suffix of this tail.
   */
  text(marker: (omittedBytes: number) => string = cutMarker, maxBytes?: number): string {
    let head = this.#head;
    let tail = Buffer.concat(this.#tail);
    const budget = maxBytes ?? this.#headCap + this.#tailCap;
    if (this.omittedBytes === 0) {
      const all = Buffer.concat([head, tail]);
      if (all.byteLength <= budget) return all.toString("utf8");
      head = all;
      tail = all;
    }
    if (budget < this.#headCap + this.#tailCap || head === tail) {
      const headCap = Math.floor(budget / 2);
      head = head.subarray(0, Math.min(head.byteLength, headCap));
      tail = tail.subarray(Math.max(0, tail.byteLength - (budget - headCap)));
    }
    head = head.subarray(0, completeUtf8Prefix(head));
    tail = tail.subarray(leadingContinuationBytes(tail));
    const omitted = this.#total - head.byteLength - tail.byteLength;
    return head.toString("utf8") + marker(omitted) + tail.toString("utf8");
  }
}

export function cutMarker(omittedBytes: number): string {
  return `\n[… ${omittedBytes} bytes (about ${Math.ceil(omittedBytes / 4)} tokens) cut from the middle …]\n`;
}

/** Cuts a string head+tail to at most about `maxBytes` of UTF-8 (plus the marker). */
export function truncateMiddle(text: string, maxBytes: number): string {
  const buf = new HeadTailBuffer(maxBytes);
  buf.push(Buffer.from(text, "utf8"));
  return buf.text();
}

/** Length of the longest prefix that ends on a character boundary. */
function completeUtf8Prefix(b: Buffer): number {
  // Walk back over at most 3 continuation bytes to the lead byte of the last character.
  let i = b.byteLength - 1;
  let continuation = 0;
  while (i >= 0 && continuation < 4 && (b[i]! & 0xc0) === 0x80) {
    i--;
    continuation++;
  }
  if (i < 0) return 0;
  const lead = b[i]!;
  const need = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return continuation + 1 >= need ? b.byteLength : i;
}

function leadingContinuationBytes(b: Buffer): number {
  let i = 0;
  while (i < b.byteLength && i < 3 && (b[i]! & 0xc0) === 0x80) i++;
  return i;
}
