// Builds the OpenAI Responses API streaming events for one scripted response, in the order
// and shapes the real API sends them (the openai SDK and the Codex CLI both parse these):
// response.created → in_progress → per output item: added, deltas, done → response.completed.

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface StreamEvent {
  type: string;
  [key: string]: unknown;
}

type OutputItem = Record<string, unknown> & { type: string };

/** One response's event builder: keeps output indexes, sequence numbers and the output list. */
export class ResponseStream {
  readonly responseId: string;
  private readonly model: string;
  private readonly createdAt: number;
  private readonly request: Record<string, unknown>;
  private seq = 0;
  private readonly output: OutputItem[] = [];
  private itemCount = 0;

  constructor(opts: { responseId: string; model: string; createdAt: number; request: Record<string, unknown> }) {
    this.responseId = opts.responseId;
    this.model = opts.model;
    this.createdAt = opts.createdAt;
    this.request = opts.request;
  }

  /** Function and custom tool call ids this response made (complete items only). */
  get callIds(): string[] {
    return this.output.flatMap((item) =>
      item.type === "function_call" || item.type === "custom_tool_call" ? [String(item.call_id)] : [],
    );
  }

  created(): StreamEvent[] {
    return [
      this.event("response.created", { response: this.response("in_progress", null) }),
      this.event("response.in_progress", { response: this.response("in_progress", null) }),
    ];
  }

  completed(usage: ResponsesUsage): StreamEvent {
    return this.event("response.completed", { response: this.response("completed", usage) });
  }

  incomplete(reason: string, usage: ResponsesUsage): StreamEvent {
    const response = { ...this.response("incomplete", usage), incomplete_details: { reason } };
    return this.event("response.incomplete", { response });
  }

  failed(error: { code: string; message: string }): StreamEvent {
    return this.event("response.failed", { response: { ...this.response("failed", null), error } });
  }

  /** The final Response object (non-streaming answers). */
  response(status: string, usage: ResponsesUsage | null): Record<string, unknown> {
    const r = this.request;
    return {
      id: this.responseId,
      object: "response",
      created_at: this.createdAt,
      status,
      background: false,
      error: null,
      incomplete_details: null,
      instructions: r.instructions ?? null,
      max_output_tokens: r.max_output_tokens ?? null,
      model: this.model,
      output: status === "in_progress" ? [] : [...this.output],
      parallel_tool_calls: r.parallel_tool_calls ?? true,
      previous_response_id: r.previous_response_id ?? null,
      prompt_cache_key: r.prompt_cache_key ?? null,
      reasoning: r.reasoning ?? { effort: null, summary: null },
      store: r.store ?? false,
      temperature: 1,
      text: r.text ?? { format: { type: "text" } },
      tool_choice: r.tool_choice ?? "auto",
      tools: r.tools ?? [],
      top_p: 1,
      truncation: "disabled",
      usage,
      metadata: {},
    };
  }

  /** `partial`: only the start and the deltas, as a stream cut mid-message shows. */
  message(text: string, deltas: string[], partial = false): StreamEvent[] {
    const id = this.nextId("msg");
    const index = this.output.length;
    const base = { type: "message", id, role: "assistant" };
    const part = { type: "output_text", text: "", annotations: [], logprobs: [] };
    const done = { ...part, text };
    const at = { item_id: id, output_index: index, content_index: 0 };
    const item = { ...base, status: "completed", content: [done] };
    const start = [
      this.event("response.output_item.added", { output_index: index, item: { ...base, status: "in_progress", content: [] } }),
      this.event("response.content_part.added", { ...at, part }),
      ...deltas.map((delta) => this.event("response.output_text.delta", { ...at, delta, logprobs: [] })),
    ];
    if (partial) return start;
    this.output.push(item);
    return [
      ...start,
      this.event("response.output_text.done", { ...at, text, logprobs: [] }),
      this.event("response.content_part.done", { ...at, part: done }),
      this.event("response.output_item.done", { output_index: index, item }),
    ];
  }

