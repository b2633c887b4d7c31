// The one error type of tether. Core modules throw it; transports map it to their
// status in one place each (grpc-status.ts for gRPC).

/** gRPC status names and numbers, so the mapping to the wire is the identity. */
export enum ErrorCode {
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

export interface TetherErrorOptions {
  cause?: unknown;
  /** Machine-readable facts for clients (e.g. `oldest_seq` for OUT_OF_RANGE). */
  details?: Record<string, string>;
}

/**
 * Marks every TetherError, whichever copy of this module made it: `tether exec` runs from
 * two bundles (dist/exec-fast.cjs before its first model request, the code-split CLI after
 * it, scripts/build.mjs), and an error from the environment's copy must still be a
 * TetherError to the agent's (`instanceof`, TetherError.from keep its code).
 */
const TETHER_ERROR = Symbol.for("tether.TetherError");

export class TetherError extends Error {
  override readonly name = "TetherError";
  readonly code: ErrorCode;
  readonly details: Record<string, string>;

  /** `x instanceof TetherError`: any copy's TetherError; a subclass keeps the ordinary check. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== TetherError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as { [TETHER_ERROR]?: unknown })[TETHER_ERROR] === true;
  }

  constructor(code: ErrorCode, message: string, options: TetherErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** Normalises anything thrown: TetherErrors pass through, Node errno errors are mapped. */
  static from(err: unknown, context?: string): TetherError {
    if (err instanceof TetherError) return err;
    const errno = errnoCode(err);
    const text = err instanceof Error ? err.message : String(err);
    const message = context ? `${context}: ${text}` : text;
    if (errno !== undefined) return new TetherError(codeForErrno(errno), message, { cause: err });
    if (isAbortError(err)) return new TetherError(ErrorCode.Cancelled, message, { cause: err });
    return new TetherError(ErrorCode.Internal, message, { cause: err });
  }
}
Object.defineProperty(TetherError.prototype, TETHER_ERROR, { value: true });

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err).code;
    if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return undefined;
}

function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === "AbortError";
}

/** Node's errno names to the status a client should act on. */
export function codeForErrno(errno: string): ErrorCode {
  switch (errno) {
    case "ENOENT":
    case "ENOTDIR":
    case "ESRCH":
      return ErrorCode.NotFound;
    case "EEXIST":
    case "ENOTEMPTY":
      return ErrorCode.AlreadyExists;
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return ErrorCode.PermissionDenied;
    case "EISDIR":
    case "EINVAL":
    case "ENAMETOOLONG":
    case "ELOOP":
    case "EXDEV":
    case "E2BIG":
      return ErrorCode.InvalidArgument;
    case "ENOSPC":
    case "EDQUOT":
    case "EMFILE":
    case "ENFILE":
    case "ENOMEM":
    case "EAGAIN":
    case "EFBIG":
      return ErrorCode.ResourceExhausted;
    case "EBUSY":
    case "ETXTBSY":
      return ErrorCode.FailedPrecondition;
    case "ECONNREFUSED":
    case "ECONNRESET":
    case "EPIPE":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ETIMEDOUT":
      return ErrorCode.Unavailable;
    default:
      return ErrorCode.Internal;
  }
}

/** The reason to abort a signal with: a TetherError, so `signal.reason` is always typed. */
export function cancelled(message = "the call was cancelled"): TetherError {
  return new TetherError(ErrorCode.Cancelled, message);
}

/** Throws the signal's reason as a TetherError when it is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw TetherError.from(signal.reason ?? cancelled());
}
