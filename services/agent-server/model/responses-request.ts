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
