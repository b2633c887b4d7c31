// HPACK's Huffman code (RFC 7541 Appendix B), decode only: this client sends plain literals,
// but servers (nghttp2, grpc-js through node) Huffman-encode the headers they send. The code
// is canonical, so only each symbol's bit length is listed; the codes follow from the lengths.
import { ErrorCode, TetherError } from "../../../../services/common/tether-error.js";

/** Code length in bits of symbols 0..255 and, last, EOS (256). From RFC 7541 Appendix B. */
// prettier-ignore
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

/**
 * The decoding tree as two child arrays (node 0 is the root; a leaf stores -1 - symbol).
 * Built on first use: most runs never see a Huffman string before they exit.
 */
let tree: { zero: Int16Array; one: Int16Array } | undefined;

function buildTree(): { zero: Int16Array; one: Int16Array } {
  // Canonical order: by length, then symbol; each code is the previous one plus one, shifted
  // left as the length grows. Codes are at most 30 bits, so int32 arithmetic holds them.
  const order = Array.from({ length: LENGTHS.length }, (_, symbol) => symbol).sort((a, b) => LENGTHS[a]! - LENGTHS[b]! || a - b);
  const zero = new Int16Array(512);
  const one = new Int16Array(512);
  let nodes = 1;
  let code = 0;
  let previous = LENGTHS[order[0]!]!;
  for (const symbol of order) {
    const length = LENGTHS[symbol]!;
    code <<= length - previous;
    previous = length;
    let node = 0;
    for (let bit = length - 1; bit > 0; bit--) {
      const branch = (code >>> bit) & 1 ? one : zero;
      if (branch[node] === 0) branch[node] = nodes++;
      node = branch[node]!;
    }
    (code & 1 ? one : zero)[node] = -1 - symbol;
    code++;
  }
  return { zero, one };
}

function invalid(why: string): TetherError {
  return new TetherError(ErrorCode.Internal, `the server sent a bad HPACK Huffman string: ${why}`);
}

/**
 * Decodes `bytes` into latin1 text of at most `maxLength` characters. Padding must be the
 * most significant bits of EOS (all ones) and shorter than a byte; EOS itself is an error.
 */
export function huffmanDecode(bytes: Uint8Array, maxLength: number): string {
  tree ??= buildTree();
  const { zero, one } = tree;
  const out: number[] = [];
  let node = 0;
  // Bits since the last symbol, and whether they were all ones (a valid padding so far).
  let depth = 0;
  let allOnes = true;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const isOne = ((byte >> bit) & 1) === 1;
      const next = (isOne ? one : zero)[node]!;
      depth++;
      allOnes &&= isOne;
      if (next < 0) {
        const symbol = -1 - next;
        if (symbol === EOS) throw invalid("it holds the EOS symbol");
        if (out.length >= maxLength) throw invalid(`it decodes to more than ${maxLength} bytes`);
        out.push(symbol);
        node = 0;
        depth = 0;
        allOnes = true;
      } else node = next;
    }
  }
  if (depth > 7 || !allOnes) throw invalid("its padding is not the EOS prefix");
  return Buffer.from(out).toString("latin1");
}
