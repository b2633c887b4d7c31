// A scripted OpenAI Responses API server on loopback for agent tests, Codex-compatibility
// tests and benchmarks: real HTTP and SSE, one scripted response per request, every request
// recorded, and check() verifying that each tool call the model made got exactly one output.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { abortedPromise, apiError, readBody, sendJson, startStream, waitDrain } from "./responses-http.js";
import { ResponseStream, sseFrame, splitDeltas, type ResponsesUsage, type StreamEvent } from "./responses-stream.js";
import {
  outputCounts,
  unansweredToolCalls,
  type Script,
  type ScriptItem,
  type ScriptRequest,
  type ScriptResponse,
  type ScriptStep,
  type UsageOverride,
} from "./responses-script.js";

export * from "./responses-script.js";

export interface ResponsesServerOptions {
  script: Script;
  /** Largest request body accepted (413 above it). Default 64 MiB. */
  maxBodyBytes?: number;
  /**
   * Request bodies kept in `requests`/`received` (older ones are replaced by `{}`; check()
   * stays exact). Long benchmarks resend a growing history each request: bound it there.
   * Default: all.
   */
  keepBodies?: number;
}

export type ResponseOutcome = "completed" | "incomplete" | "failed" | "http_error" | "dropped" | "malformed" | "client_closed";

/** What the server did for one request. */
export interface ServedResponse {
  requestIndex: number;
  responseId: string;
  outcome: ResponseOutcome;
  /** Call ids of function and custom tool calls sent in full (only counted when completed). */
  callIds: string[];
}

export interface ResponsesServer extends AsyncDisposable {
  /** Base URL ending in /v1, for OPENAI_BASE_URL or a Codex model_providers base_url. */
  readonly url: string;
  /** Parsed JSON bodies of every POST to /v1/responses, in arrival order (see keepBodies). */
  readonly requests: Record<string, unknown>[];
  /** Every request with path and headers, in arrival order. */
  readonly received: ScriptRequest[];
  readonly served: ServedResponse[];
  /** Resolves once `count` requests in total arrived (rejects on the signal). */
  waitForRequests(count: number, signal?: AbortSignal): Promise<void>;
  /** Resolves once `count` responses in total were finished (any outcome). */
  waitForServed(count: number, signal?: AbortSignal): Promise<void>;
  /** Throws an Error naming each problem: unanswered or doubly answered tool calls, script overruns. */
  check(): void;
  close(): Promise<void>;
}

const DEFAULT_USAGE = { inputTokens: 100, cachedInputTokens: 0, outputTokens: 20, reasoningOutputTokens: 0 };

