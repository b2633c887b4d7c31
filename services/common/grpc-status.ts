// TetherError ↔ grpc-js status objects, both ways, through the one codec (status-codec.ts)
// that the lean client and the CLI use too. Details travel as `tether-<key>` trailers so a
// client can rebuild the same TetherError.
import * as grpc from "@grpc/grpc-js";
import { decodeStatus, encodeStatus } from "./status-codec.js";
import { TetherError } from "./tether-error.js";

/** Server side: anything thrown by core becomes a status object grpc-js understands. */
export function toGrpcStatus(err: unknown): Partial<grpc.StatusObject> & { code: grpc.status; details: string } {
  const wire = encodeStatus(err);
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(wire.trailers)) metadata.set(key, value);
  // grpc-js percent-encodes grpc-message itself (and its clients decode it).
  return { code: wire.code, details: wire.message, metadata };
}

/** Client side: a grpc-js ServiceError (or anything) becomes a TetherError, details percent-decoded. */
export function fromGrpcError(err: unknown): TetherError {
  if (err instanceof TetherError) return err;
  if (isServiceError(err)) {
    return decodeStatus(err.code, err.details || err.message, Object.entries(err.metadata?.getMap() ?? {}), { cause: err });
  }
  return TetherError.from(err);
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === "number" && "details" in err;
}
