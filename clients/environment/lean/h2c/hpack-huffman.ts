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

/** Longest code, in bits. */
const MAX_BITS = 30;

/**
 * The canonical code's shape, built on first use (most runs never see a Huffman string):
 * how many codes each length has, and the symbols in code order (by length, then symbol).
 * A counting sort of 257 lengths, far cheaper than building a tree.
 */
let canon: { count: Int32Array; symbols: Int16Array } | undefined;

function buildCanon(): { count: Int32Array; symbols: Int16Array } {
  const count = new Int32Array(MAX_BITS + 1);
  for (const length of LENGTHS) count[length]!++;
  const next = new Int32Array(MAX_BITS + 2);
  for (let length = 1; length <= MAX_BITS; length++) next[length + 1] = next[length]! + count[length]!;
  const symbols = new Int16Array(LENGTHS.length);
  for (let symbol = 0; symbol < LENGTHS.length; symbol++) symbols[next[LENGTHS[symbol]!]!++] = symbol;
  return { count, symbols };
}

function invalid(why: string): TetherError {
  return new TetherError(ErrorCode.Internal, `the server sent a bad HPACK Huffman string: ${why}`);
}

/**
 * Decodes `bytes` into latin1 text of at most `maxLength` characters. Padding must be the
 * most significant bits of EOS (all ones) and shorter than a byte; EOS itself is an error.
 */
export function huffmanDecode(bytes: Uint8Array, maxLength: number): string {
  canon ??= buildCanon();
  const { count, symbols } = canon;
  const out: number[] = [];
  // The bits read since the last symbol: `code` of `length` bits. Canonical codes of one
  // length are consecutive, starting at `first`; `index` is where they start in `symbols`.
  let code = 0;
  let length = 0;
  let first = 0;
  let index = 0;
  let allOnes = true;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const isOne = (byte >> bit) & 1;
      code = (code << 1) | isOne;
      allOnes &&= isOne === 1;
      length++;
      const n = count[length]!;
      if (code - first < n) {
        const symbol = symbols[index + code - first]!;
        if (symbol === EOS) throw invalid("it holds the EOS symbol");
        if (out.length >= maxLength) throw invalid(`it decodes to more than ${maxLength} bytes`);
        out.push(symbol);
        code = length = first = index = 0;
        allOnes = true;
      } else {
        // Past this length's codes: the next length's first code follows the last one here, shifted.
        index += n;
        first = (first + n) << 1;
        if (length >= MAX_BITS) throw invalid("a code longer than 30 bits");
      }
    }
  }
  if (length > 7 || !allOnes) throw invalid("its padding is not the EOS prefix");
  return Buffer.from(out).toString("latin1");
}
