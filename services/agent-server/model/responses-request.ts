// Our ModelRequest as the Responses API body: conversation items, strict function tools,
// structured output, reasoning, prompt cache key. Stateless (`store: false`): every request
// carries the whole conversation, and reasoning is passed back as encrypted content.
import type { ResponseCreateParamsStreaming, ResponseInputItem, Tool } from "openai/resources/responses/responses";
import type { ConversationItem, ModelRequest } from "./model-client.js";

export function toResponsesBody(request: ModelRequest): ResponseCreateParamsStreaming {
  const body: ResponseCreateParamsStreaming = {
    model: request.model,
    instructions: request.instructions,
    input: request.input.flatMap(toInputItem),
    stream: true,
    store: false,
  };
  if (request.tools.length > 0) {
    body.tools = request.tools.map(
      (tool): Tool => ({ type: "function", name: tool.name, description: tool.description, parameters: tool.parameters, strict: true }),
    );
    body.tool_choice = "auto";
    body.parallel_tool_calls = request.parallelToolCalls ?? true;
  }
  if (request.outputSchema) {
    body.text = { format: { type: "json_schema", name: request.outputSchema.name, schema: request.outputSchema.schema, strict: true } };
  }
  if (request.reasoning) {
    body.reasoning = { ...request.reasoning };
    // Without storage the next request must carry the model's reasoning back, encrypted.
    body.include = ["reasoning.encrypted_content"];
  }
  if (request.promptCacheKey !== undefined) body.prompt_cache_key = request.promptCacheKey;
  return body;
}

/**
 * The request body as JSON, what is sent. A conversation item never changes once made, and a
 * stateless request re-sends every earlier one: each item's JSON is made once and kept with it
 * (so is the thread's tool list's), and a request serialises only what is new since the last.
 */
export function toResponsesJson(request: ModelRequest): string {
  // Everything but the history and the tools: a few small fields (and the instructions).
  const { input: _input, tools, ...rest } = toResponsesBody({ ...request, input: [] });
  const parts = [`"input":[${joinNonEmpty(request.input.map(inputJson))}]`];
  if (tools !== undefined) parts.push(`"tools":${cached(toolsJson, request.tools, () => JSON.stringify(tools))}`);
  return `{${parts.join(",")},${JSON.stringify(rest).slice(1)}`;
}

const itemJson = new WeakMap<ConversationItem, string>();
const toolsJson = new WeakMap<ModelRequest["tools"], string>();

function cached<K extends object>(cache: WeakMap<K, string>, key: K, make: () => string): string {
  let json = cache.get(key);
  if (json === undefined) cache.set(key, (json = make()));
  return json;
}

/** The item's input items as JSON array elements, "" when it sends none. */
function inputJson(item: ConversationItem): string {
  return cached(itemJson, item, () => joinNonEmpty(toInputItem(item).map((i) => JSON.stringify(i))));
}

function joinNonEmpty(parts: string[]): string {
  let out = "";
  for (const p of parts) if (p !== "") out = out === "" ? p : `${out},${p}`;
  return out;
}

function toInputItem(item: ConversationItem): ResponseInputItem[] {
  switch (item.type) {
    case "message":
      if (item.role === "assistant") return [{ type: "message", role: "assistant", content: item.text }];
      return [{ type: "message", role: item.role, content: [{ type: "input_text", text: item.text }] }];
    case "reasoning":
      // A reasoning item is only valid input with its encrypted content when nothing is
      // stored server-side (the API looks the id up otherwise and fails): drop it then.
      if (item.encryptedContent === undefined || item.id === undefined) return [];
      return [
        {
          type: "reasoning",
          id: item.id,
          summary: item.summary.map((text) => ({ type: "summary_text" as const, text })),
          encrypted_content: item.encryptedContent,
        },
      ];
    case "function_call":
      return [{ type: "function_call", call_id: item.callId, name: item.name, arguments: item.arguments }];
    case "function_call_output":
      return [{ type: "function_call_output", call_id: item.callId, output: item.output }];
  }
}
