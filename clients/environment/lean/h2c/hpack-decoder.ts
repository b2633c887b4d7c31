// HPACK header block decoding (RFC 7541) for responses, with every size bounded: the dynamic
// table by the size this client advertises, each string and the whole header list by a cap,
// integers before they can overflow. A server that breaks a bound gets a COMPRESSION_ERROR.
import { ErrorCode, TetherError } from "../../../../services/common/tether-error.js";
import { huffmanDecode } from "./hpack-huffman.js";
import { STATIC_TABLE } from "./hpack-static-table.js";

export type HeaderList = [name: string, value: string][];

/** RFC 7541 §4.1: an entry costs its name and value in bytes plus 32. */
const ENTRY_OVERHEAD = 32;
/** Integers larger than this are nobody's header (and would lose precision further on). */
const MAX_INTEGER = 2 ** 31 - 1;

export class HpackError extends TetherError {
  constructor(why: string) {
    super(ErrorCode.Internal, `the server sent a bad HPACK header block: ${why}`);
  }
}

export class HpackDecoder {
  /** Newest first, as HPACK indexes it. */
  readonly #dynamic: [string, string][] = [];
  #size = 0;
  #capacity: number;

  /**
   * @param maxTableSize the table size this client advertises (SETTINGS_HEADER_TABLE_SIZE)
   * @param maxListSize the largest decoded header list accepted (SETTINGS_MAX_HEADER_LIST_SIZE)
   */
  constructor(
    private readonly maxTableSize: number,
    private readonly maxListSize: number,
  ) {
    this.#capacity = maxTableSize;
  }

  /** Decodes one complete header block. Throws HpackError; the connection is then unusable. */
  decode(block: Uint8Array): HeaderList {
    const headers: HeaderList = [];
    let listSize = 0;
    let pos = 0;
    let mayResize = true;
    const integer = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      if (pos >= block.length) throw new HpackError("it ends inside an integer");
      let value = block[pos++]! & mask;
      if (value < mask) return value;
      for (let shift = 0; ; shift += 7) {
        if (pos >= block.length) throw new HpackError("it ends inside an integer");
        const byte = block[pos++]!;
        value += (byte & 0x7f) * 2 ** shift;
        if (value > MAX_INTEGER) throw new HpackError("an integer is too large");
        if ((byte & 0x80) === 0) return value;
      }
    };
    const string = (): string => {
      if (pos >= block.length) throw new HpackError("it ends before a string");
      const huffman = (block[pos]! & 0x80) !== 0;
      const length = integer(7);
      if (length > block.length - pos) throw new HpackError(`a ${length}-byte string runs past the block's end`);
      const bytes = block.subarray(pos, pos + length);
      pos += length;
      // A Huffman string decodes to at most 8/5 of its bytes; the list cap bounds it anyway.
      const room = this.maxListSize - listSize;
      if (!huffman && length > room) throw this.#tooLarge();
      return huffman ? huffmanDecode(bytes, room) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
    };
    const emit = (name: string, value: string) => {
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize > this.maxListSize) throw this.#tooLarge();
      headers.push([name, value]);
    };
    while (pos < block.length) {
      const first = block[pos]!;
      if (first & 0x80) {
        const [name, value] = this.#entry(integer(7));
        emit(name, value);
        mayResize = false;
      } else if ((first & 0xe0) === 0x20) {
        // A size update is allowed only at the start of a block (RFC 7541 §4.2).
        if (!mayResize) throw new HpackError("a table size update after a header field");
        const size = integer(5);
        if (size > this.maxTableSize) throw new HpackError(`a table size update to ${size}, over the advertised ${this.maxTableSize}`);
        this.#capacity = size;
        this.#evict(0);
      } else {
        const indexing = (first & 0xc0) === 0x40;
        const index = integer(indexing ? 6 : 4);
        const name = index === 0 ? string() : this.#entry(index)[0];
        const value = string();
        emit(name, value);
        if (indexing) this.#add(name, value);
        mayResize = false;
      }
    }
    return headers;
  }

  #tooLarge(): HpackError {
    return new HpackError(`its headers exceed the ${this.maxListSize}-byte limit`);
  }

  #entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError("index 0");
    if (index < STATIC_TABLE.length) return STATIC_TABLE[index]!;
    const entry = this.#dynamic[index - STATIC_TABLE.length];
    if (!entry) throw new HpackError(`index ${index} is not in the table`);
    return entry;
  }

  #add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    this.#evict(size);
    if (size > this.#capacity) return;
    this.#dynamic.unshift([name, value]);
    this.#size += size;
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  #evict(room: number): void {
    while (this.#dynamic.length > 0 && this.#size + room > this.#capacity) {
      const [name, value] = this.#dynamic.pop()!;
      this.#size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}