  reasoning(summary: string[], encryptedContent: string | undefined): StreamEvent[] {
    const id = this.nextId("rs");
    const index = this.output.length;
    const extra = encryptedContent === undefined ? {} : { encrypted_content: encryptedContent };
    const item = {
      type: "reasoning",
      id,
      summary: summary.map((text) => ({ type: "summary_text", text })),
      ...extra,
    };
    this.output.push(item);
    const events = [this.event("response.output_item.added", { output_index: index, item: { type: "reasoning", id, summary: [], ...extra } })];
    summary.forEach((text, summaryIndex) => {
      const at = { item_id: id, output_index: index, summary_index: summaryIndex };
      events.push(
        this.event("response.reasoning_summary_part.added", { ...at, part: { type: "summary_text", text: "" } }),
        ...splitDeltas(text).map((delta) => this.event("response.reasoning_summary_text.delta", { ...at, delta })),
        this.event("response.reasoning_summary_text.done", { ...at, text }),
        this.event("response.reasoning_summary_part.done", { ...at, part: { type: "summary_text", text } }),
      );
    });
    events.push(this.event("response.output_item.done", { output_index: index, item }));
    return events;
  }

  functionCall(name: string, args: string, callId: string): StreamEvent[] {
    const id = this.nextId("fc");
    const index = this.output.length;
    const base = { type: "function_call", id, call_id: callId, name };
    const item = { ...base, arguments: args, status: "completed" };
    this.output.push(item);
    const at = { item_id: id, output_index: index };
    return [
      this.event("response.output_item.added", { output_index: index, item: { ...base, arguments: "", status: "in_progress" } }),
      ...splitDeltas(args).map((delta) => this.event("response.function_call_arguments.delta", { ...at, delta })),
      this.event("response.function_call_arguments.done", { ...at, name, arguments: args }),
      this.event("response.output_item.done", { output_index: index, item }),
    ];
  }

  customToolCall(name: string, input: string, callId: string): StreamEvent[] {
    const id = this.nextId("ctc");
    const index = this.output.length;
    const base = { type: "custom_tool_call", id, call_id: callId, name };
    const item = { ...base, input, status: "completed" };
    this.output.push(item);
    const at = { item_id: id, output_index: index };
    return [
      this.event("response.output_item.added", { output_index: index, item: { ...base, input: "", status: "in_progress" } }),
      ...splitDeltas(input).map((delta) => this.event("response.custom_tool_call_input.delta", { ...at, delta })),
      this.event("response.custom_tool_call_input.done", { ...at, input }),
      this.event("response.output_item.done", { output_index: index, item }),
    ];
  }

  /** Any event, for shapes the script has no step for. */
  raw(type: string, fields: Record<string, unknown>): StreamEvent {
    return this.event(type, fields);
  }

  private event(type: string, fields: Record<string, unknown>): StreamEvent {
    return { type, sequence_number: this.seq++, ...fields };
  }

  private nextId(prefix: string): string {
    return `${prefix}_${this.responseId.slice("resp_".length)}_${this.itemCount++}`;
  }
}

/** Splits text into at most four deltas at spaces, as a model streams tokens (never empty). */
export function splitDeltas(text: string): string[] {
  if (text.length === 0) return [""];
  const size = Math.max(1, Math.ceil(text.length / 4));
  const out: string[] = [];
  let rest = text;
  while (rest.length > 0 && out.length < 3) {
    const cut = rest.indexOf(" ", size);
    if (cut < 0 || cut + 1 >= rest.length) break;
    out.push(rest.slice(0, cut + 1));
    rest = rest.slice(cut + 1);
  }
  out.push(rest);
  return out;
}

/** One SSE frame: `event:` names the type, `data:` carries the JSON (one line). */
export function sseFrame(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
