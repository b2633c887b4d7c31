// The events `tether exec --json` prints, one per line: the names and shapes `codex exec
// --json` prints (Codex CLI 0.171.0), so tools that read one read the other. One zod schema
// gives the types, the validator the tests use, and docs/exec-json-events.schema.json.
import * as z from "zod";

const Usage = z
  .strictObject({
    input_tokens: z.number().int().min(0),
    cached_input_tokens: z.number().int().min(0),
    cache_write_input_tokens: z.number().int().min(0),
    output_tokens: z.number().int().min(0),
    reasoning_output_tokens: z.number().int().min(0),
  })
  .describe("Token use of the turn.");

const ThreadError = z.strictObject({ message: z.string() });

const itemId = z.string().regex(/^item_\d+$/).describe("item_0, item_1, … in the order items first appear");

const ExecItemSchema = z.discriminatedUnion("type", [
  z.strictObject({ id: itemId, type: z.literal("agent_message"), text: z.string().describe("the answer; a JSON string with --output-schema") }),
  z.strictObject({ id: itemId, type: z.literal("reasoning"), text: z.string() }),
  z.strictObject({
    id: itemId,
    type: z.literal("command_execution"),
    command: z.string(),
    aggregated_output: z.string().describe("stdout and stderr as the model saw them (cut head + tail when long)"),
    exit_code: z.number().int().nullable(),
    status: z.enum(["in_progress", "completed", "failed", "declined"]),
  }),
  z.strictObject({
    id: itemId,
    type: z.literal("file_change"),
    changes: z.array(z.strictObject({ path: z.string(), kind: z.enum(["add", "delete", "update"]) })),
    status: z.enum(["in_progress", "completed", "failed"]),
  }),
  z.strictObject({
    id: itemId,
    type: z.literal("todo_list"),
    items: z.array(z.strictObject({ text: z.string(), completed: z.boolean() })),
  }),
  z.strictObject({ id: itemId, type: z.literal("error"), message: z.string().describe("a non-fatal error or warning") }),
]);

export const ExecJsonEventSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("thread.started"), thread_id: z.string().describe("pass to `tether exec resume`") }),
    z.strictObject({ type: z.literal("turn.started") }),
    z.strictObject({ type: z.literal("turn.completed"), usage: Usage }),
    z.strictObject({ type: z.literal("turn.failed"), error: ThreadError }),
    z.strictObject({ type: z.literal("item.started"), item: ExecItemSchema }),
    z.strictObject({ type: z.literal("item.updated"), item: ExecItemSchema }),
    z.strictObject({ type: z.literal("item.completed"), item: ExecItemSchema }),
    z.strictObject({ type: z.literal("error"), message: z.string().describe("the run could not go on (not a turn's failure)") }),
  ])
  .describe("One line of `tether exec --json` (and `codex exec --json`) output.");

export type ExecJsonEvent = z.infer<typeof ExecJsonEventSchema>;
export type ExecItem = z.infer<typeof ExecItemSchema>;

const REFRESH =
  "node -e 'import(\"./clients/cli/exec/exec-json-events.ts\").then((m) => console.log(JSON.stringify(m.execJsonEventsJsonSchema(), null, 2)))' > docs/exec-json-events.schema.json";

/** The JSON schema document of docs/exec-json-events.schema.json. */
export function execJsonEventsJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://github.com/tether/tether/docs/exec-json-events.schema.json",
    title: "tether exec --json event",
    $comment: `generated from clients/cli/exec/exec-json-events.ts; refresh: ${REFRESH}`,
    ...(z.toJSONSchema(ExecJsonEventSchema, { target: "draft-2020-12" }) as Record<string, unknown>),
  };
}
