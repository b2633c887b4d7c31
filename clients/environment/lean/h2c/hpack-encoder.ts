// HPACK encoding for requests, the simplest legal way: a field that is in the static table
// whole is indexed, any other is a literal without indexing (its name indexed when the
// static table has it), never Huffman-coded. No dynamic table, so nothing can get out of step.
import { STATIC_TABLE } from "./hpack-static-table.js";

let byName: Map<string, number> | undefined;
let byPair: Map<string, number> | undefined;

function integer(out: number[], value: number, prefixBits: number, firstByte: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(firstByte | value);
    return;
  }
  out.push(firstByte | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function string(out: number[], text: string): void {
  const bytes = Buffer.from(text, "latin1");
  integer(out, bytes.length, 7, 0);
  for (const b of bytes) out.push(b);
}

/** One header block for `headers` (names lower-case, pseudo-headers first). */
export function encodeHeaders(headers: readonly (readonly [string, string])[]): Buffer {
  if (!byName || !byPair) {
    byName = new Map();
    byPair = new Map();
    for (let i = STATIC_TABLE.length - 1; i >= 1; i--) {
      const [name, value] = STATIC_TABLE[i]!;
      byName.set(name, i);
      byPair.set(`${name}\0${value}`, i);
    }
  }
  const out: number[] = [];
  for (const [name, value] of headers) {
    const exact = byPair.get(`${name}\0${value}`);
    if (exact !== undefined) {
      integer(out, exact, 7, 0x80);
      continue;
    }
    const nameIndex = byName.get(name);
    // 0000xxxx: literal without indexing.
    integer(out, nameIndex ?? 0, 4, 0x00);
    if (nameIndex === undefined) string(out, name);
    string(out, value);
  }
  return Buffer.from(out);
}
