import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HeadTailBuffer, cutMarker, truncateMiddle } from "./head-tail-buffer.js";

const bytes = (s: string) => Buffer.from(s, "utf8");

describe("HeadTailBuffer", () => {
  it("cut again to a smaller budget, gives what a buffer of that budget gives", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 64 }), (chunks, a, b) => {
        const [small, big] = a <= b ? [a, b] : [b, a];
        const wide = new HeadTailBuffer(big);
        const narrow = new HeadTailBuffer(small);
        for (const c of chunks) {
          wide.push(c);
          narrow.push(c);
        }
        const m = (n: number) => `<${n}>`;
        expect(wide.text(m, small)).toBe(narrow.text(m));
      }),
    );
  });

  it("keeps everything while under the cap", () => {
    const b = new HeadTailBuffer(10);
    b.push(bytes("abc"));
    b.push(bytes("def"));
    expect(b.text()).toBe("abcdef");
    expect(b.omittedBytes).toBe(0);
  });

  it("keeps the head and the most recent tail, counting what was cut", () => {
    const b = new HeadTailBuffer(6);
    for (const c of ["abcd", "efgh", "ijkl"]) b.push(bytes(c));
    expect(b.totalBytes).toBe(12);
    expect(b.omittedBytes).toBe(6);
    expect(b.text((n) => `<${n}>`)).toBe("abc<6>jkl");
  });

  it("never splits a UTF-8 character at either cut", () => {
    const b = new HeadTailBuffer(8);
    // "é" is 2 bytes, "€" 3: the 4-byte head ends inside "€", the tail starts inside one.
    b.push(bytes("aé€xyz€é"));
    const text = b.text((n) => `<${n}>`);
    expect(text).not.toContain("\uFFFD");
    const [head, rest] = text.split("<");
    const [omitted, tail] = rest!.split(">");
    expect(bytes(head!).byteLength + Number(omitted) + bytes(tail!).byteLength).toBe(b.totalBytes);
    expect("aé€xyz€é".startsWith(head!)).toBe(true);
    expect("aé€xyz€é".endsWith(tail!)).toBe(true);
  });

  it("a zero cap keeps nothing and says so", () => {
    const b = new HeadTailBuffer(0);
    b.push(bytes("hello"));
    expect(b.text((n) => `<${n}>`)).toBe("<5>");
  });

  it("property: head is a prefix, tail a suffix, kept + omitted = total, kept <= cap", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), fc.integer({ min: 0, max: 64 }), (chunks, cap) => {
        const b = new HeadTailBuffer(cap);
        for (const c of chunks) b.push(c);
        const all = Buffer.concat(chunks);
        expect(b.totalBytes).toBe(all.byteLength);
        expect(all.byteLength - b.omittedBytes).toBeLessThanOrEqual(cap);
        if (all.byteLength <= cap) expect(b.omittedBytes).toBe(0);
        else expect(b.omittedBytes).toBe(all.byteLength - cap);
      }),
    );
  });

  it("property: on ASCII text the kept parts are the exact head and tail", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom("a", "b", "c", "\n"), maxLength: 30 }), { maxLength: 20 }), fc.integer({ min: 1, max: 50 }), (chunks, cap) => {
        const b = new HeadTailBuffer(cap);
        for (const c of chunks) b.push(bytes(c));
        const all = chunks.join("");
        if (all.length <= cap) {
          expect(b.text()).toBe(all);
          return;
        }
        const headLen = Math.floor(cap / 2);
        expect(b.text((n) => `|${n}|`)).toBe(`${all.slice(0, headLen)}|${all.length - cap}|${all.slice(all.length - (cap - headLen))}`);
      }),
    );
  });
});

describe("truncateMiddle", () => {
  it("cuts a long string with the marker saying how much", () => {
    const out = truncateMiddle("x".repeat(100), 20);
    expect(out).toBe(`${"x".repeat(10)}${cutMarker(80)}${"x".repeat(10)}`);
    expect(cutMarker(80)).toContain("80 bytes (about 20 tokens)");
  });
});
