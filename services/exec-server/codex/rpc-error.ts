// The one mapping from what a Codex-protocol handler throws to a JSON-RPC error body.
// TetherError codes keep their meaning for Codex's client: NOT_FOUND is -32004 (its client
// turns that into io NotFound, which apply_patch relies on), bad input is -32602/-32600,
// the rest -32603; the tether code and details travel in `data`.
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { ParamsError, RpcCode, type RpcErrorBody } from "./codex-wire.js";

/** A protocol-level refusal (bad envelope, unknown method) with its own JSON-RPC code. */
export class RpcError extends Error {
  override readonly name = "RpcError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const CODES: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.NotFound]: RpcCode.NotFound,
  [ErrorCode.InvalidArgument]: RpcCode.InvalidParams,
  [ErrorCode.OutOfRange]: RpcCode.InvalidRequest,
  [ErrorCode.AlreadyExists]: RpcCode.InvalidRequest,
  [ErrorCode.FailedPrecondition]: RpcCode.InvalidRequest,
  [ErrorCode.Unimplemented]: RpcCode.InvalidRequest,
};

export function toRpcError(err: unknown): RpcErrorBody {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  if (err instanceof ParamsError) return { code: RpcCode.InvalidParams, message: err.message };
  const e = TetherError.from(err);
  const data: Record<string, unknown> = { tetherCode: ErrorCode[e.code] };
  if (Object.keys(e.details).length > 0) data.details = e.details;
  return { code: CODES[e.code] ?? RpcCode.Internal, message: e.message, data };
}
