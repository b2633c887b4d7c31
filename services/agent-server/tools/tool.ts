// A tool is a declaration (STYLE rules 15–17): a name, one zod schema that yields both the
// JSON schema the model sees and the parser, whether it mutates, and a run function that
// receives parsed input. The registry is fixed per thread.
import type { z } from "zod";
import type { Environment } from "../../../clients/environment/environment.js";
import type { Authorization, ProposedAction, SandboxMode } from "../policy/approval-types.js";
import type { ThreadItem } from "../thread/thread-event.js";

export interface ToolContext {
  threadId: string;
  turnId: string;
  /** The model's call id: use it as the idempotency key (e.g. Write's writeId). */
  callId: string;
  cwd: string;
  env: Environment;
  sandbox: SandboxMode;
  /** Writable roots of workspace-write (the thread's cwd plus configured extras). */
  writableRoots: string[];
  /**
   * The execpolicy network rules the sandbox's proxy applies itself, read when a command starts
   * (a rule added during the thread applies to later commands). Absent: none; every host is asked.
   */
  proxyHosts?(): { allowHosts: readonly string[]; denyHosts: readonly string[] };
  /** The turn's signal: aborted on interrupt; every wait takes it. */
  signal: AbortSignal;
  /** Asks policy (and, when it says so, the user) whether the action may go ahead. */
  authorize(action: ProposedAction): Promise<Authorization>;
  /** Opens, updates or closes this call's item (the core adds turn ids and ordering). */
  item: ItemEmitter;
}

export interface ItemEmitter {
  started(item: ThreadItem): void;
  updated(item: ThreadItem): void;
  delta(itemId: string, kind: "text" | "reasoning" | "output", delta: string): void;
  completed(item: ThreadItem): void;
  /**
   * The item outlives its turn (a command still running when the call returned): the turn's
   * end leaves it open, and its later deltas, updates and completion still go out, under the
   * turn that started it.
   */
  keepOpen(itemId: string): void;
}

/** What goes back to the model as the call's output. */
export interface ToolResult {
  output: string;
  /** false when the call failed in a way the model should see as failure (e.g. exit code ≠ 0). */
  success: boolean;
}

/**
 * A tool's arguments: one zod schema (the source of truth, rule 16) in its two forms. The
 * model is offered the strict JSON schema generated from it ahead of time (tool-parameters.gen.ts,
 * `make tool-schemas`; tool-parameters.test.ts fails on drift); calls are parsed by the zod
 * schema itself, imported on the first call, so zod stays off the path to the first model
 * request (≈ 20 ms of CPU, issue 15). A tool made at run time: toolInputFromZod.
 */
export interface ToolInput<Input> {
  /** The strict JSON schema the model is offered (strictJsonSchema of the zod schema). */
  readonly parameters: Record<string, unknown>;
  /** The zod schema; the registry calls this once, on the first call or a prefetch. */
  load(): Promise<z.ZodType<Input>>;
}

export interface ToolDefinition<Input = unknown> {
  name: string;
  description: string;
  input: ToolInput<Input>;
  /** Counted as mutating unless shown otherwise (parallel calls, approvals). */
  mutating: boolean;
  /**
   * Arguments that are not JSON (a freeform call, e.g. a raw patch) are turned into input by
   * this, then validated by `input` as usual. Without it such arguments are a bad call.
   */
  fromPlainText?(text: string): unknown;
  /**
   * Runs the call. Bad arguments never reach here (the registry parses them). A failure the
   * model should see is a result, not a throw; throw only for fatal errors or aborts.
   */
  run(input: Input, ctx: ToolContext): Promise<ToolResult>;
}
