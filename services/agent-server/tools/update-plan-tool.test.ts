import { describe, expect, it } from "vitest";
import type { Environment } from "../../../clients/environment/environment.js";
import { fakeToolContext } from "../../../test/support/fake-tool-context.js";
import { buildToolRegistry } from "./tool-registry.js";
import { updatePlanTool } from "./update-plan-tool.js";

const registry = buildToolRegistry([updatePlanTool()]);
const ctx = () => fakeToolContext({ env: {} as Environment, cwd: "/w", callId: "p1" });

describe("update_plan", () => {
  it("emits the whole plan as one plan item", async () => {
    const c = ctx();
    const plan = [
      { step: "read the code", status: "completed" },
      { step: "write the fix", status: "in_progress" },
      { step: "run the tests", status: "pending" },
    ];
    const r = await registry.call("update_plan", JSON.stringify({ explanation: "found the bug", plan }), c);
    expect(r).toEqual({ output: "Plan updated", success: true });
    const item = { type: "plan", id: "plan-p1", explanation: "found the bug", steps: plan };
    expect(c.item.events).toEqual([
      { kind: "started", item },
      { kind: "completed", item },
    ]);
  });

  it("takes a null explanation as none (strict mode)", async () => {
    const c = ctx();
    await registry.call("update_plan", JSON.stringify({ explanation: null, plan: [] }), c);
    expect(c.item.events[0]).toEqual({ kind: "started", item: { type: "plan", id: "plan-p1", steps: [] } });
  });

  it("refuses two steps in progress and unknown statuses, telling the model", async () => {
    const two = await registry.call("update_plan", JSON.stringify({ plan: [{ step: "a", status: "in_progress" }, { step: "b", status: "in_progress" }] }), ctx());
    expect(two).toEqual({ success: false, output: "invalid arguments for update_plan: plan: at most one step may be in_progress at a time" });
    const bad = await registry.call("update_plan", JSON.stringify({ plan: [{ step: "a", status: "done" }] }), ctx());
    expect(bad.success).toBe(false);
    expect(bad.output).toMatch(/^invalid arguments for update_plan: plan\.0\.status: /);
  });

  it("does not count as mutating", () => {
    expect(registry.isMutating("update_plan")).toBe(false);
  });
});
