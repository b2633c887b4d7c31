import { describe, expect, it } from "vitest";
import type { Environment } from "../../../clients/environment/environment.js";
import { createDefaultTools } from "./default-tools.js";
import { buildToolRegistry } from "./tool-registry.js";
import { UnifiedExecSessions } from "./unified-exec/unified-exec-sessions.js";

describe("createDefaultTools", () => {
  const sessions = new UnifiedExecSessions({ env: {} as Environment, threadId: "t" });
  const registry = buildToolRegistry(createDefaultTools({ sessions }));

  it("offers Codex's tool names, mutating except update_plan", () => {
    expect(registry.names).toEqual(["exec_command", "write_stdin", "apply_patch", "update_plan"]);
    expect(registry.names.map((n) => registry.isMutating(n))).toEqual([true, true, true, false]);
  });

  it("every spec is strict: all properties required, no extra properties, at every level", () => {
    const check = (schema: Record<string, unknown>, where: string): void => {
      if (schema.properties !== undefined) {
        expect(schema.additionalProperties, where).toBe(false);
        expect([...(schema.required as string[])].sort(), where).toEqual(Object.keys(schema.properties as object).sort());
        for (const [k, v] of Object.entries(schema.properties as Record<string, Record<string, unknown>>)) check(v, `${where}.${k}`);
      }
      if (schema.items !== undefined) check(schema.items as Record<string, unknown>, `${where}[]`);
      for (const key of Object.keys(schema)) expect(["type", "properties", "required", "additionalProperties", "items", "enum", "description", "anyOf"], `${where}: ${key}`).toContain(key);
    };
    for (const spec of registry.specs()) check(spec.parameters, spec.name);
  });

  it("exec_command's shape is Codex's", () => {
    const exec = registry.specs().find((s) => s.name === "exec_command");
    expect(Object.keys(exec?.parameters.properties as object)).toEqual(["cmd", "workdir", "shell", "login", "tty", "yield_time_ms", "max_output_tokens", "sandbox_permissions", "justification"]);
    const write = registry.specs().find((s) => s.name === "write_stdin");
    expect(Object.keys(write?.parameters.properties as object)).toEqual(["session_id", "chars", "yield_time_ms", "max_output_tokens"]);
  });
});
