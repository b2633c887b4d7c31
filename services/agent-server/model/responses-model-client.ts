// The real ModelClient: the OpenAI Responses API, streamed, with the `openai` package's
// request and event types over node:http (responses-http.ts says why not its client). It
// owns retries (429, 5xx, network, dropped streams; with backoff, jitter and Retry-After, on
// the injected clock), the start-up timeout, cancellation, and failure classification.
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { systemClock, type Clock } from "../../exec-server/process/stopwatch.js";
import type { ModelCallOptions, ModelClient, ModelEvent, ModelRequest } from "./model-client.js";
import { classifyModelFailure, ModelConnectionError, StreamDropped, type FailureContext } from "./model-failure.js";
import { ResponsesEventMapper } from "./responses-event-mapper.js";
import { postResponsesStream } from "./responses-http.js";
import { toResponsesJson } from "./responses-request.js";

export interface ResponsesModelClientOptions {
  /** Default: env OPENAI_API_KEY. */
  apiKey?: string;
  /** Default: env OPENAI_BASE_URL, else https://api.openai.com/v1. */
  baseURL?: string;
  /** Where OPENAI_API_KEY and OPENAI_BASE_URL are read (default process.env). */
  env?: Record<string, string | undefined>;
  /** The variable the key comes from, named in errors (default OPENAI_API_KEY; a provider's env_key). */
  apiKeyEnv?: string;
  /** Extra HTTP headers on every request. */
  headers?: Record<string, string>;
  /** Query parameters on every request's URL (a provider's query_params, e.g. Azure's api-version). */
  query?: Record<string, string>;
  /** Attempts per call, the first included (default 5). */
  maxAttempts?: number;
  /** First retry delay before jitter; doubles per attempt up to maxBackoffMs (defaults 500, 8000). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A Retry-After longer than this fails the call instead of waiting (default 60 s). */
  maxRetryDelayMs?: number;
  /** How long the server may take to send response.created (default 15 s). */
  startupTimeoutMs?: number;
  /** After response.created, how long the stream may stay silent before it counts as dropped (default 300 s). */
  streamIdleTimeoutMs?: number;
  /** Timers for backoff and the start-up timeout. */
  clock?: Clock;
  /** Wall-clock milliseconds, for Retry-After given as an HTTP date. */
  now?: () => number;
  /** In [0, 1): jitter. */
  random?: () => number;
}

const DEFAULT_BASE_URL = "https://api.openai.com/v1";

