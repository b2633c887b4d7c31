// Classifies what went wrong with one model request (STYLE rule 23): a typed TetherError
// saying what to fix, whether a retry may help, and how long the server asked us to wait.
import { ErrorCode, TetherError } from "../../common/tether-error.js";

export interface ModelFailure {
  error: TetherError;
  /** 429, 5xx, network errors and dropped streams: the same request may succeed later. */
  retryable: boolean;
  /** From `retry-after-ms` or `retry-after` (seconds or an HTTP date), when the server sent one. */
  retryAfterMs?: number;
}

export interface FailureContext {
  model: string;
  baseURL: string;
  /** The variable holding the key, for the bad-key message. */
  apiKeyEnv: string;
  /** For HTTP-date retry-after values. */
  now: () => number;
}

/** A stream that ended (or broke) before response.completed: retryable. */
export class StreamDropped extends Error {
  override readonly name = "StreamDropped";
}

/** A request that could not be sent or answered (DNS, refused, reset before the headers): retryable. */
export class ModelConnectionError extends Error {
  override readonly name = "ModelConnectionError";
}

/** What `retryAfter` reads: a `Headers`, or node:http's headers behind `get`. */
export interface HeaderLookup {
  get(name: string): string | null;
}

/** A non-2xx answer: its status, headers and the body's `error` object (OpenAI's error shape). */
export class ModelHttpError extends Error {
  override readonly name = "ModelHttpError";
  /** `error.code` of the body, when it has one (e.g. insufficient_quota). */
  readonly code: string | undefined;
  constructor(
    readonly status: number,
    readonly headers: HeaderLookup,
    readonly error: unknown,
    message: string,
  ) {
    super(message);
    const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
    this.code = typeof code === "string" ? code : undefined;
  }
}

/** An error the Responses stream itself reported (an `error` event or response.failed). */
export class StreamFailed extends Error {
  override readonly name = "StreamFailed";
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Codes of stream errors worth a retry; others (context too long, bad input …) are final. */
const RETRYABLE_STREAM_CODES = new Set(["server_error", "rate_limit_exceeded", "server_is_overloaded", "slow_down", "internal_error"]);

export function classifyModelFailure(err: unknown, ctx: FailureContext): ModelFailure {
  if (err instanceof TetherError) return { error: err, retryable: false };
  if (err instanceof StreamDropped) {
    return { error: new TetherError(ErrorCode.Unavailable, `the model stream from ${ctx.baseURL} ended early: ${err.message}`, { cause: err }), retryable: true };
  }
  if (err instanceof StreamFailed) return streamFailure(err);
  if (err instanceof SyntaxError) {
    return {
      error: new TetherError(ErrorCode.DataLoss, `the model server at ${ctx.baseURL} sent a malformed event stream (${err.message}): is the base URL a Responses API server?`, { cause: err }),
      retryable: false,
    };
  }
  if (err instanceof ModelConnectionError) {
    return { error: new TetherError(ErrorCode.Unavailable, `cannot reach the model server at ${ctx.baseURL}: ${err.message}`, { cause: err }), retryable: true };
  }
  if (err instanceof ModelHttpError) return httpFailure(err, ctx);
  if (isNetworkErrno(err)) {
    const text = err instanceof Error ? err.message : String(err);
    return { error: new TetherError(ErrorCode.Unavailable, `the connection to the model server at ${ctx.baseURL} broke: ${text}`, { cause: err }), retryable: true };
  }
  return { error: TetherError.from(err, "model request failed"), retryable: false };
}

function httpFailure(err: ModelHttpError, ctx: FailureContext): ModelFailure {
  const status = err.status;
  const detail = serverMessage(err);
  const retryAfterMs = retryAfter(err.headers, ctx.now);
  const withWait = retryAfterMs === undefined ? {} : { retryAfterMs };
  switch (status) {
    case 401:
      return final(ErrorCode.Unauthenticated, `the model server at ${ctx.baseURL} rejected the API key (401: ${detail}): set ${ctx.apiKeyEnv} to a valid key`, err);
    case 403:
      return final(ErrorCode.PermissionDenied, `the API key may not use model "${ctx.model}" at ${ctx.baseURL} (403: ${detail})`, err);
    case 404:
      return final(ErrorCode.NotFound, `model "${ctx.model}" not found at ${ctx.baseURL} (404: ${detail}): check the model name and OPENAI_BASE_URL`, err);
    case 400:
    case 422:
      return final(ErrorCode.InvalidArgument, `the model server refused the request (${status}: ${detail})`, err);
    case 429:
      if (err.code === "insufficient_quota") {
        return final(ErrorCode.ResourceExhausted, `the API key has no quota left at ${ctx.baseURL} (429: ${detail}): check the plan and billing`, err);
      }
      return { error: new TetherError(ErrorCode.Unavailable, `rate limited by ${ctx.baseURL} (429: ${detail})`, { cause: err }), retryable: true, ...withWait };
    default:
      if (status >= 500 || status === 408) {
        return { error: new TetherError(ErrorCode.Unavailable, `the model server at ${ctx.baseURL} failed (${status}: ${detail})`, { cause: err }), retryable: true, ...withWait };
      }
      return final(ErrorCode.Unknown, `the model server at ${ctx.baseURL} answered ${status}: ${detail}`, err);
  }
}

function streamFailure(err: StreamFailed): ModelFailure {
  const code = err.code ?? "unknown";
  if (code === "context_length_exceeded") {
    return final(ErrorCode.ResourceExhausted, `the conversation no longer fits the model's context window: ${err.message}`, err);
  }
  if (code === "insufficient_quota") return final(ErrorCode.ResourceExhausted, `the API key has no quota left: ${err.message}`, err);
  const error = new TetherError(ErrorCode.Unavailable, `the model reported an error (${code}): ${err.message}`, { cause: err });
  return { error, retryable: RETRYABLE_STREAM_CODES.has(code) };
}

function final(code: ErrorCode, message: string, cause: unknown): ModelFailure {
  return { error: new TetherError(code, message, { cause }), retryable: false };
}

/** The server's own words: `error.message` of the OpenAI error body, else the body's text. */
function serverMessage(err: ModelHttpError): string {
  const body: unknown = err.error;
  if (typeof body === "object" && body !== null && "message" in body && typeof body.message === "string" && body.message.length > 0) {
    return body.message.slice(0, 500);
  }
  return err.message.slice(0, 500);
}

/** `retry-after-ms` (OpenAI's own), else `retry-after` as seconds or an HTTP date. */
export function retryAfter(headers: HeaderLookup | undefined, now: () => number): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get("retry-after-ms") ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now()) : undefined;
}

function isNetworkErrno(err: unknown): boolean {
  const code = typeof err === "object" && err !== null && "code" in err ? (err).code : undefined;
  return typeof code === "string" && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/.test(code);
}
