// Reading a gRPC call's outcome from HTTP/2 headers and trailers, without grpc-js: status and
// percent-encoded message, tether-* details (as services/common/grpc-status.ts writes them),
// HTTP statuses from non-gRPC responders, and the grpc-timeout header.
import type { IncomingHttpHeaders } from "node:http2";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";

const DETAIL_PREFIX = "tether-";
const CODE_NAMES = Object.fromEntries(Object.entries(ErrorCode).filter(([, v]) => typeof v === "number").map(([k, v]) => [v, k]));

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** grpc-message is percent-encoded UTF-8; a malformed one is shown as sent rather than lost. */
export function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The call's status from trailers (or trailers-only headers): undefined when there is no
 * grpc-status, null for OK, a TetherError otherwise.
 */
export function statusFromHeaders(h: IncomingHttpHeaders): TetherError | null | undefined {
  const raw = header(h, "grpc-status");
  if (raw === undefined) return undefined;
  const code = Number(raw);
  if (code === 0) return null;
  const message = percentDecode(header(h, "grpc-message") ?? "");
  const details: Record<string, string> = {};
  for (const [key, value] of Object.entries(h)) {
    if (key.startsWith(DETAIL_PREFIX) && typeof value === "string") details[key.slice(DETAIL_PREFIX.length)] = value;
  }
  const known = Number.isInteger(code) && code >= 1 && code <= 16;
  const name = known ? CODE_NAMES[code] : `status ${raw}`;
  return new TetherError(known ? (code) : ErrorCode.Unknown, message || `the server answered ${name} without a message`, { details });
}

/** A response that is not gRPC at all (a proxy, a web server): map its HTTP status as gRPC does. */
export function checkResponseHeaders(h: IncomingHttpHeaders, path: string): TetherError | undefined {
  const status = Number(h[":status"]);
  if (status !== 200) {
    const code =
      status === 400 ? ErrorCode.Internal
      : status === 401 ? ErrorCode.Unauthenticated
      : status === 403 ? ErrorCode.PermissionDenied
      : status === 404 ? ErrorCode.Unimplemented
      : status === 429 || status === 502 || status === 503 || status === 504 ? ErrorCode.Unavailable
      : ErrorCode.Unknown;
    return new TetherError(code, `${path}: the server answered HTTP ${status}, not gRPC — check the target address`);
  }
  const type = header(h, "content-type") ?? "";
  if (!type.startsWith("application/grpc")) {
    return new TetherError(ErrorCode.Unknown, `${path}: the server answered content-type "${type}", not application/grpc — check the target address`);
  }
  return undefined;
}

/** grpc-timeout: at most 8 digits and a unit; milliseconds while they fit, else seconds. */
export function encodeTimeout(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  return whole < 1e8 ? `${whole}m` : `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}
