// update_plan (Codex's name and shape): the model keeps a checklist the client can show. Each
// call is a full snapshot, emitted as one plan item; it changes nothing on any machine.
import type { ThreadItem } from "../thread/thread-event.js";
import type { ToolDefinition } from "./tool.js";
import { TOOL_PARAMETERS } from "./tool-parameters.gen.js";
import type { UpdatePlanInput } from "./update-plan-input.js";

export function updatePlanTool(): ToolDefinition<UpdatePlanInput> {
  return {
    name: "update_plan",
    description:
      "Updates the task plan shown to the user: give the whole list of steps each time, each pending, in_progress or completed, with at most one in_progress. Use it for multi-step work; skip it for simple tasks.",
    input: { parameters: TOOL_PARAMETERS.update_plan, load: async () => (await import("./update-plan-input.js")).updatePlanInput },
    mutating: false,
    run: async (args, ctx) => {
      const item: Extract<ThreadItem, { type: "plan" }> = {
        type: "plan",
        id: `plan-${ctx.callId}`,
        ...(args.explanation === undefined ? {} : { explanation: args.explanation }),
        steps: args.plan.map((s) => ({ step: s.step, status: s.status })),
      };
      ctx.item.started(item);
      ctx.item.completed(item);
      return { output: "Plan updated", success: true };
    },
  };
}
