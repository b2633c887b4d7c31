// The only mapping between TetherError and gRPC status, both ways. Details travel
// as `tether-<key>` trailers so a client can rebuild the same TetherError.
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, TetherError } from "./tether-error.js";

const DETAIL_PREFIX = "tether-";
/**
 * Status messages and detail values travel as HTTP/2 trailers, and grpc-js clients
 * drop a response whose metadata passes 8 KiB by default (then the call hangs until
 * its deadline). Messages often echo the bad input, so cap what goes on the wire
 * (512 characters stay under 8 KiB even when every one is percent-encoded UTF-8).
 */
const MAX_WIRE_TEXT = 512;

function capText(text: string): string {
  return text.length <= MAX_WIRE_TEXT ? text : `${text.slice(0, MAX_WIRE_TEXT)}… (${text.length - MAX_WIRE_TEXT} more characters)`;
}

/**
 * grpc-js throws on an ASCII metadata value outside 0x20-0x7e, and a throw here would
 * leave the call unanswered (and reject a promise nobody handles): details often carry
 * client-chosen paths, so such values go as percent-encoded UTF-8 (lone surrogates
 * become U+FFFD; encodeURIComponent would throw on them).
 */
function wireValue(value: string): string {
  const capped = capText(value);
  if (/^[\x20-\x7e]*$/.test(capped)) return capped;
  let out = "";
  for (const byte of Buffer.from(capped, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Server side: anything thrown by core becomes a status object grpc-js understands. */
export function toGrpcStatus(err: unknown): Partial<grpc.StatusObject> & { code: grpc.status; details: string } {
  const te = TetherError.from(err);
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(te.details)) metadata.set(DETAIL_PREFIX + key, wireValue(value));
  return { code: te.code as number, details: capText(te.message), metadata };
}

/** Client side: a grpc-js ServiceError (or anything) becomes a TetherError. */
export function fromGrpcError(err: unknown): TetherError {
  if (err instanceof TetherError) return err;
  if (isServiceError(err)) {
    const details: Record<string, string> = {};
    for (const [key, value] of Object.entries(err.metadata?.getMap() ?? {})) {
      if (key.startsWith(DETAIL_PREFIX) && typeof value === "string") details[key.slice(DETAIL_PREFIX.length)] = value;
    }
    const code = err.code >= 1 && err.code <= 16 ? (err.code as number as ErrorCode) : ErrorCode.Unknown;
    return new TetherError(code, err.details || err.message, { cause: err, details });
  }
  return TetherError.from(err);
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === "number" && "details" in err;
}

export function codeName(code: ErrorCode): string {
  return grpc.status[code as number] ?? "UNKNOWN";
}