export class ResponsesModelClient implements ModelClient {
  readonly baseURL: string;
  readonly #apiKeyEnv: string;
  readonly #apiKey: string | undefined;
  readonly #headers: Record<string, string> | undefined;
  /** "" or "?a=b…", after /responses. */
  readonly #query: string;
  readonly #maxAttempts: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #startupTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(options: ResponsesModelClientOptions = {}) {
    const env = options.env ?? process.env;
    this.baseURL = (options.baseURL ?? nonEmpty(env.OPENAI_BASE_URL) ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.#apiKeyEnv = options.apiKeyEnv ?? "OPENAI_API_KEY";
    const apiKey = options.apiKey ?? nonEmpty(env[this.#apiKeyEnv]);
    this.#maxAttempts = positive(options.maxAttempts ?? 5, "maxAttempts");
    this.#initialBackoffMs = positive(options.initialBackoffMs ?? 500, "initialBackoffMs");
    this.#maxBackoffMs = positive(options.maxBackoffMs ?? 8_000, "maxBackoffMs");
    this.#maxRetryDelayMs = positive(options.maxRetryDelayMs ?? 60_000, "maxRetryDelayMs");
    this.#startupTimeoutMs = positive(options.startupTimeoutMs ?? 15_000, "startupTimeoutMs");
    this.#idleTimeoutMs = positive(options.streamIdleTimeoutMs ?? 300_000, "streamIdleTimeoutMs");
    this.#clock = options.clock ?? systemClock;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#apiKey = apiKey;
    this.#headers = options.headers;
    this.#query = options.query !== undefined && Object.keys(options.query).length > 0 ? `?${new URLSearchParams(options.query).toString()}` : "";
  }

  /** Throws what a request would without a key: a caller can say so before it starts any work (tether exec). */
  checkApiKey(): void {
    if (this.#apiKey === undefined) {
      throw new TetherError(
        ErrorCode.Unauthenticated,
        `no API key for the model server at ${this.baseURL}: set ${this.#apiKeyEnv} (a local server without auth takes any value)`,
      );
    }
  }

  async *stream(request: ModelRequest, options: ModelCallOptions): AsyncIterable<ModelEvent> {
    const { signal } = options;
    this.checkApiKey();
    const apiKey = this.#apiKey!;
    const body = toResponsesJson(request);
    const ctx: FailureContext = { model: request.model, baseURL: this.baseURL, apiKeyEnv: this.#apiKeyEnv, now: this.#now };
    for (let attempt = 1; ; attempt++) {
      // Items handed out cannot be taken back (the caller may have stored or started them):
      // once one was, a failure is final. Deltas alone are dropped by the `retrying` event.
      let committed = false;
      try {
        for await (const event of this.#attempt(apiKey, body, signal)) {
          if (event.type === "item.done") committed = true;
          yield event;
        }
        return;
      } catch (err) {
        if (signal.aborted) throw cancelled(signal);
        const failure = classifyModelFailure(err, ctx);
        if (!failure.retryable) throw failure.error;
        if (committed) {
          throw new TetherError(failure.error.code, `${failure.error.message} (not retried: the response had already produced items)`, { cause: err });
        }
        if (attempt >= this.#maxAttempts) {
          // Never reached at all: the address is the likely mistake, and where it comes from is what to check.
          const hint = err instanceof ModelConnectionError ? `; is a model server running there? it comes from OPENAI_BASE_URL, or base_url / [model_providers] in config.toml` : "";
          throw new TetherError(ErrorCode.Unavailable, `the model request failed ${attempt} times, giving up; last error: ${failure.error.message}${hint}`, { cause: failure.error });
        }
        const delayMs = Math.round(failure.retryAfterMs ?? this.#backoff(attempt));
        if (delayMs > this.#maxRetryDelayMs) {
          throw new TetherError(ErrorCode.Unavailable, `${failure.error.message}; the server asks to retry after ${Math.ceil(delayMs / 1000)} s, longer than the ${Math.round(this.#maxRetryDelayMs / 1000)} s allowed`, { cause: failure.error });
        }
        yield { type: "retrying", attempt: attempt + 1, maxAttempts: this.#maxAttempts, delayMs, reason: failure.error.message };
        await sleepOn(this.#clock, delayMs, signal);
      }
    }
  }

  /** One HTTP request and its stream; throws what went wrong, unclassified. */
  async *#attempt(apiKey: string, body: string, signal: AbortSignal): AsyncGenerator<ModelEvent> {
    if (signal.aborted) throw cancelled(signal);
    const request = new AbortController();
    const onAbort = () => request.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    // One watchdog: first the start-up timeout (until response.created), then the idle
    // timeout, re-armed lazily from the time of the last event rather than per event.
    const clock = this.#clock;
    let timedOut: TetherError | undefined;
    let stalled: StreamDropped | undefined;
    let idle = false;
    let lastActivity = clock.now();
    let timer: unknown;
    const fire = () => {
      if (!idle) {
        timedOut = new TetherError(
          ErrorCode.DeadlineExceeded,
          `the model did not start answering within ${formatMs(this.#startupTimeoutMs)}: check that the model server at ${this.baseURL} is up and not overloaded`,
        );
        request.abort(timedOut);
        return;
      }
      const quiet = clock.now() - lastActivity;
      if (quiet < this.#idleTimeoutMs) {
        timer = clock.setTimeout(fire, this.#idleTimeoutMs - quiet);
        return;
      }
      stalled = new StreamDropped(`no event for ${formatMs(this.#idleTimeoutMs)}: the stream stalled`);
      request.abort(stalled);
    };
    timer = clock.setTimeout(fire, this.#startupTimeoutMs);
    const mapper = new ResponsesEventMapper();
    // What an abort (ours: the watchdog, the caller) meant, whatever the request threw.
    const why = () => timedOut ?? (signal.aborted ? cancelled(signal) : stalled);
    try {
      const stream = postResponsesStream({ url: `${this.baseURL}/responses${this.#query}`, apiKey, headers: this.#headers, body, signal: request.signal });
      for await (const event of stream) {
        lastActivity = clock.now();
        // Read on to the end of the body after `completed` (keeps the connection reusable).
        if (mapper.finished) continue;
        const events = mapper.map(event);
        if (mapper.created && !idle) {
          idle = true;
          clock.clearTimeout(timer);
          timer = clock.setTimeout(fire, this.#idleTimeoutMs);
        }
        yield* events;
        // Time the caller spent before asking for more is not the server's silence.
        lastActivity = clock.now();
      }
      const reason = why();
      if (reason) throw reason;
      if (!mapper.finished) throw new StreamDropped(mapper.created ? "the stream closed before response.completed" : "the stream closed before response.created");
    } catch (err) {
      throw why() ?? err;
    } finally {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      // A caller that stopped early, or a failure: cancel the HTTP request at once.
      if (!mapper.finished) request.abort(new TetherError(ErrorCode.Cancelled, "model stream closed"));
    }
  }

  /** Exponential backoff with ±20 % jitter, so many clients do not retry in step. */
  #backoff(failedAttempt: number): number {
    const base = Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** (failedAttempt - 1));
    return base * (0.8 + 0.4 * this.#random());
  }
}

function cancelled(signal: AbortSignal): TetherError {
  const reason: unknown = signal.reason;
  if (reason instanceof TetherError) return reason;
  return new TetherError(ErrorCode.Cancelled, "the model request was cancelled", { cause: reason });
}

/** Sleeps on the injected clock; the signal ends the wait at once with CANCELLED (or its reason). */
function sleepOn(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(cancelled(signal));
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(cancelled(signal));
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function positive(value: number, name: string): number {
  if (!(Number.isFinite(value) && value > 0)) throw new TetherError(ErrorCode.InvalidArgument, `${name} must be a positive number, got ${value}`);
  return value;
}