export async function startResponsesServer(options: ResponsesServerOptions): Promise<ResponsesServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const requests: Record<string, unknown>[] = [];
  const received: ScriptRequest[] = [];
  const keepBodies = options.keepBodies ?? Infinity;
  /** Per request: outputs per call id (kept when the body is dropped). */
  const counts: Map<string, number>[] = [];
  const served: ServedResponse[] = [];
  const problems: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const until = (ok: () => boolean, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (ok()) return resolve();
      const done = () => {
        waiters.delete(check);
        signal?.removeEventListener("abort", onAbort);
      };
      const check = () => {
        if (!ok()) return;
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(signal?.reason instanceof Error ? signal.reason : new Error("wait aborted"));
      };
      waiters.add(check);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  const closing = new AbortController();

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      problems.push(`handler failed: ${err instanceof Error ? err.message : String(err)}`);
      res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method !== "POST" || (path !== "/v1/responses" && path !== "/responses")) {
      req.resume();
      sendJson(res, 404, { error: { message: `no route ${req.method} ${path}`, type: "invalid_request_error", code: null, param: null } });
      return;
    }
    const raw = await readBody(req, maxBodyBytes).catch((err: unknown) => err as Error);
    if (raw instanceof Error) {
      sendJson(res, 413, apiError(raw.message, "invalid_request_error"));
      return;
    }
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("body is not a JSON object");
      body = parsed as Record<string, unknown>;
    } catch (err) {
      sendJson(res, 400, apiError(`bad JSON body: ${(err as Error).message}`, "invalid_request_error"));
      return;
    }
    const request: ScriptRequest = { index: received.length, path, query: (req.url ?? "").split("?")[1] ?? "", headers: req.headers, body };
    received.push(request);
    requests.push(body);
    counts.push(outputCounts(body));
    const old = received.length - 1 - keepBodies;
    if (old >= 0 && received[old] !== undefined) {
      received[old] = { ...received[old], body: {} };
      requests[old] = {};
    }
    notify();
    const entry = scriptEntry(options.script, request);
    if (entry === undefined) {
      const message = `scripted Responses server: request #${request.index} is past the end of the script`;
      problems.push(message);
      sendJson(res, 400, apiError(message, "invalid_request_error"));
      return;
    }
    const steps = await expand(entry, request);
    const record: ServedResponse = { requestIndex: request.index, responseId: `resp_${request.index + 1}`, outcome: "client_closed", callIds: [] };
    try {
      await serve(steps, request, res, record);
    } finally {
      served.push(record);
      notify();
    }
  }

  async function serve(steps: ScriptStep[], request: ScriptRequest, res: http.ServerResponse, record: ServedResponse): Promise<void> {
    const stream = new ResponseStream({
      responseId: record.responseId,
      model: typeof request.body.model === "string" ? request.body.model : "scripted",
      createdAt: Math.floor(Date.now() / 1000),
      request: request.body,
    });
    const streaming = request.body.stream === true;
    const first = steps[0];
    if (first?.type === "http_error") {
      const headers: Record<string, string> = { ...first.headers };
      if (first.retryAfter !== undefined) headers["retry-after"] = first.retryAfter;
      if (first.retryAfterMs !== undefined) headers["retry-after-ms"] = String(first.retryAfterMs);
      sendJson(res, first.status, first.body ?? apiError(`scripted error ${first.status}`, "server_error"), headers);
      record.outcome = "http_error";
      return;
    }
    const clientGone = new AbortController();
    res.on("close", () => clientGone.abort());
    const stop = AbortSignal.any([clientGone.signal, closing.signal]);
    let started = false;
    const events: StreamEvent[] = [];
    const emit = async (batch: StreamEvent[]) => {
      if (!streaming) return;
      if (!res.headersSent) startStream(res);
      if (!res.write(batch.map(sseFrame).join(""))) await waitDrain(res, stop);
    };
    const begin = async () => {
      if (started) return;
      started = true;
      await emit(stream.created());
    };
    let ended = false;
    for (const step of steps) {
      if (stop.aborted) return;
      switch (step.type) {
        case "http_error":
          throw new Error("an http_error step must be the first step of its response");
        case "delay":
        case "hang":
          if (!started && !step.beforeHeaders && streaming && !res.headersSent) startStream(res);
          if (step.type === "hang") {
            await abortedPromise(stop);
            return;
          }
          await sleep(step.ms, undefined, { signal: stop }).catch(() => undefined);
          continue;
        case "wait":
          await Promise.race([step.until.then(() => undefined, () => undefined), abortedPromise(stop)]);
          continue;
        case "drop":
          record.outcome = "dropped";
          if (!res.headersSent && streaming) startStream(res);
          // end() flushes what was written, then closes without the chunked terminator, so the
          // client reads every event so far and then a premature end, as from a dying proxy.
          res.socket?.end();
          return;
        case "malformed":
          await begin();
          res.write(`event: response.output_text.delta\ndata: ${step.data ?? '{"type":"response.output_text.delta","delta":'}\n\n`);
          record.outcome = "malformed";
          res.end();
          return;
        default:
          break;
      }
      await begin();
      const batch = contentEvents(stream, step);
      events.push(...batch);
      await emit(batch);
      if (step.type === "completed" || step.type === "incomplete" || step.type === "failed") {
        record.outcome = step.type;
        ended = true;
        break;
      }
    }
    if (stop.aborted) return;
    if (!ended) {
      await begin();
      await emit([stream.completed(usageOf(undefined))]);
      record.outcome = "completed";
    }
    if (record.outcome === "completed") record.callIds = stream.callIds;
    if (streaming) res.end();
    else sendJson(res, 200, stream.response(record.outcome, usageOf(undefined)));
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      closing.abort();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    received,
    served,
    waitForRequests: (count, signal) => until(() => received.length >= count, signal),
    waitForServed: (count, signal) => until(() => served.length >= count, signal),
    check: () => {
      const all = [...problems, ...unansweredToolCalls(served, counts)];
      if (all.length > 0) throw new Error(`scripted Responses server check failed:\n- ${all.join("\n- ")}`);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function contentEvents(stream: ResponseStream, step: ScriptStep): StreamEvent[] {
  switch (step.type) {
    case "message":
      return stream.message(step.text, step.deltas ?? splitDeltas(step.text), step.partial);
    case "reasoning":
      return stream.reasoning(typeof step.summary === "string" ? [step.summary] : step.summary, step.encryptedContent);
    case "function_call": {
      const args = typeof step.arguments === "string" ? step.arguments : JSON.stringify(step.arguments);
      return stream.functionCall(step.name, args, step.callId ?? `call_${stream.responseId.slice(5)}_${stream.callIds.length}`);
    }
    case "custom_tool_call":
      return stream.customToolCall(step.name, step.input, step.callId ?? `call_${stream.responseId.slice(5)}_${stream.callIds.length}`);
    case "completed":
      return [stream.completed(usageOf(step.usage))];
    case "incomplete":
      return [stream.incomplete(step.reason, usageOf(step.usage))];
    case "failed":
      return [stream.failed({ code: step.code, message: step.message })];
    case "raw":
      return [stream.raw(step.event, step.fields ?? {})];
    default:
      throw new Error(`step ${step.type} has no events`);
  }
}

function scriptEntry(script: Script, request: ScriptRequest): ScriptResponse | undefined {
  return typeof script === "function" ? script(request) : script[request.index];
}

async function expand(entry: ScriptResponse, request: ScriptRequest): Promise<ScriptStep[]> {
  const items: ScriptItem[] = typeof entry === "function" ? await entry(request) : entry;
  return items.flatMap((item) => (typeof item === "function" ? item(request) : item));
}

function usageOf(o: UsageOverride | undefined): ResponsesUsage {
  const u = { ...DEFAULT_USAGE, ...o };
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedInputTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningOutputTokens },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

