import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TOOL_PARAMETERS_FILE, renderToolParameters, toolParametersDrift, toolParametersFromZod } from "./render-tool-parameters.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const committed = () => readFileSync(path.join(ROOT, TOOL_PARAMETERS_FILE), "utf8");

describe("tool-parameters.gen.ts", () => {
  it("holds every default tool's JSON schema as its zod schema gives it (else: make tool-schemas)", async () => {
    const tools = await toolParametersFromZod();
    expect(tools.map((t) => t.name)).toEqual(["exec_command", "write_stdin", "apply_patch", "update_plan"]);
    expect(toolParametersDrift(tools, committed())).toEqual([]);
  });

  it("names the tool that drifted and the command that regenerates the file", async () => {
    const tools = await toolParametersFromZod();
    const changed = tools.map((t) => (t.name === "write_stdin" ? { ...t, parameters: { ...t.parameters, required: [] } } : t));
    expect(toolParametersDrift(changed, committed())).toEqual([
      "tool write_stdin: its JSON schema in services/agent-server/tools/tool-parameters.gen.ts differs from its zod schema: run `make tool-schemas` and commit services/agent-server/tools/tool-parameters.gen.ts",
    ]);
  });

  it("notices a hand edit or a tool the file does not know", async () => {
    const tools = await toolParametersFromZod();
    expect(toolParametersDrift(tools, committed().replace("Shell command to execute.", "Shell command."))).toEqual([
      expect.stringMatching(/^services\/agent-server\/tools\/tool-parameters\.gen\.ts is not what the generator writes .*: run `make tool-schemas`/),
    ]);
    const extra = { name: "new_tool", committed: {}, parameters: { type: "object" } };
    expect(toolParametersDrift([...tools, extra], committed())).toEqual([expect.stringMatching(/^tool new_tool: .*run `make tool-schemas`/)]);
  });

  it("renders a module the registry can import as is", () => {
    const text = renderToolParameters([{ name: "t", parameters: { type: "object", properties: {}, required: [], additionalProperties: false } }]);
    expect(text).toContain('export const TOOL_PARAMETERS: Readonly<Record<"t", Record<string, unknown>>> = {\n  t: {\n    "type": "object",');
  });
});
