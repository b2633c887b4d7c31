// The script language of the scripted Responses server: what each model response does,
// including the faults a real API shows (error statuses, dropped streams, bad SSE, stalls).

/** A request as the server received it (the body is the parsed JSON). */
export interface ScriptRequest {
  /** 0-based position among all requests to /v1/responses. */
  index: number;
  path: string;
  /** The request's query string without "?" ("" when none). */
  query?: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export interface UsageOverride {
  inputTokens?: number;
  cachedInputTokens?: number;
  outputTokens?: number;
  reasoningOutputTokens?: number;
}

export type ScriptStep =
  /**
   * An assistant message streamed as output_text deltas (split at spaces unless given).
   * `partial` streams the deltas but never finishes the item (put a drop or hang after it).
   */
  | { type: "message"; text: string; deltas?: string[]; partial?: boolean }
  /** A reasoning item whose summary parts are streamed as reasoning_summary_text deltas. */
  | { type: "reasoning"; summary: string | string[]; encryptedContent?: string }
  /** A function tool call; an object is sent as JSON, a string as is (may be invalid JSON). */
  | { type: "function_call"; name: string; arguments: Record<string, unknown> | string; callId?: string }
  /** A freeform (custom) tool call such as Codex's apply_patch. */
  | { type: "custom_tool_call"; name: string; input: string; callId?: string }
  /** Ends the response with response.completed (added at the end when absent). */
  | { type: "completed"; usage?: UsageOverride }
  /** Ends the response with response.incomplete (e.g. reason "max_output_tokens"). */
  | { type: "incomplete"; reason: string; usage?: UsageOverride }
  /** Ends the response with response.failed carrying this error. */
  | { type: "failed"; code: string; message: string }
  /** Answers an HTTP error instead of a stream; only valid as the first step. */
  | { type: "http_error"; status: number; body?: unknown; retryAfter?: string; retryAfterMs?: number; headers?: Record<string, string> }
  /** Pauses (real time). Before any output it delays response.created; `beforeHeaders` also holds the headers. */
  | { type: "delay"; ms: number; beforeHeaders?: boolean }
  /**
   * Holds the stream until the promise settles: lets a test act on what the client saw
   * before the next step (e.g. drop only after the client read the partial text; fetch
   * discards bytes it has buffered but not handed out when the connection then fails).
   */
  | { type: "wait"; until: Promise<unknown> }
  /** Sends nothing more until the client goes away (or the server closes). */
  | { type: "hang"; beforeHeaders?: boolean }
  /** Destroys the connection at this point, as a proxy or network failure would. */
  | { type: "drop" }
  /** Writes an SSE frame whose data is not JSON, then ends the stream. */
  | { type: "malformed"; data?: string }
  /** Any other event, sent as given (sequence_number added). */
  | { type: "raw"; event: string; fields?: Record<string, unknown> };

/** A step may be computed from the request, e.g. to answer with what a tool returned. */
export type ScriptItem = ScriptStep | ((request: ScriptRequest) => ScriptStep | ScriptStep[]);

/** One model response: a list of steps, or a function of the request that returns them. */
export type ScriptResponse = ScriptItem[] | ((request: ScriptRequest) => ScriptItem[] | Promise<ScriptItem[]>);

/**
 * The whole script: responses in order (the n-th request gets the n-th response), or a
 * function of the request and its index for long or open-ended scripts (return undefined
 * when it is exhausted).
 */
export type Script = ScriptResponse[] | ((request: ScriptRequest) => ScriptResponse | undefined);

/** Tool outputs a request carries (function_call_output and custom_tool_call_output), by call id. */
export function toolOutputs(request: ScriptRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of inputItems(request.body)) {
    if ((item.type === "function_call_output" || item.type === "custom_tool_call_output") && typeof item.call_id === "string") {
      out.set(item.call_id, outputText(item.output));
    }
  }
  return out;
}

/** The output of the given call in this request, or a thrown Error naming what is missing. */
export function toolOutput(request: ScriptRequest, callId: string): string {
  const output = toolOutputs(request).get(callId);
  if (output === undefined) throw new Error(`request #${request.index} carries no output for call ${callId}`);
  return output;
}

export function inputItems(body: Record<string, unknown>): Record<string, unknown>[] {
  const input = body.input;
  if (typeof input === "string") return [{ type: "message", role: "user", content: input }];
  if (!Array.isArray(input)) return [];
  return input.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null);
}

/** An output is a string or a list of content parts (input_text …): read the text either way. */
function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  if (Array.isArray(output)) {
    return output
      .map((part: unknown) => (typeof part === "object" && part !== null && "text" in part ? String(part.text) : ""))
      .join("");
  }
  return JSON.stringify(output);
}

/** Each completed response's tool calls must be answered exactly once by the next request. */
/** How many outputs each call id got in one request: all check() needs of a request body. */
export function outputCounts(body: Record<string, unknown>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of inputItems(body)) {
    if ((item.type === "function_call_output" || item.type === "custom_tool_call_output") && typeof item.call_id === "string") {
      counts.set(item.call_id, (counts.get(item.call_id) ?? 0) + 1);
    }
  }
  return counts;
}

export function unansweredToolCalls(
  served: readonly { requestIndex: number; responseId: string; callIds: string[] }[],
  counts: readonly Map<string, number>[],
): string[] {
  const problems: string[] = [];
  for (const response of served) {
    if (response.callIds.length === 0) continue;
    const next = counts[response.requestIndex + 1];
    if (next === undefined) {
      problems.push(`${response.responseId} (request #${response.requestIndex}) made calls ${response.callIds.join(", ")} but no request followed with their outputs`);
      continue;
    }
    for (const id of response.callIds) {
      const n = next.get(id) ?? 0;
      if (n !== 1) problems.push(`call ${id} of ${response.responseId} got ${n} outputs in request #${response.requestIndex + 1} (expected exactly 1)`);
    }
  }
  return problems;
}

/**
 * A turn run where the commands go: the first request's instructions are kept (for what AGENTS.md
 * sent), the model runs `echo MARKER`, and answers "ran" if its output came back ("?" if not).
 */
export function runsEchoThere(marker: string): { script: Script; instructions: () => string } {
  let instructions = "";
  const script: Script = [
    [
      (req) => {
        instructions = String(req.body.instructions);
        return { type: "function_call", name: "exec_command", arguments: { cmd: `echo ${marker}`, login: false }, callId: "c1" };
      },
    ],
    [(req) => ({ type: "message", text: toolOutput(req, "c1").includes(marker) ? "ran" : "?" })],
  ];
  return { script, instructions: () => instructions };
}
