import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { ThreadEvent } from "../../../services/agent-server/thread/thread-event.js";
import {
  COMMAND_TURN,
  DECLINED_TURN,
  FAILED_TURN,
  INTERRUPTED_TURN,
  PLAN_TURN,
  USAGE,
} from "../../../test/support/recorded-thread-events.js";
import { INITIAL_EXEC_MAP_STATE, mapEvent, mapEvents } from "./exec-event-mapper.js";
import { ExecJsonEventSchema, execJsonEventsJsonSchema } from "./exec-json-events.js";

const SCHEMA_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../docs/exec-json-events.schema.json");
const usage = { input_tokens: 1200, cached_input_tokens: 200, cache_write_input_tokens: 0, output_tokens: 345, reasoning_output_tokens: 40 };

describe("mapEvent", () => {
  it.each<[string, ThreadEvent[], unknown[]]>([
    [
      "a command turn: reasoning and the answer once, completed; the command started and completed",
      COMMAND_TURN,
      [
        { type: "thread.started", thread_id: "th-1" },
        { type: "turn.started" },
        { type: "item.completed", item: { id: "item_0", type: "reasoning", text: "look at the log" } },
        { type: "item.started", item: { id: "item_1", type: "command_execution", command: "make", aggregated_output: "", exit_code: null, status: "in_progress" } },
        {
          type: "item.completed",
          item: { id: "item_1", type: "command_execution", command: "make", aggregated_output: "cc -o app\nok\n", exit_code: 0, status: "completed" },
        },
        { type: "item.completed", item: { id: "item_2", type: "agent_message", text: "The build passes." } },
        { type: "turn.completed", usage },
      ],
    ],
    [
      "a plan as one todo_list completed at the end of the turn; retries and warnings as error items",
      PLAN_TURN,
      [
        { type: "turn.started" },
        { type: "item.started", item: { id: "item_0", type: "todo_list", items: [{ text: "read", completed: false }, { text: "patch", completed: false }] } },
        { type: "item.completed", item: { id: "item_1", type: "error", message: "model request failed (HTTP 429); retrying in 1.5 s (attempt 1 of 5)" } },
        { type: "item.started", item: { id: "item_2", type: "file_change", changes: [{ path: "src/a.ts", kind: "update" }], status: "in_progress" } },
        { type: "item.completed", item: { id: "item_2", type: "file_change", changes: [{ path: "src/a.ts", kind: "update" }], status: "completed" } },
        { type: "item.updated", item: { id: "item_0", type: "todo_list", items: [{ text: "read", completed: true }, { text: "patch", completed: true }] } },
        { type: "item.completed", item: { id: "item_3", type: "error", message: "AGENTS.md is larger than 32 KiB: cut" } },
        { type: "item.completed", item: { id: "item_4", type: "agent_message", text: "Patched." } },
        { type: "item.completed", item: { id: "item_0", type: "todo_list", items: [{ text: "read", completed: true }, { text: "patch", completed: true }] } },
        { type: "turn.completed", usage },
      ],
    ],
    [
      "a declined command: no approval events, the command declined",
      DECLINED_TURN,
      [
        { type: "turn.started" },
        { type: "item.completed", item: { id: "item_0", type: "command_execution", command: "git push", aggregated_output: "", exit_code: null, status: "declined" } },
        { type: "item.completed", item: { id: "item_1", type: "agent_message", text: "I could not push." } },
        { type: "turn.completed", usage },
      ],
    ],
    [
      "a failed turn: open items closed as failed, then error and turn.failed with the message",
      FAILED_TURN,
      [
        { type: "turn.started" },
        { type: "item.started", item: { id: "item_0", type: "command_execution", command: "sleep 100", aggregated_output: "", exit_code: null, status: "in_progress" } },
        { type: "item.completed", item: { id: "item_1", type: "error", message: "tool output was cut to 10 KiB" } },
        { type: "item.completed", item: { id: "item_0", type: "command_execution", command: "sleep 100", aggregated_output: "", exit_code: null, status: "failed" } },
        { type: "error", message: "the model server at http://127.0.0.1:1/v1 is unreachable" },
        { type: "turn.failed", error: { message: "the model server at http://127.0.0.1:1/v1 is unreachable" } },
      ],
    ],
    [
      "an interrupted turn fails: partial text is not printed",
      INTERRUPTED_TURN,
      [{ type: "turn.started" }, { type: "error", message: "the turn was interrupted" }, { type: "turn.failed", error: { message: "the turn was interrupted" } }],
    ],
  ])("%s", (_name, input, expected) => {
    expect(mapEvents(input).events).toEqual(expected);
  });

  it("keeps the last agent message of the turn and how the turn ended", () => {
    expect(mapEvents(COMMAND_TURN).state).toMatchObject({ lastMessage: "The build passes.", outcome: "completed" });
    expect(mapEvents(FAILED_TURN).state).toMatchObject({ lastMessage: undefined, outcome: "failed" });
    expect(mapEvents(INTERRUPTED_TURN).state.outcome).toBe("failed");
  });

  it("is pure: the state passed in is never changed", () => {
    const before = structuredClone({ ...INITIAL_EXEC_MAP_STATE, open: [...INITIAL_EXEC_MAP_STATE.open] });
    let state = INITIAL_EXEC_MAP_STATE;
    const snapshots = [];
    for (const event of COMMAND_TURN) {
      const frozen = JSON.stringify({ ...state, open: [...state.open] });
      const next = mapEvent(event, state).state;
      expect(JSON.stringify({ ...state, open: [...state.open] })).toBe(frozen);
      snapshots.push(frozen);
      state = next;
    }
    expect({ ...INITIAL_EXEC_MAP_STATE, open: [...INITIAL_EXEC_MAP_STATE.open] }).toEqual(before);
  });

  it("numbers items across turns of one run (resume prints on from where it was)", () => {
    const first = mapEvents(COMMAND_TURN);
    const second = mapEvents(COMMAND_TURN.slice(1), first.state);
    expect(second.events.find((e) => e.type === "item.completed")).toMatchObject({ item: { id: "item_3" } });
    expect(USAGE.outputTokens).toBe(345);
  });
});

describe("the exec --json schema", () => {
  it("docs/exec-json-events.schema.json is generated from the zod schema (run the command in its $comment to refresh)", () => {
    const onDisk = JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Record<string, unknown>;
    expect(onDisk).toEqual(execJsonEventsJsonSchema());
  });

  it("every mapped event of every recorded turn validates against the schema file itself", () => {
    const fromFile = z.fromJSONSchema(JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Parameters<typeof z.fromJSONSchema>[0]);
    for (const turn of [COMMAND_TURN, PLAN_TURN, DECLINED_TURN, FAILED_TURN, INTERRUPTED_TURN]) {
      for (const event of mapEvents(turn).events) {
        const line = JSON.parse(JSON.stringify(event)) as unknown;
        expect(ExecJsonEventSchema.safeParse(line).success, JSON.stringify(line)).toBe(true);
        expect(fromFile.safeParse(line).success, JSON.stringify(line)).toBe(true);
      }
    }
  });

  it("the file's schema refuses what Codex would not print", () => {
    const fromFile = z.fromJSONSchema(JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Parameters<typeof z.fromJSONSchema>[0]);
    expect(fromFile.safeParse({ type: "turn.completed" }).success).toBe(false);
    expect(fromFile.safeParse({ type: "item.started", item: { id: "x", type: "agent_message", text: "" } }).success).toBe(false);
    expect(fromFile.safeParse({ type: "thread.started", thread_id: "t", extra: 1 }).success).toBe(false);
  });
});
