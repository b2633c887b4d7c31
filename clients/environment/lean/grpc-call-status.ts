// Reading a gRPC call's outcome from HTTP/2 headers and trailers, without grpc-js, through
// the shared status codec (services/common/status-codec.ts): status, percent-encoded message
// and tether-* details, HTTP statuses from non-gRPC responders, and the grpc-timeout header.
import type { IncomingHttpHeaders } from "node:http2";
import { codeForHttpStatus, decodeStatus } from "../../../services/common/status-codec.js";
import { ErrorCode, TetherError } from "../../../services/common/tether-error.js";

export { percentDecode } from "../../../services/common/status-codec.js";

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
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
  return decodeStatus(Number.isInteger(code) ? code : -1, header(h, "grpc-message") ?? "", Object.entries(h), { encoded: true });
}

/** A response that is not gRPC at all (a proxy, a web server): map its HTTP status as gRPC does. */
export function checkResponseHeaders(h: IncomingHttpHeaders, path: string): TetherError | undefined {
  const status = Number(h[":status"]);
  if (status !== 200) {
    return new TetherError(codeForHttpStatus(status), `${path}: the server answered HTTP ${status}, not gRPC — check the target address`);
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
