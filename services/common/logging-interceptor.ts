// One log line per finished gRPC call, on every service of a server (health and reflection
// too): method, status and duration at debug, or at warn when the call failed with an error
// the server should look at (INTERNAL, UNKNOWN, DATA_LOSS).
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "./logger.js";

const SERVER_FAULTS = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS]);

export function loggingInterceptor(logger: Logger): grpc.ServerInterceptor {
  return (method, call) => {
    const started = performance.now();
    return new grpc.ServerInterceptingCall(call, {
      sendStatus(status, next) {
        const fields = {
          method: method.path,
          code: grpc.status[status.code] ?? String(status.code),
          ms: Math.round((performance.now() - started) * 10) / 10,
          ...(status.code === grpc.status.OK ? {} : { details: status.details }),
        };
        if (SERVER_FAULTS.has(status.code)) logger.warn(fields, "call failed");
        else logger.debug(fields, "call");
        next(status);
      },
    });
  };
}
