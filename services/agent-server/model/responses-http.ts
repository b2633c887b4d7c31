// One streamed Responses API call over node:http(s): POST the body, then the server-sent
// events, parsed. Not the `openai` package's client (its types are still ours): that client
// builds every request with the global `Headers` and `fetch`, and loading them (Node's
// bundled undici) costs ≈ 48 ms of CPU at start-up against ≈ 8 ms for node:http — more than
// the agent's whole first-request budget (issue 15: ≤ 60 ms from process start).
import type { IncomingHttpHeaders, IncomingMessage, RequestOptions } from "node:http";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { type HeaderLookup, ModelConnectionError, ModelHttpError, StreamDropped, StreamFailed } from "./model-failure.js";
import type { StreamEventLike } from "./responses-event-mapper.js";

/** One event's data (in UTF-16 code units) may not exceed this (a response's largest event carries its whole output). */
export const MAX_SSE_EVENT_BYTES = 64 * 1024 * 1024;
/** Of an error response, this much of the body is read (the server's message). */
const MAX_ERROR_BODY = 64 * 1024;

export interface ResponsesPost {
  /** The endpoint, e.g. https://api.openai.com/v1/responses. */
  url: string;
  apiKey: string;
  headers?: Record<string, string>;
  /** The request body, JSON (toResponsesJson). */
  body: string;
  /** Aborting destroys the request (before or after its headers); the generator then throws. */
  signal: AbortSignal;
  /** Default MAX_SSE_EVENT_BYTES. */
  maxEventBytes?: number;
}

/**
 * Yields the stream's events in order; throws ModelHttpError for a non-2xx answer,
 * ModelConnectionError before the headers, StreamDropped when the body breaks off,
 * SyntaxError for malformed event data and StreamFailed for an `error` event without a type.
 */
export async function* postResponsesStream(post: ResponsesPost): AsyncGenerator<StreamEventLike> {
  const payload = Buffer.from(post.body);
  const url = new URL(post.url);
  const options: RequestOptions = {
    method: "POST",
    signal: post.signal,
    headers: {
      ...post.headers,
      authorization: `Bearer ${post.apiKey}`,
      "content-type": "application/json",
      accept: "text/event-stream",
      "content-length": payload.length,
    },
  };
  // Not `import … from "node:http"`: as an ES module import, node:http's exports are all
  // read at once, its lazy WebSocket/EventSource getters included, and they load undici
  // (≈ 20 ms of CPU). https (and tls with it) only when the server is one.
  const send = url.protocol === "https:" ? process.getBuiltinModule("node:https").request : process.getBuiltinModule("node:http").request;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, options, resolve);
    req.once("error", (err) => reject(post.signal.aborted ? err : new ModelConnectionError(err.message, { cause: err })));
    req.end(payload);
  });
  let complete = false;
  try {
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw await httpError(res, status);
    yield* readEvents(res, post.signal, post.maxEventBytes ?? MAX_SSE_EVENT_BYTES);
    complete = true;
  } finally {
    // A caller that stopped early, or a failure: the connection is not left half-read.
    if (!complete) res.destroy();
  }
}

async function* readEvents(res: IncomingMessage, signal: AbortSignal, maxEventBytes: number): AsyncGenerator<StreamEventLike> {
  res.setEncoding("utf8");
  // The start of a line whose end has not arrived, in pieces (a long line is joined once).
  let tail: string[] = [];
  let tailLength = 0;
  let event = "";
  let data: string[] = [];
  let dataLength = 0;
  let done = false;
  try {
    for await (const chunk of res as AsyncIterable<string>) {
      let start = 0;
      for (let nl = chunk.indexOf("\n"); nl >= 0; nl = chunk.indexOf("\n", start)) {
        let line = chunk.slice(start, nl);
        start = nl + 1;
        if (tail.length > 0) {
          line = tail.join("") + line;
          tail = [];
          tailLength = 0;
        }
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line === "") {
          if (data.length > 0 && !done) {
            const parsed = parseEvent(event, data.join("\n"));
            if (parsed === "done") done = true;
            else {
              // Events already read stop at once when the caller aborts (one chunk holds many).
              signal.throwIfAborted();
              yield parsed;
            }
          }
          event = "";
          data = [];
          dataLength = 0;
          continue;
        }
        if (line.startsWith(":")) continue; // a comment (keep-alive)
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
        if (field === "event") event = value;
        else if (field === "data") {
          data.push(value);
          dataLength += value.length;
        }
      }
      if (start < chunk.length) {
        tail.push(chunk.slice(start));
        tailLength += chunk.length - start;
      }
      if (tailLength + dataLength > maxEventBytes) {
        throw new TetherError(ErrorCode.DataLoss, `the model server sent an event of more than ${Math.round(maxEventBytes / 1024)} KiB: is the base URL a Responses API server?`);
      }
    }
  } catch (err) {
    if (signal.aborted || err instanceof TetherError || err instanceof SyntaxError || err instanceof StreamFailed) throw err;
    // The body broke off (a reset, a proxy that died): the caller may retry the request.
    throw new StreamDropped(`the connection broke: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** One event's data as JSON (SyntaxError when it is not an object: DATA_LOSS upstream). */
function parseEvent(event: string, text: string): StreamEventLike | "done" {
  if (text === "[DONE]") return "done";
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new SyntaxError(`event data is not a JSON object: ${text.slice(0, 80)}`);
  const record = parsed as Record<string, unknown>;
  if (typeof record.type === "string") return record as StreamEventLike;
  // `event: error` with `{error: {code, message}}`, as some Responses-compatible servers send it.
  if (event === "error" || typeof record.error === "object") {
    const error = (typeof record.error === "object" && record.error !== null ? record.error : record) as { code?: unknown; message?: unknown };
    throw new StreamFailed(typeof error.code === "string" ? error.code : undefined, typeof error.message === "string" ? error.message : "error event");
  }
  return { ...record, type: "" };
}

async function httpError(res: IncomingMessage, status: number): Promise<ModelHttpError> {
  let text = "";
  try {
    res.setEncoding("utf8");
    for await (const chunk of res as AsyncIterable<string>) {
      text += chunk;
      if (text.length >= MAX_ERROR_BODY) break;
    }
  } catch {
    // The status is what matters; a body cut short leaves the message shorter.
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = typeof body === "object" && body !== null && "error" in body ? body.error : body;
  const message = text.trim() === "" ? `${status} status code (no body)` : `${status} ${text.trim().slice(0, 500)}`;
  return new ModelHttpError(status, headerLookup(res.headers), error, message);
}

function headerLookup(headers: IncomingHttpHeaders): HeaderLookup {
  return {
    get: (name) => {
      const value = headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
  };
}
