// The JSON schema a tool offers the model, made strict the way the Responses API's strict
// function tools demand: every property required (optional ones nullable instead), no extra
// properties, and only the keywords strict mode accepts. Derived from the tool's zod schema,
// so the schema the model sees and the parser that checks its answer cannot drift apart. The
// default tools run this ahead of time (tool-parameters.gen.ts), not at thread start: this
// module loads zod.
import * as z from "zod";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ToolInput } from "./tool.js";

type Json = Record<string, unknown>;

/** Keywords strict mode understands; the rest (default, min/max of zod's ints, …) are dropped. */
const KEPT = new Set(["type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf", "description", "$ref", "$defs"]);

export function strictJsonSchema(schema: z.ZodType, what: string): Json {
  let raw: Json;
  try {
    raw = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw" });
  } catch (err) {
    throw new TetherError(ErrorCode.InvalidArgument, `${what}: its input schema has no JSON schema form: ${String(err)}`, { cause: err });
  }
  const root = strictNode(raw);
  if (root.type !== "object") throw new TetherError(ErrorCode.InvalidArgument, `${what}: a tool's input must be a zod object (got ${JSON.stringify(root.type)})`);
  return root;
}

/** A tool input from a zod schema at hand (a tool made at run time, a test): converted now. */
export function toolInputFromZod<Input>(schema: z.ZodType<Input>, what: string): ToolInput<Input> {
  const parameters = strictJsonSchema(schema, what);
  return { parameters, load: () => Promise.resolve(schema) };
}

function strictNode(node: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (!KEPT.has(key)) continue;
    out[key] = value;
  }
  if (out.type === "object" || out.properties !== undefined) {
    const properties = (out.properties ?? {}) as Record<string, Json>;
    const required = new Set((out.required as string[] | undefined) ?? []);
    const strictProps: Record<string, Json> = {};
    for (const [name, prop] of Object.entries(properties)) {
      const strict = strictNode(prop);
      strictProps[name] = required.has(name) ? strict : nullable(strict);
    }
    out.type = "object";
    out.properties = strictProps;
    out.required = Object.keys(strictProps);
    out.additionalProperties = false;
  }
  if (isJson(out.items)) out.items = strictNode(out.items);
  if (Array.isArray(out.anyOf)) out.anyOf = (out.anyOf as Json[]).map(strictNode);
  if (isJson(out.$defs)) out.$defs = Object.fromEntries(Object.entries(out.$defs as Record<string, Json>).map(([k, v]) => [k, strictNode(v)]));
  return out;
}

/** Strict mode has no optional fields: an optional field is sent as null when absent. */
function nullable(node: Json): Json {
  if (Array.isArray(node.anyOf)) {
    const anyOf = node.anyOf as Json[];
    return anyOf.some((n) => n.type === "null") ? node : { ...node, anyOf: [...anyOf, { type: "null" }] };
  }
  if (typeof node.type === "string" || Array.isArray(node.type)) {
    const types = Array.isArray(node.type) ? (node.type as string[]) : [node.type];
    const out: Json = { ...node, type: types.includes("null") ? types : [...types, "null"] };
    if (Array.isArray(node.enum) && !node.enum.includes(null)) out.enum = [...node.enum, null];
    return out;
  }
  const { description, ...rest } = node;
  return description === undefined ? { anyOf: [rest, { type: "null" }] } : { anyOf: [rest, { type: "null" }], description };
}

function isJson(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
