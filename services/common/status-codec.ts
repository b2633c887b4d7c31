// The one codec between TetherError and a gRPC status as it travels in HTTP/2 trailers:
// code, percent-encoded grpc-message, and `tether-<key>` details. Transport-free (no grpc-js),
// so the server adapter (grpc-status.ts), both clients (grpc-js and the lean node:http2
// channel), the auth interceptor and the CLI's error printer all read and write one format.
import { ErrorCode, TetherError } from "./tether-error.js";

const DETAIL_PREFIX = "tether-";

/**
 * Status messages and detail values travel as HTTP/2 trailers, and grpc-js clients drop a
 * response whose metadata passes 8 KiB by default (then the call hangs until its deadline).
 * Messages often echo the bad input, so what goes on the wire is capped (512 characters stay
 * under 8 KiB even when every one is percent-encoded UTF-8).
 */
const MAX_WIRE_TEXT = 512;

function capText(text: string): string {
  return text.length <= MAX_WIRE_TEXT ? text : `${text.slice(0, MAX_WIRE_TEXT)}… (${text.length - MAX_WIRE_TEXT} more characters)`;
}

/**
 * gRPC's percent-encoding (the grpc-message rule, used for detail values too): bytes of the
 * UTF-8 outside 0x20-0x7e, and `%` itself, become %XX, so decoding is unambiguous. Lone
 * surrogates become U+FFFD (encodeURIComponent would throw on them), and a header value
 * outside printable ASCII, which grpc-js throws on, can never be produced.
 */
export function percentEncode(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The inverse of percentEncode; a malformed sequence is kept as sent rather than lost. */
export function percentDecode(text: string): string {
  if (!text.includes("%")) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    // Anything else is passed through as its UTF-8 (a stray `%`, or a server that sent raw text).
    const cp = text.codePointAt(i)!;
    bytes.push(...Buffer.from(String.fromCodePoint(cp), "utf8"));
    i += cp > 0xffff ? 2 : 1;
  }
  return Buffer.from(bytes).toString("utf8");
}

/** What a status puts on the wire: the caller's transport writes these as it must. */
export interface WireStatus {
  code: number;
  /** Capped, not yet percent-encoded: grpc-js encodes grpc-message itself; raw writers use percentEncode. */
  message: string;
  /** `tether-<key>` → percent-encoded value. */
  trailers: Record<string, string>;
}

/** Server side: anything thrown becomes a status. */
export function encodeStatus(err: unknown): WireStatus {
  const te = TetherError.from(err);
  const trailers: Record<string, string> = {};
  for (const [key, value] of Object.entries(te.details)) trailers[DETAIL_PREFIX + key.toLowerCase()] = percentEncode(capText(value));
  return { code: te.code, message: capText(te.message), trailers };
}

/**
 * Client side: a status read from trailers becomes the TetherError the server threw.
 * `message` is as received (already decoded by grpc-js, or percent-encoded: say `encoded`).
 */
export function decodeStatus(
  code: number,
  message: string,
  trailers: Iterable<[string, unknown]>,
  opts: { encoded?: boolean; cause?: unknown } = {},
): TetherError {
  const details: Record<string, string> = {};
  for (const [key, value] of trailers) {
    const v = Array.isArray(value) ? value[0] : value;
    if (key.startsWith(DETAIL_PREFIX) && typeof v === "string") details[key.slice(DETAIL_PREFIX.length)] = percentDecode(v);
  }
  const known = Number.isInteger(code) && code >= 1 && code <= 16;
  const text = opts.encoded ? percentDecode(message) : message;
  return new TetherError(known ? code : ErrorCode.Unknown, text || `the server answered ${known ? codeName(code) : `status ${code}`} without a message`, {
    details,
    cause: opts.cause,
  });
}

/** "INVALID_ARGUMENT" for ErrorCode.InvalidArgument: the gRPC name, as people read it in logs. */
export function codeName(code: ErrorCode): string {
  const name = ErrorCode[code] as string | undefined;
  return name === undefined ? "UNKNOWN" : name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** A response from something that is not a gRPC server (a proxy, a web server): HTTP status → code, as gRPC maps it. */
export function codeForHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return ErrorCode.Internal;
    case 401:
      return ErrorCode.Unauthenticated;
    case 403:
      return ErrorCode.PermissionDenied;
    case 404:
      return ErrorCode.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return ErrorCode.Unavailable;
    default:
      return ErrorCode.Unknown;
  }
}
