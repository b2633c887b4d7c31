// Server interceptors that apply to every call on every service (health and reflection
// too): the bearer-token check (constant-time compare) and the shutdown gate.
import * as grpc from "@grpc/grpc-js";
import { createHash, timingSafeEqual } from "node:crypto";
import { toGrpcStatus } from "./grpc-status.js";
import { ErrorCode, TetherError } from "./tether-error.js";

function digest(value: string): Buffer {
  // Hashing first makes the comparison length-independent.
  return createHash("sha256").update(value).digest();
}

export function tokenMatches(expected: Buffer, metadata: grpc.Metadata): boolean {
  const header = metadata.get("authorization")[0];
  if (typeof header !== "string") return false;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}

export function bearerTokenInterceptor(token: string): grpc.ServerInterceptor {
  const expected = digest(token);
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            if (tokenMatches(expected, metadata)) return mdNext(metadata);
            const present = metadata.get("authorization").length > 0;
            const message = present
              ? "the bearer token is wrong: pass the server's token (tether: --token-file)"
              : "this server requires a bearer token: send `authorization: Bearer <token>` (tether: --token-file)";
            call.sendStatus(wireStatus(new TetherError(ErrorCode.Unauthenticated, message)));
          },
        });
      },
    });
}

/**
 * Refuses new calls once the server is shutting down (UNAVAILABLE, so clients retry elsewhere
 * or report it): grpc-js keeps accepting streams on open connections while it drains.
 * grpc-js runs interceptors when a stream opens, so a call opened while the server is not
 * closing passes through unwrapped: a layer of its own cost every call's metadata, messages
 * and status a hop through its closures, and an object per call.
 */
export function shutdownGateInterceptor(isClosing: () => boolean): grpc.ServerInterceptor {
  return (_method, call) =>
    // The type asks for the class; grpc-js (server-interceptors.js getServerInterceptingCall)
    // only calls the interface's methods on what an interceptor returns.
    !isClosing() ? (call as grpc.ServerInterceptingCall) : new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            if (!isClosing()) return mdNext(metadata);
            call.sendStatus(wireStatus(new TetherError(ErrorCode.Unavailable, "the server is shutting down")));
          },
        });
      },
    });
}

/** The shared codec's status, complete as sendStatus needs it. */
function wireStatus(err: TetherError): grpc.StatusObject {
  const status = toGrpcStatus(err);
  return { code: status.code, details: status.details, metadata: status.metadata ?? new grpc.Metadata() };
}
