// The fixed set of tools of one thread (STYLE rules 15–17): built once from declarations,
// it yields the specs the model is offered and runs a call from its raw arguments. Whatever
// the model got wrong (unknown tool, bad JSON, bad arguments) comes back to it as the call's
// output; only fatal errors and aborts leave as throws. Building it needs no zod: the specs
// are generated JSON schemas, and each tool's parser (zod) loads on its first call, or
// earlier on prefetch() once the model starts a function call.
import type { z } from "zod";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ToolSpec } from "../model/model-client.js";
import { dropNulls } from "./drop-nulls.js";
import type { ToolContext, ToolDefinition, ToolResult } from "./tool.js";

export interface ToolRegistry {
  readonly names: readonly string[];
  /** What the model is offered, in declaration order. */
  specs(): ToolSpec[];
  get(name: string): ToolDefinition | undefined;
  /** Unknown tools count as mutating (rule 15: mutating unless shown otherwise). */
  isMutating(name: string): boolean;
  call(name: string, rawArguments: string, ctx: ToolContext): Promise<ToolResult>;
  /**
   * Starts loading every tool's parser without waiting (call it once the first model request is
   * out: the model's think time hides the load). A failure is not reported here: the call that
   * needs the parser loads it again and fails with the error.
   */
  prefetch(): void;
}

/** OpenAI's limit on function names. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

// The definitions are heterogeneous in their input type; the registry only hands each its own parse.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyTool = ToolDefinition<any>;

export function buildToolRegistry(defs: readonly AnyTool[]): ToolRegistry {
  const byName = new Map<string, AnyTool>();
  const specs: ToolSpec[] = [];
  for (const def of defs) {
    if (!NAME.test(def.name)) throw new TetherError(ErrorCode.InvalidArgument, `tool name ${JSON.stringify(def.name)} is not 1-64 characters of [A-Za-z0-9_-]`);
    if (byName.has(def.name)) throw new TetherError(ErrorCode.AlreadyExists, `two tools are named ${def.name}: tool names must be unique in a thread`);
    byName.set(def.name, def);
    specs.push({ name: def.name, description: def.description, parameters: def.input.parameters });
  }
  const names = [...byName.keys()];
  const parsers = new Map<string, Promise<z.ZodType>>();
  const parserOf = (def: AnyTool): Promise<z.ZodType> => {
    let parser = parsers.get(def.name);
    if (parser === undefined) {
      parser = def.input.load().catch((err: unknown) => {
        parsers.delete(def.name); // not kept: the next call tries again
        throw new TetherError(ErrorCode.Internal, `tool ${def.name}: its argument parser did not load: ${TetherError.from(err).message}`, { cause: err });
      });
      parsers.set(def.name, parser);
    }
    return parser;
  };
  return {
    names,
    specs: () => specs.map((s) => ({ ...s, parameters: structuredClone(s.parameters) })),
    get: (name) => byName.get(name),
    isMutating: (name) => byName.get(name)?.mutating ?? true,
    async call(name, rawArguments, ctx) {
      const def = byName.get(name);
      if (def === undefined) return failed(`unknown tool ${JSON.stringify(name)}; the tools are: ${names.join(", ")}`);
      const parsed = await parseArguments(def, rawArguments, parserOf);
      if (!parsed.ok) return failed(parsed.message);
      ctx.signal.throwIfAborted();
      try {
        return await def.run(parsed.value, ctx);
      } catch (err) {
        if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
        throw TetherError.from(err, `tool ${name}`);
      }
    },
    prefetch() {
      for (const def of byName.values()) {
        // Safe to drop: parserOf forgets a failed load, and the call that needs it reports it.
        void parserOf(def).catch(() => undefined);
      }
    },
  };
}

function failed(output: string): ToolResult {
  return { output, success: false };
}

type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

async function parseArguments(def: AnyTool, raw: string, parserOf: (def: AnyTool) => Promise<z.ZodType>): Promise<Parsed> {
  let json: unknown;
  const text = raw.trim() === "" ? "{}" : raw;
  try {
    json = JSON.parse(text);
  } catch (err) {
    if (def.fromPlainText === undefined) return { ok: false, message: `the arguments of ${def.name} are not valid JSON (${(err as Error).message}); send one JSON object matching the tool's schema` };
    json = def.fromPlainText(raw);
  }
  const result = (await parserOf(def)).safeParse(dropNulls(json));
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, message: `invalid arguments for ${def.name}: ${describeIssues(result.error)}` };
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 8)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}
