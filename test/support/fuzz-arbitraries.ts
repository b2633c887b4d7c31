// fast-check arbitraries for hostile field values, and an encoder that can slip
// invalid UTF-8 into string fields (protobuf-es itself only writes valid UTF-8).
import fc from "fast-check";
import { create, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { rawField } from "./fuzz-raw-client.js";

const UINT64_MAX = 2n ** 64n - 1n;

/** Byte sequences that are not UTF-8: lone continuation, overlong, surrogate, 5-byte, truncated. */
export const badUtf8: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom([0xff], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]),
    fc.uint8Array({ maxLength: 16 }),
  )
  .map(([bad, tail]) => Uint8Array.from([...tail.slice(0, 4), ...bad, ...tail.slice(4)]));

const bigString = fc.integer({ min: 4096, max: 1 << 20 }).map((n) => "a".repeat(n));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 4 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }), weight: 1 },
  {
    arbitrary: fc.constantFrom("", " ", ".", "..", "../..", "/", "\0", "a\0b", "~", "$HOME", "%s%n%x", "-", "--", "\n", "\u202e", "\ud800", "x".repeat(129)),
    weight: 3,
  },
  { arbitrary: bigString, weight: 1 },
);

/** Ids that pass the id check most of the time, so the rest of the request gets checked. */
export const hostileId: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/), weight: 3 },
  { arbitrary: hostileString, weight: 2 },
);

export const hostileUint32: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, 2, 255, 65535, 65536, 10_000, 10_001, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1),
  fc.nat({ max: 2 ** 32 - 1 }),
);

export const hostileInt32: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -1, 1, 9, 15, 19, 64, 65, 128, -(2 ** 31), 2 ** 31 - 1),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);

export const hostileUint64: fc.Arbitrary<bigint> = fc.oneof(
  fc.constantFrom(0n, 1n, 2n ** 31n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, UINT64_MAX),
  fc.bigInt({ min: 0n, max: UINT64_MAX }),
);

/** Enum values, including ones the schema does not know (proto3 enums are open). */
export const hostileEnum = (max: number): fc.Arbitrary<number> =>
  fc.oneof({ arbitrary: fc.integer({ min: 0, max }), weight: 4 }, { arbitrary: fc.constantFrom(-1, max + 1, 2 ** 31 - 1), weight: 1 });

/** Mostly small payloads, now and then a few MB. */
export const hostileBytes = (maxBig: number): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 256 }), weight: 12 },
    { arbitrary: fc.integer({ min: 64 << 10, max: maxBig }).map((n) => new Uint8Array(n).fill(0x61)), weight: 1 },
  );

export const signalNames = fc.constantFrom("TERM", "SIGTERM", "int", "HUP", "USR1", "sigusr2", "WINCH", "CONT", "CHLD", "KILL", "SIGRTMIN", "RTMAX", "0", "SIG", "TERM ", "SIGSIGTERM");

/**
 * Encodes `init` with `schema`, then appends invalid-UTF-8 records for some of
 * `stringFields` (field numbers of string fields; a later record wins in proto3).
 */
export function encodeWithBadUtf8<D extends DescMessage>(
  schema: D,
  stringFields: number[],
): (init: MessageInitShape<D>) => fc.Arbitrary<Buffer> {
  return (init) => {
    const base = Buffer.from(toBinary(schema, create(schema, init)));
    if (stringFields.length === 0) return fc.constant(base);
    return fc.oneof(
      { arbitrary: fc.constant(base), weight: 4 },
      {
        arbitrary: fc
          .array(fc.tuple(fc.constantFrom(...stringFields), badUtf8), { minLength: 1, maxLength: 2 })
          .map((records) => Buffer.concat([base, ...records.map(([n, b]) => rawField(n, b))])),
        weight: 1,
      },
    );
  };
}

export function encode<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Buffer {
  return Buffer.from(toBinary(schema, create(schema, init)));
}
