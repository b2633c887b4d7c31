// update_plan (Codex's name and shape): the model keeps a checklist the client can show. Each
// call is a full snapshot, emitted as one plan item; it changes nothing on any machine.
import { z } from "zod";
import type { ThreadItem } from "../thread/thread-event.js";
import type { ToolDefinition } from "./tool.js";

const input = z
  .object({
    explanation: z.string().optional().describe("Why the plan changed, in a sentence (optional)."),
    plan: z
      .array(
        z.object({
          step: z.string().min(1).describe("What to do, in a few words."),
          status: z.enum(["pending", "in_progress", "completed"]),
        }),
      )
      .max(50)
      .describe("The whole plan, in order."),
  })
  .refine((v) => v.plan.filter((s) => s.status === "in_progress").length <= 1, {
    message: "at most one step may be in_progress at a time",
    path: ["plan"],
  });

export type UpdatePlanInput = z.infer<typeof input>;

export function updatePlanTool(): ToolDefinition<UpdatePlanInput> {
  return {
    name: "update_plan",
    description:
      "Updates the task plan shown to the user: give the whole list of steps each time, each pending, in_progress or completed, with at most one in_progress. Use it for multi-step work; skip it for simple tasks.",
    input,
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
