// HPACK decoding against RFC 7541's own examples (Appendix C), and against a hostile peer:
// every size is bounded and a bad block is an HpackError, never a hang or a huge allocation.
import { describe, expect, it } from "vitest";
import { HpackDecoder, HpackError } from "./hpack-decoder.js";
import { encodeHeaders } from "./hpack-encoder.js";
import { huffmanDecode } from "./hpack-huffman.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("huffmanDecode", () => {
  it("decodes RFC 7541's examples", () => {
    expect(huffmanDecode(hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"), 100)).toBe("www.example.com");
    expect(huffmanDecode(hex("a8eb 1064 9cbf"), 100)).toBe("no-cache");
    expect(huffmanDecode(hex("25a8 49e9 5ba9 7d7f"), 100)).toBe("custom-key");
    expect(huffmanDecode(hex("25a8 49e9 5bb8 e8b4 bf"), 100)).toBe("custom-value");
  });

  it("refuses bad padding, EOS and output over the cap", () => {
    // "0" is 00000; padding with zeros is not the EOS prefix.
    expect(() => huffmanDecode(Buffer.of(0x00), 10)).toThrow(/padding/);
    // A whole byte of padding is too long.
    expect(() => huffmanDecode(Buffer.of(0x07, 0xff), 10)).toThrow(/padding/);
    // EOS: 30 ones.
    expect(() => huffmanDecode(Buffer.of(0xff, 0xff, 0xff, 0xff), 10)).toThrow(/EOS/);
    expect(() => huffmanDecode(hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"), 5)).toThrow(/more than 5/);
  });
});

describe("HpackDecoder", () => {
  it("decodes RFC 7541 C.4's requests in order (Huffman, dynamic table)", () => {
    const d = new HpackDecoder(4096, 65536);
    expect(d.decode(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"))).toEqual([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
    ]);
    expect(d.decode(hex("8286 84be 5886 a8eb 1064 9cbf"))).toEqual([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"],
    ]);
    expect(d.decode(hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"))).toEqual([
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ]);
  });

  it("decodes what the encoder writes", () => {
    const headers: [string, string][] = [
      [":method", "POST"],
      [":path", "/tether.exec.v1.ProcessService/Start"],
      ["content-type", "application/grpc"],
      ["authorization", `Bearer ${"t".repeat(300)}`],
      ["x-latin1", "\u00e9t\u00e9"],
    ];
    expect(new HpackDecoder(4096, 65536).decode(encodeHeaders(headers))).toEqual(headers);
  });

  it("evicts from the dynamic table and honours a size update at the start of a block", () => {
    const d = new HpackDecoder(4096, 65536);
    // Literal with indexing, new name "a" = "b" (34 bytes), then a size update to 0 empties the table.
    d.decode(hex("40 0161 0162"));
    expect(d.decode(hex("be"))).toEqual([["a", "b"]]);
    expect(() => d.decode(hex("20 be"))).toThrow(/not in the table/);
  });

  it("refuses a table size update over the advertised size, or after a field", () => {
    expect(() => new HpackDecoder(4096, 65536).decode(hex("3fe21f"))).toThrow(/update to 4097, over the advertised 4096/);
    expect(() => new HpackDecoder(4096, 65536).decode(hex("82 20"))).toThrow(/after a header field/);
  });

  it("bounds integers, strings and the header list", () => {
    const d = () => new HpackDecoder(4096, 1000);
    expect(() => d().decode(hex("ff ff ff ff ff ff 7f"))).toThrow(HpackError);
    expect(() => d().decode(hex("ff"))).toThrow(/ends inside an integer/);
    expect(() => d().decode(hex("00 7f ff 7f 61"))).toThrow(/runs past the block's end/);
    expect(() => d().decode(hex("c0"))).toThrow(/not in the table/);
    expect(() => d().decode(hex("80"))).toThrow(/index 0/);
    const big = encodeHeaders([["x", "y".repeat(2000)]]);
    expect(() => d().decode(big)).toThrow(/exceed the 1000-byte limit/);
    // Many small fields add up too (32 bytes of overhead each).
    const many = encodeHeaders(Array.from({ length: 40 }, (_, i) => [`k${i}`, "v"] as [string, string]));
    expect(() => d().decode(many)).toThrow(/exceed the 1000-byte limit/);
  });
});
